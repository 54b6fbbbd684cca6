// The one way a verb changes a PKI directory: it reads what is there, plans in memory a list of Changes
// (nothing on disk yet, so a plan can be printed or tested), then commits them in one crash-safe order.
import { rename, rm } from 'node:fs/promises';
import { ioError, writeFileAtomic, type FileToWrite } from './files.js';

/**
 * What a change does to the directory's trust:
 * - `new-authority`: a CA that did not exist (or completes an interrupted run), written before anything it signs;
 * - `leaf`: a certificate, kubeconfig or the service-account key pair, signed by a CA already in place or new;
 * - `replace-authority`: a CA that replaces one in the directory, written after the leaves it now signs;
 * - `record`: the verb's record of its progress (a rotation's phase), written last, so that a crash repeats the step.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type ChangeKind = 'new-authority' | 'leaf' | 'replace-authority' | 'record';

/**
 * One planned change to a PKI directory: the files of one entry to write, move and remove, committed in an
 * order that keeps the directory consistent after a crash (see ChangeKind).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface Change {
  /** The entry it changes, e.g. `apiserver`, `ca`, `sa`. */
  readonly name: string;
  /** What the change does to the directory's trust, which decides its place in the commit order. */
  readonly kind: ChangeKind;
  /** Written in this order (a key before its certificate, sa.key before sa.pub). */
  readonly files: readonly FileToWrite[];
  /** Replace files already there; otherwise an existing file is ERR_EXISTS. */
  readonly overwrite: boolean;
  /** Renamed after the files are written (a rotation promoting the new CA to the kubeadm names). */
  readonly moves?: readonly {
    /** The path moved. */
    readonly from: string;
    /** Its new path, replacing a file there. */
    readonly to: string;
  }[];
  /** Removed last (a signed CSR, a key form the promoted CA replaces). Absent files are fine. */
  readonly remove?: readonly string[];
}

const ORDER: Record<ChangeKind, number> = { 'new-authority': 0, leaf: 1, 'replace-authority': 2, record: 3 };

/**
 * The order changes are committed in: new CAs first, then leaves, then CAs that replace existing ones, so
 * that a crash part-way leaves either a CA with some of its leaves (which a second run completes) or the old
 * CA in place, never a new CA beside leaves it did not sign; the progress record comes last. Within a kind,
 * the plan's order.
 */
export function commitOrder(changes: readonly Change[]): Change[] {
  return [...changes].sort((a, b) => ORDER[a.kind] - ORDER[b.kind]);
}

/** Writes the changes in commitOrder, each file atomically; returns the paths written. Call it under the directory lock. */
export async function commitChanges(changes: readonly Change[]): Promise<string[]> {
  const written: string[] = [];
  for (const change of commitOrder(changes)) {
    for (const file of change.files) {
      await writeFileAtomic(file, { overwrite: change.overwrite });
      written.push(file.path);
    }
    for (const { from, to } of change.moves ?? []) {
      await rename(from, to).catch((cause: unknown) => Promise.reject(ioError(to, 'cannot be replaced', cause)));
      written.push(to);
    }
    for (const path of change.remove ?? []) await rm(path, { force: true }).catch((cause: unknown) => Promise.reject(ioError(path, 'cannot be removed', cause)));
  }
  return written;
}

/** One line per file a commit would write or remove, in commit order: what `--dry-run` prints. */
export function describeChanges(changes: readonly Change[]): string[] {
  return commitOrder(changes).flatMap((change) => [
    ...change.files.map((file) => `${change.overwrite ? 'replace' : 'write'} ${file.path} (${change.name}, mode ${file.mode.toString(8)})`),
    ...(change.moves ?? []).map(({ from, to }) => `move ${from} to ${to} (${change.name})`),
    ...(change.remove ?? []).map((path) => `remove ${path} (${change.name})`),
  ]);
}
