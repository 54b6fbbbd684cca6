import { keySpecOfSpkiStructure, type KeySpec } from '../crypto/keys.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../crypto/signature-algorithms.js';
import { PkiError } from '../errors.js';
import { sameMembersAndLength, sameOrder } from '../lists.js';
import { keyIdentifier, type Certificate } from './certificate.js';
import { OID } from './extensions.js';
import type { Subject } from './names.js';
import { expectedKeyUsages, keyUsageProblems, sanProblems, subjectProblems, type CertificateProfile } from './profile.js';
import type { SubjectAltNames } from './sans.js';

/** What a freshly built certificate must be. */
export interface LintExpectation {
  readonly profile: CertificateProfile;
  /** The issuing CA's certificate; the certificate itself when self-signed. */
  readonly issuer: Certificate;
  readonly subject: Subject;
  readonly sans: SubjectAltNames;
  readonly keySpec: KeySpec;
  /** The basicConstraints path length expected on a CA. */
  readonly pathLength?: number;
}

const KNOWN_EXTENSIONS = new Set<string>(Object.values(OID));

/**
 * Every way `cert` differs from what its profile and request demand (pre-issuance lint). An empty
 * list means the certificate may leave the library.
 */
export function lintProblems(cert: Certificate, expected: LintExpectation): string[] {
  const problems: string[] = [];
  const problem = (text: string): void => {
    problems.push(text);
  };
  const { profile, issuer } = expected;
  const selfSigned = issuer === cert;

  if (cert.version !== 2) problem('not an X.509 v3 certificate');
  const serial = cert.serialBytes;
  if (serial.length > 20) problem('serial number longer than 20 octets');
  if ((serial[0]! & 0x80) !== 0) problem('serial number is negative');
  if (serial.every((b) => b === 0)) problem('serial number is zero');
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(cert.signatureAlgorithmOid)) problem(`signature algorithm ${cert.signatureAlgorithmOid} is not SHA-256 or stronger`);
  if (!Buffer.from(cert.issuerDer).equals(issuer.subjectDer)) problem("issuer Name bytes differ from the CA's subject Name bytes");

  const extensions = cert.extensions;
  const oids = extensions.map((e) => e.oid);
  if (new Set(oids).size !== oids.length) problem('an extension appears twice');
  for (const oid of oids) if (!KNOWN_EXTENSIONS.has(oid)) problem(`unexpected extension ${oid}`);

  const constraints = cert.basicConstraints;
  if (!constraints) problem('basicConstraints is missing');
  else {
    if (!constraints.critical) problem('basicConstraints is not critical');
    if (constraints.isCA !== profile.isCA) problem(`basicConstraints cA is ${constraints.isCA}, profile wants ${profile.isCA}`);
    if (constraints.pathLength !== (profile.isCA ? expected.pathLength : undefined)) {
      problem(`path length is ${constraints.pathLength ?? 'unset'}, expected ${expected.pathLength ?? 'unset'}`);
    }
  }

  const keyUsage = cert.extension(OID.keyUsage);
  const wantUsages = expectedKeyUsages(profile, expected.keySpec);
  if (wantUsages.length > 0 && !keyUsage?.critical) problem('keyUsage is missing or not critical');
  if (wantUsages.length === 0 && keyUsage) problem('keyUsage is present but no usage is expected');
  if (!sameMembersAndLength(cert.keyUsages, wantUsages)) problem(`key usages are [${cert.keyUsages.join(', ')}], profile wants [${wantUsages.join(', ')}]`);
  // The usages must suit the key type whatever the profile lists.
  for (const p of keyUsageProblems(cert.keyUsages, expected.keySpec, profile)) problem(p);
  if (!sameMembersAndLength(cert.extendedKeyUsages, profile.extendedKeyUsages)) {
    problem(`extended key usages are [${cert.extendedKeyUsages.join(', ')}], profile wants [${profile.extendedKeyUsages.join(', ')}]`);
  }

  const subject = cert.subject;
  if (subject.commonName !== expected.subject.commonName || !sameMembersAndLength(subject.organizations ?? [], expected.subject.organizations ?? [])) {
    problem('subject differs from the request');
  }
  for (const p of subjectProblems(profile.subject, subject)) problem(`${p.field} ${p.reason}`);

  const sans = cert.sans;
  if (!sameOrder(sans.dns, expected.sans.dns) || !sameOrder(sans.ips, expected.sans.ips) || !sameOrder(sans.emails, expected.sans.emails) || !sameOrder(sans.uris, expected.sans.uris)) {
    problem('subject alternative names differ from the request');
  }
  for (const p of sanProblems(profile.sans, sans)) problem(`${p.field}: ${p.reason}`);

  // The key was valid when it was certified (a CryptoKey, or a CSR's key that verified its signature):
  // its structure is enough here.
  const keySpec = keySpecOfSpkiStructure(cert.spki);
  if (!keySpec) problem('the certified key is of an unsupported type');
  if (keySpec && keySpec !== expected.keySpec) problem(`certified key is ${keySpec}, expected ${expected.keySpec}`);

  const skid = cert.subjectKeyId;
  if (!skid || !Buffer.from(skid).equals(keyIdentifier(cert.spki))) problem('subject key identifier is missing or wrong');
  const issuerKeyId = issuer.subjectKeyId;
  if (!selfSigned && issuerKeyId && !Buffer.from(cert.authorityKeyId ?? []).equals(issuerKeyId)) {
    problem("authority key identifier differs from the CA's subject key identifier");
  }

  if (cert.notBefore >= cert.notAfter) problem('NotBefore is not before NotAfter');
  if (!selfSigned && (cert.notBefore < issuer.notBefore || cert.notAfter > issuer.notAfter)) problem("validity is outside the CA's validity");
  return problems;
}

/** Throws ERR_LINT listing every problem when `cert` does not meet `expected`. */
export function lintCertificate(cert: Certificate, expected: LintExpectation): void {
  const problems = lintProblems(cert, expected);
  if (problems.length > 0) {
    throw new PkiError('ERR_LINT', `certificate for profile ${expected.profile.name} failed the pre-issuance lint: ${problems.join('; ')}`, { field: 'certificate' });
  }
}
