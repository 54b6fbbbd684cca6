import { DEFAULT_KEY_SPEC, isKeySpec, type KeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import { CA_LIFETIME_SECONDS, LEAF_LIFETIME_SECONDS } from './kinds.js';
import { formatIp, parseIp } from '../x509/ip.js';
import { isDnsName } from '../x509/names.js';

/**
 * What a cluster's PKI is made from; the fields and defaults of kubeadm's ClusterConfiguration.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ClusterConfig {
  /** The Node name of this control-plane node (etcd certificates and the apiserver SAN use it). */
  nodeName: string;
  /** The IP the API server advertises; it must parse as an IP, as kubeadm requires. */
  advertiseAddress: string;
  /** Default `kubernetes`: the cluster name in kubeconfigs. */
  clusterName?: string;
  /** Default `cluster.local`. */
  dnsDomain?: string;
  /** Default `10.96.0.0/12`; comma-separated for dual stack, the first range is primary. The apiserver gets its first IP. */
  serviceCidr?: string;
  /** `host[:port]` (IPv6 in brackets) that clients use; default the advertise address and `apiServerPort`. */
  controlPlaneEndpoint?: string;
  /** Default 6443. */
  apiServerPort?: number;
  /** Extra apiserver SANs (kubeadm `apiServer.certSANs`): IPs become IP SANs, DNS names DNS SANs. */
  apiServerCertSans?: readonly string[];
  /** Extra etcd server and peer SANs. */
  etcdServerCertSans?: readonly string[];
  /** Extra SANs of etcd's peer certificate (kubeadm `etcd.local.peerCertSANs`): IPs become IP SANs, DNS names DNS SANs. */
  etcdPeerCertSans?: readonly string[];
  /** Default ecdsa-p256; kubeadm's own default is rsa-2048. */
  keySpec?: KeySpec;
  /** Default 10 years. */
  caLifetimeSeconds?: number;
  /** Default 1 year. */
  leafLifetimeSeconds?: number;
  /** Sign kubelet serving certificates with their own CA (`kubelet-serving-ca`) instead of the cluster CA. */
  separateKubeletServingCa?: boolean;
  /** Issue the Konnectivity certificates. Default true. */
  konnectivity?: boolean;
  /** Host name kube-apiserver and agents use for the Konnectivity server. Default: the control-plane endpoint host. */
  konnectivityServerHost?: string;
  /**
   * The Kubernetes version whose kubeadm the PKI follows (`v1.28.4`, `1.28`): before 1.29, admin.conf's user
   * is in `system:masters` and there is no super-admin.conf. Default: the newest kubeadm's PKI.
   */
  kubernetesVersion?: string;
}

/**
 * A ClusterConfig with every default applied and every value checked.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ResolvedClusterConfig extends Required<Omit<ClusterConfig, 'controlPlaneEndpoint' | 'konnectivityServerHost' | 'kubernetesVersion'>> {
  /** `v1.<minor>.<patch>...` as given (with its `v`), or undefined for the newest behaviour. */
  readonly kubernetesVersion: string | undefined;
  /** The version's minor number (`1.<minor>`); undefined for the newest behaviour. */
  readonly kubernetesMinor: number | undefined;
  /** The primary service range's first address, the `kubernetes` Service IP. */
  readonly apiServerServiceIp: string;
  /** Host (no brackets) and port of the control-plane endpoint. */
  readonly endpointHost: string;
  /** The control-plane endpoint's port (the API server port when the endpoint names none). */
  readonly endpointPort: number;
  /** `https://host:port` for kubeconfigs that talk to the control-plane endpoint. */
  readonly endpointUrl: string;
  /** `https://advertise:port`, what kubeadm puts in controller-manager.conf and scheduler.conf. */
  readonly localApiUrl: string;
  /** The host name of the Konnectivity server: `konnectivityServerHost`, else the endpoint host. */
  readonly konnectivityServerHost: string;
  /** Extra apiserver SANs that were neither an IP nor a DNS name, skipped as kubeadm does (with a warning). */
  readonly skippedSans: readonly string[];
}

