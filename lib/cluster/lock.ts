import { AsyncLocalStorage } from 'node:async_hooks';
import { constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, realpath, rmdir, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PkiError } from '../errors.js';
import { ioError } from './files.js';

/** The lock file of a PKI directory: created exclusively by the one writer, holding its pid. */
export const LOCK_FILE = '.kubepki.lock';
/** How long a second writer waits for the lock by default before ERR_LOCKED. */
export const DEFAULT_LOCK_TIMEOUT_MS = 5000;

/**
 * The directory lock every writing verb takes (`.kubepki.lock` in the directory, holding the writer's pid).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface DirectoryLockOptions {
  /** How long to wait for another writer to finish before ERR_LOCKED; default 5000 ms, 0 fails at once. */
  lockTimeoutMs?: number;
}

// The directories the current call chain holds: a writer that calls another (the init command, then
// initPkiDirectory) does not wait for itself. Another call chain of the same process waits like any writer.
const held = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Runs `fn` as the only writer of `dir`: `<dir>/.kubepki.lock` is created exclusively (a hard link, which
 * fails when the name exists, to a file made with O_EXCL) holding this process's pid and removed when `fn` settles, however it settles. A lock whose pid is no longer running
 * (a writer killed -9) is taken over; one held by a live process is waited for up to `lockTimeoutMs`,
 * then ERR_LOCKED names the lock file and the holder's pid. The folder is made if it is missing (and
 * removed again if it is still empty at the end). Re-entrant within one call chain.
 */
export async function withDirectoryLock<T>(dir: string, fn: () => Promise<T>, options: DirectoryLockOptions = {}): Promise<T> {
  const made = await ensureFolder(resolve(dir));
  const key = await realpath(dir).catch((cause: unknown) => Promise.reject(ioError(resolve(dir), 'cannot be resolved', cause)));
  const current = held.getStore();
  if (current?.has(key)) return fn();
  try {
    const lock = join(key, LOCK_FILE);
    await acquire(lock, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
    try {
      return await held.run(new Set([...(current ?? []), key]), fn);
    } finally {
      await release(lock);
    }
  } finally {
    if (made) await rmdir(key).catch(() => undefined);
  }
}

/** Whether the folder had to be made. */
async function ensureFolder(dir: string): Promise<boolean> {
  try {
    return (await mkdir(dir, { recursive: true, mode: 0o755 })) !== undefined;
  } catch (cause) {
    throw ioError(dir, 'cannot be created', cause);
  }
}

type Holder = { pid: number | undefined } | 'gone';

async function acquire(lock: string, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + Math.max(0, timeoutMs);
  let pause = 10;
  for (;;) {
    const holder = await create(lock, `${process.pid}\n`);
    if (holder === undefined) return;
    if (holder === 'gone') continue;
    if (holder.pid !== undefined && !running(holder.pid)) {
      await takeOver(lock, holder.pid);
      continue;
    }
    const left = deadline - performance.now();
    if (left <= 0) {
      const who = holder.pid === undefined ? 'a writer whose pid it does not name' : holder.pid === process.pid ? `this process (pid ${holder.pid})` : `pid ${holder.pid}`;
      throw new PkiError('ERR_LOCKED', `is held by ${who}: another kubepki is writing this directory; nothing was changed (remove the file if no kubepki runs)`, { field: lock });
    }
    await sleep(Math.min(pause, left));
    pause = Math.min(pause * 2, 100);
  }
}

/**
 * Creates `path` exclusively, already holding `content`: undefined when made, else who holds it ('gone':
 * released meanwhile). The content goes to a file of this process's own (O_EXCL) that is then hard-linked
 * to `path`: the link is the exclusive step (EEXIST when `path` exists), and a reader never finds the
 * lock empty, as it could between an O_EXCL create and the write of the pid.
 */
async function create(path: string, content: string): Promise<Holder | undefined> {
  const own = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  let handle;
  try {
    handle = await open(own, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
  } catch (cause) {
    // The folder this writer found was made by a writer that has just removed it again (it was still empty).
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(path, 'cannot be created', cause);
    await ensureFolder(dirname(path));
    return 'gone';
  }
  try {
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    await link(own, path);
    return undefined;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return holderOf(path);
    throw ioError(path, 'cannot be written', cause);
  } finally {
    await unlink(own).catch(() => undefined);
  }
}

async function holderOf(path: string): Promise<Holder> {
  try {
    const match = /^(\d+)\n?$/.exec(await readFile(path, 'utf8'));
    return { pid: match ? Number(match[1]) : undefined };
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw ioError(path, 'cannot be read', cause);
  }
}

/** Whether a process of that pid exists (EPERM: it does, under another user). */
function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a lock left by a dead process. Two writers that both found it dead must not both remove it (the
 * second would remove the lock the first has just made): the removal happens under `<lock>.takeover`,
 * created exclusively, after reading the lock again. A takeover file of a dead process is removed too.
 */
async function takeOver(lock: string, dead: number): Promise<void> {
  const guard = `${lock}.takeover`;
  const holder = await create(guard, `${process.pid}\n`);
  if (holder !== undefined) {
    if (holder !== 'gone' && holder.pid !== undefined && !running(holder.pid)) await unlink(guard).catch(() => undefined);
    else await sleep(10);
    return;
  }
  try {
    const now = await holderOf(lock);
    if (now !== 'gone' && now.pid === dead) await unlink(lock).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? undefined : Promise.reject(ioError(lock, 'cannot be removed', cause))));
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** Removes the lock if it is still this process's. */
async function release(lock: string): Promise<void> {
  const holder = await holderOf(lock).catch(() => 'gone' as const);
  if (holder !== 'gone' && holder.pid === process.pid) await unlink(lock).catch(() => undefined);
}
