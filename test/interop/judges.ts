// Wrappers around the independent judges: a Go program (crypto/x509, crypto/tls), the openssl command
// line and GnuTLS certtool. Each writes its inputs to a private temporary folder and removes it after.
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export type GoCase =
  | { op: 'verify'; leaf: string; roots: string[]; intermediates?: string[]; name?: string; eku: 'server' | 'client' | 'any'; time?: string }
  | { op: 'csr'; csr: string }
  | { op: 'keypair'; cert: string; key: string }
  | { op: 'key'; key: string }
  | { op: 'pubkey'; key: string };

export interface GoResult {
  ok: boolean;
  error: string;
}

export interface CommandResult {
  ok: boolean;
  output: string;
}

const JUDGE_DIR = fileURLToPath(new URL('./judge/', import.meta.url));
let judgeBinary: Promise<string> | undefined;

/** Builds the Go judge once per process (cached across processes by a hash of its source). */
function buildJudge(): Promise<string> {
  judgeBinary ??= (async () => {
    const source = await readFile(join(JUDGE_DIR, 'main.go'));
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const cache = join(tmpdir(), 'kubepki-judge');
    const binary = join(cache, `judge-${hash}`);
    if (existsSync(binary)) return binary;
    await mkdir(cache, { recursive: true });
    const env = {
      ...process.env,
      GOPROXY: 'off',
      GOFLAGS: '-mod=mod',
      CGO_ENABLED: '0',
      GOCACHE: join(cache, 'gocache'),
      GOPATH: join(cache, 'gopath'),
    };
    const partial = `${binary}.${process.pid}.tmp`;
    await command('go', ['build', '-o', partial, '.'], { cwd: JUDGE_DIR, env, timeout: 300_000 });
    await command('mv', [partial, binary]);
    return binary;
  })();
  return judgeBinary;
}

/** Runs a batch of cases through Go's crypto/x509 and crypto/tls. */
export async function goJudge(cases: GoCase[]): Promise<GoResult[]> {
  const binary = await buildJudge();
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out).toString()) : reject(new Error(`judge exited ${code}: ${Buffer.concat(err).toString()}`))));
    child.stdin.end(JSON.stringify(cases));
  });
  const results = JSON.parse(stdout) as GoResult[];
  if (results.length !== cases.length) throw new Error(`judge answered ${results.length} of ${cases.length} cases`);
  return results;
}

interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeout?: number;
}

/** Runs a command; resolves with its exit code and output (stdout then stderr), never rejects on a non-zero exit. */
function run(file: string, args: string[], options: RunOptions = {}): Promise<{ code: number; output: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: options.timeout ?? 30_000, cwd: options.cwd, env: options.env, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? (error.code as number) : 0, output: `${stdout}${stderr}`, stdout });
    });
  });
}

