import { PkiError } from '../errors.js';
import { CSR_API_PATH, csrApiPath, type CertificateSigningRequestCondition, type CertificateSigningRequestObject } from './csr-object.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';
import { listAndWatch } from './kube-list-watch.js';
import type { CsrRegistry, CsrWriteOptions } from './registry.js';

/** Items of a List come without apiVersion and kind; a CSR object always carries them here. */
function typed(object: CertificateSigningRequestObject): CertificateSigningRequestObject {
  return { ...object, apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest' };
}

/**
 * The CSR registry of a real kube-apiserver (or of kubepki's embedded endpoint), for the approver and
 * signer controllers. The server records the requester itself, so `create` ignores its second argument.
 * Its watch is listAndWatch's: resumed from the last resourceVersion, listed again after 410 Gone.
 *
 * @category Run the CSR controllers
 */
export function kubernetesRegistry(connection: KubeConnection, options: { onWatchError?: (error: unknown) => void } = {}): CsrRegistry {
  const watchErrors = options.onWatchError;
  const get = async (name: string): Promise<CertificateSigningRequestObject | undefined> => {
    try {
      return typed(await kubeRequest<CertificateSigningRequestObject>(connection, 'GET', csrApiPath(name)));
    } catch (error) {
      if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') return undefined;
      throw error;
    }
  };
  /**
   * PUTs the subresource with the condition added and/or the certificate set. The body carries the
   * resourceVersion of the object the writer decided on (its `current`, else read here), so that a writer
   * that lost a race gets the API server's 409 (ERR_CONFLICT) instead of overwriting.
   */
  const addCondition = async (name: string, subresource: 'approval' | 'status', write: CsrWriteOptions | undefined, condition?: CertificateSigningRequestCondition, certificate?: string) => {
    const current = write?.current ?? (await get(name));
    if (!current) throw new PkiError('ERR_NOT_FOUND', `certificatesigningrequests "${name}" not found`, { field: 'name' });
    const resourceVersion = write?.resourceVersion ?? current.metadata.resourceVersion;
    if (!write?.current && write?.resourceVersion !== undefined && current.metadata.resourceVersion !== write.resourceVersion) {
      throw new PkiError('ERR_CONFLICT', `certificatesigningrequests "${name}" has been modified since resourceVersion ${write.resourceVersion}`, { field: 'metadata.resourceVersion' });
    }
    const conditions = [...(current.status?.conditions ?? [])];
    if (condition && !conditions.some((c) => c.type === condition.type)) conditions.push({ ...condition, lastUpdateTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
    const body = { ...current, metadata: { ...current.metadata, resourceVersion }, status: { ...current.status, conditions, ...(certificate ? { certificate } : {}) } };
    return typed(await kubeRequest<CertificateSigningRequestObject>(connection, 'PUT', csrApiPath(name, subresource), body));
  };
  return {
    create: (csr) => kubeRequest(connection, 'POST', CSR_API_PATH, csr),
    get,
    list: async () => (await kubeRequest<{ items: CertificateSigningRequestObject[] }>(connection, 'GET', CSR_API_PATH)).items.map(typed),
    watch: (listener) => listAndWatch<CertificateSigningRequestObject>(connection, CSR_API_PATH, (type, object) => listener({ type, object: typed(object) }), { onError: watchErrors }),
    setApproval: (name, condition, write) => addCondition(name, 'approval', write, condition),
    setStatus: (name, status, write) => addCondition(name, 'status', write, status.condition, status.certificate),
  };
}
