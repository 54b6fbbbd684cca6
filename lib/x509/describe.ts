import type { Certificate } from './certificate.js';
import type { SubjectAltNames } from './sans.js';

/** A plain summary of a certificate, for printing. */
export interface CertificateSummary {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  readonly sans: readonly string[];
  readonly isCA: boolean;
  readonly keyUsages: readonly string[];
  readonly extendedKeyUsages: readonly string[];
  readonly notBefore: string;
  readonly notAfter: string;
  readonly keySpec: string;
}

/** SANs as `DNS:x`, `IP:y`, `email:z`, `URI:u` (OpenSSL's notation). */
export function formatSans(sans: SubjectAltNames): string[] {
  return [...sans.dns.map((v) => `DNS:${v}`), ...sans.ips.map((v) => `IP:${v}`), ...sans.emails.map((v) => `email:${v}`), ...sans.uris.map((v) => `URI:${v}`)];
}

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
