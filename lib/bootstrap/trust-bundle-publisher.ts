import { isPkiError, PkiError } from '../errors.js';
import { assertValidClusterTrustBundle, CLUSTER_TRUST_BUNDLE_VERSIONS, type ClusterTrustBundle, type ClusterTrustBundleVersion } from '../cluster/cluster-trust-bundle.js';
import { TRUST_BUNDLE_MANAGED_LABEL } from '../cluster/trust-bundles.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';

const GROUP = 'certificates.k8s.io';

/**
 * What publishTrustBundles did: nothing when the server serves no ClusterTrustBundle API, else the objects created, updated, left and deleted.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type TrustBundlePublication =
  | {
      /** False: the server serves no certificates.k8s.io ClusterTrustBundle API version kubepki writes; nothing was published. */
      readonly served: false;
      /** The server's gitVersion from /version, when it answered. */
      readonly serverVersion?: string;
    }
  | {
      /** True: the bundles were published. */
      readonly served: true;
      /** The API version written (the newest the server serves). */
      readonly version: ClusterTrustBundleVersion;
      /** Names of the objects created. */
      readonly created: readonly string[];
      /** Names of the objects whose content changed. */
      readonly updated: readonly string[];
      /** Names of the objects already as wanted. */
      readonly unchanged: readonly string[];
      /** Names of kubepki's objects deleted because they are not among the bundles (`prune`). */
      readonly deleted: readonly string[];
    };

/**
 * Options of publishTrustBundles: pruning and the retries of a conflicting write.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface PublishTrustBundleOptions {
  /** Delete the objects labelled as kubepki's that are not among `bundles`; default true. */
  prune?: boolean;
  /** Attempts per object when its resourceVersion moved meanwhile (409); default 5. */
  attempts?: number;
}

/**
 * The version of certificates.k8s.io/clustertrustbundles the server serves, v1 before v1beta1 before v1alpha1,
 * found by discovery; undefined when it serves none (the group, or the resource in every version, is absent).
 */
export async function discoverTrustBundleVersion(connection: KubeConnection): Promise<ClusterTrustBundleVersion | undefined> {
  let group: { versions?: { version?: string }[] };
  try {
    group = await kubeRequest(connection, 'GET', `/apis/${GROUP}`);
  } catch (error) {
    if (isPkiError(error, 'ERR_NOT_FOUND')) return undefined;
    throw error;
  }
  const offered = new Set((group.versions ?? []).map((v) => v.version));
  for (const version of CLUSTER_TRUST_BUNDLE_VERSIONS) {
    if (!offered.has(version)) continue;
    const list = await kubeRequest<{ resources?: { name?: string }[] }>(connection, 'GET', `/apis/${GROUP}/${version}`).catch((error: unknown) => {
      if (isPkiError(error, 'ERR_NOT_FOUND')) return { resources: [] };
      throw error;
    });
    if ((list.resources ?? []).some((r) => r.name === 'clustertrustbundles')) return version;
  }
  return undefined;
}

/** The server's gitVersion (GET /version), or undefined when it does not say. */
export async function serverGitVersion(connection: KubeConnection): Promise<string | undefined> {
  try {
    const info = await kubeRequest<{ gitVersion?: unknown }>(connection, 'GET', '/version');
    return typeof info?.gitVersion === 'string' ? info.gitVersion : undefined;
  } catch {
    return undefined;
  }
}

const collection = (version: ClusterTrustBundleVersion): string => `/apis/${GROUP}/${version}/clustertrustbundles`;
const objectPath = (version: ClusterTrustBundleVersion, name: string): string => `${collection(version)}/${encodeURIComponent(name)}`;
const managed = (object: ClusterTrustBundle): boolean => object.metadata.labels?.[TRUST_BUNDLE_MANAGED_LABEL.key] === TRUST_BUNDLE_MANAGED_LABEL.value;
const sameContent = (a: ClusterTrustBundle, b: ClusterTrustBundle): boolean =>
  a.spec.trustBundle === b.spec.trustBundle &&
  (a.spec.signerName ?? '') === (b.spec.signerName ?? '') &&
  JSON.stringify(sorted(a.metadata.labels)) === JSON.stringify(sorted(b.metadata.labels)) &&
  JSON.stringify(sorted(a.metadata.annotations)) === JSON.stringify(sorted(b.metadata.annotations));
