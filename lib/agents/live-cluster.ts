import { PkiError } from '../errors.js';
import { kubeRequest, type KubeConnection } from '../bootstrap/kube-client.js';
import { CSR_API_PATH, SIGNERS } from '../bootstrap/csr-object.js';
import { Certificate } from '../x509/certificate.js';

/** What the audit reads of a live cluster for path 4: each Node's addresses and kubelet port, and its newest issued serving certificate. */
export interface LiveKubelet {
  readonly node: string;
  readonly addresses: readonly { type: string; address: string }[];
  readonly port: number;
  /** The newest certificate a `kubernetes.io/kubelet-serving` CSR of `system:node:<node>` was issued; absent when none was. */
  readonly serving?: Certificate;
  /** The CSR it came from. */
  readonly csr?: string;
}

export interface LiveCluster {
  readonly kubelets: readonly LiveKubelet[];
  /** kube-apiserver's command line from its mirror Pod in kube-system (label component=kube-apiserver), when there is one. */
  readonly apiserverCommand?: string;
}

interface NodeList {
  items?: { metadata?: { name?: string }; status?: { addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } } }[];
}

interface CsrList {
  items?: { metadata?: { name?: string }; spec?: { signerName?: string; username?: string }; status?: { certificate?: string } }[];
}

interface PodList {
  items?: { spec?: { containers?: { command?: string[]; args?: string[] }[] } }[];
}

/** Reads the Nodes, the kubelet serving CSRs and kube-apiserver's mirror Pod of a cluster (a missing Pod is no error). */
export async function readLiveCluster(connection: KubeConnection): Promise<LiveCluster> {
  const nodes = await kubeRequest<NodeList>(connection, 'GET', '/api/v1/nodes');
  const csrs = await kubeRequest<CsrList>(connection, 'GET', CSR_API_PATH);
  const newest = new Map<string, { certificate: Certificate; csr: string }>();
  for (const item of csrs.items ?? []) {
    const username = item.spec?.username ?? '';
    if (item.spec?.signerName !== SIGNERS.kubeletServing || !username.startsWith('system:node:') || !item.status?.certificate) continue;
    const name = item.metadata?.name ?? '';
    let certificate: Certificate;
    try {
      certificate = Certificate.fromPemBundle(Buffer.from(item.status.certificate, 'base64').toString('utf8'), `csr ${name}`)[0]!;
    } catch (cause) {
      throw new PkiError('ERR_CSR_OBJECT', `CSR ${name} holds no readable certificate`, { field: name, cause });
    }
    const node = username.slice('system:node:'.length);
    const seen = newest.get(node);
    if (!seen || certificate.notBefore > seen.certificate.notBefore) newest.set(node, { certificate, csr: name });
  }
  const kubelets = (nodes.items ?? []).map((item): LiveKubelet => {
    const node = item.metadata?.name ?? '';
    const issued = newest.get(node);
    return { node, addresses: item.status?.addresses ?? [], port: item.status?.daemonEndpoints?.kubeletEndpoint?.Port || 10250, ...(issued ? { serving: issued.certificate, csr: issued.csr } : {}) };
  });
  const pods = await kubeRequest<PodList>(connection, 'GET', '/api/v1/namespaces/kube-system/pods?labelSelector=component%3Dkube-apiserver').catch((error: unknown) => {
    if (error instanceof PkiError && (error.code === 'ERR_FORBIDDEN' || error.code === 'ERR_NOT_FOUND')) return {} as PodList;
    throw error;
  });
  const container = pods.items?.[0]?.spec?.containers?.[0];
  const command = container ? [...(container.command ?? []), ...(container.args ?? [])].join('\n') : undefined;
  return { kubelets, ...(command ? { apiserverCommand: command } : {}) };
}

/** kube-apiserver's default `--kubelet-preferred-address-types` (cmd/kube-apiserver/app/options/options.go). */
export const APISERVER_DEFAULT_ADDRESS_TYPES = ['Hostname', 'InternalDNS', 'InternalIP', 'ExternalDNS', 'ExternalIP'] as const;

/** The address kube-apiserver dials for a node: the first of its addresses of the first preferred type that has one (kubelet_client.go). */
export function preferredAddress(addresses: readonly { type: string; address: string }[], types: readonly string[]): { type: string; address: string } | undefined {
  for (const type of types) {
    const found = addresses.find((a) => a.type === type && a.address);
    if (found) return found;
  }
  return undefined;
}
