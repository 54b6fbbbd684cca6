import type { KeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import type { Certificate } from './certificate.js';
import { encodeName, validateSubject, type Subject } from './names.js';
import { checkRequestRules, expectedKeyUsages, type CertificateProfile, type ExtendedKeyUsageName, type KeyUsageName } from './profile.js';
import { normalizeSans, type SanInput, type SubjectAltNames } from './sans.js';
import { computeValidity, type ValidityOptions } from './validity.js';

/**
 * What a certificate contains, decided before anything is signed (the shape of smallstep's x509util
 * template): the subject and its Name bytes, the SANs, the usages, the CA flag and path length, the
 * validity, and the rules the signed certificate must still meet at the pre-issuance lint. It holds no
 * key, no serial and no issuer: signCertificate adds those. (Not the rotation manager's CertificateTemplate,
 * which says what a kubelet's renewed certificate must match.)
 *
 * @category Certificates, keys and CSRs
 */
export interface IssuanceTemplate {
  /** The profile or signer the template was made for, for messages. */
  readonly name: string;
  /** The subject's CN and O, as written into the certificate. */
  readonly subject: Subject;
  /** The subject Name exactly as it is written. */
  readonly subjectDer: Uint8Array;
  /** The SANs the certificate carries, normalised and allowed by the profile. */
  readonly sans: SubjectAltNames;
  /** The type of the key to be certified: the key usages follow it. */
  readonly keySpec: KeySpec;
  /** In bit order. */
  readonly keyUsages: readonly KeyUsageName[];
  /** In the order they are written. */
  readonly extendedKeyUsages: readonly ExtendedKeyUsageName[];
  /** True for a CA profile: basicConstraints cA is set and keyCertSign is among the usages. */
  readonly isCA: boolean;
  /** The basicConstraints path length of a CA; undefined leaves it unlimited (always undefined for a leaf). */
  readonly pathLength?: number;
  /** The certificate's NotBefore. */
  readonly notBefore: Date;
  /** The certificate's NotAfter. */
  readonly notAfter: Date;
  /** What the pre-issuance lint checks the signed certificate against. */
  readonly rules: TemplateRules;
}

/**
 * The subject, SAN and key usage rules the signed certificate is linted against.
 *
 * @category Certificates, keys and CSRs
 */
export type TemplateRules = Pick<CertificateProfile, 'subject' | 'sans' | 'exactKeyUsages'>;

/**
 * What templateFromProfile needs besides the profile: the subject, SANs, key type, validity and issuer.
 *
 * @category Certificates, keys and CSRs
 */
export interface ProfileTemplateRequest {
  /** CN and O; with `der`, that Name is written (a signer passes a CSR's subject as read and re-encoded). */
  readonly subject: Subject & {
    /** The subject Name as DER, written byte for byte instead of encoding CN and O. */
    readonly der?: Uint8Array;
  };
  /** The SANs to certify; each must meet the profile's SAN rule (ERR_PROFILE otherwise). Default: none. */
  readonly sans?: SanInput;
  /** The type of the key to be certified: decides the key usages, and must be one the profile allows. */
  readonly keySpec: KeySpec;
  /** NotBefore and NotAfter; default: backdated 5 minutes, for the profile's lifetime. */
  readonly validity?: ValidityOptions;
  /** The issuing time. Default: now. */
  readonly now?: Date;
  /** The signing CA's certificate; undefined for a self-signed root. */
  readonly issuer?: Certificate;
  /** For CA profiles: overrides the profile's basicConstraints path length. */
  readonly pathLength?: number;
}

/**
 * The template of a certificate of `profile` (a row of the kind table): the request is checked against
 * the profile's subject, SAN and key rules, the issuer against the profile's, the path length against
 * the issuer's; the key usages follow the key type (expectedKeyUsages) and the validity is the profile's
 * lifetime unless `validity` says otherwise, inside the issuer's.
 *
 * @category Certificates, keys and CSRs
 */
export function templateFromProfile(profile: CertificateProfile, request: ProfileTemplateRequest): IssuanceTemplate {
  const subject = validateSubject(request.subject);
  const sans = normalizeSans(request.sans);
  const { issuer, keySpec } = request;
  checkIssuerCertificate(profile, issuer);
  checkRequestRules(profile.name, profile, { subject, sans, keySpec });
  const pathLength = resolvePathLength(profile, issuer, request.pathLength);
  const { notBefore, notAfter } = computeValidity(request.now ?? new Date(), profile.lifetimeSeconds, request.validity, issuer);
  return {
    name: profile.name,
    subject,
    subjectDer: request.subject.der ?? encodeName(subject),
    sans,
    keySpec,
    keyUsages: expectedKeyUsages(profile, keySpec),
    extendedKeyUsages: profile.extendedKeyUsages,
    isCA: profile.isCA,
    pathLength,
    notBefore,
    notAfter,
    rules: profile,
  };
}

function checkIssuerCertificate(profile: CertificateProfile, issuer: Certificate | undefined): void {
  if (profile.issuer === 'self') {
    if (issuer) throw new PkiError('ERR_PROFILE', `profile ${profile.name} is self-signed; do not give an issuer`, { field: 'issuer' });
    return;
  }
  if (!issuer) throw new PkiError('ERR_ARGUMENT', `profile ${profile.name} is signed by a ${profile.issuer} CA: give its certificate and private key`, { field: 'issuer' });
  if (!issuer.isCA) throw new PkiError('ERR_CERTIFICATE', 'is not a CA certificate (basicConstraints cA is not set)', { field: 'issuer.certificate' });
  const usages = issuer.keyUsages;
  if (usages.length > 0 && !usages.includes('keyCertSign')) {
    throw new PkiError('ERR_CERTIFICATE', 'CA certificate lacks the keyCertSign key usage', { field: 'issuer.certificate' });
  }
}

function resolvePathLength(profile: CertificateProfile, issuer: Certificate | undefined, requested: number | undefined): number | undefined {
  if (!profile.isCA) {
    if (requested !== undefined) throw new PkiError('ERR_ARGUMENT', `profile ${profile.name} is not a CA`, { field: 'pathLength' });
    return undefined;
  }
  const pathLength = requested ?? profile.pathLength;
  if (pathLength !== undefined && (!Number.isInteger(pathLength) || pathLength < 0 || pathLength > 16)) {
    throw new PkiError('ERR_ARGUMENT', 'must be an integer from 0 to 16', { field: 'pathLength' });
  }
  const parentLimit = issuer?.basicConstraints?.pathLength;
  if (parentLimit !== undefined) {
    if (parentLimit === 0) throw new PkiError('ERR_PROFILE', 'the CA has path length 0 and cannot sign another CA', { field: 'issuer.certificate' });
    if (pathLength === undefined || pathLength >= parentLimit) {
      throw new PkiError('ERR_PROFILE', `must be below the CA's path length ${parentLimit}`, { field: 'pathLength' });
    }
  }
  return pathLength;
}
