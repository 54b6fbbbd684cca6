// kubeadm's configuration file (`kubeadm init --config`) as a ClusterConfig. The schemas below are the
// JSON fields of kubernetes cmd/kubeadm/app/apis/kubeadm/{v1beta2,v1beta3,v1beta4}/types.go
// (InitConfiguration, ClusterConfiguration and the structs they embed), each marked as read, ignored (kubeadm
// knows it, it does not change the PKI) or refused; any other field is refused as kubeadm's strict decoding does.
import { parseAllDocuments } from 'yaml';
import type { KeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import { parseIp } from '../x509/ip.js';
import { isDnsName } from '../x509/names.js';
import { firstServiceIp, parseKubernetesVersion, resolveClusterConfig, type ClusterConfig } from './config.js';

export const KUBEADM_API_VERSIONS = ['kubeadm.k8s.io/v1beta2', 'kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'] as const;
/**
 * A kubeadm config API version kubepki reads: kubeadm.k8s.io/v1beta2, v1beta3 or v1beta4.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type KubeadmApiVersion = (typeof KUBEADM_API_VERSIONS)[number];

/**
 * What kubeadm takes from the host when the file does not say; given for a file that says, ERR_ARGUMENT.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface KubeadmConfigOptions {
  /** The node name, for a file without `nodeRegistration.name` (kubeadm would take the host name). */
  nodeName?: string;
  /** The advertise address, for a file without `localAPIEndpoint.advertiseAddress` (kubeadm would detect one). */
  advertiseAddress?: string;
}

/**
 * What clusterConfigFromKubeadm read from a kubeadm config file: the cluster config and where the file puts the certificates.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface KubeadmConfig {
  /** The cluster config read from the ClusterConfiguration and InitConfiguration documents. */
  readonly config: ClusterConfig;
  /** The ClusterConfiguration's API version (else the InitConfiguration's). */
  readonly apiVersion: KubeadmApiVersion;
  /** `ClusterConfiguration.certificatesDir` when the file sets it (kubeadm's default is `/etc/kubernetes/pki`). */
  readonly certificatesDir?: string;
  /** `Kind (apiVersion)` of the documents that are not kubeadm's init input (KubeletConfiguration, JoinConfiguration...), skipped. */
  readonly skipped: readonly string[];
}

/** A field: read as a string, a list of strings or a port; `ignored` (any value); refused with a reason; or a mapping. */
type Field = 'string' | 'strings' | 'port' | 'ignored' | readonly ['refused', string] | Schema;
interface Schema {
  readonly [key: string]: Field;
}

const TYPE_META = { apiVersion: 'string', kind: 'string' } as const;
const IMAGE_META = { imageRepository: 'ignored', imageTag: 'ignored' } as const;
const COMPONENT = { extraArgs: 'ignored', extraVolumes: 'ignored' } as const;
const ENDPOINT = { advertiseAddress: 'string', bindPort: 'port' } as const;
const EXTERNAL_ETCD = ['refused', 'an external etcd is not supported: kubepki makes the local etcd PKI (etcd-ca and its certificates)'] as const;
const NODE_V1BETA2 = { name: 'string', criSocket: 'ignored', taints: 'ignored', kubeletExtraArgs: 'ignored', ignorePreflightErrors: 'ignored' } as const;
const LOCAL_ETCD_V1BETA2 = { ...IMAGE_META, dataDir: 'ignored', extraArgs: 'ignored', serverCertSANs: 'strings', peerCertSANs: 'strings' } as const;
const NETWORKING = { serviceSubnet: 'string', podSubnet: 'ignored', dnsDomain: 'string' } as const;

const INIT_V1BETA2 = { ...TYPE_META, bootstrapTokens: 'ignored', nodeRegistration: NODE_V1BETA2, localAPIEndpoint: ENDPOINT, certificateKey: 'ignored' } as const;
const CLUSTER_V1BETA2 = {
  ...TYPE_META,
  etcd: { local: LOCAL_ETCD_V1BETA2, external: EXTERNAL_ETCD },
  networking: NETWORKING,
  kubernetesVersion: 'string',
  controlPlaneEndpoint: 'string',
  apiServer: { ...COMPONENT, certSANs: 'strings', timeoutForControlPlane: 'ignored' },
  controllerManager: COMPONENT,
  scheduler: COMPONENT,
  dns: { type: 'ignored', ...IMAGE_META },
  certificatesDir: 'string',
  imageRepository: 'ignored',
  useHyperKubeImage: 'ignored',
  featureGates: 'ignored',
  clusterName: 'string',
} as const;

