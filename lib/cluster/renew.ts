import type { KeyPair } from '../crypto/keys.js';
import type { Certificate } from '../x509/certificate.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { loadPkiDirectory } from './directory.js';
import type { FileToWrite } from './files.js';
import { commitChanges, type Change } from './transaction.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import type { CertificateName } from './kinds.js';
import { certificateName, CERTIFICATE_LAYOUT, layoutEntry } from './layout.js';
import { interruptedPair, issuerOf, reissueEntry } from './material.js';
import { loadIncomingIssuer } from './rotation.js';
import { readRotation } from './rotation-state.js';

/**
 * Options of renewCertificates: the issuing time, the lifetime, and the directory lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RenewOptions extends CryptoOptions, DirectoryLockOptions {
  /** The issuing time of the renewed certificates. Default: now. */
  now?: Date;
  /** Default: each profile's lifetime (1 year). */
  lifetimeSeconds?: number;
}

/**
 * Renews leaf certificates (by kubeadm name, or `all`) with their CA in the directory, as `kubeadm certs
 * renew` does: a new key of the same type, the same subject and SANs, a fresh validity. Kubeconfigs that
 * embed a renewed certificate are rewritten with everything else kept. CAs are not renewed (CA rotation
 * is a separate procedure). Every target is checked before anything is written. The directory is locked
 * meanwhile: a second renewal waits or fails with ERR_LOCKED, never mixes its keys with this one's.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function renewCertificates(dir: string, which: 'all' | readonly CertificateName[], options: RenewOptions = {}): Promise<string[]> {
  return withDirectoryLock(dir, () => renewUnlocked(dir, which, options), options);
}

async function renewUnlocked(dir: string, which: 'all' | readonly CertificateName[], options: RenewOptions): Promise<string[]> {
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const loaded = await loadPkiDirectory(dir, crypto);
  // From a rotation's reissue phase on, the rotating CA's leaves come from the incoming CA, as the reissue made them.
  const rotation = await readRotation(dir);
  const incoming = rotation?.phase === 'reissued' ? await loadIncomingIssuer(dir, rotation.ca, crypto) : undefined;
  // A renewal killed between writing an entry's new key and its certificate is completed by this one.
  const interrupted = new Map<string, { certificate: Certificate; keyPair: KeyPair }>();
  for (const entry of CERTIFICATE_LAYOUT) {
    const pair = loaded.certificates.has(entry.name) ? undefined : await interruptedPair(dir, entry, crypto);
    if (pair) interrupted.set(entry.name, pair);
  }
  const names: readonly string[] = which === 'all' ? CERTIFICATE_LAYOUT.filter((e) => loaded.certificates.has(e.name) || interrupted.has(e.name)).map((e) => e.name) : which;
  const plans: { name: string; files: () => Promise<readonly FileToWrite[]> }[] = [];
  for (const name of names) {
    const entry = layoutEntry(certificateName(name, 'names'))!;
    const problem = loaded.problems.find((p) => (p.name === name && !interrupted.has(name)) || p.name === entry.ca);
    if (problem) throw new PkiError('ERR_DIRECTORY', `${problem.files.join(', ')}: ${problem.reason}`, { field: name });
    const resumed = interrupted.get(name);
    const current = loaded.certificates.get(name) ?? (resumed && { certificate: resumed.certificate });
    if (!current) throw new PkiError('ERR_DIRECTORY', 'is not in the directory; nothing to renew', { field: name });
    const ca = loaded.authorities.get(entry.ca!);
    if (!ca?.keyPair) throw new PkiError('ERR_DIRECTORY', `the ${entry.ca} CA key is not in the directory (external CA): renew with the CSR mode`, { field: name });
    const issuer = incoming && entry.ca === rotation!.authority ? incoming : issuerOf({ ...ca, keyPair: ca.keyPair });
    plans.push({
      name,
      files: () =>
        reissueEntry(dir, entry, current, issuer, {
          ...crypto,
          caPem: current.kubeconfig?.caPem ?? ca.certificate.pem,
          lifetimeSeconds: options.lifetimeSeconds,
          now: options.now,
          ...(resumed ? { keyPair: resumed.keyPair } : {}),
        }),
    });
  }
  // Every certificate is made before the first is written: a refusal (a lint, a key) leaves the directory as it was.
  const changes: Change[] = [];
  for (const plan of plans) changes.push({ name: plan.name, kind: 'leaf', files: await plan.files(), overwrite: true });
  await commitChanges(changes);
  return plans.map((p) => p.name);
}
