import { keySpecOfSpkiStructure, type KeySpec } from '../crypto/keys.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../crypto/signature-algorithms.js';
import { PkiError } from '../errors.js';
import { sameMembersAndLength, sameOrder } from '../lists.js';
import { keyIdentifier, type Certificate } from './certificate.js';
import { OID } from './extensions.js';
import type { Subject } from './names.js';
import { expectedKeyUsages, keyUsageProblems, sanProblems, subjectProblems, type CertificateProfile } from './profile.js';
import type { SubjectAltNames } from './sans.js';
import type { IssuanceTemplate } from './template.js';

/**
 * What a freshly built certificate must be.
 *
 * @category Certificates, keys and CSRs
 */
export interface LintExpectation {
  /** The profile the certificate was issued under: its usages, CA flag and lifetime are checked. */
  readonly profile: CertificateProfile;
  /** The issuing CA's certificate; the certificate itself when self-signed. */
  readonly issuer: Certificate;
  /** The subject the certificate must carry. */
  readonly subject: Subject;
  /** The SANs the certificate must carry, no more and no fewer. */
  readonly sans: SubjectAltNames;
  /** The type of the certified key. */
  readonly keySpec: KeySpec;
  /** The basicConstraints path length expected on a CA. */
  readonly pathLength?: number;
}

/**
 * A certificate signed from a template, which says what it must be.
 *
 * @category Certificates, keys and CSRs
 */
export interface TemplateLintExpectation {
  /** The template the certificate was signed from: every field of it must be in the certificate. */
  readonly template: IssuanceTemplate;
  /** The issuing CA's certificate; the certificate itself when self-signed. */
  readonly issuer: Certificate;
}

/** What the checks compare a certificate with: a template's content, or a profile's and request's. */
type Wanted = Omit<IssuanceTemplate, 'subjectDer' | 'notBefore' | 'notAfter'>;

type Check = (cert: Certificate, wanted: Wanted, issuer: Certificate) => string[];

const KNOWN_EXTENSIONS = new Set<string>(Object.values(OID));

/**
 * Every way `cert` differs from what its profile and request (or its template) demand: the pre-issuance
 * lint. An empty list means the certificate may leave the library.
 */
export function lintProblems(cert: Certificate, expected: LintExpectation | TemplateLintExpectation): string[] {
  const wanted = 'template' in expected ? expected.template : wantedOf(expected);
  return CHECKS.flatMap((check) => check(cert, wanted, expected.issuer));
}

function wantedOf({ profile, subject, sans, keySpec, pathLength }: LintExpectation): Wanted {
  return {
    name: profile.name,
    subject,
    sans,
    keySpec,
    keyUsages: expectedKeyUsages(profile, keySpec),
    extendedKeyUsages: profile.extendedKeyUsages,
    isCA: profile.isCA,
    ...(pathLength === undefined ? {} : { pathLength }),
    rules: profile,
  };
}

function encodingProblems(cert: Certificate, _wanted: Wanted, issuer: Certificate): string[] {
  const problems: string[] = [];
  if (cert.version !== 2) problems.push('not an X.509 v3 certificate');
  const serial = cert.serialBytes;
  if (serial.length > 20) problems.push('serial number longer than 20 octets');
  if ((serial[0]! & 0x80) !== 0) problems.push('serial number is negative');
  if (serial.every((b) => b === 0)) problems.push('serial number is zero');
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(cert.signatureAlgorithmOid)) problems.push(`signature algorithm ${cert.signatureAlgorithmOid} is not SHA-256 or stronger`);
  if (!Buffer.from(cert.issuerDer).equals(issuer.subjectDer)) problems.push("issuer Name bytes differ from the CA's subject Name bytes");
  return problems;
}

function extensionSetProblems(cert: Certificate): string[] {
  const oids = cert.extensions.map((e) => e.oid);
  const problems = new Set(oids).size !== oids.length ? ['an extension appears twice'] : [];
  for (const oid of oids) if (!KNOWN_EXTENSIONS.has(oid)) problems.push(`unexpected extension ${oid}`);
  return problems;
}

function basicConstraintsProblems(cert: Certificate, wanted: Wanted): string[] {
  const constraints = cert.basicConstraints;
  if (!constraints) return ['basicConstraints is missing'];
  const problems: string[] = [];
  if (!constraints.critical) problems.push('basicConstraints is not critical');
  if (constraints.isCA !== wanted.isCA) problems.push(`basicConstraints cA is ${constraints.isCA}, profile wants ${wanted.isCA}`);
  if (constraints.pathLength !== (wanted.isCA ? wanted.pathLength : undefined)) {
    problems.push(`path length is ${constraints.pathLength ?? 'unset'}, expected ${wanted.pathLength ?? 'unset'}`);
  }
  return problems;
}