// v1beta3 (kubeadm 1.22): + InitConfiguration.skipPhases, patches, nodeRegistration.imagePullPolicy;
// - ClusterConfiguration.useHyperKubeImage, dns.type.
const NODE_V1BETA3 = { ...NODE_V1BETA2, imagePullPolicy: 'ignored' } as const;
const INIT_V1BETA3 = { ...INIT_V1BETA2, nodeRegistration: NODE_V1BETA3, skipPhases: 'ignored', patches: 'ignored' } as const;
const CLUSTER_V1BETA3: Schema = Object.fromEntries(Object.entries({ ...CLUSTER_V1BETA2, dns: IMAGE_META }).filter(([key]) => key !== 'useHyperKubeImage'));

// v1beta4 (kubeadm 1.31): + extraEnvs on the components and local etcd, dns.disabled, proxy, the validity
// periods and encryptionAlgorithm, InitConfiguration.dryRun and timeouts, nodeRegistration.imagePullSerial;
// - apiServer.timeoutForControlPlane (now InitConfiguration.timeouts).
const COMPONENT_V1BETA4 = { ...COMPONENT, extraEnvs: 'ignored' } as const;
const INIT_V1BETA4 = { ...INIT_V1BETA3, nodeRegistration: { ...NODE_V1BETA3, imagePullSerial: 'ignored' }, dryRun: 'ignored', timeouts: 'ignored' } as const;
const CLUSTER_V1BETA4 = {
  ...CLUSTER_V1BETA3,
  etcd: { local: { ...LOCAL_ETCD_V1BETA2, extraEnvs: 'ignored' }, external: EXTERNAL_ETCD },
  apiServer: { ...COMPONENT_V1BETA4, certSANs: 'strings' },
  controllerManager: COMPONENT_V1BETA4,
  scheduler: COMPONENT_V1BETA4,
  dns: { ...IMAGE_META, disabled: 'ignored' },
  proxy: { disabled: 'ignored' },
  encryptionAlgorithm: 'string',
  certificateValidityPeriod: 'string',
  caCertificateValidityPeriod: 'string',
} as const;

type ReadKind = 'InitConfiguration' | 'ClusterConfiguration';
const SCHEMAS: Record<KubeadmApiVersion, Record<ReadKind, Schema>> = {
  'kubeadm.k8s.io/v1beta2': { InitConfiguration: INIT_V1BETA2, ClusterConfiguration: CLUSTER_V1BETA2 },
  'kubeadm.k8s.io/v1beta3': { InitConfiguration: INIT_V1BETA3, ClusterConfiguration: CLUSTER_V1BETA3 },
  'kubeadm.k8s.io/v1beta4': { InitConfiguration: INIT_V1BETA4, ClusterConfiguration: CLUSTER_V1BETA4 },
};
/** The kubeadm releases that read each version: a kubeadm deploys its own minor and the one before. */
const KUBEADM_MINORS: Record<KubeadmApiVersion, readonly [number, number]> = {
  'kubeadm.k8s.io/v1beta2': [15, 26],
  'kubeadm.k8s.io/v1beta3': [22, Infinity],
  'kubeadm.k8s.io/v1beta4': [31, Infinity],
};
/** kubeadm kinds that are not init input. */
const SKIPPED_KUBEADM_KINDS = new Set(['JoinConfiguration', 'ResetConfiguration', 'UpgradeConfiguration']);

const ENCRYPTION_ALGORITHMS = {
  'ECDSA-P256': 'ecdsa-p256',
  'ECDSA-P384': 'ecdsa-p384',
  'RSA-2048': 'rsa-2048',
  'RSA-3072': 'rsa-3072',
  'RSA-4096': 'rsa-4096',
} as const satisfies Record<string, KeySpec>;

/** A kubeadm configuration file is a few KiB; the limit keeps the YAML parser's work bounded. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Where each ClusterConfig field comes from in the file, to name it in resolveClusterConfig's refusals. */
const SOURCES: Partial<Record<keyof ClusterConfig, string>> = {
  nodeName: 'InitConfiguration.nodeRegistration.name',
  advertiseAddress: 'InitConfiguration.localAPIEndpoint.advertiseAddress',
  apiServerPort: 'InitConfiguration.localAPIEndpoint.bindPort',
  clusterName: 'ClusterConfiguration.clusterName',
  dnsDomain: 'ClusterConfiguration.networking.dnsDomain',
  serviceCidr: 'ClusterConfiguration.networking.serviceSubnet',
  controlPlaneEndpoint: 'ClusterConfiguration.controlPlaneEndpoint',
  kubernetesVersion: 'ClusterConfiguration.kubernetesVersion',
};

