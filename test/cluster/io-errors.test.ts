// File-system failures: every one is ERR_IO naming the path (never a raw Node error), no temporary file
// is left behind whichever step failed, and temporary names stay within NAME_MAX. The full disk is
// injected (an fs given to the writer, or a preload in a child process), never made by filling a disk.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { temporaryPath, writeFileAtomic, type AtomicWriteFs } from '../../lib/cluster/files.js';
import { PkiError } from '../../lib/errors.js';
import { withTempDir } from '../helpers/dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FULL_DISK = fileURLToPath(new URL('../helpers/full-disk.ts', import.meta.url));

const errno = (code: string, syscall: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: injected, ${syscall}`), { code, syscall });

async function leftovers(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.filter((name) => /\.tmp/.test(name));
}

async function rejection(promise: Promise<unknown>): Promise<PkiError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof PkiError)) throw new Error(`expected a PkiError, got ${String(error)}`, { cause: error });
  return error;
}

/** node:fs/promises with one step made to fail. */
function failing(step: 'open' | 'writeFile' | 'sync' | 'link' | 'rename', code: string): AtomicWriteFs {
  return {
    ...fsp,
    async open(...args: Parameters<typeof fsp.open>) {
      const flags = args[1];
      const exclusive = typeof flags === 'number' && (flags & constants.O_EXCL) !== 0;
      if (step === 'open' && exclusive) throw errno(code, 'open');
      const handle = await fsp.open(...args);
      if (exclusive && step === 'writeFile') Object.assign(handle, { writeFile: async () => Promise.reject(errno(code, 'write')) });
      if (exclusive && step === 'sync') Object.assign(handle, { sync: async () => Promise.reject(errno(code, 'fsync')) });
      return handle;
    },
    link: step === 'link' ? async () => Promise.reject(errno(code, 'link')) : fsp.link,
    rename: step === 'rename' ? async () => Promise.reject(errno(code, 'rename')) : fsp.rename,
  };
}

test('every failing step of the atomic writer is ERR_IO naming the file, with no temporary file left', async () => {
  const cases: [Parameters<typeof failing>[0], string, boolean][] = [
    ['open', 'EACCES', false],
    ['open', 'EROFS', true],
    ['writeFile', 'ENOSPC', false],
    ['writeFile', 'EDQUOT', true],
    ['sync', 'EIO', false],
    ['link', 'ENOSPC', false],
    ['rename', 'EROFS', true],
  ];
  await withTempDir(async (dir) => {
    for (const [step, code, overwrite] of cases) {
      const path = join(dir, 'pki', `${step}-${code}.key`);
      const error = await rejection(writeFileAtomic({ path, content: 'secret', mode: 0o600 }, { overwrite, fs: failing(step, code) }));
      assert.is(error.code, 'ERR_IO', `${step} ${code}`);
      assert.is(error.field, path);
      assert.is((error.cause as NodeJS.ErrnoException).code, code);
      assert.ok(error.message.startsWith(`${path}: cannot be `) && error.message.endsWith(`(${code})`), error.message);
      assert.equal(await leftovers(dir), [], `${step} ${code}`);
      assert.is(await stat(path).then(() => 'exists', () => 'absent'), 'absent');
    }
  });
});

test('a name too long for the file system is ERR_IO (ENAMETOOLONG), not a raw error, and leaves nothing', async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, `${'n'.repeat(300)}.json`);
    const error = await rejection(writeFileAtomic({ path, content: '{}', mode: 0o600 }));
    assert.is(error.code, 'ERR_IO');
    assert.is(error.field, path);
    assert.match(error.message, /\(ENAMETOOLONG\)$/);
    assert.equal(await readdir(dir), []);
  });
});

test('temporary names stay within NAME_MAX: a 250-character name (a 245-character CSR name + .json) is written', async () => {
  for (const length of [1, 200, 233, 234, 250, 255]) {
    const name = 'a'.repeat(length);
    const temporary = basename(temporaryPath(`/x/${name}`));
    assert.ok(Buffer.byteLength(temporary) <= 255, `${length}: ${temporary.length}`);
    assert.ok(temporary.includes('.tmp-'));
  }
  // Multi-byte names are shortened by whole characters.
  const wide = basename(temporaryPath(`/x/${'é'.repeat(127)}`));
  assert.ok(Buffer.byteLength(wide) <= 255 && !wide.includes('\uFFFD'));
  await withTempDir(async (dir) => {
    const path = join(dir, `${'c'.repeat(245)}.json`);
    await writeFileAtomic({ path, content: '{"ok":true}', mode: 0o600 }, { overwrite: true });
    assert.is(await readFile(path, 'utf8'), '{"ok":true}');
    assert.is((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await leftovers(dir), []);
  });
});

function cli(args: readonly string[], spareLock: boolean): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, KUBEPKI_TEST_FULL_DISK_SPARE_LOCK: spareLock ? '1' : '0' };
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', FULL_DISK, join(ROOT, 'lib/cli.ts'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

for (const [verb, args, spareLock] of [
  ['init', ['init', '--node-name', 'cp-1', '--advertise-address', '10.0.0.10'], true],
  ['token create', ['token', 'create'], true],
  ['init', ['init', '--node-name', 'cp-1', '--advertise-address', '10.0.0.10'], false],
  ['token create', ['token', 'create'], false],
] as const) {
  test(`kubepki ${verb} on a disk full ${spareLock ? 'after the lock was taken' : 'from the start (the lock file)'}: one "kubepki: ERR_IO ..." line naming the file, no stack, nothing left`, async () => {
    await withTempDir(async (dir) => {
      const result = await cli([...args, '--dir', dir], spareLock);
      assert.is(result.code, 1, result.err);
      const lines = result.err.trimEnd().split('\n');
      assert.is(lines.length, 1, result.err);
      assert.match(lines[0]!, new RegExp(`^kubepki: ERR_IO: ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\S+: cannot be \\w+: no space left on device \\(ENOSPC\\)$`));
      assert.ok(lines[0]!.includes(`${dir}/.kubepki.lock:`) === !spareLock, lines[0]);
      assert.not.match(result.err, /\n\s+at /);
      assert.is(result.out, '', 'no token printed for a Secret that was not stored');
      assert.equal(await leftovers(dir), []);
      assert.equal((await readdir(dir, { recursive: true })).filter((name) => /\.(key|crt|conf|json|lock)$/.test(name)), []);
    });
  });
}

test.run();
