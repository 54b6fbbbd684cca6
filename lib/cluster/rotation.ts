import { join } from 'node:path';
import { exportPrivateKeyPem } from '../crypto/keys.js';
import { findPkcs11KeyPair, formatPkcs11Reference, generatePkcs11KeyPair, openPkcs11Token, parsePkcs11Reference, type Pkcs11KeyReference } from '../crypto/pkcs11.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { buildCaBundle } from '../x509/bundle.js';
import { Certificate } from '../x509/certificate.js';
import { issueCertificate, type Issuer } from '../x509/issue.js';
import { bundleFile, bundleSource, clusterBundles, type BundleName } from './bundles.js';
import { createCertificateAuthority } from './ca.js';
import { loadPkiDirectory, type LoadedPki } from './directory.js';
import { readIfExists, type FileToWrite } from './files.js';
import { EGRESS_SELECTOR_FILE, egressSelectorFollowing } from './flags.js';
import { PROFILES } from './kinds.js';
import { CERTIFICATE_LAYOUT, layoutFile } from './layout.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { entryFilesToWrite, interruptedPair, issuerOf, loadAuthority, reissueEntry, type Material } from './material.js';
import { nodeKubeconfigsTrusting } from './node-kubeconfigs.js';
import { PHASE_DONE, readRotation, readRotationState, rotatableCa, ROTATABLE_CAS, ROTATION_FILE, rotationFiles, type RotatableCa, type Rotation, type RotationPhase, type RotationState } from './rotation-state.js';
import { phaseSteps, type PhaseSteps } from './rotation-steps.js';
import { commitChanges, type Change } from './transaction.js';

export type { RotatableCa, Rotation, RotationPhase, RotationState };

/**
 * What a phase of a CA rotation did, and what remains to do by hand (restarts, node steps).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RotationResult extends PhaseSteps {
  /** The CA rotated. */
  readonly ca: RotatableCa;
  /** The phase that ran. */
  readonly phase: RotationPhase;
  /** Files written, moved into place or replaced by this phase. */
  readonly changed: readonly string[];
  /** The rotation in progress after this phase, for `componentFlags(plan, { rotation })`; absent after finish. */
  readonly rotation?: Rotation;
}

/**
 * Options of every phase of a CA rotation: the issuing time, cross-signing, a PKCS#11 token, the directory paths and the lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type RotationOptions = CryptoOptions &
  DirectoryLockOptions & {
    /** The issuing time of what the phase makes. Default: now. */
    now?: Date;
    /** add: also certify the new CA's key with the old CA (`<ca>-new-cross.crt`), for clients that trust only the old CA. */
    crossSign?: boolean;
    /** add: make the new CA's key in this PKCS#11 token (a new key label). */
    pkcs11?: Pkcs11KeyReference;
    /** Where the control-plane components read the directory, for the flags in the result. Default: `dir`. */
    componentDir?: string;
    /** Where a node keeps its copies of the CA files, for the node steps in the result. Default: the component directory. */
    nodeDir?: string;
  };

/**
 * Options of rotateAuthority: the CA, the phase to run, and those of every phase.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RotateAuthorityOptions extends RotationOptions {
  /** The CA to rotate. Default `cluster`. */
  ca?: RotatableCa;
  /** The phase to run: add (a new CA beside the old), reissue (every leaf from the new CA), finish (drop the old CA). */
  phase: RotationPhase;
}

/**
 * Rotates one CA of the directory (the cluster, front-proxy or etcd CA) with overlap, one phase at a time;
 * each phase is idempotent, so a run that crashed is resumed by running the same phase again. One
 * rotation at a time per directory: another CA's rotation is refused until the current one is finished.
 * - add: a new CA beside the old one (`<ca>-new.crt/.key`, e.g. `pki/etcd/ca-new.crt`); every bundle of that
 *   CA, and every kubeconfig (in the directory and under `nodes/`) that trusts it, trusts both.
 * - reissue: every leaf the CA signs (and, for the cluster CA, every kubeconfig's client certificate) is
 *   issued again by the new CA.
 * - finish: the new CA takes kubeadm's names (the old certificate kept as `<ca>-old.crt`) and the bundles
 *   and kubeconfigs trust only it.
 * The result says which flags changed, which components to restart and what to do on nodes the directory
 * does not hold; `componentFlags(plan, { rotation: await readRotation(dir) })` prints each phase's flags.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function rotateAuthority(dir: string, options: RotateAuthorityOptions): Promise<RotationResult> {
  return withDirectoryLock(dir, () => rotateUnlocked(dir, options), options);
}

/** `rotateAuthority` for the cluster CA. */
export async function rotateClusterCa(dir: string, phase: RotationPhase, options: RotationOptions = {}): Promise<RotationResult> {
  return rotateAuthority(dir, { ...options, ca: 'cluster', phase });
}

