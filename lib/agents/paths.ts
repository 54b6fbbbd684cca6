import { dirname, isAbsolute, join, resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { parseKubeconfig } from '../cluster/kubeconfig.js';
import { hostForUrl } from '../x509/ip.js';
import { verifiedAgents, watchedFile, type TlsMaterial, type VerifiedAgents } from './tls.js';

// One factory per path of DESIGN.md's table. Each returns agents that verify the peer with exactly the
// CA of that path and present exactly its identity; none can be told to skip verification.

/**
 * Where an agent connects and what it proves: the agents and the URL to call.
 *
 * @category Verified agents, one per path
 */
export interface PathAgents extends VerifiedAgents {
  /** The base URL to call, e.g. https://10.96.0.1:443. */
  readonly url: string;
}

/**
 * The agents with more fields. Not a spread: that would read the `undici` getter, building the dispatcher
 * and loading undici (an optional peer dependency) for a caller who only wants the https.Agent.
 */
function withFields<T extends object>(agents: VerifiedAgents, fields: T): VerifiedAgents & T {
  return Object.defineProperties({}, { ...Object.getOwnPropertyDescriptors(agents), ...Object.getOwnPropertyDescriptors(fields) }) as VerifiedAgents & T;
}

/** The host of a URL as a server name or IP: an IPv6 address without its brackets. */
export function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

/**
 * Path 1, kubelet -> apiserver, and path 3, control-plane component -> apiserver: from the component's
 * kubeconfig (a kubelet's, the controller-manager's, an admin's).
 * Certificate and key files are re-read when they change, so a rotated `kubelet-client-current.pem` is
 * used by the next connection without a restart.
 *
 * @category Verified agents, one per path
 */
export function componentToApiserver(kubeconfigPath: string): PathAgents {
  // The kubeconfig itself is re-read when it changes (a CA rotation rewrites its trust), and so are the
  // certificate and key files it points at.
  const kubeconfigText = watchedFile(kubeconfigPath);
  const base = dirname(kubeconfigPath);
  const files = new Map<string, () => string>();
  const file = (path: string): string => {
    const absolute = isAbsolute(path) ? path : resolve(base, path);
    if (!files.has(absolute)) files.set(absolute, watchedFile(absolute));
    return files.get(absolute)!();
  };
  const current = () => parseKubeconfig(kubeconfigText(), kubeconfigPath);
  const material = (): TlsMaterial => {
    const config = current();
    const ca = config.caPem ?? (config.caFile ? file(config.caFile) : undefined);
    if (!ca) throw new PkiError('ERR_KUBECONFIG', 'has no certificate authority; kubepki never falls back to the system store', { field: kubeconfigPath });
    return {
      ca,
      cert: config.clientCertificatePem ?? (config.clientCertificateFile ? file(config.clientCertificateFile) : undefined),
      key: config.clientKeyPem ?? (config.clientKeyFile ? file(config.clientKeyFile) : undefined),
    };
  };
  const { server } = current();
  return withFields(verifiedAgents({ material, serverName: hostOf(server) }), { url: server });
}

/**
 * Options of podToApiserver: where the pod's service account and the API server's address come from.
 *
 * @category Verified agents, one per path
 */
export interface PodToApiserverOptions {
  /** Default /var/run/secrets/kubernetes.io/serviceaccount. */
  serviceAccountDir?: string;
  /** Default process.env (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT). */
  env?: NodeJS.ProcessEnv;
  /** The name the apiserver certificate is checked for. Default `kubernetes.default.svc`. */
  serverName?: string;
}

/**
 * Path 2, pod -> apiserver through the service VIP: trust is the service account's `ca.crt`; the token is
 * re-read whenever it changes (projected tokens rotate). The apiserver certificate carries the Service IP
 * and `kubernetes.default.svc` (kubeadm's SANs).
 *
 * @category Verified agents, one per path
 */
export function podToApiserver(options: PodToApiserverOptions = {}): PathAgents & {
  /** The Authorization header's value, `Bearer <token>`, from the service account token as it is now (the kubelet rotates it). */
  authorization(): string;
} {
  const folder = options.serviceAccountDir ?? '/var/run/secrets/kubernetes.io/serviceaccount';
  const env = options.env ?? process.env;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new PkiError('ERR_ARGUMENT', 'KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (in a pod they are)', { field: 'env' });
  const ca = watchedFile(join(folder, 'ca.crt'));
  const token = watchedFile(join(folder, 'token'));
  const url = `https://${hostForUrl(host)}:${port}`;
  const agents = verifiedAgents({ material: () => ({ ca: ca() }), serverName: options.serverName ?? host });
  return withFields(agents, { url, authorization: () => `Bearer ${token().trim()}` });
}

/**
 * Options of apiserverToKubelet: the kubelet serving CA bundle, kube-apiserver's client pair and the node's address.
 *
 * @category Verified agents, one per path
 */
export interface ApiserverToKubeletOptions {
  /** The `--kubelet-certificate-authority` bundle. */
  kubeletServingBundle: string;
  /** apiserver-kubelet-client certificate and key (PEM). */
  clientCertificate: string;
  /** The private key of `clientCertificate` (PEM). */
  clientKey: string;
  /** The address the apiserver picked (usually the InternalIP): it must be a SAN of the serving certificate. */
  nodeAddress: string;
  /** Default 10250. */
  port?: number;
}

/**
 * Path 4, apiserver -> kubelet: the kubelet-serving bundle, the node's address checked against its SANs, no SNI for an IP.
 *
 * @category Verified agents, one per path
 */
export function apiserverToKubelet(options: ApiserverToKubeletOptions): PathAgents {
  const host = hostForUrl(options.nodeAddress);
  const agents = verifiedAgents({ material: { ca: options.kubeletServingBundle, cert: options.clientCertificate, key: options.clientKey }, serverName: options.nodeAddress });
  return withFields(agents, { url: `https://${host}:${options.port ?? 10250}` });
}

/**
 * Options of apiserverToService: the service's CA bundle, name and address, and the client pair kube-apiserver presents.
 *
 * @category Verified agents, one per path
 */
export interface ApiserverToServiceOptions {
  /** The CA bundle of that service. */
  bundle: string;
  /** The Service's name. */
  service: string;
  /** The Service's namespace. */
  namespace: string;
  /** The address to dial (the Service IP or a pod IP); the certificate is checked for `<svc>.<ns>.svc`. */
  address: string;
  /** The port to dial. */
  port: number;
  /** The client certificate kube-apiserver presents, PEM, when the service asks for one (mutual TLS). */
  clientCertificate?: string;
  /** The private key of `clientCertificate`, PEM. */
  clientKey?: string;
}

/**
 * Path 5, apiserver -> proxied service: the service's bundle and its name `<svc>.<ns>.svc`.
 *
 * @category Verified agents, one per path
 */
export function apiserverToService(options: ApiserverToServiceOptions): PathAgents {
  const agents = verifiedAgents({
    material: { ca: options.bundle, cert: options.clientCertificate, key: options.clientKey },
    serverName: `${options.service}.${options.namespace}.svc`,
  });
  const host = hostForUrl(options.address);
  return withFields(agents, { url: `https://${host}:${options.port}` });
}

/**
 * Options of a mutual-TLS path (Konnectivity, etcd): the server's CA, the client pair, and the server's address.
 *
 * @category Verified agents, one per path
 */
export interface MutualTlsOptions {
  /** The CA bundle the server certificate must chain to, PEM. */
  ca: string;
  /** The client certificate chain to present, PEM. */
  clientCertificate: string;
  /** The private key of `clientCertificate`, PEM. */
  clientKey: string;
  /** The server's host name or IP as its certificate carries it. */
  serverHost: string;
  /** The server's port, e.g. 8131 (Konnectivity, apiserver side), 8132 (agent side) or 2379 (etcd). */
  port: number;
}

function mutual(options: MutualTlsOptions): PathAgents {
  const agents = verifiedAgents({ material: { ca: options.ca, cert: options.clientCertificate, key: options.clientKey }, serverName: options.serverHost });
  const host = hostForUrl(options.serverHost);
  return withFields(agents, { url: `https://${host}:${options.port}` });
}

/**
 * Path 6, Konnectivity agent -> proxy-server (mTLS with the agent certificate).
 *
 * @category Verified agents, one per path
 */
export const konnectivityAgentToServer = (options: MutualTlsOptions): PathAgents => mutual(options);
/**
 * Path 6, kube-apiserver -> proxy-server (mTLS with the konnectivity-client certificate).
 *
 * @category Verified agents, one per path
 */
export const apiserverToKonnectivity = (options: MutualTlsOptions): PathAgents => mutual(options);
/**
 * Path 7, kube-apiserver -> etcd (etcd CA, apiserver-etcd-client certificate).
 *
 * @category Verified agents, one per path
 */
export const apiserverToEtcd = (options: MutualTlsOptions): PathAgents => mutual(options);
