// One writer per PKI directory. Two `kubepki renew all` at once used to leave keys that do not match
// their certificates, both exiting 0: every writing function and command now holds <dir>/.kubepki.lock
// (O_EXCL, the holder's pid), a second writer waits a bounded time and then fails with ERR_LOCKED, and a
// lock left by a dead process is taken over. No test here waits on the clock: waiting is observed
// through the order of events, and a live holder is tested with a zero timeout.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  generateBootstrapToken,
  initPkiDirectory,
  loadPkiDirectory,
  renewCertificates,
  signCertificateRequests,
  writeCertificateRequests,
  writeClusterBundles,
} from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { clusterBundles } from '../../lib/cluster/bundles.js';
import { saveTokenSecret } from '../../lib/bootstrap/token-files.js';
import { LOCK_FILE, withDirectoryLock } from '../../lib/cluster/lock.js';
import { PkiError } from '../../lib/errors.js';
import { runCli } from '../helpers/cli.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRITER = fileURLToPath(new URL('../helpers/lock-writer.ts', import.meta.url));
const config = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false } as const;
// Without the lock, the second or third round already mixed two renewals' keys and certificates.
const ROUNDS = Number(process.env.KUBEPKI_LOCK_ROUNDS ?? 6);

/** Every entry's key matches its certificate, each signed by its CA; nothing temporary or locked is left. */
async function assertConsistent(dir: string, what: string): Promise<void> {
  const loaded = await loadPkiDirectory(dir);
  assert.equal(loaded.problems, [], `${what}: ${JSON.stringify(loaded.problems)}`);
  assert.equal(loaded.missing, [], what);
  assert.equal(await leftovers(dir), [], what);
}

async function leftovers(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).filter((name) => /\.tmp|\.kubepki\.lock/.test(name));
}

async function rejection(promise: Promise<unknown>): Promise<PkiError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  if (!(error instanceof PkiError)) throw new Error(`expected a PkiError, got ${String(error)}`, { cause: error });
  return error;
}

interface Writer {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly done: Promise<{ code: number | null; err: string }>;
}

function writer(dir: string, args: readonly string[]): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('READY') && resolve());
    child.once('exit', () => reject(new Error(`the writer exited before it was ready: ${err}`)));
  });
  const done = new Promise<{ code: number | null; err: string }>((resolve) => child.once('close', (code) => resolve({ code, err })));
  return { child, ready, done };
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.once('close', resolve));
  return child.pid!;
}

test('two `kubepki renew all` started at the same moment: every key matches its certificate; the loser waits or gets ERR_LOCKED', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    const outcomes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // With the default wait (the loser waits, then renews too); the last round fails at once instead.
      const timeout = round === ROUNDS - 1 ? ['--lock-timeout', '0s'] : [];
      const writers = [writer(dir, ['renew', 'all', ...timeout]), writer(dir, ['renew', 'all', ...timeout])];
      await Promise.all(writers.map((w) => w.ready));
      for (const w of writers) w.child.stdin!.end('go\n');
      const results = await Promise.all(writers.map((w) => w.done));
      for (const [i, result] of results.entries()) {
        if (result.code === 0) continue;
        const other = writers[1 - i]!.child.pid!;
        assert.is(result.code, 1, result.err);
        assert.is(result.err, `kubepki: ERR_LOCKED: ${join(await realDir(dir), LOCK_FILE)}: is held by pid ${other}: another kubepki is writing this directory; nothing was changed (remove the file if no kubepki runs)\n`);
      }
      assert.ok(results.some((r) => r.code === 0), 'one of them renewed');
      outcomes.push(results.map((r) => r.code).join(','));
      await assertConsistent(dir, `round ${round} (${outcomes.join(' ')})`);
    }
  });
});

async function realDir(dir: string): Promise<string> {
  const { realpath } = await import('node:fs/promises');
  return realpath(dir);
}

test('renewals in one process are serialised too: both succeed, the directory stays consistent', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    const renewed = await Promise.all([renewCertificates(dir, 'all'), renewCertificates(dir, 'all'), renewCertificates(dir, ['apiserver'])]);
    assert.ok(renewed.every((names) => names.length > 0));
    await assertConsistent(dir, 'after three concurrent renewals');
  });
});

test('a second writer waits while the lock is held, and goes on once it is released', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    const before = await snapshot(dir);
    let released = false;
    let release!: () => void;
    let acquired!: () => void;
    const isHeld = new Promise<void>((resolve) => (acquired = resolve));
    const holder = withDirectoryLock(dir, async () => {
      acquired();
      await new Promise<void>((resolve) => (release = resolve));
    });
    await isHeld;
    const renewal = renewCertificates(dir, 'all', { lockTimeoutMs: 600_000 }).then((names) => ({ names, released }));
    try {
      // While the lock is held, nothing of the directory changes (the lock and the waiter's attempts aside).
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      const during = await snapshot(dir, (name) => name.startsWith(LOCK_FILE));
      assert.equal(during, before);
    } finally {
      released = true;
      release();
      await holder;
    }
    const result = await renewal;
    assert.ok(result.released, 'the renewal finished only after the lock was released');
    assert.ok(result.names.includes('apiserver'));
    await assertConsistent(dir, 'after the waiting renewal');
  });
});