/** What every phase works on: the CA, its files, and the options. */
interface PhaseContext {
  readonly dir: string;
  readonly ca: RotatableCa;
  readonly files: ReturnType<typeof rotationFiles>;
  readonly state: RotationState | undefined;
  readonly options: RotateAuthorityOptions;
  readonly crypto: CryptoOptions;
}

async function rotateUnlocked(dir: string, options: RotateAuthorityOptions): Promise<RotationResult> {
  const ca = rotatableCa(options.ca ?? 'cluster');
  const { phase } = options;
  if (phase !== 'add' && phase !== 'reissue' && phase !== 'finish') throw new PkiError('ERR_ARGUMENT', 'must be add, reissue or finish', { field: 'phase' });
  const state = await readRotationState(dir);
  checkOneAtATime(state, ca, phase);
  const context: PhaseContext = { dir, ca, files: rotationFiles(ca), state, options, crypto: options.crypto ? { crypto: options.crypto } : {} };
  const before = await readRotation(dir);
  const caKeyInToken = await keyInToken(dir);
  const planners = { add: planAdd, reissue: planReissue, finish: planFinish };
  const changes = await planners[phase](context);
  const next: RotationState = { ca, phase: PHASE_DONE[phase], newCa: context.files.incoming.path };
  const record: Change = { name: ROTATION_FILE, kind: 'record', files: [file(dir, ROTATION_FILE, JSON.stringify(next, null, 2), 0o644)], overwrite: true };
  const changed = await commitChanges(await unlessUnchanged([...changes, record]));
  const after = await readRotation(dir);
  const loaded = await loadPkiDirectory(dir, context.crypto);
  const steps = phaseSteps({ dir, ca, phase, loaded, changed, before: { rotation: before, caKeyInToken }, after: { rotation: after, caKeyInToken: await keyInToken(dir) }, componentDir: options.componentDir, nodeDir: options.nodeDir });
  return { ca, phase, changed, ...steps, ...(after ? { rotation: after } : {}) };
}

/** One rotation at a time per directory, its phases in order. */
function checkOneAtATime(state: RotationState | undefined, ca: RotatableCa, phase: RotationPhase): void {
  if (state && state.phase !== 'finished' && state.ca !== ca) {
    throw new PkiError('ERR_ARGUMENT', `the rotation of the ${state.ca} CA is in progress (phase ${state.phase}); finish it before rotating the ${ca} CA`, { field: 'ca' });
  }
  const ours = state?.ca === ca ? state : undefined;
  if (phase === 'add' && ours?.phase === 'finished') throw new PkiError('ERR_ARGUMENT', `the last rotation of the ${ca} CA is finished; remove ${ROTATION_FILE} to rotate it again`, { field: 'phase' });
  if (phase !== 'add' && !ours) throw new PkiError('ERR_ARGUMENT', `no rotation of the ${ca} CA in progress: run the add phase first`, { field: 'phase' });
  if (phase === 'reissue' && ours?.phase === 'finished') throw new PkiError('ERR_ARGUMENT', `the rotation of the ${ca} CA is finished; nothing to reissue`, { field: 'phase' });
  if (phase === 'finish' && ours?.phase === 'added') throw new PkiError('ERR_ARGUMENT', 'run the reissue phase before finishing', { field: 'phase' });
}

