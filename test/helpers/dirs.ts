import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

/** Runs `fn` with a fresh temporary folder, removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh temporary folder for a whole suite (its before and after hooks): `remove()` deletes it. */
export async function suiteTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Every file under `dir` (relative path -> mode and content hash), to prove that nothing changed; `skip`
 * leaves out names that come and go meanwhile (a lock and its temporary files).
 */
export async function snapshot(dir: string, skip: (name: string) => boolean = () => false): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (skip(entry.name)) continue;
      if (entry.isDirectory()) await walk(path);
      else {
        const mode = ((await stat(path)).mode & 0o777).toString(8);
        out[relative(dir, path)] = `${mode} ${createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16)}`;
      }
    }
  };
  await walk(dir);
  return out;
}