test('a live holder: ERR_LOCKED naming the lock file and the pid, nothing changed, the lock left to its holder', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    // pid 1 always runs (EPERM for other users still means it runs).
    await writeFile(join(dir, LOCK_FILE), '1\n');
    const before = await snapshot(dir);
    const lock = join(await realDir(dir), LOCK_FILE);
    const writers: [string, () => Promise<unknown>][] = [
      ['initPkiDirectory', () => initPkiDirectory(dir, config, { lockTimeoutMs: 0 })],
      ['renewCertificates', () => renewCertificates(dir, 'all', { lockTimeoutMs: 0 })],
      ['rotateClusterCa', () => rotateClusterCa(dir, 'add', { lockTimeoutMs: 0 })],
      ['writeClusterBundles', async () => writeClusterBundles(dir, clusterBundles(await loadPkiDirectory(dir)), { lockTimeoutMs: 0 })],
      ['writeCertificateRequests', () => writeCertificateRequests(dir, config, { lockTimeoutMs: 0, force: true })],
      ['signCertificateRequests', () => signCertificateRequests(dir, { lockTimeoutMs: 0 })],
      ['saveTokenSecret', () => saveTokenSecret(dir, bootstrapTokenSecret(generateBootstrapToken()), { lockTimeoutMs: 0 })],
    ];
    for (const [name, write] of writers) {
      const error = await rejection(write());
      assert.is(error.code, 'ERR_LOCKED', `${name}: ${error.message}`);
      assert.is(error.field, lock, name);
      assert.match(error.message, /is held by pid 1:/);
    }
    const verbs = [
      ['init', '--node-name', 'cp-1', '--advertise-address', '10.0.0.10'],
      ['renew', 'all'],
      ['sign'],
      ['token', 'create'],
      ['bundle'],
      ['revoke', '--serial', '01'],
      ['rotate-ca', '--phase', 'add'],
    ];
    for (const verb of verbs) {
      const result = await runCli(...verb, '--dir', dir, '--lock-timeout', '0s');
      assert.is(result.code, 1, `${verb.join(' ')}: ${result.err}`);
      assert.is(result.err, `kubepki: ERR_LOCKED: ${lock}: is held by pid 1: another kubepki is writing this directory; nothing was changed (remove the file if no kubepki runs)`, verb.join(' '));
    }
    assert.equal(await snapshot(dir), before);
    assert.is(await readFile(join(dir, LOCK_FILE), 'utf8'), '1\n');
  });
});

test('a lock left by a dead process is taken over; nothing is left behind', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    await writeFile(join(dir, LOCK_FILE), `${await deadPid()}\n`);
    assert.ok((await renewCertificates(dir, 'all', { lockTimeoutMs: 0 })).includes('apiserver'));
    await assertConsistent(dir, 'after taking over a stale lock');
    // The same through the command, and with a stale takeover guard beside it.
    await writeFile(join(dir, LOCK_FILE), `${await deadPid()}\n`);
    await writeFile(join(dir, `${LOCK_FILE}.takeover`), `${await deadPid()}\n`);
    const result = await runCli('renew', 'all', '--dir', dir, '--lock-timeout', '0s');
    assert.is(result.code, 0, result.err);
    await assertConsistent(dir, 'after the command took over');
  });
});

test('the lock is released on every exit path: a failing writer leaves no lock; a writer into a new folder keeps it only if it wrote', async () => {
  await withTempDir(async (dir) => {
    // A renewal of an empty directory fails (ERR_DIRECTORY) and leaves nothing, not even the folder it locked.
    const missing = join(dir, 'absent');
    assert.is((await rejection(renewCertificates(missing, ['apiserver']))).code, 'ERR_DIRECTORY');
    assert.equal(await readdir(dir), []);
    // A conflicting init (ERR_EXISTS) releases the lock.
    await initPkiDirectory(join(dir, 'pki-dir'), config);
    assert.is((await rejection(initPkiDirectory(join(dir, 'pki-dir'), { ...config, advertiseAddress: '10.0.0.11' }))).code, 'ERR_EXISTS');
    assert.equal(await leftovers(dir), []);
    // Nested writers in one call chain do not wait for themselves (the init command, then initPkiDirectory).
    const nested = await withDirectoryLock(join(dir, 'pki-dir'), () => renewCertificates(join(dir, 'pki-dir'), ['admin'], { lockTimeoutMs: 0 }));
    assert.equal(nested, ['admin']);
    assert.equal(await leftovers(dir), []);
  });
});

test.run();
