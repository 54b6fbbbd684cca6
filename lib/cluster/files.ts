import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PkiError } from '../errors.js';

/** A file to write: path, content and mode. */
export interface FileToWrite {
  readonly path: string;
  readonly content: string;
  /** 0o600 for keys and kubeconfigs, 0o644 for certificates. */
  readonly mode: number;
}

/**
 * Writes a file so that no reader ever sees it half-written and a key is never readable by others, not
 * even for an instant: the content goes to a new temporary file created with its final mode (O_EXCL),
 * is flushed, then moved into place; the folder is flushed too. Without `overwrite`, an existing file is
 * an ERR_EXISTS error (a hard link, unlike rename, fails when the target exists).
 */
export async function writeFileAtomic(file: FileToWrite, options: { overwrite?: boolean } = {}): Promise<void> {
  const folder = dirname(file.path);
  const temporary = `${file.path}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await createExclusive(temporary, file.mode, folder);
  try {
    await handle.writeFile(file.content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (options.overwrite) await rename(temporary, file.path);
    else {
      await link(temporary, file.path);
      await unlink(temporary);
    }
  } catch (cause) {
    await unlink(temporary).catch(() => undefined);
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') throw new PkiError('ERR_EXISTS', 'exists already; not overwritten', { field: file.path, cause });
    throw new PkiError('ERR_IO', 'cannot be written', { field: file.path, cause });
  }
  await syncFolder(folder);
}

// The folder is made only when the file cannot be created for want of it: most writes go to a folder
// that exists, and each file system call is a trip through the thread pool.
async function createExclusive(path: string, mode: number, folder: string): Promise<FileHandle> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  try {
    return await open(path, flags, mode);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') throw cause;
    await mkdir(folder, { recursive: true, mode: 0o755 });
    return await open(path, flags, mode);
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, constants.O_RDONLY);
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
    throw new PkiError('ERR_IO', 'cannot be read', { field: path, cause });
  }
}