/** add: the new CA (its key first), then every bundle and kubeconfig trusting old and new, and the cross-signed certificate. */
async function planAdd(context: PhaseContext): Promise<Change[]> {
  const { dir, files, options } = context;
  const loaded = await loadPkiDirectory(dir, context.crypto);
  const current = loaded.authorities.get(files.entry.name);
  if (!current) throw new PkiError('ERR_DIRECTORY', `the ${context.ca} CA is missing`, { field: `${files.entry.path}.crt` });
  const changes: Change[] = [];
  let nextPem = await readIfExists(join(dir, `${files.incoming.path}.crt`));
  if (!nextPem) {
    const created = await newAuthority(context, current.certificate);
    changes.push(created.change);
    nextPem = created.certificate.pem;
  }
  const next = Certificate.from(nextPem);
  changes.push(...(await trustChanges(context, loaded, current.certificate, next, [])));
  if (options.crossSign && !(await readIfExists(join(dir, files.cross)))) changes.push(await crossSigned(context, next, current));
  return changes;
}

/** The new CA, its key in a file or in the PKCS#11 token asked for; the key is written before the certificate. */
async function newAuthority({ dir, files, options, crypto }: PhaseContext, current: Certificate): Promise<{ certificate: Certificate; change: Change }> {
  const common = { commonName: current.subject.commonName, keySpec: current.keySpec, profile: files.entry.profile, now: options.now };
  const at = files.incoming.path;
  if (options.pkcs11) {
    const token = await openPkcs11Token(options.pkcs11);
    const keyPair = (await findPkcs11KeyPair(options.pkcs11)) ?? (await generatePkcs11KeyPair(options.pkcs11, current.keySpec));
    const authority = await createCertificateAuthority({ ...common, keyPair, crypto: token.crypto });
    const written = [file(dir, `${at}.pkcs11.json`, formatPkcs11Reference(options.pkcs11), 0o644), file(dir, `${at}.crt`, authority.certificate.pem, 0o644)];
    return { certificate: authority.certificate, change: { name: files.incoming.name, kind: 'new-authority', files: written, overwrite: true } };
  }
  const authority = await createCertificateAuthority({ ...crypto, ...common });
  const written = [file(dir, `${at}.key`, await exportPrivateKeyPem(authority.keyPair, undefined, crypto), 0o600), file(dir, `${at}.crt`, authority.certificate.pem, 0o644)];
  return { certificate: authority.certificate, change: { name: files.incoming.name, kind: 'new-authority', files: written, overwrite: true } };
}

/** The incoming CA of a rotation of `ca` as an issuer, its key in a file or a PKCS#11 token. */
export async function loadIncomingIssuer(dir: string, ca: RotatableCa, crypto: CryptoOptions = {}): Promise<Issuer & { readonly certificate: Certificate }> {
  const { incoming } = rotationFiles(ca);
  const at = incoming.path;
  const reference = await readIfExists(join(dir, `${at}.pkcs11.json`));
  if (!(await readIfExists(join(dir, `${at}.crt`))) || (!reference && !(await readIfExists(join(dir, `${at}.key`))))) {
    throw new PkiError('ERR_DIRECTORY', 'the new CA is missing; run the add phase again', { field: `${at}.crt` });
  }
  return loadAuthority(dir, incoming, { ...crypto, ...(reference ? { pkcs11: parsePkcs11Reference(reference, `${at}.pkcs11.json`) } : {}) });
}

/** reissue: every leaf of the old CA (for the cluster CA, every kubeconfig's client certificate too) issued again by the new CA. */
async function planReissue(context: PhaseContext): Promise<Change[]> {
  const { dir, files, options, crypto } = context;
  const nextIssuer = await loadIncomingIssuer(dir, context.ca, crypto);
  const next = nextIssuer.certificate;
  const loaded = await loadPkiDirectory(dir, crypto);
  const current = loaded.authorities.get(files.entry.name);
  if (!current) throw new PkiError('ERR_DIRECTORY', `the ${context.ca} CA is missing`, { field: `${files.entry.path}.crt` });
  const trust = buildCaBundle([current.certificate, next]).pem;
  const changes: Change[] = [];
  for (const entry of CERTIFICATE_LAYOUT.filter((e) => e.ca === files.entry.name)) {
    // An entry this phase was writing when it stopped (new key, old certificate) is completed.
    const resumed = loaded.certificates.has(entry.name) ? undefined : await interruptedPair(dir, entry, crypto);
    const material = loaded.certificates.get(entry.name) ?? (resumed && { certificate: resumed.certificate });
    if (!material || (!resumed && material.certificate.isIssuedBy(next))) continue;
    const written = await reissueEntry(dir, entry, material, nextIssuer, { ...crypto, caPem: trust, now: options.now, ...(resumed ? { keyPair: resumed.keyPair } : {}) });
    changes.push({ name: entry.name, kind: 'leaf', files: written, overwrite: true });
  }
  return changes;
}