const sorted = (record: Record<string, string> | undefined): [string, string][] => Object.entries(record ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Publishes `bundles` in the version the server serves: each is created, or replaced (PUT with the resourceVersion
 * read, read again and retried on 409) when its content differs; with `prune`, objects labelled as kubepki's and not
 * wanted are deleted (with the resourceVersion as precondition). An existing object of a wanted name that is not
 * kubepki's is left alone: ERR_CONFLICT. On a server without the API nothing is sent and `served` is false.
 * Each object is validated first as the API server would (ERR_ARGUMENT).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function publishTrustBundles(connection: KubeConnection, bundles: readonly ClusterTrustBundle[], options: PublishTrustBundleOptions = {}): Promise<TrustBundlePublication> {
  for (const bundle of bundles) assertValidClusterTrustBundle(bundle);
  const version = await discoverTrustBundleVersion(connection);
  if (!version) {
    const serverVersion = await serverGitVersion(connection);
    return { served: false, ...(serverVersion ? { serverVersion } : {}) };
  }
  const attempts = options.attempts ?? 5;
  const created: string[] = [];
  const updated: string[] = [];
  const unchanged: string[] = [];
  const deleted: string[] = [];
  for (const bundle of bundles) {
    const wanted: ClusterTrustBundle = { ...bundle, apiVersion: `${GROUP}/${version}`, metadata: { ...bundle.metadata } };
    delete wanted.metadata.resourceVersion;
    const name = wanted.metadata.name;
    for (let attempt = 1; ; attempt++) {
      const existing = await kubeRequest<ClusterTrustBundle>(connection, 'GET', objectPath(version, name)).catch((error: unknown) => {
        if (isPkiError(error, 'ERR_NOT_FOUND')) return undefined;
        throw error;
      });
      try {
        if (!existing) {
          await kubeRequest(connection, 'POST', collection(version), wanted);
          created.push(name);
        } else if (!managed(existing)) {
          throw new PkiError('ERR_CONFLICT', `ClusterTrustBundle ${name} exists and is not labelled ${TRUST_BUNDLE_MANAGED_LABEL.key}=${TRUST_BUNDLE_MANAGED_LABEL.value}; kubepki leaves it alone`, { field: name });
        } else if (sameContent(existing, wanted)) {
          unchanged.push(name);
        } else {
          await kubeRequest(connection, 'PUT', objectPath(version, name), { ...wanted, metadata: { ...wanted.metadata, resourceVersion: existing.metadata.resourceVersion } });
          updated.push(name);
        }
        break;
      } catch (error) {
        const raced = isPkiError(error, 'ERR_ALREADY_EXISTS') || (isPkiError(error, 'ERR_CONFLICT') && existing !== undefined && managed(existing));
        if (!raced || attempt >= attempts) throw error;
      }
    }
  }
  if (options.prune !== false) {
    const selector = encodeURIComponent(`${TRUST_BUNDLE_MANAGED_LABEL.key}=${TRUST_BUNDLE_MANAGED_LABEL.value}`);
    const list = await kubeRequest<{ items?: ClusterTrustBundle[] }>(connection, 'GET', `${collection(version)}?labelSelector=${selector}`);
    const names = new Set(bundles.map((b) => b.metadata.name));
    for (const item of list.items ?? []) {
      if (names.has(item.metadata.name) || !managed(item)) continue;
      try {
        await kubeRequest(connection, 'DELETE', objectPath(version, item.metadata.name), { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: item.metadata.resourceVersion } });
        deleted.push(item.metadata.name);
      } catch (error) {
        // Gone already, or changed since the list: the next run looks again.
        if (!isPkiError(error, 'ERR_NOT_FOUND') && !isPkiError(error, 'ERR_CONFLICT')) throw error;
      }
    }
  }
  return { served: true, version, created, updated, unchanged, deleted };
}