function usageProblems(cert: Certificate, wanted: Wanted): string[] {
  const problems: string[] = [];
  const keyUsage = cert.extension(OID.keyUsage);
  const wantUsages = wanted.keyUsages;
  if (wantUsages.length > 0 && !keyUsage?.critical) problems.push('keyUsage is missing or not critical');
  if (wantUsages.length === 0 && keyUsage) problems.push('keyUsage is present but no usage is expected');
  if (!sameMembersAndLength(cert.keyUsages, wantUsages)) problems.push(`key usages are [${cert.keyUsages.join(', ')}], profile wants [${wantUsages.join(', ')}]`);
  // The usages must suit the key type whatever the profile lists.
  problems.push(...keyUsageProblems(cert.keyUsages, wanted.keySpec, { isCA: wanted.isCA, exactKeyUsages: wanted.rules.exactKeyUsages }));
  if (!sameMembersAndLength(cert.extendedKeyUsages, wanted.extendedKeyUsages)) {
    problems.push(`extended key usages are [${cert.extendedKeyUsages.join(', ')}], profile wants [${wanted.extendedKeyUsages.join(', ')}]`);
  }
  return problems;
}

function nameProblems(cert: Certificate, wanted: Wanted): string[] {
  const problems: string[] = [];
  const subject = cert.subject;
  if (subject.commonName !== wanted.subject.commonName || !sameMembersAndLength(subject.organizations ?? [], wanted.subject.organizations ?? [])) {
    problems.push('subject differs from the request');
  }
  for (const p of subjectProblems(wanted.rules.subject, subject)) problems.push(`${p.field} ${p.reason}`);
  const sans = cert.sans;
  const want = wanted.sans;
  if (!sameOrder(sans.dns, want.dns) || !sameOrder(sans.ips, want.ips) || !sameOrder(sans.emails, want.emails) || !sameOrder(sans.uris, want.uris)) {
    problems.push('subject alternative names differ from the request');
  }
  for (const p of sanProblems(wanted.rules.sans, sans)) problems.push(`${p.field}: ${p.reason}`);
  return problems;
}

function keyProblems(cert: Certificate, wanted: Wanted, issuer: Certificate): string[] {
  const problems: string[] = [];
  // The key was valid when it was certified (a CryptoKey, or a CSR's key that verified its signature):
  // its structure is enough here.
  const keySpec = keySpecOfSpkiStructure(cert.spki);
  if (!keySpec) problems.push('the certified key is of an unsupported type');
  if (keySpec && keySpec !== wanted.keySpec) problems.push(`certified key is ${keySpec}, expected ${wanted.keySpec}`);
  const skid = cert.subjectKeyId;
  if (!skid || !Buffer.from(skid).equals(keyIdentifier(cert.spki))) problems.push('subject key identifier is missing or wrong');
  const issuerKeyId = issuer.subjectKeyId;
  if (issuer !== cert && issuerKeyId && !Buffer.from(cert.authorityKeyId ?? []).equals(issuerKeyId)) {
    problems.push("authority key identifier differs from the CA's subject key identifier");
  }
  return problems;
}

function validityProblems(cert: Certificate, _wanted: Wanted, issuer: Certificate): string[] {
  const problems: string[] = [];
  if (cert.notBefore >= cert.notAfter) problems.push('NotBefore is not before NotAfter');
  if (issuer !== cert && (cert.notBefore < issuer.notBefore || cert.notAfter > issuer.notAfter)) problems.push("validity is outside the CA's validity");
  return problems;
}

// In the order the problems are listed.
const CHECKS: readonly Check[] = [encodingProblems, extensionSetProblems, basicConstraintsProblems, usageProblems, nameProblems, keyProblems, validityProblems];

/** Throws ERR_LINT listing every problem when `cert` does not meet `expected`. */
export function lintCertificate(cert: Certificate, expected: LintExpectation | TemplateLintExpectation): void {
  const problems = lintProblems(cert, expected);
  if (problems.length > 0) {
    const name = 'template' in expected ? expected.template.name : expected.profile.name;
    throw new PkiError('ERR_LINT', `certificate for profile ${name} failed the pre-issuance lint: ${problems.join('; ')}`, { field: 'certificate' });
  }
}