function fail(field: string, reason: string, cause?: unknown): never {
  throw new PkiError('ERR_ARGUMENT', reason, { field, ...(cause === undefined ? {} : { cause }) });
}

/**
 * Reads kubeadm's configuration file: a multi-document YAML with an InitConfiguration and a
 * ClusterConfiguration of `kubeadm.k8s.io/v1beta2`, `v1beta3` or `v1beta4`. Other kinds (KubeletConfiguration,
 * KubeProxyConfiguration, JoinConfiguration...) are skipped. A field kubeadm does not know, a field of the
 * wrong type or an invalid value is ERR_ARGUMENT naming its path (`ClusterConfiguration.apiServer.certSANs[2]`);
 * fields kubeadm knows that do not change the PKI (`imageRepository`, `networking.podSubnet`, `extraArgs`...)
 * are accepted and ignored.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function clusterConfigFromKubeadm(text: string, options: KubeadmConfigOptions = {}): KubeadmConfig {
  if (typeof text !== 'string') fail('kubeadm config', 'must be text');
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) fail('kubeadm config', `is larger than ${MAX_CONFIG_BYTES} bytes`);
  const { found, skipped } = kubeadmDocuments(text);
  const init = found.InitConfiguration;
  const cluster = found.ClusterConfiguration;
  if (!init && !cluster) fail('kubeadm config', 'has neither an InitConfiguration nor a ClusterConfiguration of kubeadm.k8s.io');
  const c = cluster?.doc ?? {};
  const used = [init?.apiVersion, cluster?.apiVersion].filter((v): v is KubeadmApiVersion => v !== undefined);
  const sources = { ...SOURCES };
  const node = nodeIdentity(init?.doc ?? {}, options, sources);
  const certificatesDir = string(c.certificatesDir);
  if (certificatesDir !== undefined && !certificatesDir.startsWith('/')) fail('ClusterConfiguration.certificatesDir', 'must be an absolute path');
  const config: ClusterConfig = { ...node, ...clusterFields(c, readVersion(c, used, cluster?.apiVersion ?? init!.apiVersion)) };
  try {
    resolveClusterConfig(config);
  } catch (error) {
    const field = (error as PkiError).field?.replace(/^config\./, '') as keyof ClusterConfig | undefined;
    const source = field && sources[field];
    if (error instanceof PkiError && source) throw new PkiError('ERR_ARGUMENT', error.reason, { field: source, cause: error });
    throw error;
  }
  return { config, apiVersion: cluster?.apiVersion ?? init!.apiVersion, ...(certificatesDir === undefined ? {} : { certificatesDir }), skipped };
}

type KubeadmDocument = { apiVersion: KubeadmApiVersion; doc: Record<string, unknown> };

/** The file's InitConfiguration and ClusterConfiguration, each checked field by field, and what it skipped. */
function kubeadmDocuments(text: string): { found: Partial<Record<ReadKind, KubeadmDocument>>; skipped: string[] } {
  const found: Partial<Record<ReadKind, KubeadmDocument>> = {};
  const skipped: string[] = [];
  parseDocuments(text).forEach((doc, index) => {
    if (doc === null || doc === undefined) return;
    const at = `document ${index + 1}`;
    if (!isMapping(doc)) fail(at, 'is not a YAML mapping');
    const { apiVersion, kind } = doc;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !apiVersion || !kind) fail(at, 'kind and apiVersion are mandatory');
    const group = (apiVersion as string).split('/')[0];
    if (group !== 'kubeadm.k8s.io' || SKIPPED_KUBEADM_KINDS.has(kind as string)) {
      skipped.push(`${String(kind)} (${String(apiVersion)})`);
      return;
    }
    if (!(KUBEADM_API_VERSIONS as readonly string[]).includes(apiVersion as string)) fail(`${String(kind)}.apiVersion`, `${String(apiVersion)} is not supported; use one of ${KUBEADM_API_VERSIONS.join(', ')}`);
    if (kind !== 'InitConfiguration' && kind !== 'ClusterConfiguration') fail(`${at}.kind`, `${String(kind)} is not a kind of ${String(apiVersion)} that kubepki reads`);
    const readKind = kind as ReadKind;
    if (found[readKind]) fail(`${at}`, `a second ${readKind}`);
    const version = apiVersion as KubeadmApiVersion;
    checkFields(doc, SCHEMAS[version][readKind], readKind);
    found[readKind] = { apiVersion: version, doc };
  });
  return { found, skipped };
}

