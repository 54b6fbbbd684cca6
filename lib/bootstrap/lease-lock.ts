import { PkiError } from '../errors.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';

/**
 * The coordination.k8s.io/v1 LeaseSpec fields leader election reads and writes; times are MicroTime strings.
 *
 * @category Run the CSR controllers
 */
export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
}

/**
 * A coordination.k8s.io/v1 Lease.
 *
 * @category Run the CSR controllers
 */
export interface Lease {
  apiVersion?: 'coordination.k8s.io/v1';
  kind?: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  spec?: LeaseSpec;
}

/**
 * Where Leases are kept (client-go's resourcelock.Interface, reduced to the Lease). `get` of a missing one
 * is ERR_NOT_FOUND, `create` of an existing one ERR_ALREADY_EXISTS, and `update` of a Lease whose
 * metadata.resourceVersion is no longer the stored one ERR_CONFLICT: another writer came first.
 *
 * @category Run the CSR controllers
 */
export interface LeaseBackend {
  get(namespace: string, name: string): Promise<Lease>;
  create(lease: Lease): Promise<Lease>;
  update(lease: Lease): Promise<Lease>;
}

const leasesPath = (namespace: string): string => `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;

/**
 * The Leases of a real API server. Each request is retried at most once: the election retries on its own
 * schedule, and a renewal must not outlive the renew deadline waiting on backoff.
 */
export function kubernetesLeaseBackend(given: KubeConnection): LeaseBackend {
  const connection: KubeConnection = { ...given, maxRetries: Math.min(given.maxRetries ?? 1, 1) };
  const namespaceOf = (lease: Lease): string => {
    if (!lease.metadata.namespace) throw new PkiError('ERR_ARGUMENT', 'a Lease needs a namespace', { field: 'metadata.namespace' });
    return lease.metadata.namespace;
  };
  return {
    get: (namespace, name) => kubeRequest<Lease>(connection, 'GET', `${leasesPath(namespace)}/${encodeURIComponent(name)}`),
    create: (lease) => kubeRequest<Lease>(connection, 'POST', leasesPath(namespaceOf(lease)), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease }),
    update: (lease) => kubeRequest<Lease>(connection, 'PUT', `${leasesPath(namespaceOf(lease))}/${encodeURIComponent(lease.metadata.name)}`, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', ...lease }),
  };
}
