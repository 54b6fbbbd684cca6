import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { kubeConnectionFromFile, type KubeConnection } from '../bootstrap/kube-client.js';
import { PkiError } from '../errors.js';

/** The API server a `--kubeconfig` flag names, read as kubectl reads the file (exec plugins included). */
export async function kubeconfigFlagConnection(path: string): Promise<KubeConnection> {
  const absolute = resolve(path);
  await access(absolute).catch((cause: unknown) => {
    throw new PkiError('ERR_ARGUMENT', `no such kubeconfig: ${path}`, { field: '--kubeconfig', cause });
  });
  return kubeConnectionFromFile(absolute);
}