/** Runs a command that must succeed; resolves with its stdout. */
async function command(file: string, args: string[], options: RunOptions = {}): Promise<string> {
  const { code, output, stdout } = await run(file, args, options);
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${code}: ${output}`);
  return stdout;
}

/** Runs `fn` with a fresh private folder, removed afterwards. */
async function withFolder<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-judge-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function put(dir: string, name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

/** `openssl verify` with a purpose and, optionally, a host name or IP to match. */
export function opensslVerify(o: {
  roots: string[];
  intermediates?: string[];
  leaf: string;
  purpose: 'sslserver' | 'sslclient';
  hostname?: string;
  ip?: string;
  attime?: Date;
}): Promise<CommandResult> {
  return withFolder(async (dir) => {
    const args = ['verify', '-x509_strict', '-purpose', o.purpose, '-CAfile', await put(dir, 'roots.pem', o.roots.join(''))];
    if (o.intermediates?.length) args.push('-untrusted', await put(dir, 'intermediates.pem', o.intermediates.join('')));
    if (o.hostname) args.push('-verify_hostname', o.hostname);
    if (o.ip) args.push('-verify_ip', o.ip);
    if (o.attime) args.push('-attime', String(Math.floor(o.attime.getTime() / 1000)));
    args.push(await put(dir, 'leaf.pem', o.leaf));
    const { code, output } = await run('openssl', args);
    return { ok: code === 0 && /: OK\s*$/m.test(output) && !/error/i.test(output), output };
  });
}

/** `openssl req -verify`, decided by its text: it exits 0 even when the signature is bad. */
export function opensslCsrVerify(csrPem: string): Promise<boolean> {
  return withFolder(async (dir) => {
    const { output } = await run('openssl', ['req', '-verify', '-noout', '-in', await put(dir, 'csr.pem', csrPem)]);
    return /self-signature verify OK/.test(output) && !/verify fail/i.test(output);
  });
}

export function opensslLoadKey(keyPem: string): Promise<boolean> {
  return withFolder(async (dir) => (await run('openssl', ['pkey', '-noout', '-in', await put(dir, 'key.pem', keyPem)])).code === 0);
}

export function opensslLoadPublicKey(pem: string): Promise<boolean> {
  return withFolder(async (dir) => (await run('openssl', ['pkey', '-pubin', '-noout', '-in', await put(dir, 'pub.pem', pem)])).code === 0);
}

const GENPKEY: Record<'rsa-2048' | 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519', string[]> = {
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'ecdsa-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ecdsa-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
};

/** A key generated by OpenSSL in the requested encoding: PKCS#8, SEC1 or PKCS#1. */
export async function opensslGenerateKey(kind: keyof typeof GENPKEY, format: 'pkcs8' | 'sec1' | 'pkcs1'): Promise<string> {
  if ((format === 'sec1' && !kind.startsWith('ecdsa')) || (format === 'pkcs1' && !kind.startsWith('rsa'))) {
    throw new Error(`a ${kind} key has no ${format} encoding`);
  }
  const pkcs8 = await command('openssl', ['genpkey', ...GENPKEY[kind]]);
  if (format === 'pkcs8') return pkcs8;
  return withFolder(async (dir) => {
    const file = await put(dir, 'key.pem', pkcs8);
    // `openssl ec` writes SEC1 by default; `openssl rsa` needs -traditional for PKCS#1.
    const args = format === 'sec1' ? ['ec', '-in', file] : ['rsa', '-traditional', '-in', file];
    return command('openssl', args);
  });
}

/** A CSR made by `openssl req -new`, with an optional subjectAltName list like ["DNS:a", "IP:10.0.0.1"]. */
export function opensslMakeCsr(keyPem: string, subject: string, sans: string[] = []): Promise<string> {
  return withFolder(async (dir) => {
    const args = ['req', '-new', '-key', await put(dir, 'key.pem', keyPem), '-subj', subject];
    if (sans.length) args.push('-addext', `subjectAltName=${sans.join(',')}`);
    return command('openssl', args);
  });
}

/** `certtool --verify` with a purpose OID and optional host name (certtool matches IP SANs with it too). */
export function gnutlsVerify(o: { roots: string[]; chain: string[]; purposeOid: string; hostname?: string }): Promise<CommandResult> {
  return withFolder(async (dir) => {
    const args = [
      '--verify',
      '--load-ca-certificate',
      await put(dir, 'roots.pem', o.roots.join('')),
      '--infile',
      await put(dir, 'chain.pem', o.chain.join('')),
      '--verify-purpose',
      o.purposeOid,
    ];
    if (o.hostname) args.push('--verify-hostname', o.hostname);
    const { code, output } = await run('certtool', args);
    return { ok: code === 0 && /Chain verification output: Verified\./.test(output), output };
  });
}

export function gnutlsLoadKey(keyPem: string): Promise<boolean> {
  return withFolder(async (dir) => (await run('certtool', ['--key-info', '--no-text', '--infile', await put(dir, 'key.pem', keyPem)])).code === 0);
}
