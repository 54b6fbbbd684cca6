// The flags that describe a cluster (kubeadm's names), shared by `init` and `join --control-plane`: read into a
// ClusterConfig, or from kubeadm's configuration file with `--config`.
import { resolve } from 'node:path';
import { isKeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import type { ClusterConfig } from '../cluster/config.js';
import { readIfExists } from '../cluster/files.js';
import { clusterConfigFromKubeadm, type KubeadmConfig } from '../cluster/kubeadm-config.js';
import { list, optional, printable, required, type Io } from './io.js';

export const CLUSTER_FLAG_OPTIONS = {
  config: { type: 'string' },
  'node-name': { type: 'string' },
  'advertise-address': { type: 'string' },
  'control-plane-endpoint': { type: 'string' },
  'apiserver-bind-port': { type: 'string' },
  'service-cidr': { type: 'string' },
  'dns-domain': { type: 'string' },
  'apiserver-cert-extra-sans': { type: 'string' },
  'key-type': { type: 'string' },
  'kubernetes-version': { type: 'string' },
} as const;

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
