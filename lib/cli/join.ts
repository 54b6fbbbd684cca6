import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PkiError } from '../errors.js';
import type { ClusterConfig } from '../cluster/config.js';
import { writeFileAtomic } from '../cluster/files.js';
import { componentFlags } from '../cluster/flags.js';
import { readRotation } from '../cluster/rotation-state.js';
import { joinControlPlane } from '../bootstrap/control-plane-join.js';
import { discoverCluster, joinKubeconfig } from '../bootstrap/discovery.js';
import { bootstrapKubelet } from '../bootstrap/node.js';
import { parseBootstrapToken } from '../bootstrap/token.js';
import { parseDuration } from './bootstrap.js';
import { clusterConfigFromFile, clusterConfigFromFlags, CLUSTER_FLAG_OPTIONS } from './cluster-flags.js';
import { JSON_OPTION, optional, printable, required, type Io, type Verb } from './io.js';

export const joinVerb: Verb = {
  name: 'join',
  summary:
    "a worker joins as with kubeadm join: token discovery of cluster-info (checked by the token's signature and the CA pin), bootstrap-kubelet.conf, then the kubelet's TLS bootstrap; with --control-plane, a control-plane node's PKI from the kubeadm-certs Secret",
  usage: `kubepki join HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH [--discovery-token-ca-cert-hash ...] [--node-name NAME] [--cert-dir /var/lib/kubelet/pki] [--kubeconfig /etc/kubernetes/kubelet.conf] [--bootstrap-kubeconfig DIR-OF-KUBECONFIG/bootstrap-kubelet.conf] [--no-bootstrap] [--timeout 1h] [--json]
       kubepki join HOST:PORT --control-plane --certificate-key KEY --token TOKEN --discovery-token-ca-cert-hash sha256:HASH --dir DIR
             --node-name NAME --advertise-address IP [--control-plane-endpoint HOST:PORT (default: the join endpoint)] [--apiserver-bind-port PORT]
             [--service-cidr CIDR] [--dns-domain DOMAIN] [--apiserver-cert-extra-sans A,B] [--key-type TYPE] [--kubernetes-version V]
             [--config KUBEADM.yaml] [--force] [--timeout 30s] [--json]
         as kubeadm join --control-plane: the shared CAs and sa keys from kube-system/kubeadm-certs (read with the token,
         decrypted with the certificate key), then this node's certificates and kubeconfigs in DIR; the cluster-wide
         settings must be the first control plane's (kubeadm reads them from the cluster; give its kubeadm file or flags)`,
  options: {
    token: { type: 'string', value: 'TOKEN', description: 'the bootstrap token (abcdef.0123456789abcdef) that signs cluster-info and authenticates the node' },
    'discovery-token-ca-cert-hash': { type: 'string', value: 'sha256:HEX', description: "the pin of the cluster CA's public key (kubepki token create --print-join-command prints it)", multiple: true },
    'cert-dir': { type: 'string', value: 'DIR', description: "worker: where the kubelet's certificates go", default: '/var/lib/kubelet/pki', directory: 'created' },
    kubeconfig: { type: 'string', value: 'FILE', description: "worker: the kubelet's kubeconfig, written after the TLS bootstrap", default: '/etc/kubernetes/kubelet.conf' },
    'bootstrap-kubeconfig': { type: 'string', value: 'FILE', description: 'worker: the bootstrap kubeconfig written from the verified cluster-info', default: 'bootstrap-kubelet.conf beside --kubeconfig' },
    'no-bootstrap': { type: 'boolean', description: 'worker: write the bootstrap kubeconfig only, and leave the TLS bootstrap to the kubelet' },
    timeout: { type: 'string', value: 'DURATION', description: 'how long to wait for the certificate (worker) or the API server (control plane)', default: '1h (worker), 30s (control plane)' },
    'control-plane': { type: 'boolean', description: "join as a control-plane node: the shared CAs from the kubeadm-certs Secret, then this node's certificates" },
    'certificate-key': { type: 'string', value: 'KEY', description: 'control plane: the key that decrypts the kubeadm-certs Secret (kubepki certs upload)' },
    dir: { type: 'string', value: 'DIR', description: "control plane: where this node's PKI is written", directory: 'created' },
    ...CLUSTER_FLAG_OPTIONS,
    force: { type: 'boolean', description: 'control plane: replace files that differ' },
    json: JSON_OPTION,
  },
  arguments: [{ name: 'HOST:PORT', description: 'the API endpoint to join' }],
  example: ['kubepki join 10.0.0.10:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:<hex>', 'kubepki join api.example.com:6443 --control-plane --certificate-key <key> --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:<hex> --dir /etc/kubernetes --node-name cp-2 --advertise-address 10.0.0.11'],
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new PkiError('ERR_ARGUMENT', 'takes the API endpoint HOST:PORT', { field: 'join' });
    if (values['control-plane']) return joinAsControlPlane(positionals[0]!, values, io);
    for (const flag of [...CONTROL_PLANE_FLAGS, 'certificate-key']) {
      if (values[flag] !== undefined) throw new PkiError('ERR_ARGUMENT', 'is for a control-plane join: give --control-plane', { field: `--${flag}` });
    }
    const token = parseBootstrapToken(required(values, 'token'), '--token');
    const pins = (values['discovery-token-ca-cert-hash'] as string[] | undefined) ?? [];
    // No unpinned join: kubeadm's --discovery-token-unsafe-skip-ca-verification has no counterpart here.
    if (pins.length === 0) throw new PkiError('ERR_ARGUMENT', 'is required (sha256:<hex> of the cluster CA public key; `kubepki token create --print-join-command` prints it)', { field: '--discovery-token-ca-cert-hash' });
    const timeoutMs = parseDuration(optional(values, 'timeout') ?? '1h', '--timeout') * 1000;
    // kubeadm's defaults: the node name is the host name, the files are the kubelet's.
    const nodeName = optional(values, 'node-name') ?? hostname().toLowerCase();
    const certDir = resolve(optional(values, 'cert-dir') ?? '/var/lib/kubelet/pki');
    const kubeconfig = resolve(optional(values, 'kubeconfig') ?? '/etc/kubernetes/kubelet.conf');
    const bootstrapKubeconfig = resolve(optional(values, 'bootstrap-kubeconfig') ?? join(dirname(kubeconfig), 'bootstrap-kubelet.conf'));
    let cluster;
    try {
      cluster = await discoverCluster({ server: positionals[0]!, token, caCertHashes: pins });
    } catch (error) {
      if (error instanceof PkiError && error.code === 'ERR_ARGUMENT' && error.field?.startsWith('caCertHashes')) throw new PkiError('ERR_ARGUMENT', error.reason, { field: '--discovery-token-ca-cert-hash', cause: error });
      throw error;
    }
    // Nothing is written before discovery has verified cluster-info.
    await writeFileAtomic({ path: bootstrapKubeconfig, content: joinKubeconfig(cluster, token), mode: 0o600 }, { overwrite: true });
    const client = values['no-bootstrap'] ? undefined : await bootstrapKubelet({ bootstrapKubeconfig, kubeconfig, certDir, nodeName, timeoutMs });
    const summary = {
      server: cluster.server,
      bootstrapKubeconfig,
      ...(client ? { client: { subject: client.certificate.subject.commonName, notAfter: client.certificate.notAfter.toISOString(), bootstrapped: client.bootstrapped, kubeconfig } } : {}),
    };
    if (values.json) io.out(JSON.stringify(summary, null, 2));
    else {
      io.out(`cluster-info of ${printable(cluster.server)} verified (token signature and CA pin); wrote ${bootstrapKubeconfig}`);
      if (summary.client) io.out(`client certificate for ${printable(summary.client.subject)} until ${summary.client.notAfter}${summary.client.bootstrapped ? '' : ' (kept)'}; wrote ${kubeconfig}`);
    }
    return 0;
  },
};

