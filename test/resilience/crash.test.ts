// Crash safety: a child process writing a PKI directory (init, renew, a whole CA rotation, the kubelet's
// node file store) is SIGKILLed at random points, 100 times. Afterwards the directory loads or reports what
// is incomplete by name, no file under a final name is partial, no key file is readable by others, and
// running the same operation again finishes the job.
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Certificate,
  createCertificateAuthority,
  generateKeyPair,
  importPrivateKeyPem,
  initPkiDirectory,
  issueCertificate,
  loadCurrentPair,
  loadPkiDirectory,
  nodeSubject,
  parseKubeconfig,
  PROFILES,
  renewCertificates,
  storeCertificatePair,
} from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { exportSpki, publicKeyInfo } from '../../lib/crypto/keys.js';
import { readPemBlocks } from '../../lib/crypto/pem.js';
import { CRASH_CONFIG } from './crash-config.js';

type Operation = 'init' | 'renew' | 'rotate' | 'node-store';
const OPERATIONS: Operation[] = ['init', 'renew', 'rotate', 'node-store'];
const KILLS = Number(process.env.KUBEPKI_CRASH_KILLS ?? 100);
const SEED = Number(process.env.KUBEPKI_CRASH_SEED ?? Date.now() % 2 ** 31);
const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));

// mulberry32: a small seeded generator, so that a failing run can be replayed with KUBEPKI_CRASH_SEED.
let state = SEED;
const random = (): number => {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/** Runs the writer on `dir`; kills it `killAfterMs` after READY (never, when undefined). */
function runWriter(operation: Operation, dir: string, killAfterMs?: number): Promise<{ killed: boolean; writeMs: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, operation, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let readyAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!readyAt && output.includes('READY')) {
        readyAt = performance.now();
        if (killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && code !== 0) return reject(new Error(`${operation} writer exited ${code ?? signal}:\n${output}`));
      resolve({ killed: signal === 'SIGKILL', writeMs: performance.now() - readyAt, output });
    });
  });
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

const SECRET = /\.key(\.tmp-|$)|\.conf(\.tmp-|$)|kubelet-client-[^/]*\.pem/;

/** Every file under a final name is whole; every secret file, final or temporary, is 0600 or narrower. */
async function checkFiles(dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const path of await filesUnder(dir)) {
    const name = relative(dir, path);
    const { mode } = await stat(path);
    if (SECRET.test(name) && (mode & 0o077) !== 0) problems.push(`${name} has mode ${(mode & 0o777).toString(8)}`);
    if (name.includes('.tmp-')) continue;
    const text = await readFile(path, 'utf8');
    try {
      if (name.endsWith('.crt')) assert.ok(Certificate.fromPemBundle(text).length > 0);
      else if (name.endsWith('.key')) await importPrivateKeyPem(text);
      else if (name.endsWith('.pub')) await publicKeyInfo(text);
      else if (name.endsWith('.conf')) parseKubeconfig(text);
      else if (name.endsWith('.json')) JSON.parse(text);
      else if (name.endsWith('.pem')) assert.ok(readPemBlocks(text).some((b) => b.label === 'CERTIFICATE') && /PRIVATE KEY/.test(text));
    } catch (error) {
      problems.push(`${name} is partial or broken: ${(error as Error).message}`);
    }
  }
  return problems;
}

