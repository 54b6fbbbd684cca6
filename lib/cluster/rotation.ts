import { rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPrivateKeyPem } from '../crypto/keys.js';
import { findPkcs11KeyPair, formatPkcs11Reference, generatePkcs11KeyPair, openPkcs11Token, parsePkcs11Reference, type Pkcs11KeyReference } from '../crypto/pkcs11.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { createCertificateAuthority } from './ca.js';
import { PROFILES } from './kinds.js';
import { issueCertificate } from '../x509/issue.js';
import { Certificate } from '../x509/certificate.js';
import { clusterBundles } from './bundles.js';
import { loadPkiDirectory } from './directory.js';
import { ioError, readIfExists, writeFileAtomic } from './files.js';
import { CERTIFICATE_LAYOUT, layoutEntry, layoutFile, type LayoutEntry } from './layout.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { entryFilesToWrite, interruptedPair, issuerOf, loadAuthority, reissueEntry } from './material.js';

export type RotationPhase = 'add' | 'reissue' | 'finish';

/** The persisted state of a cluster CA rotation (`rotation.json` in the directory). */
export interface RotationState {
  readonly phase: 'added' | 'reissued' | 'finished';
  readonly newCa: string;
}

export interface RotationResult {
  readonly phase: RotationPhase;
  /** Files written or replaced by this phase. */
  readonly changed: readonly string[];
}

const CA = { crt: layoutFile('ca', '.crt'), key: layoutFile('ca', '.key'), pkcs11: layoutFile('ca', '.pkcs11.json') };
// The incoming CA during a rotation, and the outgoing one kept after it, next to the cluster CA's files.
const NEW = `${layoutEntry('ca')!.path}-new`;
const OLD_CRT = `${layoutEntry('ca')!.path}-old.crt`;
const NEW_ENTRY: LayoutEntry = { name: 'ca-new', profile: PROFILES.clusterCa, path: NEW, kubeconfig: false };
const STATE = 'rotation.json';

/**
 * Rotates the cluster CA with overlap, one phase at a time; each phase is idempotent, so a run that
 * crashed is resumed by running the same phase again.
 * - add: a new CA beside the old one (`pki/ca-new.crt/.key`); every bundle and kubeconfig trusts both.
 * - reissue: every leaf of the old CA (and every kubeconfig's client certificate) is issued again by the new CA.
 * - finish: the new CA becomes `pki/ca.crt/.key` (the old one is kept as `pki/ca-old.crt`) and the bundles
 *   and kubeconfigs trust only the new CA.
 */
export async function rotateClusterCa(dir: string, phase: RotationPhase, options: RotationOptions = {}): Promise<RotationResult> {
  return withDirectoryLock(dir, () => rotateUnlocked(dir, phase, options), options);
}

export type RotationOptions = CryptoOptions &
  DirectoryLockOptions & { now?: Date; crossSign?: boolean; /** Make the new CA's key in this PKCS#11 token (a new key label). */ pkcs11?: Pkcs11KeyReference };

