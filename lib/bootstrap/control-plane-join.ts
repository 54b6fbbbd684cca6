// `kubeadm join --control-plane --certificate-key K`: token discovery of the cluster, the shared CA and
// service-account files from the encrypted Secret kube-system/kubeadm-certs (read with the bootstrap token,
// as kubeadm's RBAC lets system:bootstrappers:kubeadm:default-node-token get it), then this node's own
// certificates and kubeconfigs issued from those CAs.
import type { ClusterConfig } from '../cluster/config.js';
import { initPkiDirectory, type InitResult } from '../cluster/init.js';
import { planCluster } from '../cluster/plan.js';
import { restoreSharedCertificates, sharedCertificateManifestData, SHARED_CERTIFICATES_SECRET } from '../cluster/shared-certs.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { formatIp, parseIp } from '../x509/ip.js';
import { discoverCluster, type DiscoveredCluster } from './discovery.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';
import { formatBootstrapToken, parseBootstrapToken, type BootstrapToken } from './token.js';

/**
 * Options of joinControlPlane (kubeadm join --control-plane): discovery, the certificate key of the shared Secret, and this node's config.
 *
 * @category Bootstrap a node
 */
export interface JoinControlPlaneOptions extends CryptoOptions {
  /** The directory this node's PKI goes to (kubeadm's layout: DIR/pki, kubeconfigs in DIR). */
  dir: string;
  /** The API endpoint as `kubeadm join` takes it: `HOST:PORT`. */
  server: string;
  /** The bootstrap token: discovery's signature key and the credential that reads the Secret. */
  token: string | BootstrapToken;
  /** `sha256:<hex>` pins of the cluster CA's public key (`--discovery-token-ca-cert-hash`); at least one. */
  caCertHashes: readonly string[];
  /** The key the Secret is encrypted with (`--certificate-key`, 64 hex characters). */
  certificateKey: string;
  /**
   * This node's cluster config: its own nodeName and advertiseAddress, and the cluster's controlPlaneEndpoint
   * (which must be the join endpoint or the server cluster-info names), serviceCidr, dnsDomain, certSANs...
   */
  config: ClusterConfig;
  /** The time the pinned CA must be valid at and the new certificates start; default now. */
  now?: Date;
  /** Replace shared files and leaves that differ (kubeadm's re-join); default false: ERR_EXISTS, nothing written. */
  force?: boolean;
  /** Each discovery request; default 30 s. */
  timeoutMs?: number;
}

/**
 * What joinControlPlane did: the cluster discovered, the shared files restored, and this node's PKI.
 *
 * @category Bootstrap a node
 */
export interface JoinControlPlaneResult {
  /** The cluster as discovered (cluster-info's server and CA bundle). */
  readonly cluster: DiscoveredCluster;
  /** Shared files written from the Secret (CAs and sa keys), in commit order. */
  readonly restored: readonly string[];
  /** Shared files that were already there with the same bytes. */
  readonly unchanged: readonly string[];
  /** This node's certificates and kubeconfigs, issued by the restored CAs. */
  readonly init: InitResult;
}

/**
 * Joins this machine's PKI to a control plane as `kubeadm join --control-plane --certificate-key` does:
 * discovers the cluster with the token and the CA pins (discoverCluster), GETs kube-system/kubeadm-certs
 * from the discovered server with the token as bearer credential over TLS verified by the discovered CA,
 * restores the shared CAs and service-account keys (restoreSharedCertificates) and issues this node's
 * certificates and kubeconfigs from them (initPkiDirectory). The config is checked first, and its
 * controlPlaneEndpoint must be the join endpoint or cluster-info's server (ERR_ARGUMENT otherwise); nothing
 * is written when discovery, the download or the decryption fails. The token and the certificate key never
 * appear in errors.
 *
 * @category Bootstrap a node
 */
