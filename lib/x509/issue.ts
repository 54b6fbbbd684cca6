import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { publicKeyInfo, signatureAlgorithm, type PublicKeyInput } from '../crypto/keys.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { children, contentOf, elementBytes, readElement } from '../crypto/der.js';
import { PkiError } from '../errors.js';
import { verifySignature } from './signature.js';
import { Certificate, keyIdentifier, type CertificateInput } from './certificate.js';
import * as ext from './extensions.js';
import { lintCertificate } from './lint.js';
import { encodeName, validateSubject, type Subject } from './names.js';
import * as x509 from './peculiar.js';
import { checkProfileRequest, expectedKeyUsages, type CertificateProfile } from './profile.js';
import { encodeGeneralNames, hasSans, normalizeSans, type SanInput } from './sans.js';
import { computeValidity, type ValidityOptions } from './validity.js';

/** A CA that signs: its certificate and private key. */
export interface Issuer {
  readonly certificate: CertificateInput;
  readonly privateKey: CryptoKey;
}

export interface IssueRequest extends CryptoOptions {
  /** The kind of certificate: decides CA flag, usages, subject and SAN rules, default lifetime. */
  readonly profile: CertificateProfile;
  /** CN and O; with `der`, that exact Name is used (a signer copies the CSR's subject verbatim). */
  readonly subject: Subject & { readonly der?: Uint8Array };
  readonly sans?: SanInput;
  /** The key being certified. */
  readonly publicKey: PublicKeyInput;
  /** The signing CA. Omit for a self-signed root, then give `selfSigningKey`. */
  readonly issuer?: Issuer;
  /** The private key matching `publicKey`, for a self-signed root. */
  readonly selfSigningKey?: CryptoKey;
  readonly validity?: ValidityOptions;
  /** For CA profiles: overrides the profile's basicConstraints path length. */
  readonly pathLength?: number;
  /** The issuing time. Default: now. */
  readonly now?: Date;
  /** Source of the serial number's randomness. Default: node:crypto randomBytes. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/**
 * Builds, lints and signs one certificate: the one place kubepki makes a certificate. The issuer's
 * subject Name bytes are copied exactly; the authority key id is the issuer's subject key id; every
 * certificate carries basicConstraints, a subject key id and a random positive 128-bit serial.
 */
export async function issueCertificate(request: IssueRequest): Promise<Certificate> {
  const { profile } = request;
  const crypto = resolveCrypto(request);
  const subject = validateSubject(request.subject);
  const sans = normalizeSans(request.sans);
  const key = await publicKeyInfo(request.publicKey, request);
  const issuer = request.issuer ? Certificate.from(request.issuer.certificate, 'issuer.certificate') : undefined;
  const signingKey = request.issuer?.privateKey ?? request.selfSigningKey;
  checkIssuer(profile, issuer, request);
  checkProfileRequest(profile, { subject, sans, keySpec: key.spec });
  const pathLength = resolvePathLength(profile, issuer, request.pathLength);
  const now = request.now ?? new Date();
  const { notBefore, notAfter } = computeValidity(now, profile.lifetimeSeconds, request.validity, issuer);

  const subjectKeyId = keyIdentifier(key.spki);
  const keyUsages = expectedKeyUsages(profile, key.spec);
  const extensions = [
    // Go writes no keyUsage extension when no usage is set; neither does kubepki.
    ...(keyUsages.length ? [ext.keyUsage(keyUsages)] : []),
    ...(profile.extendedKeyUsages.length ? [ext.extendedKeyUsage(profile.extendedKeyUsages)] : []),
    ext.basicConstraints(profile.isCA, pathLength),
    ext.subjectKeyIdentifier(subjectKeyId),
    ...(issuer?.subjectKeyId ? [ext.authorityKeyIdentifier(issuer.subjectKeyId)] : []),
    ...(hasSans(sans) ? [ext.subjectAltName(encodeGeneralNames(sans))] : []),
  ];
  const subjectName = new x509.Name((request.subject.der ?? encodeName(subject)) as Uint8Array<ArrayBuffer>);
  const signerSpec = issuer ? issuer.keySpec : key.spec;
  let built: x509.X509Certificate;
  try {
    built = await x509.X509CertificateGenerator.create(
      {
        serialNumber: randomSerialHex(request.randomBytes ?? nodeRandomBytes),
        subject: subjectName,
        issuer: issuer ? new x509.Name(issuer.subjectDer as Uint8Array<ArrayBuffer>) : subjectName,
        notBefore,
        notAfter,
        publicKey: key.spki as Uint8Array<ArrayBuffer>,
        signingKey: signingKey!,
        signingAlgorithm: signatureAlgorithm(signerSpec),
        extensions: extensions.map((e) => new x509.Extension(e.oid, e.critical, e.value as Uint8Array<ArrayBuffer>)),
      },
      crypto,
    );
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `signing with the ${signerSpec} ${issuer ? 'CA' : 'self-signing'} key failed`, {
      field: issuer ? 'issuer.privateKey' : 'selfSigningKey',
      cause,
    });
  }
  const certificate = Certificate.from(new Uint8Array(built.rawData));
  if (!certificateSignedBy(certificate, issuer ?? certificate)) {
    throw new PkiError('ERR_KEY', issuer ? 'the private key does not match the CA certificate' : 'the self-signing key does not match the public key', {
      field: issuer ? 'issuer.privateKey' : 'selfSigningKey',
    });
  }
  lintCertificate(certificate, { profile, issuer: issuer ?? certificate, subject, sans, keySpec: key.spec, pathLength });
  return certificate;
}

function checkIssuer(profile: CertificateProfile, issuer: Certificate | undefined, request: IssueRequest): void {
  if (profile.issuer === 'self') {
    if (issuer) throw new PkiError('ERR_PROFILE', `profile ${profile.name} is self-signed; do not give an issuer`, { field: 'issuer' });
    if (!request.selfSigningKey) throw new PkiError('ERR_ARGUMENT', 'a self-signed certificate needs the private key of its public key', { field: 'selfSigningKey' });
    return;
  }
  if (!issuer || !request.issuer?.privateKey) {
    throw new PkiError('ERR_ARGUMENT', `profile ${profile.name} is signed by a ${profile.issuer} CA: give its certificate and private key`, { field: 'issuer' });
  }
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

/** A random positive serial of 128 bits, as the in-tree signer draws it (kubernetes-pki.md §11). */
function randomSerialHex(randomBytes: (size: number) => Uint8Array): string {
  for (;;) {
    const bytes = randomBytes(16);
    if (bytes.length !== 16) throw new PkiError('ERR_ARGUMENT', 'must return the requested number of bytes', { field: 'randomBytes' });
    if (bytes.some((b) => b !== 0)) return Buffer.from(bytes).toString('hex').replace(/^(00)+/, '');
  }
}

/** The certificate's signature checks out with `signer`'s public key (synchronously, node:crypto). */
function certificateSignedBy(certificate: Certificate, signer: Certificate): boolean {
  const top = readElement(certificate.der, 0, 'certificate');
  const [tbs, , signature] = children(certificate.der, top, 'certificate');
  return verifySignature(certificate.signatureAlgorithmOid, signer.spki, elementBytes(certificate.der, tbs!), contentOf(certificate.der, signature!).subarray(1));
}
