import { join } from 'node:path';
import { writeFileAtomic, readIfExists } from '../cluster/files.js';
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

/** A token store reading the Secret files on each lookup, so tokens created later count at once. */
export function directoryTokenStore(dir: string): TokenStore {
  return {
    async getSecret(name) {
      if (!/^bootstrap-token-[a-z0-9]{6}$/.test(name)) return undefined;
      const text = await readIfExists(join(tokenFolder(dir), `${name}.json`));
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as SecretObject;
      } catch (cause) {
        throw new PkiError('ERR_TOKEN', 'the stored token Secret is not valid JSON', { field: name, cause });
      }
    },
  };
}
