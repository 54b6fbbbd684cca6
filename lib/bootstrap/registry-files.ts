import { createHash } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError, NAME_MAX, writeFileAtomic } from '../cluster/files.js';
import type { CertificateSigningRequestObject } from './csr-object.js';

/**
 * The file a persisted CSR is kept in: `<name>.json`, or for a name too long for one path segment (a
 * valid CSR name has up to 253 characters, and NAME_MAX is 255 bytes) its first 180 characters and a
 * hash of the whole name. Loading reads the name from the object, never from the file name.
 */
export function registryFileName(name: string): string {
  const plain = `${name}.json`;
  if (Buffer.byteLength(plain) <= NAME_MAX) return plain;
  return `${name.slice(0, 180)}-${createHash('sha256').update(name).digest('hex').slice(0, 32)}.json`;
}

/** The CSRs persisted in `dir`, each as its file is read; none when the folder does not exist. */
export async function* readRegistryFiles(dir: string): AsyncGenerator<CertificateSigningRequestObject> {
  const files = await readdir(dir).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? [] : Promise.reject(ioError(dir, 'cannot be listed', cause))));
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    const path = join(dir, file);
    const text = await readFile(path, 'utf8').catch((cause: unknown) => Promise.reject(ioError(path, 'cannot be read', cause)));
    yield JSON.parse(text) as CertificateSigningRequestObject;
  }
}

/** Writes a CSR to its file, atomically, replacing what was there. */
export function writeRegistryFile(dir: string, object: CertificateSigningRequestObject): Promise<void> {
  return writeFileAtomic({ path: join(dir, registryFileName(object.metadata.name)), content: JSON.stringify(object), mode: 0o600 }, { overwrite: true });
}

/** Removes a CSR's file; one already gone is no error. */
export async function removeRegistryFile(dir: string, name: string): Promise<void> {
  const path = join(dir, registryFileName(name));
  await unlink(path).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? undefined : Promise.reject(ioError(path, 'cannot be removed', cause))));
}
