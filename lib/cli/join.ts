import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { writeFileAtomic } from '../cluster/files.js';
import { discoverCluster, joinKubeconfig } from '../bootstrap/discovery.js';
import { bootstrapKubelet } from '../bootstrap/node.js';
import { parseBootstrapToken } from '../bootstrap/token.js';
import { parseDuration } from './bootstrap.js';
import { optional, printable, required, type Verb } from './io.js';

export const joinVerb: Verb = {
  name: 'join',
  summary: "a worker joins as with kubeadm join: token discovery of cluster-info (checked by the token's signature and the CA pin), bootstrap-kubelet.conf, then the kubelet's TLS bootstrap",
  usage:
    'kubepki join HOST:PORT --token TOKEN --discovery-token-ca-cert-hash sha256:HASH [--discovery-token-ca-cert-hash ...] [--node-name NAME] [--cert-dir /var/lib/kubelet/pki] [--kubeconfig /etc/kubernetes/kubelet.conf] [--bootstrap-kubeconfig DIR-OF-KUBECONFIG/bootstrap-kubelet.conf] [--no-bootstrap] [--timeout 1h] [--json]',
  options: {
    token: { type: 'string' },
    'discovery-token-ca-cert-hash': { type: 'string', multiple: true },
    'node-name': { type: 'string' },
    'cert-dir': { type: 'string' },
    kubeconfig: { type: 'string' },
    'bootstrap-kubeconfig': { type: 'string' },
    'no-bootstrap': { type: 'boolean' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ values, positionals }, io) {
    if (positionals.length !== 1) throw new PkiError('ERR_ARGUMENT', 'takes the API endpoint HOST:PORT', { field: 'join' });
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