/** The directory loads, or says by name what is missing or wrong; then the same operation, run again, completes it. */
async function checkAndResume(operation: Operation, dir: string): Promise<'complete' | 'incomplete'> {
  if (operation === 'node-store') {
    const pair = (await loadCurrentPair({ certDir: dir, prefix: 'kubelet-client' }))!;
    const key = await importPrivateKeyPem(pair.keyPem);
    assert.ok(Buffer.from(await exportSpki(key.publicKey)).equals(pair.certificate.spki), 'the current pair is a matching pair');
    return 'complete';
  }
  const loaded = await loadPkiDirectory(dir);
  for (const problem of loaded.problems) assert.ok(problem.name && problem.files.length && problem.reason, JSON.stringify(problem));
  const outcome = loaded.missing.length === 0 && loaded.problems.length === 0 ? 'complete' : 'incomplete';
  if (operation === 'init') await initPkiDirectory(dir, CRASH_CONFIG);
  if (operation === 'renew') await renewCertificates(dir, 'all', { now: new Date(Date.now() + 86_400_000) });
  if (operation === 'rotate') {
    // Resume from the phase rotation.json records (a run killed just after finishing has nothing left).
    const state = await readFile(join(dir, 'rotation.json'), 'utf8').then((t) => (JSON.parse(t) as { phase: string }).phase, () => undefined);
    const phases = (['add', 'reissue', 'finish'] as const).slice(state === 'finished' ? 3 : state === 'reissued' ? 2 : state === 'added' ? 1 : 0);
    for (const phase of phases) await rotateClusterCa(dir, phase);
  }
  const resumed = await loadPkiDirectory(dir);
  assert.equal([resumed.missing, resumed.problems], [[], []], `${operation} resumed to a whole directory`);
  return outcome;
}

test(`${KILLS} SIGKILLs while writing: nothing partial, nothing readable by others, every run resumable (seed ${SEED})`, async () => {
  const root = await mkdtemp(join(tmpdir(), 'kubepki-crash-'));
  try {
    // Pristine starting points, and how long each operation writes when left alone.
    const pristine: Record<Operation, string> = { init: join(root, 'empty'), renew: join(root, 'pki'), rotate: join(root, 'pki'), 'node-store': join(root, 'node') };
    await initPkiDirectory(pristine.renew, CRASH_CONFIG);
    const ca = await createCertificateAuthority();
    const first = await generateKeyPair();
    await storeCertificatePair({ certDir: pristine['node-store'], prefix: 'kubelet-client' }, (await issueCertificate({ issuer: ca, profile: PROFILES.kubeletClient, subject: nodeSubject('n'), publicKey: first.publicKey })).pem, first);
    const duration = {} as Record<Operation, number>;
    for (const operation of OPERATIONS) {
      const dir = join(root, `timing-${operation}`);
      await mkdir(dir);
      await cp(pristine[operation], dir, { recursive: true }).catch(() => undefined);
      duration[operation] = (await runWriter(operation, dir)).writeMs;
      assert.equal(await checkFiles(dir), []);
    }
    const tally = Object.fromEntries(OPERATIONS.map((o) => [o, { kills: 0, complete: 0, incomplete: 0, finished: 0 }])) as Record<Operation, { kills: number; complete: number; incomplete: number; finished: number }>;
    let kills = 0;
    let run = 0;
    const worker = async (): Promise<void> => {
      while (kills < KILLS && run < KILLS * 2) {
        const operation = OPERATIONS[run % OPERATIONS.length]!;
        const dir = join(root, `run-${run++}`);
        await mkdir(dir);
        await cp(pristine[operation], dir, { recursive: true }).catch(() => undefined);
        const { killed, writeMs } = await runWriter(operation, dir, random() * duration[operation]);
        if (killed) {
          kills++;
          tally[operation].kills++;
        } else {
          tally[operation].finished++;
          // fsync times on a shared disk drift: a write phase that ran whole re-estimates its duration, so
          // that later kills still land inside it.
          duration[operation] = (duration[operation] + writeMs) / 2;
        }
        assert.equal(await checkFiles(dir), [], `${operation} run ${run}`);
        tally[operation][await checkAndResume(operation, dir)]++;
        assert.equal(await checkFiles(dir), [], `${operation} run ${run}, resumed`);
        await rm(dir, { recursive: true, force: true, maxRetries: 5 });
      }
    };
    await Promise.all([worker(), worker()]);
    console.log(`seed ${SEED}: ${kills} kills; write times ${JSON.stringify(Object.fromEntries(Object.entries(duration).map(([k, v]) => [k, Math.round(v)])))} ms; ${JSON.stringify(tally)}`);
    assert.ok(kills >= KILLS, `${kills} kills`);
    for (const operation of OPERATIONS) assert.ok(tally[operation].kills >= KILLS / 8, `${operation} was killed ${tally[operation].kills} times`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test.run();
