// Wrappers around the independent judges: a Go program (crypto/x509, crypto/tls), the openssl command
// line and GnuTLS certtool. Each writes its inputs to a private temporary folder and removes it after.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { explainSpawnError } from '../helpers/judge-packages.js';

const execFileAsync = promisify(execFile);

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

/** One question for the Go judge (test/interop/judge/main.go); PEM text throughout. */
export type GoCase =
  | { op: 'verify'; leaf: string; roots: string[]; intermediates?: string[]; name?: string; eku: 'server' | 'client' | 'any'; time?: string; crls?: string[] }
  | { op: 'csr'; csr: string }
  | { op: 'keypair'; cert: string; key: string }
  | { op: 'key'; key: string }
  | { op: 'pubkey'; key: string }
  /** The user and groups kube-apiserver reads from a client certificate (hex of their UTF-8 bytes). */
  | { op: 'identity'; cert: string }
  /** x509.ParseRevocationList, CheckSignatureFrom the issuer `cert`, and what Go reads from the CRL (`crl` of the result). */
  | { op: 'crl'; crl: string; cert: string };

/** What the Go judge reads from a CRL (op crl). */
export interface GoCrlInfo {
  /** cRLNumber in decimal; empty when absent. */
  number: string;
  /** authorityKeyIdentifier's keyIdentifier, lowercase hex; empty when absent. */
  authorityKeyId: string;
  /** crlExtensions OIDs, "!" appended when critical. */
  extensions: string[];
  /** Revoked serials, lowercase hex. */
  revoked: string[];
  /** Revoked entries carrying a crlEntryExtensions field, an empty one included. */
  entriesWithExtensions: number;
}

/** The Go judge's answer: `error` is Go's error text, empty when `ok`. */
export interface GoResult {
  ok: boolean;
  error: string;
  /** op identity: hex of the user name's bytes and of each group's. */
  user?: string;
  groups?: string[];
  /** op crl, when ok. */
  crl?: GoCrlInfo;
}

/** A command-line judge's answer and everything it printed, for assertion messages. */
export interface CommandResult {
  ok: boolean;
  output: string;
}

export type KeyKind = 'rsa-2048' | 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519';
export type KeyFormat = 'pkcs8' | 'sec1' | 'pkcs1';

const JUDGE_DIR = fileURLToPath(new URL('./judge/', import.meta.url));
const JUDGE_CACHE = join(tmpdir(), 'kubepki-judge');
const COMMAND_TIMEOUT = 60_000;
const BUILD_TIMEOUT = 300_000;

interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeout?: number;
  input?: string;
}

interface RunResult {
  code: number;
  stdout: string;
  output: string;
}

/**
 * Runs a command and resolves with its exit code and output (stdout then stderr). A non-zero exit is an
 * answer, not a failure; a command that cannot start or is killed by the timeout rejects.
 */
async function run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const pending = execFileAsync(file, args, {
    cwd: options.cwd,
    env: options.env,
    timeout: options.timeout ?? COMMAND_TIMEOUT,
    maxBuffer: 64 << 20,
  });
  // A child that exits before reading all its input would otherwise raise an unhandled EPIPE.
  pending.child.stdin?.on('error', () => undefined);
  pending.child.stdin?.end(options.input ?? '');
  try {
    const { stdout, stderr } = await pending;
    return { code: 0, stdout, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw explainSpawnError(file, error);
    const stdout = failed.stdout ?? '';
    return { code: failed.code, stdout, output: stdout + (failed.stderr ?? '') };
  }
}

