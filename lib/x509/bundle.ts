import { PkiError } from '../errors.js';
import { Certificate, type CertificateInput } from './certificate.js';

/**
 * A CA bundle: plain concatenated `CERTIFICATE` PEM blocks, the only form Kubernetes' CA flags read.
 *
 * @category Verify and audit
 */
export interface CaBundle {
  /** The CAs in the bundle, in the order given, without duplicates and without the dropped ones. */
  readonly certificates: readonly Certificate[];
  /** The bundle's text: the certificates' PEM blocks, concatenated. */
  readonly pem: string;
  /** CAs left out, with why (expired). */
  readonly dropped: readonly {
    /** The CA left out. */
    certificate: Certificate;
    /** Why, e.g. that it expired. */
    reason: string;
  }[];
}

/**
 * Options of buildCaBundle.
 *
 * @category Verify and audit
 */
export interface BundleOptions {
  /** Expiry is judged at this time. Default: now. */
  now?: Date;
  /** Name of the bundle in error messages. */
  field?: string;
}

/**
 * Builds a CA bundle: every input (a Certificate, PEM with one or more certificates, or DER) in order,
 * duplicates removed by DER, non-CA certificates refused (ERR_CERTIFICATE naming the input), expired
 * CAs dropped and reported. Never PKCS#7.
 *
 * @category Verify and audit
 */
export function buildCaBundle(inputs: readonly (CertificateInput | readonly Certificate[])[], options: BundleOptions = {}): CaBundle {
  const field = options.field ?? 'bundle';
  const now = options.now ?? new Date();
  const seen = new Set<string>();
  const certificates: Certificate[] = [];
  const dropped: { certificate: Certificate; reason: string }[] = [];
  inputs.forEach((input, i) => {
    const list =
      Array.isArray(input) ? (input as readonly Certificate[])
      : typeof input === 'string' ? Certificate.fromPemBundle(input, `${field}[${i}]`)
      : [Certificate.from(input as CertificateInput, `${field}[${i}]`)];
    for (const certificate of list) {
      if (!certificate.isCA) throw new PkiError('ERR_CERTIFICATE', `CN=${certificate.subject.commonName} is not a CA certificate; a bundle holds CAs only`, { field: `${field}[${i}]` });
      const key = Buffer.from(certificate.der).toString('base64');
      if (seen.has(key)) continue;
      seen.add(key);
      if (certificate.notAfter <= now) dropped.push({ certificate, reason: `expired at ${certificate.notAfter.toISOString()}` });
      else certificates.push(certificate);
    }
  });
  return { certificates, pem: certificates.map((c) => c.pem).join(''), dropped };
}
