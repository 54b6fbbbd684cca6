import type { Certificate } from './certificate.js';

/**
 * Who a client certificate authenticates as.
 *
 * @category Verify and audit
 */
export interface CertificateIdentity {
  /** The user name: the subject's CN. */
  readonly username: string;
  /** The groups: every O of the subject, in order. */
  readonly groups: readonly string[];
}

/**
 * The user and groups kube-apiserver reads from a client certificate (apiserver x509
 * CommonNameUserConversion): the subject's common name is the user, every organization a group, both read
 * as Go's crypto/x509 reads them (the last CN; only the string types Go knows). The one place kubepki
 * derives an identity from a certificate; undefined when the CN is empty, which does not authenticate.
 *
 * @category Verify and audit
 */
export function certificateIdentity(certificate: Certificate): CertificateIdentity | undefined {
  const { commonName, organizations } = certificate.subject;
  if (!commonName) return undefined;
  return { username: commonName, groups: [...(organizations ?? [])] };
}