export async function joinControlPlane(options: JoinControlPlaneOptions): Promise<JoinControlPlaneResult> {
  const token = typeof options.token === 'string' ? parseBootstrapToken(options.token) : parseBootstrapToken(formatBootstrapToken(options.token));
  if (typeof options.certificateKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(options.certificateKey)) {
    throw new PkiError('ERR_ARGUMENT', "must be 64 hexadecimal characters (kubeadm's --certificate-key)", { field: 'certificateKey' });
  }
  if (typeof options.dir !== 'string' || options.dir === '') throw new PkiError('ERR_ARGUMENT', 'must name the directory', { field: 'dir' });
  // The config is resolved before anything goes on the network: a bad one refuses here.
  const plan = planCluster(options.config);
  if (options.config.controlPlaneEndpoint === undefined) {
    throw new PkiError('ERR_ARGUMENT', 'must name the cluster\'s controlPlaneEndpoint: a control plane joins a cluster with a shared endpoint, as kubeadm requires', { field: 'config.controlPlaneEndpoint' });
  }
  const wanted = hostPort(plan.config.endpointHost, plan.config.endpointPort);
  const joinEndpoint = endpointOf(options.server, 'server');
  const cluster = await discoverCluster({ server: options.server, token, caCertHashes: options.caCertHashes, ...(options.now ? { now: options.now } : {}), ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) });
  const discovered = endpointOf(cluster.server, 'cluster-info.server');
  if (wanted !== joinEndpoint && wanted !== discovered) {
    throw new PkiError('ERR_ARGUMENT', `is ${wanted}, but this cluster's endpoint is ${discovered} (cluster-info) and the join endpoint ${joinEndpoint}; nothing was written`, { field: 'config.controlPlaneEndpoint' });
  }
  const connection: KubeConnection = { server: cluster.server, ca: cluster.caPem, token: formatBootstrapToken(token) };
  const data = await downloadSharedCertificates(connection);
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  // The restore and the node's own certificates are two transactions: files in the directory that the second
  // would refuse (ERR_EXISTS) are found first, so that a refusal leaves the directory as it was.
  if (!options.force) await initPkiDirectory(options.dir, options.config, { ...crypto, dryRun: true, ...(options.now ? { now: options.now } : {}) });
  const restored = await restoreSharedCertificates(options.dir, data, options.certificateKey, { ...crypto, force: options.force === true, expectedClusterCa: cluster.caPem });
  const init = await initPkiDirectory(options.dir, options.config, { ...crypto, force: options.force === true, ...(options.now ? { now: options.now } : {}) });
  return { cluster, restored: restored.written, unchanged: restored.unchanged, init };
}

const SECRET = `${SHARED_CERTIFICATES_SECRET.namespace}/${SHARED_CERTIFICATES_SECRET.name}`;
const SECRET_PATH = `/api/v1/namespaces/${SHARED_CERTIFICATES_SECRET.namespace}/secrets/${SHARED_CERTIFICATES_SECRET.name}`;

/** The Secret's data, as kubeadm's DownloadCerts GETs it; a missing Secret may have expired (2 hours). */
async function downloadSharedCertificates(connection: KubeConnection): Promise<Record<string, string>> {
  let secret: { data?: Record<string, string | null> } | undefined;
  try {
    secret = await kubeRequest(connection, 'GET', SECRET_PATH);
  } catch (error) {
    if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') {
      throw new PkiError('ERR_NOT_FOUND', `the Secret ${SECRET} is not there; it might have expired (2 hours): upload the certificates again on a control-plane node`, { field: connection.server, cause: error });
    }
    if (error instanceof PkiError && (error.code === 'ERR_FORBIDDEN' || error.code === 'ERR_UNAUTHORIZED')) {
      throw new PkiError(error.code, `the bootstrap token may not read the Secret ${SECRET} (kubeadm's Role and RoleBinding kubeadm:kubeadm-certs for system:bootstrappers:kubeadm:default-node-token); nothing was written`, { field: connection.server, cause: error });
    }
    throw error;
  }
  return sharedCertificateManifestData(JSON.stringify({ kind: 'Secret', metadata: SHARED_CERTIFICATES_SECRET, data: secret?.data ?? {} }), SECRET);
}

/** `host:port` of an endpoint (`HOST:PORT` or an https URL), lowercase, IPs canonical, IPv6 in brackets. */
function endpointOf(text: string, field: string): string {
  let url: URL;
  try {
    url = new URL(/^https:\/\//i.test(text) ? text : `https://${text}`);
  } catch (cause) {
    throw new PkiError('ERR_ARGUMENT', 'is not HOST:PORT or an https URL', { field, cause });
  }
  return hostPort(url.hostname.replace(/^\[|\]$/g, ''), url.port === '' ? 443 : Number(url.port));
}

function hostPort(host: string, port: number): string {
  const ip = parseIp(host);
  const name = ip ? formatIp(ip) : host.toLowerCase().replace(/\.$/, '');
  return `${name.includes(':') ? `[${name}]` : name}:${port}`;
}