/** The node's name and advertise address: from the InitConfiguration, or from the caller for a file without them. */
function nodeIdentity(i: Record<string, unknown>, options: KubeadmConfigOptions, sources: typeof SOURCES): { nodeName: string; advertiseAddress: string; apiServerPort?: number } {
  const take = (field: 'nodeName' | 'advertiseAddress', fromFile: unknown): string | undefined => {
    const given = options[field];
    if (typeof fromFile === 'string' && fromFile !== '') {
      if (given !== undefined) fail(field, `is set by the file (${SOURCES[field]!}) already`);
      return fromFile;
    }
    if (given !== undefined) sources[field] = field;
    return given;
  };
  const nodeName = take('nodeName', get(i, 'nodeRegistration', 'name'));
  if (nodeName === undefined) return fail(SOURCES.nodeName!, 'is required: kubepki does not take the host name as kubeadm does');
  const advertiseAddress = take('advertiseAddress', get(i, 'localAPIEndpoint', 'advertiseAddress'));
  if (advertiseAddress === undefined) return fail(SOURCES.advertiseAddress!, 'is required: kubepki does not detect an address as kubeadm does');
  const bindPort = get(i, 'localAPIEndpoint', 'bindPort') as number | undefined;
  return { nodeName, advertiseAddress, ...defined({ apiServerPort: bindPort === 0 ? undefined : bindPort }) };
}

/** The ClusterConfiguration's fields that shape the PKI, as ClusterConfig fields (absent ones left out). */
function clusterFields(c: Record<string, unknown>, kubernetesVersion: string | undefined): Omit<ClusterConfig, 'nodeName' | 'advertiseAddress'> {
  const serviceCidr = string(get(c, 'networking', 'serviceSubnet'));
  serviceCidr?.split(',').forEach((range, n) => {
    if (!firstServiceIp(range.trim())) fail(`${SOURCES.serviceCidr!}`, `range ${n + 1}, "${range}", is not a CIDR range with a usable address`);
  });
  return defined({
    controlPlaneEndpoint: string(c.controlPlaneEndpoint),
    serviceCidr,
    dnsDomain: string(get(c, 'networking', 'dnsDomain')),
    clusterName: string(c.clusterName),
    apiServerCertSans: sanList(get(c, 'apiServer', 'certSANs'), 'ClusterConfiguration.apiServer.certSANs'),
    etcdServerCertSans: sanList(get(c, 'etcd', 'local', 'serverCertSANs'), 'ClusterConfiguration.etcd.local.serverCertSANs'),
    etcdPeerCertSans: sanList(get(c, 'etcd', 'local', 'peerCertSANs'), 'ClusterConfiguration.etcd.local.peerCertSANs'),
    keySpec: readKeySpec(c),
    leafLifetimeSeconds: duration(c.certificateValidityPeriod, 'ClusterConfiguration.certificateValidityPeriod'),
    caLifetimeSeconds: duration(c.caCertificateValidityPeriod, 'ClusterConfiguration.caCertificateValidityPeriod'),
    kubernetesVersion,
  });
}

function parseDocuments(text: string): unknown[] {
  const docs = parseAllDocuments(text, { logLevel: 'error' });
  const list = Array.isArray(docs) ? docs : [];
  return list.map((doc, index) => {
    const [error] = doc.errors;
    if (error) {
      // The parser's message quotes the offending lines: only its code and position are kept.
      const at = error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : '';
      fail(`document ${index + 1}`, `not valid YAML (${error.code}${at})`);
    }
    try {
      return doc.toJS({ maxAliasCount: 10 });
    } catch (cause) {
      return fail(`document ${index + 1}`, 'not valid YAML (too many aliases)', cause);
    }
  });
}

/** Refuses unknown fields and values of the wrong type, naming the path, as kubeadm's strict decoding does. */
function checkFields(value: Record<string, unknown>, schema: Schema, path: string): void {
  for (const [key, inner] of Object.entries(value)) {
    const field = schema[key];
    const at = `${path}.${key}`;
    if (field === undefined || !Object.hasOwn(schema, key)) fail(at, 'is not a field kubeadm knows in this version (unknown field)');
    if (inner === null || field === 'ignored') continue;
    if (Array.isArray(field)) fail(at, field[1]);
    if (field === 'string' && typeof inner !== 'string') fail(at, 'must be a string');
    if (field === 'port' && !(Number.isInteger(inner) && (inner as number) >= 0 && (inner as number) < 65536)) fail(at, 'must be a port number from 1 to 65535');
    if (field === 'strings') {
      if (!Array.isArray(inner)) fail(at, 'must be a list of strings');
      (inner as unknown[]).forEach((item, n) => typeof item === 'string' || fail(`${at}[${n}]`, 'must be a string'));
    }
    if (typeof field === 'object' && !Array.isArray(field)) {
      if (!isMapping(inner)) fail(at, 'must be a mapping');
      checkFields(inner as Record<string, unknown>, field as Schema, at);
    }
  }
}

