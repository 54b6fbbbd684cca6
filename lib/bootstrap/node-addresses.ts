import { PkiError } from '../errors.js';
import { parseIp } from '../x509/ip.js';
import type { NodeAddressLookup } from './approver.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';

interface NodeObject {
  status?: { addresses?: { type: string; address: string }[] };
}

/**
 * The addresses a node owns, from its Node object's status.addresses, sorted the way the kubelet
 * builds its serving template (docs/kubernetes-pki.md §14): IPs, and host names that are not IPs.
 *
 * @category Run the CSR controllers
 */
export function nodeAddressesFromApi(connection: KubeConnection): NodeAddressLookup {
  return async (nodeName) => {
    let node: NodeObject;
    try {
      node = await kubeRequest<NodeObject>(connection, 'GET', `/api/v1/nodes/${encodeURIComponent(nodeName)}`);
    } catch (error) {
      if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') return undefined;
      throw error;
    }
    return addressesOf(node.status?.addresses ?? []);
  };
}

export function addressesOf(addresses: readonly { type: string; address: string }[]): { dns: string[]; ips: string[] } {
  const dns: string[] = [];
  const ips: string[] = [];
  for (const { type, address } of addresses) {
    if (!address) continue;
    if (parseIp(address)) ips.push(address);
    else if (type === 'Hostname' || type === 'InternalDNS' || type === 'ExternalDNS') dns.push(address);
  }
  return { dns, ips };
}

/**
 * A fixed table of node addresses (`name -> addresses`), for the embedded server. Names are looked up in a
 * Map, so a node called `constructor` or `__proto__` is a name like any other: unknown unless listed.
 *
 * @category Run the CSR controllers
 */
export function staticNodeAddresses(table: ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>): NodeAddressLookup {
  const nodes = new Map<string, readonly string[]>(table instanceof Map ? [...(table as ReadonlyMap<string, readonly string[]>)] : Object.entries(table));
  return (nodeName) => {
    const list = nodes.get(nodeName);
    return list ? addressesOf(list.map((address) => ({ type: parseIp(address) ? 'InternalIP' : 'Hostname', address }))) : undefined;
  };
}