export function resolveClusterConfig(config: ClusterConfig): ResolvedClusterConfig {
  const fail = (field: string, reason: string): never => {
    throw new PkiError('ERR_ARGUMENT', reason, { field: `config.${field}` });
  };
  if (typeof config?.nodeName !== 'string' || !isDnsName(config.nodeName)) fail('nodeName', `"${config?.nodeName}" is not a valid node name (an RFC 1123 subdomain)`);
  const advertise = parseIp(String(config.advertiseAddress ?? ''));
  if (!advertise) fail('advertiseAddress', `"${config.advertiseAddress}" is not an IP address`);
  const dnsDomain = config.dnsDomain ?? 'cluster.local';
  if (!isDnsName(dnsDomain)) fail('dnsDomain', `"${dnsDomain}" is not a DNS domain`);
  const clusterName = config.clusterName ?? 'kubernetes';
  if (!isDnsName(clusterName)) fail('clusterName', `"${clusterName}" is not a valid name`);
  const keySpec = config.keySpec ?? DEFAULT_KEY_SPEC;
  if (!isKeySpec(keySpec)) fail('keySpec', `unknown key spec "${String(keySpec)}"`);
  const apiServerPort = config.apiServerPort ?? 6443;
  if (!isPort(apiServerPort)) fail('apiServerPort', 'must be a port number from 1 to 65535');
  const serviceCidr = config.serviceCidr ?? '10.96.0.0/12';
  const apiServerServiceIp = firstServiceIp(serviceCidr.split(',')[0]!.trim()) ?? fail('serviceCidr', `"${serviceCidr}" is not a CIDR range with a usable address`);
  const advertiseAddress = formatIp(advertise!);
  const endpoint = parseEndpoint(config.controlPlaneEndpoint, advertiseAddress, apiServerPort) ?? fail('controlPlaneEndpoint', `"${config.controlPlaneEndpoint}" is not host[:port]`);
  for (const field of ['caLifetimeSeconds', 'leafLifetimeSeconds'] as const) {
    const value = config[field];
    if (value !== undefined && (!Number.isFinite(value) || value <= 0)) fail(field, 'must be a positive number of seconds');
  }
  const version = config.kubernetesVersion === undefined ? undefined : (parseKubernetesVersion(config.kubernetesVersion) ?? fail('kubernetesVersion', `"${config.kubernetesVersion}" is not a Kubernetes version such as v1.28.4 (release labels such as stable-1 are not resolved)`));
  const lists = {} as Record<'apiServerCertSans' | 'etcdServerCertSans' | 'etcdPeerCertSans', string[]>;
  for (const field of ['apiServerCertSans', 'etcdServerCertSans', 'etcdPeerCertSans'] as const) {
    const value = config[field] ?? [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) fail(field, 'must be a list of strings');
    lists[field] = [...value];
  }
  return {
    nodeName: config.nodeName,
    advertiseAddress,
    clusterName,
    dnsDomain,
    serviceCidr,
    apiServerPort,
    ...lists,
    keySpec,
    caLifetimeSeconds: config.caLifetimeSeconds ?? CA_LIFETIME_SECONDS,
    leafLifetimeSeconds: config.leafLifetimeSeconds ?? LEAF_LIFETIME_SECONDS,
    separateKubeletServingCa: config.separateKubeletServingCa ?? false,
    konnectivity: config.konnectivity ?? true,
    kubernetesVersion: version?.text,
    kubernetesMinor: version?.minor,
    apiServerServiceIp,
    endpointHost: endpoint.host,
    endpointPort: endpoint.port,
    endpointUrl: httpsUrl(endpoint.host, endpoint.port),
    localApiUrl: httpsUrl(advertiseAddress, apiServerPort),
    konnectivityServerHost: config.konnectivityServerHost ?? endpoint.host,
    skippedSans: lists.apiServerCertSans.filter((san) => !parseIp(san) && !isDnsName(san) && !(san.startsWith('*.') && isDnsName(san.slice(2)))),
  };
}

/** `v1.28.4`, `1.28`, `v1.29.0-rc.1`: the minor number and the text with a leading `v`; undefined for anything else. */
export function parseKubernetesVersion(text: unknown): { text: string; minor: number } | undefined {
  const match = typeof text === 'string' ? /^v?1\.(0|[1-9]\d{0,3})(\.(0|[1-9]\d{0,3})([-+][0-9A-Za-z.+-]+)?)?$/.exec(text) : null;
  return match ? { text: (text as string).startsWith('v') ? (text as string) : `v${text as string}`, minor: Number(match[1]) } : undefined;
}

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) < 65536;
}

/** The first usable address of a CIDR range: the network address plus one, as kubeadm picks the Service IP. */
export function firstServiceIp(cidr: string): string | undefined {
  const [address, bits] = cidr.split('/');
  const bytes = parseIp(address ?? '');
  const prefix = Number(bits);
  if (!bytes || !/^\d+$/.test(bits ?? '') || prefix > bytes.length * 8 || prefix >= bytes.length * 8 - 1) return undefined;
  const network = bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
  for (let i = network.length - 1; i >= 0; i--) {
    if (network[i]! < 0xff) {
      network[i]! += 1;
      break;
    }
    network[i] = 0;
  }
  return formatIp(network);
}

function parseEndpoint(endpoint: string | undefined, advertise: string, port: number): { host: string; port: number } | undefined {
  if (endpoint === undefined || endpoint === '') return { host: advertise, port };
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(endpoint);
  const plain = /^([^:[\]]+)(?::(\d+))?$/.exec(endpoint);
  const match = bracketed ?? (parseIp(endpoint) ? [endpoint, endpoint, undefined] : plain);
  if (!match) return undefined;
  const host = match[1]!;
  const endpointPort = match[2] === undefined ? port : Number(match[2]);
  if (!isPort(endpointPort)) return undefined;
  const ip = parseIp(host);
  if (ip) return { host: formatIp(ip), port: endpointPort };
  return isDnsName(host) ? { host, port: endpointPort } : undefined;
}

function httpsUrl(host: string, port: number): string {
  return `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