async function rotateUnlocked(dir: string, phase: RotationPhase, options: RotationOptions): Promise<RotationResult> {
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const state = await readState(dir);
  const changed: string[] = [];
  const write = async (path: string, content: string, mode: number): Promise<void> => {
    if ((await readIfExists(path)) === content) return;
    await writeFileAtomic({ path, content, mode }, { overwrite: true });
    changed.push(path);
  };
  if (phase === 'add') {
    if (state?.phase === 'finished') throw new PkiError('ERR_ARGUMENT', 'the last rotation is finished; remove rotation.json to start another', { field: 'phase' });
    let next = await readIfExists(join(dir, `${NEW}.crt`));
    if (!next) {
      const current = (await loadPkiDirectory(dir, crypto)).authorities.get('ca');
      if (!current) throw new PkiError('ERR_DIRECTORY', 'the cluster CA is missing', { field: CA.crt });
      const common = { commonName: current.certificate.subject.commonName, keySpec: current.certificate.keySpec, now: options.now };
      // Key first, certificate last: a crash leaves no certificate whose key is missing.
      let authority;
      if (options.pkcs11) {
        const token = await openPkcs11Token(options.pkcs11);
        const keyPair = (await findPkcs11KeyPair(options.pkcs11)) ?? (await generatePkcs11KeyPair(options.pkcs11, current.certificate.keySpec));
        authority = await createCertificateAuthority({ ...common, keyPair, crypto: token.crypto });
        await write(join(dir, `${NEW}.pkcs11.json`), formatPkcs11Reference(options.pkcs11), 0o644);
      } else {
        authority = await createCertificateAuthority({ ...crypto, ...common });
        await write(join(dir, `${NEW}.key`), await exportPrivateKeyPem(authority.keyPair, undefined, crypto), 0o600);
      }
      await write(join(dir, `${NEW}.crt`), authority.certificate.pem, 0o644);
      next = authority.certificate.pem;
    }
    await trust(dir, [Certificate.from(next)], false, write, crypto);
    if (options.crossSign) await crossSign(dir, Certificate.from(next), write, { ...crypto, now: options.now });
    await write(join(dir, STATE), JSON.stringify({ phase: 'added', newCa: NEW }, null, 2), 0o644);
    return { phase, changed };
  }
  if (!state) throw new PkiError('ERR_ARGUMENT', 'no rotation in progress: run the add phase first', { field: 'phase' });
  if (phase === 'reissue') {
    const caPem = await readIfExists(join(dir, `${NEW}.crt`));
    const keyPem = await readIfExists(join(dir, `${NEW}.key`));
    const reference = await readIfExists(join(dir, `${NEW}.pkcs11.json`));
    if (!caPem || (!keyPem && !reference)) throw new PkiError('ERR_DIRECTORY', 'the new CA is missing; run the add phase again', { field: `${NEW}.crt` });
    const next = Certificate.from(caPem);
    const nextIssuer = await loadAuthority(dir, NEW_ENTRY, { ...crypto, ...(reference ? { pkcs11: parsePkcs11Reference(reference, `${NEW}.pkcs11.json`) } : {}) });
    const loaded = await loadPkiDirectory(dir, crypto);
    const bundle = [loaded.authorities.get('ca')!.certificate, next].map((c) => c.pem).join('');
    for (const entry of CERTIFICATE_LAYOUT.filter((e) => e.ca === PROFILES.clusterCa.name)) {
      // An entry this phase was writing when it stopped (new key, old certificate) is completed.
      const resumed = loaded.certificates.has(entry.name) ? undefined : await interruptedPair(dir, entry, crypto);
      const current = loaded.certificates.get(entry.name) ?? (resumed && { certificate: resumed.certificate });
      if (!current || (!resumed && current.certificate.isIssuedBy(next))) continue;
      const files = await reissueEntry(dir, entry, current, nextIssuer, { ...crypto, caPem: bundle, now: options.now, ...(resumed ? { keyPair: resumed.keyPair } : {}) });
      for (const file of files) await write(file.path, file.content, file.mode);
    }
    await write(join(dir, STATE), JSON.stringify({ phase: 'reissued', newCa: NEW }, null, 2), 0o644);
    return { phase, changed };
  }
  if (state.phase === 'added') throw new PkiError('ERR_ARGUMENT', 'run the reissue phase before finishing', { field: 'phase' });
  const caPem = await readIfExists(join(dir, `${NEW}.crt`));
  if (caPem) {
    // Promote: old CA kept for reference, new key and certificate under the kubeadm names.
    const oldPem = await readIfExists(join(dir, CA.crt));
    if (oldPem) await write(join(dir, OLD_CRT), oldPem, 0o644);
    // The new key's form (a file or a PKCS#11 reference) replaces the old one, whichever that was.
    // A finish that stopped after moving the key finds neither form under the new name: the key is in place.
    const form = (await readIfExists(join(dir, `${NEW}.pkcs11.json`))) !== undefined ? 'pkcs11' : (await readIfExists(join(dir, `${NEW}.key`))) !== undefined ? 'file' : undefined;
    if (form) {
      const [from, to, other] = form === 'pkcs11' ? ['.pkcs11.json', CA.pkcs11, CA.key] : ['.key', CA.key, CA.pkcs11];
      await rename(join(dir, `${NEW}${from}`), join(dir, to)).catch((cause: unknown) => Promise.reject(ioError(join(dir, to), 'cannot be replaced', cause)));
      await unlink(join(dir, other)).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? undefined : Promise.reject(ioError(join(dir, other), 'cannot be removed', cause))));
      changed.push(join(dir, to));
    }
    await rename(join(dir, `${NEW}.crt`), join(dir, CA.crt)).catch((cause: unknown) => Promise.reject(ioError(join(dir, CA.crt), 'cannot be replaced', cause)));
    changed.push(join(dir, CA.crt));
  }
  await trust(dir, [], true, write, crypto);
  await write(join(dir, STATE), JSON.stringify({ phase: 'finished', newCa: NEW }, null, 2), 0o644);
  return { phase, changed };
}

