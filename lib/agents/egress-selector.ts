import { parse } from 'yaml';
import { PkiError } from '../errors.js';

/** How kube-apiserver reaches one network context, as its EgressSelectorConfiguration says (apiserver.k8s.io v1alpha1/v1beta1). */
export interface EgressConnection {
  readonly proxyProtocol: string;
  readonly tcp?: { readonly url: string; readonly caBundle?: string; readonly clientCert?: string; readonly clientKey?: string };
  readonly uds?: string;
}

interface Document {
  kind?: string;
  egressSelections?: { name?: string; connection?: { proxyProtocol?: string; transport?: { tcp?: { url?: string; tlsConfig?: { caBundle?: string; clientCert?: string; clientKey?: string } }; uds?: { udsName?: string } } } }[];
}

/**
 * The `cluster` selection of an EgressSelectorConfiguration (the traffic to nodes, pods and services: logs,
 * exec, the proxy subresources), or undefined when it has none (kube-apiserver then dials directly).
 */
export function clusterEgress(text: string, field: string): EgressConnection | undefined {
  let doc: Document | null;
  try {
    doc = parse(text) as Document | null;
  } catch (cause) {
    throw new PkiError('ERR_ARGUMENT', 'the egress selector configuration is not YAML', { field, cause });
  }
  if (doc?.kind !== 'EgressSelectorConfiguration') throw new PkiError('ERR_ARGUMENT', 'is not an EgressSelectorConfiguration', { field });
  // Names are matched without regard to case, as kube-apiserver does.
  const selection = (doc.egressSelections ?? []).find((s) => s.name?.toLowerCase() === 'cluster');
  if (!selection) return undefined;
  const connection = selection.connection ?? {};
  const tcp = connection.transport?.tcp;
  const uds = connection.transport?.uds?.udsName;
  return {
    proxyProtocol: connection.proxyProtocol ?? 'Direct',
    ...(tcp ? { tcp: { url: tcp.url ?? '', ...(tcp.tlsConfig ?? {}) } } : {}),
    ...(uds ? { uds } : {}),
  };
}
