import type { Certificate } from './certificate.js';

/** Who a client certificate authenticates as. */
export interface CertificateIdentity {
  readonly username: string;
  readonly groups: readonly string[];
}

/**
 * The user and groups kube-apiserver reads from a client certificate (apiserver x509
 * CommonNameUserConversion): the subject's common name is the user, every organization a group, both read
 * as Go's crypto/x509 reads them (the last CN; only the string types Go knows). The one place kubepki
 * derives an identity from a certificate; undefined when the CN is empty, which does not authenticate.
 */
export function certificateIdentity(certificate: Certificate): CertificateIdentity | undefined {
  const { commonName, organizations } = certificate.subject;
  if (!commonName) return undefined;
  return { username: commonName, groups: [...(organizations ?? [])] };
}
