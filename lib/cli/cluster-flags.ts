// The flags that describe a cluster (kubeadm's names), shared by `init` and `join --control-plane`: read into a
// ClusterConfig, or from kubeadm's configuration file with `--config`.
import { resolve } from 'node:path';
import { DEFAULT_KEY_SPEC, isKeySpec, KEY_SPECS } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import { resolveClusterConfig, type ClusterConfig } from '../cluster/config.js';
import { readIfExists } from '../cluster/files.js';
import { clusterConfigFromKubeadm, type KubeadmConfig } from '../cluster/kubeadm-config.js';
import { list, optional, printable, required, type Io, type VerbOption } from './io.js';

/** What a cluster gets without the flags: the library's own defaults, read from a resolved config. */
const DEFAULTS = resolveClusterConfig({ nodeName: 'node', advertiseAddress: '127.0.0.1' });

export const CLUSTER_FLAG_OPTIONS = {
  config: { type: 'string', value: 'FILE', description: "kubeadm's configuration file (InitConfiguration + ClusterConfiguration) instead of the cluster flags" },
  'node-name': { type: 'string', value: 'NAME', description: "this node's name: the etcd member, the kubelet's system:node:NAME and a SAN of kube-apiserver" },
  'advertise-address': { type: 'string', value: 'IP', description: "the IP address kube-apiserver and etcd advertise on this node" },
  'control-plane-endpoint': { type: 'string', value: 'HOST[:PORT]', description: 'the shared endpoint of every control-plane node (a load balancer), in the kubeconfigs and the SANs', default: 'the advertise address' },
  'apiserver-bind-port': { type: 'string', value: 'PORT', description: "kube-apiserver's secure port", default: String(DEFAULTS.apiServerPort) },
  'service-cidr': { type: 'string', value: 'CIDR[,CIDR]', description: "the Service range; kube-apiserver's SANs get its first IP", default: DEFAULTS.serviceCidr },
  'dns-domain': { type: 'string', value: 'DOMAIN', description: "the cluster's DNS domain, in kube-apiserver's SANs", default: DEFAULTS.dnsDomain },
  'apiserver-cert-extra-sans': { type: 'string', value: 'NAME,...', description: "more DNS names or IP addresses for kube-apiserver's serving certificate" },
  'key-type': { type: 'string', value: 'TYPE', description: 'the type of every key made', default: DEFAULT_KEY_SPEC, values: KEY_SPECS },
  'kubernetes-version': { type: 'string', value: 'VERSION', description: "the Kubernetes version whose kubeadm the certificates follow (subjects changed over versions)", default: 'the newest' },
} as const satisfies Record<string, VerbOption>;

/** Flags that say what the kubeadm file says: refused with --config, as kubeadm refuses mixing --config with them. */
const FILE_FLAGS = ['control-plane-endpoint', 'apiserver-bind-port', 'service-cidr', 'dns-domain', 'apiserver-cert-extra-sans', 'key-type', 'kubernetes-version'] as const;

/** The cluster the flags describe; `controlPlaneEndpoint` is the default endpoint when the flag is absent. */
export function clusterConfigFromFlags(values: Record<string, unknown>, defaults: { controlPlaneEndpoint?: string } = {}): ClusterConfig {
  const keyType = optional(values, 'key-type');
  if (keyType !== undefined && !isKeySpec(keyType)) throw new PkiError('ERR_ARGUMENT', `unknown key type "${printable(keyType)}"`, { field: '--key-type' });
  const bindPort = optional(values, 'apiserver-bind-port');
  if (bindPort !== undefined && !/^\d{1,5}$/.test(bindPort)) throw new PkiError('ERR_ARGUMENT', `"${printable(bindPort)}" is not a port number`, { field: '--apiserver-bind-port' });
  const text = (flag: string) => optional(values, flag);
  const controlPlaneEndpoint = text('control-plane-endpoint') ?? defaults.controlPlaneEndpoint;
  return {
    nodeName: required(values, 'node-name'),
    advertiseAddress: required(values, 'advertise-address'),
    ...(controlPlaneEndpoint === undefined ? {} : { controlPlaneEndpoint }),
    ...(bindPort === undefined ? {} : { apiServerPort: Number(bindPort) }),
    ...(text('service-cidr') === undefined ? {} : { serviceCidr: text('service-cidr') }),
    ...(text('dns-domain') === undefined ? {} : { dnsDomain: text('dns-domain') }),
    apiServerCertSans: list(values, 'apiserver-cert-extra-sans'),
    ...(keyType === undefined ? {} : { keySpec: keyType }),
    ...(text('kubernetes-version') === undefined ? {} : { kubernetesVersion: text('kubernetes-version') }),
  };
}

/** `--config FILE`: kubeadm's file read (the flags it sets refused beside it), each skipped kind noted on stderr. */
export async function clusterConfigFromFile(values: Record<string, unknown>, io: Io): Promise<KubeadmConfig> {
  for (const flag of FILE_FLAGS) {
    if (values[flag] !== undefined) throw new PkiError('ERR_ARGUMENT', 'cannot be mixed with --config: set it in the kubeadm configuration file', { field: `--${flag}` });
  }
  const path = resolve(required(values, 'config'));
  const text = await readIfExists(path);
  if (text === undefined) throw new PkiError('ERR_ARGUMENT', `${path} does not exist`, { field: '--config' });
  const parsed = clusterConfigFromKubeadm(text, { nodeName: optional(values, 'node-name'), advertiseAddress: optional(values, 'advertise-address') });
  for (const kind of parsed.skipped) io.err(`kubepki: note: skipping ${kind}`);
  return parsed;
}
