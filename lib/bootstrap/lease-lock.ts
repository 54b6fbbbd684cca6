import { PkiError } from '../errors.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';

/**
 * The coordination.k8s.io/v1 LeaseSpec fields leader election reads and writes; times are MicroTime strings.
 *
 * @category Run the CSR controllers
 */
export interface LeaseSpec {
  /** The identity of the current leader; null or empty when released. */
  holderIdentity?: string | null;
  /** How long, in seconds, the holder's lease lasts after `renewTime` before another candidate may take it. */
  leaseDurationSeconds?: number | null;
  /** When the current holder acquired the Lease (MicroTime). */
  acquireTime?: string | null;
  /** When the holder last renewed the Lease (MicroTime). */
  renewTime?: string | null;
  /** How many times the Lease changed holders. */
  leaseTransitions?: number | null;
}

/**
 * A coordination.k8s.io/v1 Lease.
 *
 * @category Run the CSR controllers
 */
export interface Lease {
  /** coordination.k8s.io/v1 when given. */
  apiVersion?: 'coordination.k8s.io/v1';
  /** Lease when given. */
  kind?: 'Lease';
  /** The Lease's name and namespace, and the version an update must match; other fields are kept as read. */
  metadata: {
    /** The lock's name, e.g. the controller's. */
    name: string;
    /** The lock's namespace, e.g. kube-system. */
    namespace?: string;
    /** The stored version: an update with an older one is refused with ERR_CONFLICT. */
    resourceVersion?: string;
    [field: string]: unknown;
  };
  /** Who holds the Lease and until when; absent on a Lease never held. */
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
  /** The stored Lease; ERR_NOT_FOUND when there is none. */
  get(namespace: string, name: string): Promise<Lease>;
  /** Stores a new Lease and returns it with its resourceVersion; ERR_ALREADY_EXISTS when one exists. */
  create(lease: Lease): Promise<Lease>;
  /** Replaces the Lease if its metadata.resourceVersion is the stored one (ERR_CONFLICT otherwise); returns the new version. */
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
