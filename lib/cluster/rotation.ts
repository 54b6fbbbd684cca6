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
import { loadPkiDirectory, type LoadedPki } from './directory.js';
import { readIfExists, type FileToWrite } from './files.js';
import { CERTIFICATE_LAYOUT, layoutEntry, layoutFile, type LayoutEntry } from './layout.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { entryFilesToWrite, interruptedPair, issuerOf, loadAuthority, reissueEntry, type Material } from './material.js';
import { commitChanges, type Change } from './transaction.js';

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
const CROSS_CRT = `${NEW}-cross.crt`;
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
  const planners = { add: planAdd, reissue: planReissue, finish: planFinish };
  const changes = await planners[phase](dir, state, { ...options, ...crypto });
  const record: Change = { name: STATE, kind: 'record', files: [{ path: join(dir, STATE), content: JSON.stringify({ phase: DONE[phase], newCa: NEW }, null, 2), mode: 0o644 }], overwrite: true };
  return { phase, changed: await commitChanges(await unlessUnchanged([...changes, record])) };
}

const DONE: Record<RotationPhase, RotationState['phase']> = { add: 'added', reissue: 'reissued', finish: 'finished' };

type PhaseOptions = RotationOptions & CryptoOptions;

/** add: the new CA (its key first), then every bundle and kubeconfig trusting old and new, and the cross-signed certificate. */
async function planAdd(dir: string, state: RotationState | undefined, options: PhaseOptions): Promise<Change[]> {
  if (state?.phase === 'finished') throw new PkiError('ERR_ARGUMENT', 'the last rotation is finished; remove rotation.json to start another', { field: 'phase' });
  const loaded = await loadPkiDirectory(dir, cryptoOf(options));
  const current = loaded.authorities.get('ca');
  if (!current) throw new PkiError('ERR_DIRECTORY', 'the cluster CA is missing', { field: CA.crt });
  const changes: Change[] = [];
  let nextPem = await readIfExists(join(dir, `${NEW}.crt`));
  if (!nextPem) {
    const created = await newAuthority(dir, current.certificate, options);
    changes.push(created.change);
    nextPem = created.certificate.pem;
  }
  const next = Certificate.from(nextPem);
  changes.push(...(await trustChanges(dir, loaded, [next], false, options)));
  if (options.crossSign && !(await readIfExists(join(dir, CROSS_CRT)))) changes.push(await crossSigned(next, current, dir, options));
  return changes;
}

/** The new CA, its key in a file or in the PKCS#11 token asked for; the key is written before the certificate. */
async function newAuthority(dir: string, current: Certificate, options: PhaseOptions): Promise<{ certificate: Certificate; change: Change }> {
  const common = { commonName: current.subject.commonName, keySpec: current.keySpec, now: options.now };
  if (options.pkcs11) {
    const token = await openPkcs11Token(options.pkcs11);
    const keyPair = (await findPkcs11KeyPair(options.pkcs11)) ?? (await generatePkcs11KeyPair(options.pkcs11, current.keySpec));
    const authority = await createCertificateAuthority({ ...common, keyPair, crypto: token.crypto });
    const files = [file(dir, `${NEW}.pkcs11.json`, formatPkcs11Reference(options.pkcs11), 0o644), file(dir, `${NEW}.crt`, authority.certificate.pem, 0o644)];
    return { certificate: authority.certificate, change: { name: 'ca-new', kind: 'new-authority', files, overwrite: true } };
  }
  const authority = await createCertificateAuthority({ ...cryptoOf(options), ...common });
  const files = [file(dir, `${NEW}.key`, await exportPrivateKeyPem(authority.keyPair, undefined, cryptoOf(options)), 0o600), file(dir, `${NEW}.crt`, authority.certificate.pem, 0o644)];
  return { certificate: authority.certificate, change: { name: 'ca-new', kind: 'new-authority', files, overwrite: true } };
}

