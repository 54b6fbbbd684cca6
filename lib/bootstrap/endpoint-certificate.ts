import { exportPrivateKeyPem, generateKeyPair } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PROFILES } from '../cluster/kinds.js';
import { issueCertificate, type Issuer } from '../x509/issue.js';
import { sansFromHosts } from '../x509/sans.js';

/**
 * A serving certificate for the embedded endpoint at `host` (an IP or DNS name), signed by the cluster
 * CA so that nodes verify it with the CA of their bootstrap kubeconfig. It lives as long as the process
 * needs it: 30 days by default.
 */
export async function endpointServingCertificate(ca: Issuer, hosts: readonly string[], options: CryptoOptions & { lifetimeSeconds?: number } = {}): Promise<{ cert: string; key: string }> {
  const keyPair = await generateKeyPair('ecdsa-p256', options);
  const certificate = await issueCertificate({
    ...(options.crypto ? { crypto: options.crypto } : {}),
    profile: PROFILES.server,
    subject: { commonName: 'kubepki-bootstrap-endpoint' },
    sans: sansFromHosts(hosts, 'hosts'),
    publicKey: keyPair.publicKey,
    issuer: ca,
    validity: { lifetimeSeconds: options.lifetimeSeconds ?? 30 * 86_400 },
  });
  return { cert: certificate.pem, key: await exportPrivateKeyPem(keyPair, undefined, options) };
}
