import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ioError, writeFileAtomic, readIfExists } from '../cluster/files.js';
import { withDirectoryLock, type DirectoryLockOptions } from '../cluster/lock.js';
import { PkiError } from '../errors.js';
import type { SecretObject, TokenStore } from './token.js';

/** Where the embedded server keeps bootstrap token Secrets: `<dir>/bootstrap-tokens/<secret name>.json`, 0600. */
export function tokenFolder(dir: string): string {
  return join(dir, 'bootstrap-tokens');
}

/** Writes the Secret file (not over an existing one), with the directory locked. */
export async function saveTokenSecret(dir: string, secret: SecretObject, options: DirectoryLockOptions = {}): Promise<string> {
  const path = join(tokenFolder(dir), `${secret.metadata.name}.json`);
  await withDirectoryLock(dir, () => writeFileAtomic({ path, content: JSON.stringify(secret, null, 2), mode: 0o600 }), options);
  return path;
}

/** Removes the token `id`'s Secret file, with the directory locked; ERR_NOT_FOUND when there is none. */
export async function deleteTokenSecret(dir: string, id: string, options: DirectoryLockOptions = {}): Promise<void> {
  if (!/^[a-z0-9]{6}$/.test(id)) throw new PkiError('ERR_ARGUMENT', 'is not a token id ([a-z0-9]{6}) or a token', { field: 'id' });
  const path = join(tokenFolder(dir), `bootstrap-token-${id}.json`);
  await withDirectoryLock(
    dir,
    async () => {
      if ((await readIfExists(path)) === undefined) throw new PkiError('ERR_NOT_FOUND', `bootstrap token "${id}" not found`, { field: 'id' });
      await rm(path).catch((cause: unknown) => Promise.reject(ioError(path, 'cannot be removed', cause)));
    },
    options,
  );
}

const SECRET_FILE = /^bootstrap-token-[a-z0-9]{6}$/;

/**
 * A token store reading the Secret files on each lookup, so tokens created later count at once.
 *
 * @category Bootstrap a node
 */
export function directoryTokenStore(dir: string): TokenStore {
  const getSecret = async (name: string): Promise<SecretObject | undefined> => {
    if (!SECRET_FILE.test(name)) return undefined;
    const text = await readIfExists(join(tokenFolder(dir), `${name}.json`));
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as SecretObject;
    } catch (cause) {
      throw new PkiError('ERR_TOKEN', 'the stored token Secret is not valid JSON', { field: name, cause });
    }
  };
  return {
    getSecret,
    async listSecrets() {
      let names: string[];
      try {
        names = await readdir(tokenFolder(dir));
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw ioError(tokenFolder(dir), 'cannot be read', cause);
      }
      const secrets: SecretObject[] = [];
      for (const name of names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)).filter((n) => SECRET_FILE.test(n)).sort()) {
        const secret = await getSecret(name).catch(() => undefined);
        if (secret) secrets.push(secret);
      }
      return secrets;
    },
  };
}
