import { readFile, stat } from 'node:fs/promises';
import { ioError } from '../cluster/files.js';
import { parseRevocationList, type RevocationList } from '../x509/crl.js';

/**
 * The revocation lists an endpoint checks client certificates against, read afresh when they change.
 *
 * @category Run the CSR controllers
 */
export type RevocationSource = () => Promise<readonly RevocationList[]>;

/**
 * The CRL in `path` (`pki/ca.crl`, written by `kubepki revoke`), re-read whenever the file changes (its
 * inode, size or modification time); no file is no revocation. A file that cannot be read or parsed is an
 * error, so that an endpoint fails closed instead of authenticating certificates it may have revoked.
 *
 * @category Run the CSR controllers
 */
export function revocationListFile(path: string): RevocationSource {
  let seen = '';
  let lists: readonly RevocationList[] = [];
  return async () => {
    let version: string;
    try {
      const info = await stat(path, { bigint: true });
      version = `${info.ino}/${info.size}/${info.mtimeNs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(path, 'cannot be read', error);
      seen = '';
      lists = [];
      return lists;
    }
    if (version !== seen) {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        throw ioError(path, 'cannot be read', error);
      }
      lists = [parseRevocationList(text, path)];
      seen = version;
    }
    return lists;
  };
}
