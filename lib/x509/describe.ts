import type { Certificate } from './certificate.js';
import type { SubjectAltNames } from './sans.js';

/**
 * A plain summary of a certificate, for printing.
 *
 * @category Certificates, keys and CSRs
 */
export interface CertificateSummary {
  /** The subject as `CN=..., O=...`. */
  readonly subject: string;
  /** The issuer as `CN=..., O=...`. */
  readonly issuer: string;
  /** The serial number in lowercase hex. */
  readonly serialNumber: string;
  /** The SANs in OpenSSL's notation: `DNS:x`, `IP:y`, `email:z`, `URI:u`. */
  readonly sans: readonly string[];
  /** Whether basicConstraints says cA. */
  readonly isCA: boolean;
  /** The keyUsage bits by name. */
  readonly keyUsages: readonly string[];
  /** The extended key usages by name (`serverAuth`, `clientAuth`, ...), unknown ones as dotted OIDs. */
  readonly extendedKeyUsages: readonly string[];
  /** Start of validity, ISO 8601. */
  readonly notBefore: string;
  /** End of validity, ISO 8601. */
  readonly notAfter: string;
  /** The subject key's type, e.g. `ecdsa-p256`. */
  readonly keySpec: string;
}

/** SANs as `DNS:x`, `IP:y`, `email:z`, `URI:u` (OpenSSL's notation). */
export function formatSans(sans: SubjectAltNames): string[] {
  return [...sans.dns.map((v) => `DNS:${v}`), ...sans.ips.map((v) => `IP:${v}`), ...sans.emails.map((v) => `email:${v}`), ...sans.uris.map((v) => `URI:${v}`)];
}

/**
 * A certificate's content as plain strings, for display or JSON (`kubepki inspect`): subject and issuer as
 * `CN=..., O=...`, SANs in OpenSSL's notation (`DNS:x`, `IP:y`), usages by name, dates in ISO 8601.
 *
 * @category Certificates, keys and CSRs
 */
export function describeCertificate(certificate: Certificate): CertificateSummary {
  const name = (subject: { commonName: string; organizations?: readonly string[] }): string =>
    [`CN=${subject.commonName}`, ...(subject.organizations ?? []).map((o) => `O=${o}`)].join(', ');
  return {
    subject: name(certificate.subject),
    issuer: name(certificate.issuer),
    serialNumber: certificate.serialNumber,
    sans: formatSans(certificate.sans),
    isCA: certificate.isCA,
    keyUsages: certificate.keyUsages,
    extendedKeyUsages: certificate.extendedKeyUsages,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    keySpec: certificate.keySpec,
  };
}
