import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { readFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PkiError } from '../errors.js';

/**
 * A file to write: path, content and mode.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface FileToWrite {
  /** Where to write it: absolute, or relative to the working directory. */
  readonly path: string;
  /** The file's text (PEM, a kubeconfig, JSON). */
  readonly content: string;
  /** 0o600 for keys and kubeconfigs, 0o644 for certificates. */
  readonly mode: number;
}

/**
 * The file system calls the atomic writer makes (node:fs/promises by default; replaceable to test failures).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type AtomicWriteFs = Pick<typeof nodeFs, 'open' | 'link' | 'rename' | 'unlink' | 'mkdir'>;

/**
 * Options of writeFileAtomic.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface WriteFileAtomicOptions {
  /** Replace an existing file; without it an existing file is ERR_EXISTS. */
  overwrite?: boolean;
  /** The file system to write through; default node:fs/promises. */
  fs?: AtomicWriteFs;
}

/** The longest file name (one path segment, in bytes) Linux and macOS file systems take. */
export const NAME_MAX = 255;

/**
 * An I/O failure as ERR_IO naming the file (never a raw Node error): `cannot be written: no space left on
 * device (ENOSPC)`. A PkiError passes through unchanged.
 */
export function ioError(path: string, what: string, cause: unknown): PkiError {
  if (cause instanceof PkiError) return cause;
  const errno = cause as NodeJS.ErrnoException;
  const detail = typeof errno?.code === 'string' ? `: ${describeErrno(errno)} (${errno.code})` : cause instanceof Error ? `: ${cause.message}` : '';
  return new PkiError('ERR_IO', `${what}${detail}`, { field: path, cause });
}

// The system's text without Node's "ENOSPC: " prefix and ", open '<path>'" suffix (the path is the field).
function describeErrno(error: NodeJS.ErrnoException): string {
  const match = /^[A-Z0-9]+: ([^,]+)/.exec(error.message ?? '');
  return match ? match[1]! : error.code!;
}

/**
 * The temporary name a file is written under before it is moved into place: `<name>.tmp-<random>` in the
 * same folder, the name shortened (by characters, never splitting one) so that the whole stays within
 * NAME_MAX bytes; a CSR name of up to 253 characters plus `.json` would otherwise overflow it.
 */
export function temporaryPath(path: string, random: string = randomBytes(6).toString('hex')): string {
  const suffix = `.tmp-${random}`;
  let name = basename(path);
  while (Buffer.byteLength(name + suffix) > NAME_MAX) name = [...name].slice(0, -1).join('');
  return join(dirname(path), name + suffix);
}

/**
 * Writes a file so that no reader ever sees it half-written and a key is never readable by others, not
 * even for an instant: the content goes to a new temporary file created with its final mode (O_EXCL),
 * is flushed, then moved into place; the folder is flushed too. Without `overwrite`, an existing file is
 * an ERR_EXISTS error (a hard link, unlike rename, fails when the target exists). Every failure of the
 * file system (ENOSPC, EACCES, EROFS, ENAMETOOLONG, ...) is ERR_IO naming the file, and the temporary file
 * is removed whichever step failed.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function writeFileAtomic(file: FileToWrite, options: WriteFileAtomicOptions = {}): Promise<void> {
  const fs = options.fs ?? nodeFs;
  const folder = dirname(file.path);
  const temporary = temporaryPath(file.path);
  let handle: FileHandle;
  try {
    handle = await createExclusive(fs, temporary, file.mode, folder);
  } catch (cause) {
    throw ioError(file.path, 'cannot be created', cause);
  }
  try {
    try {
      await handle.writeFile(file.content);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (cause) {
    await fs.unlink(temporary).catch(() => undefined);
    throw ioError(file.path, 'cannot be written', cause);
  }
  try {
    if (options.overwrite) await fs.rename(temporary, file.path);
    else {
      await fs.link(temporary, file.path);
      await fs.unlink(temporary);
    }
  } catch (cause) {
    await fs.unlink(temporary).catch(() => undefined);
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') throw new PkiError('ERR_EXISTS', 'exists already; not overwritten', { field: file.path, cause });
    throw ioError(file.path, 'cannot be written', cause);
  }
  try {
    await syncFolder(fs, folder);
  } catch (cause) {
    throw ioError(folder, 'cannot be flushed', cause);
  }
}

// The folder is made only when the file cannot be created for want of it: most writes go to a folder
// that exists, and each file system call is a trip through the thread pool.
async function createExclusive(fs: AtomicWriteFs, path: string, mode: number, folder: string): Promise<FileHandle> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  try {
    return await fs.open(path, flags, mode);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    await fs.mkdir(folder, { recursive: true, mode: 0o755 });
    return await fs.open(path, flags, mode);
  }
}

async function syncFolder(fs: AtomicWriteFs, folder: string): Promise<void> {
  const handle = await fs.open(folder, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads a text file, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(path, 'cannot be read', cause);
  }
}