/**
 * finish: the new CA takes the kubeadm names (the old certificate kept as `<ca>-old.crt`; the new key's form,
 * a file or a PKCS#11 reference, replaces the old one's; the cross-signed certificate goes), then the bundles
 * and kubeconfigs trust only it. The leaves already depend on the new CA, so its promotion is committed before
 * the trust narrows.
 */
async function planFinish(context: PhaseContext): Promise<Change[]> {
  const { dir, files } = context;
  const { entry, incoming } = files;
  const loaded = await loadPkiDirectory(dir, context.crypto);
  const current = loaded.authorities.get(entry.name);
  const nextPem = await readIfExists(join(dir, `${incoming.path}.crt`));
  const oldPem = await readIfExists(join(dir, `${entry.path}.crt`));
  const kept = await readIfExists(join(dir, files.old));
  const retired = [oldPem, kept].filter((pem): pem is string => pem !== undefined).map((pem) => Certificate.from(pem));
  // A finish that stopped after the promotion finds no new CA left to promote.
  if (!nextPem) {
    if (!current) throw new PkiError('ERR_DIRECTORY', `the ${context.ca} CA is missing`, { field: `${entry.path}.crt` });
    return trustChanges(context, loaded, current.certificate, undefined, retired);
  }
  const crt = `${entry.path}.crt`;
  const key = `${entry.path}.key`;
  const pkcs11 = `${entry.path}.pkcs11.json`;
  // A finish that stopped after moving the key finds neither form under the new name: the key is in place.
  const form = (await readIfExists(join(dir, `${incoming.path}.pkcs11.json`))) !== undefined ? 'pkcs11' : (await readIfExists(join(dir, `${incoming.path}.key`))) !== undefined ? 'file' : undefined;
  const moveKey: Change['moves'] = form === 'pkcs11' ? [{ from: join(dir, `${incoming.path}.pkcs11.json`), to: join(dir, pkcs11) }] : form === 'file' ? [{ from: join(dir, `${incoming.path}.key`), to: join(dir, key) }] : [];
  const otherForm = form === 'pkcs11' ? key : form === 'file' ? pkcs11 : undefined;
  const changes: Change[] = [
    { name: entry.name, kind: 'new-authority', files: oldPem ? [file(dir, files.old, oldPem, 0o644)] : [], overwrite: true, moves: moveKey, remove: otherForm ? [join(dir, otherForm)] : [] },
    { name: entry.name, kind: 'new-authority', files: [], overwrite: true, moves: [{ from: join(dir, `${incoming.path}.crt`), to: join(dir, crt) }], remove: [join(dir, files.cross)] },
  ];
  const next = Certificate.from(nextPem);
  const promoted: LoadedPki = { ...loaded, authorities: new Map(loaded.authorities).set(entry.name, { certificate: next }), rotation: undefined };
  return [...changes, ...(await trustChanges(context, promoted, next, undefined, retired))];
}

/**
 * The new CA's key and subject certified by the old CA (`<ca>-new-cross.crt`): a server that sends it after its
 * leaf is verified by clients that trust only the old CA, while they are being updated.
 */
async function crossSigned({ dir, files, options, crypto }: PhaseContext, next: Certificate, old: Material): Promise<Change> {
  if (!old.keyPair) throw new PkiError('ERR_DIRECTORY', 'cross-signing needs the old CA key', { field: `${files.entry.path}.key` });
  const cross = await issueCertificate({
    ...crypto,
    profile: PROFILES.intermediateCa,
    subject: next.subject,
    sans: next.sans,
    publicKey: next.spki,
    issuer: issuerOf({ ...old, keyPair: old.keyPair }),
    now: options.now,
  });
  return { name: `${files.incoming.name}-cross`, kind: 'leaf', files: [file(dir, files.cross, cross.pem, 0o644)], overwrite: true };
}