/** Extra SANs: an IP address, a DNS name or a wildcard DNS name, as kubeadm's ValidateCertSANs requires. */
function sanList(value: unknown, path: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = value as string[];
  list.forEach((san, n) => {
    if (!parseIp(san) && !isDnsName(san) && !(san.startsWith('*.') && isDnsName(san.slice(2)))) fail(`${path}[${n}]`, `"${san}" is neither an IP address nor a DNS name`);
  });
  return [...list];
}

function readVersion(c: Record<string, unknown>, used: readonly KubeadmApiVersion[], primary: KubeadmApiVersion): string | undefined {
  const field = 'ClusterConfiguration.kubernetesVersion';
  const low = Math.max(...used.map((v) => KUBEADM_MINORS[v][0]));
  const high = Math.min(...used.map((v) => KUBEADM_MINORS[v][1]));
  if (low > high) fail('kubeadm config', `no kubeadm reads both ${used.join(' and ')}`);
  const text = string(c.kubernetesVersion);
  if (text === undefined) {
    // The newest kubeadm that reads the file decides; it deploys its own version when none is given.
    return Number.isFinite(high) ? `1.${high}` : undefined;
  }
  const version = parseKubernetesVersion(text) ?? fail(field, `"${text}" is not a Kubernetes version such as v1.28.4 (release labels such as stable-1 are not resolved)`);
  if (version.minor < low - 1 || version.minor > high) {
    fail(field, `${text} is not deployed by a kubeadm that reads ${primary} (kubeadm 1.${low}${Number.isFinite(high) ? ` to 1.${high}` : ' or newer'} deploys 1.${low - 1}${Number.isFinite(high) ? ` to 1.${high}` : ' or newer'})`);
  }
  return text;
}

/** v1beta4's encryptionAlgorithm, else the PublicKeysECDSA feature gate that came before it; absent: kubepki's default. */
function readKeySpec(c: Record<string, unknown>): KeySpec | undefined {
  const algorithm = string(c.encryptionAlgorithm);
  if (algorithm !== undefined) {
    const spec = (ENCRYPTION_ALGORITHMS as Record<string, KeySpec>)[algorithm];
    return spec ?? fail('ClusterConfiguration.encryptionAlgorithm', `"${algorithm}" is not one of ${Object.keys(ENCRYPTION_ALGORITHMS).join(', ')}`);
  }
  return get(c, 'featureGates', 'PublicKeysECDSA') === true ? 'ecdsa-p256' : undefined;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, 'μs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/** A Go duration (`8760h0m0s`, `1.5h`) as whole seconds; it must be at least one second. */
function duration(value: unknown, path: string): number | undefined {
  const text = string(value);
  if (text === undefined) return undefined;
  const match = /^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.test(text);
  if (!match) fail(path, `"${text}" is not a duration such as 8760h0m0s`);
  let seconds = 0;
  for (const [, number, unit] of text.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) seconds += Number(number) * DURATION_UNITS[unit!]!;
  seconds = Math.floor(seconds);
  if (text.startsWith('-') || seconds < 1) fail(path, `"${text}" must be at least 1s`);
  return seconds;
}

/** The field names of a version's kinds that kubepki accepts and ignores, as `Kind.path` (for documentation and tests). */
export function ignoredKubeadmFields(apiVersion: KubeadmApiVersion): string[] {
  const out: string[] = [];
  const walk = (schema: Schema, path: string): void => {
    for (const [key, field] of Object.entries(schema)) {
      if (field === 'ignored') out.push(`${path}.${key}`);
      else if (typeof field === 'object' && !Array.isArray(field)) walk(field as Schema, `${path}.${key}`);
    }
  };
  for (const [kind, schema] of Object.entries(SCHEMAS[apiVersion])) walk(schema, kind);
  return out;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function get(value: unknown, ...path: string[]): unknown {
  let at = value;
  for (const key of path) at = isMapping(at) && Object.hasOwn(at, key) ? at[key] : undefined;
  return at;
}

function string(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function defined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
