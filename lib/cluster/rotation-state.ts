// The recorded progress of a CA rotation (`rotation.json`) and the files its incoming and outgoing CA use.
// Everything that must follow a rotation reads it here: the directory loader, the bundles, the flags, the audit.
import { join } from 'node:path';
import { PkiError } from '../errors.js';
import { readIfExists } from './files.js';
import type { DirectoryAuthorityName } from './kinds.js';
import { authorityEntry, type LayoutEntry } from './layout.js';

/** The CAs a running control plane rotates, by the name `kubepki rotate-ca --ca` takes. */
export const ROTATABLE_CAS = { cluster: 'ca', 'front-proxy': 'front-proxy-ca', etcd: 'etcd-ca' } as const satisfies Record<string, DirectoryAuthorityName>;

/**
 * A CA rotateAuthority can rotate: cluster (pki/ca), front-proxy (pki/front-proxy-ca) or etcd (pki/etcd/ca).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type RotatableCa = keyof typeof ROTATABLE_CAS;
/**
 * A phase of a CA rotation, run in this order: add the new CA to every trust bundle, reissue every leaf from it, finish by dropping the old CA.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type RotationPhase = 'add' | 'reissue' | 'finish';

/**
 * The persisted state of a CA rotation: the CA, the last phase completed, and where the incoming CA lives.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RotationState {
  /** The CA being rotated: cluster, front-proxy or etcd. */
  readonly ca: RotatableCa;
  /** The last phase completed: added, reissued, or finished (the old CA dropped). */
  readonly phase: 'added' | 'reissued' | 'finished';
  /** The incoming CA's path without suffix, relative to the directory (`pki/ca-new`). */
  readonly newCa: string;
}

/**
 * A rotation as the rest of the library reads it: the state, and whether the incoming CA's key is in a PKCS#11 token.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface Rotation extends RotationState {
  /** The rotating CA's directory name (`ca`, `front-proxy-ca`, `etcd-ca`). */
  readonly authority: DirectoryAuthorityName;
  /** True when the incoming CA's key is in a PKCS#11 token (`<newCa>.pkcs11.json` exists). */
  readonly newKeyInToken: boolean;
}

export const ROTATION_FILE = 'rotation.json';

export const PHASE_DONE: Record<RotationPhase, RotationState['phase']> = { add: 'added', reissue: 'reissued', finish: 'finished' };

/** The CA `name` (`cluster`, `front-proxy`, `etcd`) or ERR_ARGUMENT naming `field`. */
export function rotatableCa(name: string, field = 'ca'): RotatableCa {
  if (!Object.hasOwn(ROTATABLE_CAS, name)) throw new PkiError('ERR_ARGUMENT', `unknown CA "${name}"; one of ${Object.keys(ROTATABLE_CAS).join(', ')}`, { field });
  return name as RotatableCa;
}

/** The files a rotation of `ca` uses beside the CA's own: the incoming CA, the outgoing certificate kept at finish, the cross-signed certificate. */
export function rotationFiles(ca: RotatableCa): { entry: LayoutEntry; incoming: LayoutEntry; old: string; cross: string } {
  const entry = authorityEntry(ROTATABLE_CAS[ca]);
  const incoming: LayoutEntry = { ...entry, name: `${entry.name}-new`, path: `${entry.path}-new` };
  return { entry, incoming, old: `${entry.path}-old.crt`, cross: `${incoming.path}-cross.crt` };
}

/** The rotation recorded in `dir`, finished or not; undefined when none was ever started. */
export async function readRotationState(dir: string): Promise<RotationState | undefined> {
  const text = await readIfExists(join(dir, ROTATION_FILE));
  if (text === undefined) return undefined;
  let parsed: Partial<RotationState>;
  try {
    parsed = JSON.parse(text) as Partial<RotationState>;
  } catch (cause) {
    throw new PkiError('ERR_DIRECTORY', 'is not JSON', { field: ROTATION_FILE, cause });
  }
  // A state written before rotations covered more than the cluster CA has no `ca`.
  const ca = rotatableCa(parsed.ca ?? 'cluster', `${ROTATION_FILE}.ca`);
  if (parsed.phase !== 'added' && parsed.phase !== 'reissued' && parsed.phase !== 'finished') throw new PkiError('ERR_DIRECTORY', 'has no valid phase', { field: `${ROTATION_FILE}.phase` });
  return { ca, phase: parsed.phase, newCa: rotationFiles(ca).incoming.path };
}

/**
 * The rotation in progress in `dir` (added or reissued), or undefined when there is none or the last one is
 * finished: what `componentFlags({ rotation })` and the bundles follow.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function readRotation(dir: string): Promise<Rotation | undefined> {
  const state = await readRotationState(dir);
  if (!state || state.phase === 'finished') return undefined;
  const newKeyInToken = (await readIfExists(join(dir, `${state.newCa}.pkcs11.json`))) !== undefined;
  return { ...state, authority: ROTATABLE_CAS[state.ca], newKeyInToken };
}