/** reissue: every leaf of the old CA (and every kubeconfig's client certificate) issued again by the new CA. */
async function planReissue(dir: string, state: RotationState | undefined, options: PhaseOptions): Promise<Change[]> {
  if (!state) throw new PkiError('ERR_ARGUMENT', 'no rotation in progress: run the add phase first', { field: 'phase' });
  const crypto = cryptoOf(options);
  const caPem = await readIfExists(join(dir, `${NEW}.crt`));
  const keyPem = await readIfExists(join(dir, `${NEW}.key`));
  const reference = await readIfExists(join(dir, `${NEW}.pkcs11.json`));
  if (!caPem || (!keyPem && !reference)) throw new PkiError('ERR_DIRECTORY', 'the new CA is missing; run the add phase again', { field: `${NEW}.crt` });
  const next = Certificate.from(caPem);
  const nextIssuer = await loadAuthority(dir, NEW_ENTRY, { ...crypto, ...(reference ? { pkcs11: parsePkcs11Reference(reference, `${NEW}.pkcs11.json`) } : {}) });
  const loaded = await loadPkiDirectory(dir, crypto);
  const bundle = [loaded.authorities.get('ca')!.certificate, next].map((c) => c.pem).join('');
  const changes: Change[] = [];
  for (const entry of CERTIFICATE_LAYOUT.filter((e) => e.ca === PROFILES.clusterCa.name)) {
    // An entry this phase was writing when it stopped (new key, old certificate) is completed.
    const resumed = loaded.certificates.has(entry.name) ? undefined : await interruptedPair(dir, entry, crypto);
    const current = loaded.certificates.get(entry.name) ?? (resumed && { certificate: resumed.certificate });
    if (!current || (!resumed && current.certificate.isIssuedBy(next))) continue;
    const files = await reissueEntry(dir, entry, current, nextIssuer, { ...crypto, caPem: bundle, now: options.now, ...(resumed ? { keyPair: resumed.keyPair } : {}) });
    changes.push({ name: entry.name, kind: 'leaf', files, overwrite: true });
  }
  return changes;
}

/**
 * finish: the new CA takes the kubeadm names (the old certificate kept as `pki/ca-old.crt`; the new key's
 * form, a file or a PKCS#11 reference, replaces the old one's), then the bundles and kubeconfigs trust only it.
 * The leaves already depend on the new CA, so its promotion is committed before the trust narrows.
 */
async function planFinish(dir: string, state: RotationState | undefined, options: PhaseOptions): Promise<Change[]> {
  if (!state) throw new PkiError('ERR_ARGUMENT', 'no rotation in progress: run the add phase first', { field: 'phase' });
  if (state.phase === 'added') throw new PkiError('ERR_ARGUMENT', 'run the reissue phase before finishing', { field: 'phase' });
  const loaded = await loadPkiDirectory(dir, cryptoOf(options));
  const nextPem = await readIfExists(join(dir, `${NEW}.crt`));
  // A finish that stopped after the promotion finds no new CA left to promote.
  if (!nextPem) return trustChanges(dir, loaded, [], true, options);
  const changes: Change[] = [];
  const oldPem = await readIfExists(join(dir, CA.crt));
  // A finish that stopped after moving the key finds neither form under the new name: the key is in place.
  const form = (await readIfExists(join(dir, `${NEW}.pkcs11.json`))) !== undefined ? 'pkcs11' : (await readIfExists(join(dir, `${NEW}.key`))) !== undefined ? 'file' : undefined;
  const key: Change['moves'] = form === 'pkcs11' ? [{ from: join(dir, `${NEW}.pkcs11.json`), to: join(dir, CA.pkcs11) }] : form === 'file' ? [{ from: join(dir, `${NEW}.key`), to: join(dir, CA.key) }] : [];
  const otherForm = form === 'pkcs11' ? CA.key : form === 'file' ? CA.pkcs11 : undefined;
  changes.push({ name: 'ca', kind: 'new-authority', files: oldPem ? [file(dir, OLD_CRT, oldPem, 0o644)] : [], overwrite: true, moves: key, remove: otherForm ? [join(dir, otherForm)] : [] });
  changes.push({ name: 'ca', kind: 'new-authority', files: [], overwrite: true, moves: [{ from: join(dir, `${NEW}.crt`), to: join(dir, CA.crt) }] });
  const next = Certificate.from(nextPem);
  const promoted: LoadedPki = { ...loaded, authorities: new Map(loaded.authorities).set('ca', { certificate: next }) };
  return [...changes, ...(await trustChanges(dir, promoted, [], true, options))];
}

