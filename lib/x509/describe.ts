import type { Certificate } from './certificate.js';

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

export function describeCertificate(certificate: Certificate): CertificateSummary {
  const sans = certificate.sans;
  const name = (subject: { commonName: string; organizations?: readonly string[] }): string =>
    [`CN=${subject.commonName}`, ...(subject.organizations ?? []).map((o) => `O=${o}`)].join(', ');
  return {
    subject: name(certificate.subject),
    issuer: name(certificate.issuer),
    serialNumber: certificate.serialNumber,
    sans: [...sans.dns.map((v) => `DNS:${v}`), ...sans.ips.map((v) => `IP:${v}`), ...sans.emails.map((v) => `email:${v}`), ...sans.uris.map((v) => `URI:${v}`)],
    isCA: certificate.isCA,
    keyUsages: certificate.keyUsages,
    extendedKeyUsages: certificate.extendedKeyUsages,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    keySpec: certificate.keySpec,
  };
}