/** Runs a command that must succeed; resolves with its stdout. */
async function command(file: string, args: string[], options: RunOptions = {}): Promise<string> {
  const { code, stdout, output } = await run(file, args, options);
  if (code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${code}:\n${output}`);
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

/** Writes `content` to `dir/name` (owner-only) and returns the path. */
async function put(dir: string, name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

/** The shared build cache, refused if someone else owns it: we run the binaries found there. */
async function judgeCache(): Promise<string> {
  await mkdir(JUDGE_CACHE, { recursive: true, mode: 0o700 });
  const owner = (await stat(JUDGE_CACHE)).uid;
  if (process.getuid && owner !== process.getuid()) throw new Error(`${JUDGE_CACHE} belongs to uid ${owner}, not to us`);
  return JUDGE_CACHE;
}

async function judgeSourceHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod']) hash.update(await readFile(join(JUDGE_DIR, file)));
  return hash.digest('hex').slice(0, 16);
}

const TRIXIE_FETCH = fileURLToPath(new URL('./trixie/fetch.sh', import.meta.url));
const GO_VERSION = '1.24';

let trixieRoot: Promise<string> | undefined;

/**
 * Debian trixie's Go 1.24, unpacked into the user's cache by trixie/fetch.sh (never installed): the Go
 * that Kubernetes releases of today are built with, so the judge decides as their crypto/x509 does.
 */
function goRoot(): Promise<string> {
  trixieRoot ??= command('bash', [TRIXIE_FETCH], { timeout: BUILD_TIMEOUT }).then((out) => out.trim());
  return trixieRoot.then((root) => join(root, 'usr', 'lib', `go-${GO_VERSION}`));
}

/** Builds the judge offline into `binary`, atomically, so concurrent test processes never see half a file. */
async function buildJudge(cache: string, binary: string): Promise<void> {
  const goroot = await goRoot();
  const env = {
    ...process.env,
    GOROOT: goroot,
    GOTOOLCHAIN: 'local',
    GOTELEMETRY: 'off',
    GOPROXY: 'off',
    GOFLAGS: '-mod=mod',
    CGO_ENABLED: '0',
    GOCACHE: join(cache, 'gocache'),
    GOPATH: join(cache, 'gopath'),
  };
  const partial = `${binary}.${process.pid}.tmp`;
  await command(join(goroot, 'bin', 'go'), ['build', '-trimpath', '-o', partial, '.'], { cwd: JUDGE_DIR, env, timeout: BUILD_TIMEOUT });
  await rename(partial, binary);
}

let judgeBinary: Promise<string> | undefined;

/** The judge binary: built once per process, and reused across processes while main.go and the Go version are unchanged. */
function judgeExecutable(): Promise<string> {
  judgeBinary ??= (async () => {
    const cache = await judgeCache();
    const binary = join(cache, `judge-go${GO_VERSION}-${await judgeSourceHash()}`);
    if (!(await exists(binary))) await buildJudge(cache, binary);
    return binary;
  })();
  return judgeBinary;
}

/** Runs a batch of cases through Go's crypto/x509 and crypto/tls; one result per case, in order. */
export async function goJudge(cases: GoCase[]): Promise<GoResult[]> {
  // Go reads the kernel's clock without libc, so a test's clock (faketime moving this process two years
  // ahead) would not reach it: a verification without a time of its own is judged at this process's now.
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const timed = cases.map((c) => (c.op === 'verify' && c.time === undefined ? { ...c, time: now } : c));
  const stdout = await command(await judgeExecutable(), [], { input: JSON.stringify(timed) });
  const results = JSON.parse(stdout) as GoResult[];
  if (results.length !== cases.length) throw new Error(`the Go judge answered ${results.length} of ${cases.length} cases`);
  return results;
}

/** `openssl verify -x509_strict` with a purpose and, optionally, a host name or IP to match. */
export function opensslVerify(o: {
  roots: string[];
  intermediates?: string[];
  leaf: string;
  purpose: 'sslserver' | 'sslclient';
  hostname?: string;
  ip?: string;
  attime?: Date;
  /** Revocation lists (PEM): adds `-crl_check -CRLfile`, so a CRL for the leaf's issuer is required. */
  crls?: string[];
}): Promise<CommandResult> {
  return withFolder(async (dir) => {
    const args = ['verify', '-x509_strict', '-purpose', o.purpose, '-CAfile', await put(dir, 'roots.pem', o.roots.join('\n'))];
    if (o.intermediates?.length) args.push('-untrusted', await put(dir, 'intermediates.pem', o.intermediates.join('\n')));
    if (o.crls?.length) args.push('-crl_check', '-CRLfile', await put(dir, 'crls.pem', o.crls.join('\n')));
    if (o.hostname) args.push('-verify_hostname', o.hostname);
    if (o.ip) args.push('-verify_ip', o.ip);
    if (o.attime) args.push('-attime', String(Math.floor(o.attime.getTime() / 1000)));
    args.push(await put(dir, 'leaf.pem', o.leaf));
    const { code, output } = await run('openssl', args);
    // Success prints "<file>: OK"; failure prints "error N at D depth lookup: ..." and exits 2.
    return { ok: code === 0 && /: OK$/m.test(output), output };
  });
}

/**
 * `openssl req -verify`, decided by its text: it exits 0 even when the signature is bad, printing
 * "Certificate request self-signature verify failure" instead of "... verify OK".
 */
export function opensslCsrVerify(csrPem: string): Promise<boolean> {
  return withFolder(async (dir) => {
    const { code, output } = await run('openssl', ['req', '-verify', '-noout', '-in', await put(dir, 'csr.pem', csrPem)]);
    return code === 0 && /self-signature verify OK/.test(output) && !/verify failure/.test(output);
  });
}

/** Whether `openssl pkey` loads a private key (any of its PEM encodings). */
export function opensslLoadKey(keyPem: string): Promise<boolean> {
  return withFolder(async (dir) => (await run('openssl', ['pkey', '-noout', '-in', await put(dir, 'key.pem', keyPem)])).code === 0);
}

/** Whether `openssl pkey -pubin` loads a PUBLIC KEY (SubjectPublicKeyInfo) PEM. */
export function opensslLoadPublicKey(pem: string): Promise<boolean> {
  return withFolder(async (dir) => (await run('openssl', ['pkey', '-pubin', '-noout', '-in', await put(dir, 'pub.pem', pem)])).code === 0);
}

const GENPKEY: Record<KeyKind, string[]> = {
  'rsa-2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'ecdsa-p256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'ecdsa-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
};

const KEY_FORMATS: Record<KeyKind, readonly KeyFormat[]> = {
  'rsa-2048': ['pkcs8', 'pkcs1'],
  'ecdsa-p256': ['pkcs8', 'sec1'],
  'ecdsa-p384': ['pkcs8', 'sec1'],
  ed25519: ['pkcs8'],
};

const PEM_LABEL: Record<KeyFormat, string> = { pkcs8: 'PRIVATE KEY', sec1: 'EC PRIVATE KEY', pkcs1: 'RSA PRIVATE KEY' };

/** The OpenSSL command that rewrites a PKCS#8 key file in `format`. */
function convertArgs(format: Exclude<KeyFormat, 'pkcs8'>, file: string): string[] {
  // `openssl ec` writes SEC1 by default; OpenSSL 3's `openssl rsa` writes PKCS#8 unless -traditional.
  return format === 'sec1' ? ['ec', '-in', file] : ['rsa', '-traditional', '-in', file];
}

/** A key generated by OpenSSL in the requested encoding; throws for a format the key type has not. */
export async function opensslGenerateKey(kind: KeyKind, format: KeyFormat): Promise<string> {
  if (!KEY_FORMATS[kind].includes(format)) throw new Error(`a ${kind} key has no ${format} encoding`);
  const pkcs8 = await command('openssl', ['genpkey', ...GENPKEY[kind]]);
  const pem = format === 'pkcs8' ? pkcs8 : await withFolder(async (dir) => command('openssl', convertArgs(format, await put(dir, 'key.pem', pkcs8))));
  if (!pem.startsWith(`-----BEGIN ${PEM_LABEL[format]}-----`)) throw new Error(`openssl wrote no ${PEM_LABEL[format]} block:\n${pem}`);
  return pem;
}

/** A CSR made by `openssl req -new`: subject like "/CN=system:node:n1/O=system:nodes", SANs like ["DNS:a", "IP:10.0.0.1"]. */
export function opensslMakeCsr(keyPem: string, subject: string, sans: string[] = []): Promise<string> {
  return withFolder(async (dir) => {
    const args = ['req', '-new', '-key', await put(dir, 'key.pem', keyPem), '-subj', subject];
    if (sans.length) args.push('-addext', `subjectAltName=${sans.join(',')}`);
    return command('openssl', args);
  });
}

/**
 * `certtool --verify` with a purpose OID and an optional host name, which certtool also matches against
 * IP SANs when it is an address. `chain` is the leaf first, then intermediates.
 */
export function gnutlsVerify(o: { roots: string[]; chain: string[]; purposeOid: string; hostname?: string; crls?: string[] }): Promise<CommandResult> {
  return withFolder(async (dir) => {
    const args = ['--verify', '--load-ca-certificate', await put(dir, 'roots.pem', o.roots.join('\n'))];
    if (o.crls?.length) args.push('--load-crl', await put(dir, 'crls.pem', o.crls.join('\n')));
    args.push('--infile', await put(dir, 'chain.pem', o.chain.join('\n')), '--verify-purpose', o.purposeOid);
    if (o.hostname) args.push('--verify-hostname', o.hostname);
    const { code, output } = await run('certtool', args);
    // Success: "Chain verification output: Verified. ..." and exit 0; failure: "... Not verified. <reason>" and exit 1.
    return { ok: code === 0 && /^Chain verification output: Verified\./m.test(output), output };
  });
}

/** What a command-line judge reads from a CRL, and whether the CRL's signature verifies with its CA. */
export interface CrlReading {
  /** The signature verifies with the CA certificate given. */
  verified: boolean;
  /** The authorityKeyIdentifier's key id, lowercase hex without separators; undefined when not shown. */
  authorityKeyId?: string;
  crlNumber?: bigint;
  /** OpenSSL only: revoked entries show crlEntryExtensions (an empty one prints nothing: the Go judge counts those). */
  entryExtensions?: boolean;
  output: string;
}

/** `openssl crl -text -CAfile`: prints the CRL (extensions included) and checks its signature with the CA. */
export function opensslCrl(crlPem: string, caPem: string): Promise<CrlReading> {
  return withFolder(async (dir) => {
    const { code, output } = await run('openssl', ['crl', '-noout', '-text', '-in', await put(dir, 'crl.pem', crlPem), '-CAfile', await put(dir, 'ca.pem', caPem)]);
    // "X509v3 Authority Key Identifier: \n    AB:CD:..." (OpenSSL 1.1 prefixes "keyid:") and "X509v3 CRL Number: \n    2" (decimal).
    const aki = /X509v3 Authority Key Identifier: *(?:critical)?\n\s*(?:keyid:)?([0-9A-F:]+)\n/.exec(output)?.[1];
    const number = /X509v3 CRL Number: *(?:critical)?\n\s*(\d+)\n/.exec(output)?.[1];
    return {
      verified: code === 0 && /^verify OK$/m.test(output),
      ...(aki ? { authorityKeyId: aki.replaceAll(':', '').toLowerCase() } : {}),
      ...(number ? { crlNumber: BigInt(number) } : {}),
      entryExtensions: /CRL entry extensions/.test(output),
      output,
    };
  });
}

/** `certtool --verify-crl`: prints the CRL (as --crl-info) and checks its signature with the CA. */
export function gnutlsCrl(crlPem: string, caPem: string): Promise<CrlReading> {
  return withFolder(async (dir) => {
    const { code, output } = await run('certtool', ['--verify-crl', '--load-ca-certificate', await put(dir, 'ca.pem', caPem), '--infile', await put(dir, 'crl.pem', crlPem)]);
    // "Authority Key Identifier (not critical):\n\t\t\t<hex>" and "CRL Number (not critical): 02" (hex).
    const aki = /Authority Key Identifier \((?:not )?critical\):\n\s*([0-9a-f]+)\n/.exec(output)?.[1];
    const number = /CRL Number \((?:not )?critical\): ([0-9a-f]+)\n/.exec(output)?.[1];
    return {
      verified: code === 0 && /^Verification output: Verified\./m.test(output),
      ...(aki ? { authorityKeyId: aki } : {}),
      ...(number ? { crlNumber: BigInt(`0x${number}`) } : {}),
      output,
    };
  });
}

/** Whether `certtool --key-info` loads a private key. */
export function gnutlsLoadKey(keyPem: string): Promise<boolean> {
  return withFolder(async (dir) => (await run('certtool', ['--key-info', '--no-text', '--infile', await put(dir, 'key.pem', keyPem)])).code === 0);
}