/**
 * The new CA's key and subject certified by the old CA (`pki/ca-new-cross.crt`): a server that sends it
 * after its leaf is verified by clients that trust only the old CA, while they are being updated.
 */
async function crossSigned(next: Certificate, old: Material, dir: string, options: PhaseOptions): Promise<Change> {
  if (!old.keyPair) throw new PkiError('ERR_DIRECTORY', 'cross-signing needs the old CA key', { field: CA.key });
  const cross = await issueCertificate({
    ...cryptoOf(options),
    profile: PROFILES.intermediateCa,
    subject: next.subject,
    sans: next.sans,
    publicKey: next.spki,
    issuer: issuerOf({ ...old, keyPair: old.keyPair }),
    now: options.now,
  });
  return { name: 'ca-new-cross', kind: 'leaf', files: [file(dir, CROSS_CRT, cross.pem, 0o644)], overwrite: true };
}

async function readState(dir: string): Promise<RotationState | undefined> {
  const text = await readIfExists(join(dir, STATE));
  return text ? (JSON.parse(text) as RotationState) : undefined;
}

/** The bundles and the kubeconfigs' CA data: the directory's CAs plus `extra`, or (`only`) the cluster CA alone. */
async function trustChanges(dir: string, loaded: LoadedPki, extra: Certificate[], only: boolean, options: PhaseOptions): Promise<Change[]> {
  const bundles = clusterBundles(loaded, { extra: { 'client-ca-file': extra, 'kubelet-client-ca-file': extra, 'konnectivity-ca': extra, 'kubelet-certificate-authority': loaded.authorities.has('kubelet-serving-ca') ? [] : extra } });
  const changes: Change[] = Object.entries(bundles).map(([name, bundle]) => ({ name: `bundles/${name}`, kind: 'leaf', files: [file(dir, join('bundles', `${name}.crt`), bundle.pem, 0o644)], overwrite: true }));
  const caBundle = bundles['client-ca-file'].pem;
  for (const entry of CERTIFICATE_LAYOUT.filter((e) => e.kubeconfig)) {
    const material = loaded.certificates.get(entry.name);
    if (!material?.kubeconfig) continue;
    const kubeconfig = { ...material.kubeconfig, caPem: only ? loaded.authorities.get('ca')!.certificate.pem : caBundle };
    changes.push({ name: entry.name, kind: 'leaf', files: await entryFilesToWrite(dir, entry, { ...material, kubeconfig }, cryptoOf(options)), overwrite: true });
  }
  return changes;
}

const file = (dir: string, path: string, content: string, mode: number): FileToWrite => ({ path: join(dir, path), content, mode });
const cryptoOf = (options: CryptoOptions): CryptoOptions => (options.crypto ? { crypto: options.crypto } : {});

/** The changes without the files that already hold exactly that content (a phase run again writes only what it must). */
async function unlessUnchanged(changes: readonly Change[]): Promise<Change[]> {
  const out: Change[] = [];
  for (const change of changes) {
    const files: FileToWrite[] = [];
    for (const f of change.files) if ((await readIfExists(f.path)) !== f.content) files.push(f);
    if (files.length || change.moves?.length || change.remove?.length) out.push({ ...change, files });
  }
  return out;
}