/**
 * What trusts the rotating CA, made to trust `current` and `incoming` (add, reissue) or `current` alone
 * (finish): its bundles, the directory's kubeconfigs it signs, the node kubeconfigs under `nodes/` that
 * trust it (or a `retired` CA), and for the cluster CA the egress selector's caBundle.
 */
async function trustChanges(context: PhaseContext, loaded: LoadedPki, current: Certificate, incoming: Certificate | undefined, retired: readonly Certificate[]): Promise<Change[]> {
  const { dir, files, ca } = context;
  const name = files.entry.name;
  const rotating: LoadedPki = incoming ? { ...loaded, rotation: { ...(await rotationFor(context)), incoming } } : { ...loaded, rotation: undefined };
  const bundles = clusterBundles(rotating);
  const trust = buildCaBundle([current, ...(incoming ? [incoming] : [])], { field: files.entry.path }).pem;
  const changes: Change[] = (Object.keys(bundles) as BundleName[])
    .filter((bundle) => bundleSource(rotating, bundle) === name)
    .map((bundle) => ({ name: bundleFile(bundle), kind: 'leaf', files: [file(dir, bundleFile(bundle), bundles[bundle].pem, 0o644)], overwrite: true }));
  for (const entry of CERTIFICATE_LAYOUT.filter((e) => e.kubeconfig && e.ca === name)) {
    const material = loaded.certificates.get(entry.name);
    if (!material?.kubeconfig) continue;
    const kubeconfig = { ...material.kubeconfig, caPem: trust };
    changes.push({ name: entry.name, kind: 'leaf', files: await entryFilesToWrite(dir, entry, { ...material, kubeconfig }, context.crypto), overwrite: true });
  }
  const nodes = await nodeKubeconfigsTrusting(dir, [current, ...(incoming ? [incoming] : []), ...retired], trust);
  if (nodes.length) changes.push({ name: 'nodes', kind: 'leaf', files: nodes, overwrite: true });
  if (ca === 'cluster') {
    const egress = await readIfExists(join(dir, EGRESS_SELECTOR_FILE));
    if (egress !== undefined) {
      const content = egressSelectorFollowing(egress, incoming ? await rotationFor(context) : undefined, join(dir, EGRESS_SELECTOR_FILE));
      changes.push({ name: 'egress-selector-configuration', kind: 'leaf', files: [file(dir, EGRESS_SELECTOR_FILE, content, 0o644)], overwrite: true });
    }
  }
  return changes;
}

/** The rotation this run is part of, as the flags and bundles read it (the phase only matters once it is finished). */
async function rotationFor({ dir, ca, files }: PhaseContext): Promise<Rotation> {
  const newKeyInToken = (await readIfExists(join(dir, `${files.incoming.path}.pkcs11.json`))) !== undefined;
  return { ca, authority: ROTATABLE_CAS[ca], phase: 'added', newCa: files.incoming.path, newKeyInToken };
}

const keyInToken = async (dir: string): Promise<boolean> => (await readIfExists(join(dir, layoutFile('ca', '.pkcs11.json')))) !== undefined;

const file = (dir: string, path: string, content: string, mode: number): FileToWrite => ({ path: join(dir, path), content, mode });

/** The changes without the files that already hold exactly that content (a phase run again writes only what it must). */
async function unlessUnchanged(changes: readonly Change[]): Promise<Change[]> {
  const out: Change[] = [];
  for (const change of changes) {
    const files: FileToWrite[] = [];
    for (const f of change.files) if ((await readIfExists(f.path)) !== f.content) files.push(f);
    const remove = [];
    for (const path of change.remove ?? []) if ((await readIfExists(path)) !== undefined) remove.push(path);
    if (files.length || change.moves?.length || remove.length) out.push({ ...change, files, remove });
  }
  return out;
}
