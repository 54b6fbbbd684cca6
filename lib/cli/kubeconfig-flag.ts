import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { kubeConnectionFromFile, kubeConnectionInCluster, type KubeConnection } from '../bootstrap/kube-client.js';
import { PkiError } from '../errors.js';

/**
 * The API server a `--kubeconfig` flag names, read as kubectl reads the file (exec plugins included). Without
 * the flag, inside a pod (KUBERNETES_SERVICE_HOST set), the pod's service account, as client-go's controllers do.
 */
export async function kubeconfigFlagConnection(path: string | undefined): Promise<KubeConnection> {
  if (path === undefined) {
    if (process.env.KUBERNETES_SERVICE_HOST) return kubeConnectionInCluster();
    throw new PkiError('ERR_ARGUMENT', 'is required (outside a pod, where the service account is used)', { field: '--kubeconfig' });
  }
  const absolute = resolve(path);
  await access(absolute).catch((cause: unknown) => {
    throw new PkiError('ERR_ARGUMENT', `no such kubeconfig: ${path}`, { field: '--kubeconfig', cause });
  });
  return kubeConnectionFromFile(absolute);
}