/** The flags of a control-plane join only. */
const CONTROL_PLANE_FLAGS = ['dir', 'config', 'advertise-address', 'control-plane-endpoint', 'apiserver-bind-port', 'service-cidr', 'dns-domain', 'apiserver-cert-extra-sans', 'key-type', 'kubernetes-version', 'force'] as const;
/** The worker join's kubelet flags: a control-plane node's kubelet.conf is written with its PKI. */
const WORKER_FLAGS = ['cert-dir', 'kubeconfig', 'bootstrap-kubeconfig', 'no-bootstrap'] as const;
/** Library fields and the flags that set them, for refusals. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  certificateKey: '--certificate-key',
  caCertHashes: '--discovery-token-ca-cert-hash',
  'config.controlPlaneEndpoint': '--control-plane-endpoint',
  'config.nodeName': '--node-name',
  'config.advertiseAddress': '--advertise-address',
  'config.serviceCidr': '--service-cidr',
  'config.dnsDomain': '--dns-domain',
  'config.apiServerPort': '--apiserver-bind-port',
  'config.kubernetesVersion': '--kubernetes-version',
};

async function controlPlaneConfig(endpoint: string, values: Record<string, unknown>, io: Io): Promise<ClusterConfig> {
  // kubeadm joins control planes only through a shared endpoint; the join endpoint is the natural default.
  if (optional(values, 'config') === undefined) return clusterConfigFromFlags(values, { controlPlaneEndpoint: endpoint });
  return (await clusterConfigFromFile(values, io)).config;
}

async function joinAsControlPlane(endpoint: string, values: Record<string, unknown>, io: Io): Promise<number> {
  for (const flag of WORKER_FLAGS) {
    if (values[flag] !== undefined) throw new PkiError('ERR_ARGUMENT', "is the worker join's: a control-plane node's kubelet.conf is written in --dir with its PKI", { field: `--${flag}` });
  }
  const certificateKey = required(values, 'certificate-key');
  const token = parseBootstrapToken(required(values, 'token'), '--token');
  const pins = (values['discovery-token-ca-cert-hash'] as string[] | undefined) ?? [];
  if (pins.length === 0) throw new PkiError('ERR_ARGUMENT', 'is required (sha256:<hex> of the cluster CA public key; `kubepki token create --print-join-command` prints it)', { field: '--discovery-token-ca-cert-hash' });
  const dir = resolve(required(values, 'dir'));
  const config = await controlPlaneConfig(endpoint, values, io);
  const timeout = optional(values, 'timeout');
  let result;
  try {
    result = await joinControlPlane({ dir, server: endpoint, token, caCertHashes: pins, certificateKey, config, force: values.force === true, ...(timeout ? { timeoutMs: parseDuration(timeout, '--timeout') * 1000 } : {}) });
  } catch (error) {
    const flag = error instanceof PkiError && error.field !== undefined ? (FLAG_OF_FIELD[error.field] ?? (error.field.startsWith('caCertHashes') ? '--discovery-token-ca-cert-hash' : undefined)) : undefined;
    if (flag && error instanceof PkiError && error.code === 'ERR_ARGUMENT') throw new PkiError('ERR_ARGUMENT', error.reason, { field: flag, cause: error });
    throw error;
  }
  const flags = componentFlags(result.init.plan, { dir, rotation: await readRotation(dir) });
  if (values.json) {
    const { init } = result;
    io.out(JSON.stringify({ dir, server: result.cluster.server, restored: result.restored, unchanged: result.unchanged, created: init.created, reused: init.reused, replaced: init.replaced, files: init.files, flags }, null, 2));
    return 0;
  }
  io.out(`cluster-info of ${printable(result.cluster.server)} verified (token signature and CA pin); the shared certificates of kube-system/kubeadm-certs decrypted`);
  io.out(`kubepki: control-plane PKI in ${dir}: ${result.restored.length} shared files restored (${result.unchanged.length} already there), ${result.init.created.length} created, ${result.init.reused.length} kept, ${result.init.replaced.length} replaced`);
  for (const file of [...result.restored, ...result.init.files].sort()) io.out(`  wrote ${file}`);
  for (const [component, lines] of Object.entries(flags)) io.out(`\n${component}:\n  ${lines.join(' \\\n  ')}`);
  return 0;
}
