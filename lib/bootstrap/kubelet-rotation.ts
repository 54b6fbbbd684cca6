import type { CryptoOptions } from '../crypto/provider.js';
import { nodeSubject } from '../x509/names.js';
import type { Certificate } from '../x509/certificate.js';
import { sansFromHosts } from '../x509/sans.js';
import { renewClientCertificate, requestServingCertificate } from './node.js';
import { RotationManager, type CertificateTemplate, type Clock } from './rotation.js';
import { loadCurrentPair } from './store.js';

/**
 * Which of the kubelet's certificates: its client certificate or its serving certificate.
 *
 * @category Bootstrap a node
 */
export type KubeletCertificateKind = 'client' | 'serving';

/**
 * Options of kubeletRotation: the kubelet's kubeconfig, files, node name and addresses, and the rotation hooks.
 *
 * @category Bootstrap a node
 */
export interface KubeletRotationOptions extends CryptoOptions {
  /** The kubelet's own kubeconfig (after bootstrap), pointing at `kubelet-client-current.pem`. */
  kubeconfig: string;
  /** The kubelet's certificate directory, e.g. /var/lib/kubelet/pki: the *-current.pem pairs are read and written there. */
  certDir: string;
  /** The node's name: the certificates' subject is CN=system:node:<nodeName>, O=system:nodes. */
  nodeName: string;
  /** The node's addresses: with them the serving certificate is kept too (`--rotate-server-certificates`). */
  addresses?: readonly string[];
  /** How long each request waits for approval and issuance. Default one hour. */
  timeoutMs?: number;
  /** Time and sleeping, for both managers. Default: the system clock. */
  clock?: Clock;
  /** Places each rotation deadline between 70% and 90% of the certificate's lifetime. Default Math.random. */
  random?: () => number;
  /** Told of each new certificate, once it is stored. */
  onRotated?: (kind: KubeletCertificateKind, certificate: Certificate) => void;
  /** Told of each failed rotation; the manager retries with backoff. */
  onError?: (kind: KubeletCertificateKind, error: unknown) => void;
}

/**
 * The kubelet's certificate managers: one for the client certificate, one for serving when addresses are known.
 *
 * @category Bootstrap a node
 */
export interface KubeletRotation {
  /** Keeps kubelet-client-current.pem: renews it with the current certificate before it expires. */
  readonly client: RotationManager;
  /** Keeps kubelet-server-current.pem for the node's `addresses`; undefined without addresses. */
  readonly serving: RotationManager | undefined;
  /** Starts both managers. */
  start(): void;
  /** Stops both managers; resolves when a rotation in progress has finished. */
  stop(): Promise<void>;
}

/**
 * Keeps a bootstrapped kubelet's certificates fresh as its certificate managers do (docs/kubernetes-pki.md
 * §12, §14): each is renewed at a random point in 70-90% of its lifetime, at once when it is missing or
 * no longer matches the node (a new address), with client-go's backoff after a failure.
 *
 * @category Bootstrap a node
 */
export function kubeletRotation(options: KubeletRotationOptions): KubeletRotation {
  const { certDir, nodeName, kubeconfig, timeoutMs, clock } = options;
  // What both renewals are asked with: the kubelet's own credential and files.
  const credential = {
    ...(options.crypto ? { crypto: options.crypto } : {}),
    kubeconfig,
    certDir,
    nodeName,
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(clock ? { now: () => clock.now() } : {}),
  };
  const manager = (kind: KubeletCertificateKind, prefix: string, template: CertificateTemplate, renew: () => Promise<Certificate>): RotationManager =>
    new RotationManager({
      ...(clock ? { clock } : {}),
      ...(options.random ? { random: options.random } : {}),
      current: async () => (await loadCurrentPair({ certDir, prefix }).catch(() => undefined))?.certificate,
      template: () => template,
      rotate: async () => options.onRotated?.(kind, await renew()),
      onError: (error) => options.onError?.(kind, error),
    });
  const subject = nodeSubject(nodeName);
  const node = { commonName: subject.commonName, organizations: subject.organizations ?? [] };
  const client = manager('client', 'kubelet-client', node, () => renewClientCertificate(credential));
  const addresses = options.addresses ?? [];
  const sans = addresses.length ? sansFromHosts(addresses, 'addresses') : undefined;
  const serving = sans ? manager('serving', 'kubelet-server', { ...node, dns: sans.dns, ips: sans.ips }, () => requestServingCertificate({ ...credential, addresses })) : undefined;
  return {
    client,
    serving,
    start() {
      client.start();
      serving?.start();
    },
    async stop() {
      await Promise.all([client.stop(), serving?.stop()]);
    },
  };
}
