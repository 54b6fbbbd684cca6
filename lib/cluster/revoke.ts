import { join } from 'node:path';
import type { Pkcs11KeyReference } from '../crypto/pkcs11.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { Certificate, type CertificateInput } from '../x509/certificate.js';
import { issueRevocationList, normalizeSerial, parseRevocationList, type RevocationList } from '../x509/crl.js';
import { readIfExists } from './files.js';
import type { DirectoryAuthorityName } from './kinds.js';
import { authorityEntry } from './layout.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { loadAuthority } from './material.js';
import { commitChanges } from './transaction.js';

/**
 * Options of revokeCertificates: the CA, the serials or certificates to revoke, its key in a token, the time and the lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RevokeOptions extends CryptoOptions, DirectoryLockOptions {
  /** The CA whose revocation list (`pki/<ca>.crl`) names the certificates. */
  ca: DirectoryAuthorityName | (string & {});
  /** Serial numbers to revoke, in hex. */
  serials?: readonly string[];
  /** Certificates to revoke (their serial numbers), as with `serials`. */
  certificates?: readonly CertificateInput[];
  /** The CA key in a PKCS#11 token, for a CA certificate placed without its `<ca>.pkcs11.json`. */
  pkcs11?: Pkcs11KeyReference;
  /** The time of the new list and of each serial revoked by it; default now. */
  now?: Date;
}

/**
 * What revokeCertificates wrote: the CA's new revocation list and the serials it added.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RevokeResult {
  /** The list written, absolute. */
  readonly path: string;
  /** The new list: every serial revoked before and now. */
  readonly crl: RevocationList;
  /** The serials this call revoked that the previous list did not name (normalized as in `crl.serials`). */
  readonly added: readonly string[];
}

/**
 * Revokes certificates in a CA's revocation list (a decommissioned node's): the CA's current list, if
 * any, is replaced by one signed by the CA that names its serials and the new ones. A serial revoked
 * before keeps its revocation date and is not revoked anew; the new list's CRL number is one above
 * the previous one's (RFC 5280 5.2.3), 1 for the first. Written atomically under the directory lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function revokeCertificates(dir: string, options: RevokeOptions): Promise<RevokeResult> {
  const entry = authorityEntry(options.ca, 'ca');
  (options.serials ?? []).forEach((serial, i) => {
    if (!/^[0-9a-fA-F]{1,40}$/.test(serial)) throw new PkiError('ERR_ARGUMENT', 'is not a hexadecimal serial number', { field: `serials[${i}]` });
  });
  const serials = [...(options.serials ?? []), ...(options.certificates ?? []).map((input, i) => Certificate.from(input, `certificates[${i}]`).serialNumber)];
  if (serials.length === 0) throw new PkiError('ERR_ARGUMENT', 'name at least one serial number or certificate', { field: 'serials' });
  return withDirectoryLock(dir, async () => {
    const crypto = options.crypto ? { crypto: options.crypto } : {};
    const issuer = await loadAuthority(dir, entry, { ...crypto, ...(options.pkcs11 ? { pkcs11: options.pkcs11 } : {}) });
    const path = join(dir, `${entry.path}.crl`);
    const previousText = await readIfExists(path);
    const previous = previousText === undefined ? undefined : parseRevocationList(previousText, path);
    const revoked = new Map(previous?.revocationDates ?? []);
    const now = options.now ?? new Date();
    const added: string[] = [];
    for (const serial of serials) {
      const key = normalizeSerial(serial);
      if (revoked.has(key)) continue;
      revoked.set(key, now);
      added.push(key);
    }
    const crl = await issueRevocationList({ issuer, thisUpdate: now, revoked: [...revoked].map(([serialNumber, revokedAt]) => ({ serialNumber, revokedAt })), ...(previous ? { previous } : {}) });
    await commitChanges([{ name: entry.name, kind: 'leaf', files: [{ path, content: crl.pem, mode: 0o644 }], overwrite: true }]);
    return { path, crl, added };
  }, options);
}