/**
 * The new CA's key and subject certified by the old CA (`pki/ca-new-cross.crt`): a server that sends it
 * after its leaf is verified by clients that trust only the old CA, while they are being updated.
 */
async function crossSign(dir: string, next: Certificate, write: (path: string, content: string, mode: number) => Promise<void>, options: CryptoOptions & { now?: Date }): Promise<void> {
  const path = join(dir, `${NEW}-cross.crt`);
  if (await readIfExists(path)) return;
  const old = (await loadPkiDirectory(dir, options)).authorities.get('ca');
  if (!old?.keyPair) throw new PkiError('ERR_DIRECTORY', 'cross-signing needs the old CA key', { field: CA.key });
  const cross = await issueCertificate({
    ...(options.crypto ? { crypto: options.crypto } : {}),
    profile: PROFILES.intermediateCa,
    subject: next.subject,
    sans: next.sans,
    publicKey: next.spki,
    issuer: issuerOf({ ...old, keyPair: old.keyPair }),
    now: options.now,
  });
  await write(path, cross.pem, 0o644);
}

async function readState(dir: string): Promise<RotationState | undefined> {
  const text = await readIfExists(join(dir, STATE));
  return text ? (JSON.parse(text) as RotationState) : undefined;
}

/** Rewrites the bundles and the kubeconfigs' CA data: old + extra CAs, or (only) the current CA. */
async function trust(dir: string, extra: Certificate[], only: boolean, write: (path: string, content: string, mode: number) => Promise<void>, crypto: CryptoOptions): Promise<void> {
  const loaded = await loadPkiDirectory(dir, crypto);
  const bundles = clusterBundles(loaded, { extra: { 'client-ca-file': extra, 'kubelet-client-ca-file': extra, 'konnectivity-ca': extra, 'kubelet-certificate-authority': loaded.authorities.has('kubelet-serving-ca') ? [] : extra } });
  for (const [name, bundle] of Object.entries(bundles)) await write(join(dir, 'bundles', `${name}.crt`), bundle.pem, 0o644);
  const caBundle = bundles['client-ca-file'].pem;
  for (const entry of CERTIFICATE_LAYOUT.filter((e) => e.kubeconfig)) {
    const material = loaded.certificates.get(entry.name);
    if (!material?.kubeconfig) continue;
    const kubeconfig = { ...material.kubeconfig, caPem: only ? loaded.authorities.get('ca')!.certificate.pem : caBundle };
    for (const file of await entryFilesToWrite(dir, entry, { ...material, kubeconfig }, crypto)) await write(file.path, file.content, file.mode);
  }
}
