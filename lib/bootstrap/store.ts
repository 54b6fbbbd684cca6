import { readdir, readFile, rename, symlink, unlink } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { join } from 'node:path';
import { exportPrivateKeyPem, exportPairSpki, importPrivateKeyPem, type KeyPair } from '../crypto/keys.js';
import { readPemBlocks, encodePem } from '../crypto/pem.js';
import { PkiError } from '../errors.js';
import { ioError, writeFileAtomic } from '../cluster/files.js';
import { Certificate } from '../x509/certificate.js';

/**
 * Where the kubelet's certificate pairs are kept: `<certDir>/<prefix>-current.pem`, a symlink to the newest `<prefix>-<timestamp>.pem`.
 *
 * @category Bootstrap a node
 */
export interface CertificateFileStoreOptions {
  /** The certificate directory, e.g. /var/lib/kubelet/pki. */
  certDir: string;
  /** `kubelet-client` or `kubelet-server`. */
  prefix: string;
  /** The clock: a stored pair's file is named `<prefix>-<timestamp>.pem` from it. Default: the system clock. */
  now?: () => Date;
}

const stamp = (at: Date): string => at.toISOString().slice(0, 19).replace(/[T:]/g, '-');

// One listing answers both "is it a symlink?" questions: a new node's folder has neither link, and an
// lstat per link would raise (and build) an ENOENT error each time.
async function entriesOf(certDir: string): Promise<Map<string, Dirent>> {
  const entries = await readdir(certDir, { withFileTypes: true }).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? [] : Promise.reject(ioError(certDir, 'cannot be listed', cause))));
  return new Map(entries.map((entry) => [entry.name, entry]));
}

function assertNotRegularFile(entries: Map<string, Dirent>, name: string, path: string): void {
  const entry = entries.get(name);
  if (entry && !entry.isSymbolicLink()) {
    throw new PkiError('ERR_DIRECTORY', 'is a regular file where a symlink is expected; remove it (client-go refuses it too)', { field: path });
  }
}

/**
 * The kubelet's file store (docs/kubernetes-pki.md §12): the issued certificates and then the key, in one
 * new `<prefix>-YYYY-MM-DD-HH-MM-SS.pem` (0600 from creation), and `<prefix>-current.pem` moved to it by
 * renaming a fresh `<prefix>-updated.pem` symlink over it, so a reader always finds a complete pair.
 *
 * @category Bootstrap a node
 */
export async function storeCertificatePair(options: CertificateFileStoreOptions, certificatesPem: string, key: string | KeyPair): Promise<string> {
  const chain = Certificate.fromPemBundle(certificatesPem, 'certificates');
  // A KeyPair is written as it is; a PEM key is imported first to learn its public key.
  const pair = typeof key === 'string' ? await importPrivateKeyPem(key, { field: 'key' }) : key;
  if (!Buffer.from(await exportPairSpki(pair)).equals(chain[0]!.spki)) throw new PkiError('ERR_KEY', 'does not match the certificate', { field: 'key' });
  const keyPem = typeof key === 'string' ? key : await exportPrivateKeyPem(key);
  const currentName = `${options.prefix}-current.pem`;
  const updatedName = `${options.prefix}-updated.pem`;
  const current = join(options.certDir, currentName);
  const updated = join(options.certDir, updatedName);
  const entries = await entriesOf(options.certDir);
  assertNotRegularFile(entries, currentName, current);
  assertNotRegularFile(entries, updatedName, updated);
  const name = `${options.prefix}-${stamp((options.now ?? (() => new Date()))())}.pem`;
  const path = join(options.certDir, name);
  // A pair stored twice in one second replaces the first whole, where the kubelet truncates and rewrites it.
  await writeFileAtomic({ path, content: chain.map((c) => c.pem).join('') + keyPem, mode: 0o600 }, { overwrite: true });
  if (entries.has(updatedName)) await unlink(updated).catch(() => undefined);
  try {
    await symlink(name, updated);
  } catch (cause) {
    throw ioError(updated, 'cannot be created', cause);
  }
  try {
    await rename(updated, current);
  } catch (cause) {
    await unlink(updated).catch(() => undefined);
    throw ioError(current, 'cannot be replaced', cause);
  }
  return path;
}

/**
 * The pair `<prefix>-current.pem` points at, or undefined when there is none.
 *
 * @category Bootstrap a node
 */
export async function loadCurrentPair(options: CertificateFileStoreOptions): Promise<
  | {
      /** The leaf certificate: the file's first CERTIFICATE block. */
      certificate: Certificate;
      /** Every CERTIFICATE block of the file, leaf first. */
      chain: Certificate[];
      /** The private key, as a PEM block. */
      keyPem: string;
      /** The path read: `<certDir>/<prefix>-current.pem`. */
      path: string;
    }
  | undefined
> {
  const path = join(options.certDir, `${options.prefix}-current.pem`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(path, 'cannot be read', cause);
  }
  const blocks = readPemBlocks(text, { field: path });
  const chain = blocks.filter((b) => b.label === 'CERTIFICATE').map((b, i) => Certificate.from(b.der, `${path}[${i}]`));
  const keyBlock = blocks.find((b) => b.label.endsWith('PRIVATE KEY'));
  if (chain.length === 0 || !keyBlock) throw new PkiError('ERR_DIRECTORY', 'does not hold a certificate and a key', { field: path });
  return { certificate: chain[0]!, chain, keyPem: encodePem(keyBlock.label, keyBlock.der), path };
}
