import { PkiError } from '../errors.js';
import { kubeRequest, type KubeConnection } from './kube-client.js';
import { BOOTSTRAP_TOKEN_SECRET_TYPE, type SecretObject, type TokenStore } from './token.js';

/** Where kubeadm keeps bootstrap tokens: Secrets `bootstrap-token-<id>` in kube-system. */
export const TOKEN_SECRETS_PATH = '/api/v1/namespaces/kube-system/secrets';

/**
 * The bootstrap token Secrets of a real cluster, as `kubeadm token` reads and writes them: create POSTs the
 * Secret (ERR_ALREADY_EXISTS for a taken id), listSecrets lists kube-system's Secrets of type
 * bootstrap.kubernetes.io/token, remove deletes `bootstrap-token-<id>` (ERR_NOT_FOUND when there is none).
 */
export function kubernetesTokenStore(connection: KubeConnection): TokenStore & { listSecrets(): Promise<SecretObject[]>; create(secret: SecretObject): Promise<void>; remove(id: string): Promise<void> } {
  const secretPath = (name: string): string => `${TOKEN_SECRETS_PATH}/${encodeURIComponent(name)}`;
  return {
    async getSecret(name) {
      try {
        return await kubeRequest<SecretObject>(connection, 'GET', secretPath(name));
      } catch (error) {
        if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') return undefined;
        throw error;
      }
    },
    async listSecrets() {
      const list = await kubeRequest<{ items?: SecretObject[] }>(connection, 'GET', `${TOKEN_SECRETS_PATH}?fieldSelector=${encodeURIComponent(`type=${BOOTSTRAP_TOKEN_SECRET_TYPE}`)}`);
      return (list.items ?? []).map((item) => ({ ...item, apiVersion: 'v1', kind: 'Secret' }) as SecretObject);
    },
    async create(secret) {
      await kubeRequest(connection, 'POST', TOKEN_SECRETS_PATH, secret);
    },
    async remove(id) {
      if (!/^[a-z0-9]{6}$/.test(id)) throw new PkiError('ERR_ARGUMENT', 'is not a token id ([a-z0-9]{6}) or a token', { field: 'id' });
      try {
        await kubeRequest(connection, 'DELETE', secretPath(`bootstrap-token-${id}`));
      } catch (error) {
        if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') throw new PkiError('ERR_NOT_FOUND', `bootstrap token "${id}" not found`, { field: 'id', cause: error });
        throw error;
      }
    },
  };
}
