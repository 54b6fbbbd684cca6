// The benchmark suite: `npm run bench`. Every case is measured beside its baseline in the same run (the
// raw Node crypto the work needs, Go's crypto/x509 (bench/go), plain @peculiar/x509, the openssl command line) and the ratios are
// written to bench/results/node<major>.md and .json (one pair per Node line: `npm run bench` with the machine's
// Node, `npm run bench:lts` with Node 24). Medians, with min and max.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type JsonWebKey as NodeJwk } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import {
  closePkcs11Tokens,
  generatePkcs11KeyPair,
  issueCertificates,
  buildCaBundle,
  createCertificateAuthority,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  nodeSubject,
  parseCsr,
  PROFILES,
  verifyCertificate,
  crossCheckChain,
  type CertificateAuthority,
  type KeySpec,
} from '../dist/index.js';
import { openPkcs11Token } from '../dist/crypto/pkcs11.js';
import { createWorkerPool } from '../dist/workers/pool.js';
import { children, contentOf, decodeOid, readElement } from '../dist/crypto/der.js';
import { encodePem, readPemBlocks } from '../dist/crypto/pem.js';
import * as x509 from '../test/helpers/peculiar.js';
import { keyAlgorithm } from '../dist/crypto/keys.js';

interface Row {
  name: string;
  opsPerSecond: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  baseline?: string;
  ratio?: number;
}

const rows: Row[] = [];
const time = Number(process.env.BENCH_TIME_MS ?? 1000);

async function measure(tasks: Record<string, () => unknown>): Promise<Record<string, Row>> {
  const bench = new Bench({ time, warmupTime: 300 });
  for (const [name, fn] of Object.entries(tasks)) bench.add(name, fn as () => Promise<void>);
  await bench.run();
  const out: Record<string, Row> = {};
  for (const task of bench.tasks) {
    const latency = (task.result as { latency: { p50: number; min: number; max: number } }).latency;
    out[task.name] = { name: task.name, opsPerSecond: 1000 / latency.p50, medianMs: latency.p50, minMs: latency.min, maxMs: latency.max };
  }
  return out;
}

function record(row: Row, baseline?: Row): void {
  rows.push(baseline ? { ...row, baseline: baseline.name, ratio: row.opsPerSecond / baseline.opsPerSecond } : row);
}

const GO_VERSION = '1.24';
let goBuild: Promise<{ binary: string; version: string } | undefined> | undefined;

/**
 * The Go peer (bench/go, standard library only), built with Debian trixie's Go 1.24 (fetched into the
 * user's cache by test/interop/trixie/fetch.sh, as the Go judge is) into ${KUBEPKI_CACHE:-~/.cache/kubepki}/bench-go,
 * once per source version; undefined (and the Go rows left out) when the toolchain cannot be had.
 */
function goPeer(): Promise<{ binary: string; version: string } | undefined> {
  goBuild ??= (async () => {
    try {
      const fetchScript = fileURLToPath(new URL('../test/interop/trixie/fetch.sh', import.meta.url));
      const root = execFileSync('bash', [fetchScript], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
      const goroot = join(root, 'usr', 'lib', `go-${GO_VERSION}`);
      const source = fileURLToPath(new URL('./go/', import.meta.url));
      const hash = createHash('sha256');
      for (const file of ['main.go', 'go.mod']) hash.update(readFileSync(join(source, file)));
      const cache = join(process.env.KUBEPKI_CACHE ?? join(homedir(), '.cache', 'kubepki'), 'bench-go');
      mkdirSync(cache, { recursive: true, mode: 0o700 });
      const env = { ...process.env, GOROOT: goroot, GOTOOLCHAIN: 'local', GOTELEMETRY: 'off', GOPROXY: 'off', CGO_ENABLED: '0', GOCACHE: join(cache, 'gocache'), GOPATH: join(cache, 'gopath') };
      const binary = join(cache, `bench-go${GO_VERSION}-${hash.digest('hex').slice(0, 16)}`);
      if (!existsSync(binary)) {
        const partial = `${binary}.${process.pid}.tmp`;
        execFileSync(join(goroot, 'bin', 'go'), ['build', '-trimpath', '-o', partial, '.'], { cwd: source, env, stdio: 'inherit' });
        renameSync(partial, binary);
      }
      const version = execFileSync(join(goroot, 'bin', 'go'), ['env', 'GOVERSION'], { env, encoding: 'utf8' }).trim();
      return { binary, version };
    } catch (error) {
      console.error(`bench: no Go ${GO_VERSION} peer (${(error as Error).message}); the Go rows are left out`);
      return undefined;
    }
  })();
  return goBuild;
}

/** A folder holding what the Go peer reads: the CA's certificate and PKCS#8 key, and `files`. */
async function goInputs(ca: CertificateAuthority, files: Record<string, string> = {}): Promise<{ dir: string; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'kubepki-bench-go-'));
  writeFileSync(join(dir, 'ca.crt'), ca.certificate.pem);
  writeFileSync(join(dir, 'ca.key'), await exportPrivateKeyPem(ca.keyPair, 'pkcs8'), { mode: 0o600 });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, close: () => rmSync(dir, { recursive: true, force: true }) };
}

const runGo = (binary: string, args: string[]): { single: number[]; parallel?: number[]; procs: number } => JSON.parse(execFileSync(binary, args, { encoding: 'utf8' })) as { single: number[]; parallel?: number[]; procs: number };

/** A row from samples (ms per operation): median, min, max. */
function rowOf(name: string, samples: number[]): Row {
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return { name, opsPerSecond: 1000 / median, medianMs: median, minMs: sorted[0]!, maxMs: sorted.at(-1)! };
}

/**
 * Distinct CSRs of `spec`, each on a key of its own (nodes n0, n1, ...): the CA-step cases go through
 * every one once per round, so no step meets a key an earlier step brought.
 */
async function freshCsrs(spec: KeySpec, count: number): Promise<string[]> {
  const csrs: string[] = [];
  // Key generation runs in libuv's thread pool: 16 at a time keep the cores busy (RSA takes seconds).
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let k = next++; k < count; k = next++) csrs[k] = (await createCsr({ keyPair: await generateKeyPair(spec), subject: nodeSubject(`n${k}`) })).pem;
    }),
  );
  return csrs;
}

/** What node:crypto needs to do a CSR's checks by hand: its key as JWK, the signed bytes and the signature. */
function floorInputs(csrs: readonly string[]): { jwk: NodeJwk; info: Uint8Array; signature: Uint8Array; hash: string | null }[] {
  return csrs.map((pem) => {
    const der = readPemBlocks(pem)[0]!.der;
    const top = readElement(der, 0, 'csr');
    const [info, algorithm, bits] = children(der, top, 'csr');
    const [infoVersion, , spki] = children(der, info!, 'csr');
    void infoVersion;
    const oid = decodeOid(contentOf(der, children(der, algorithm!, 'csr')[0]!), 'csr');
    const hash = { '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.113549.1.1.11': 'sha256', '1.3.101.112': null }[oid];
    if (hash === undefined) throw new Error(`bench: unexpected CSR signature algorithm ${oid}`);
    const jwk = createPublicKey({ key: Buffer.from(der.subarray(spki!.headerStart, spki!.end)), format: 'der', type: 'spki' }).export({ format: 'jwk' });
    return { jwk, info: der.subarray(info!.headerStart, info!.end), signature: contentOf(der, bits!).subarray(1), hash };
  });
}

// CSRs per CA-step round, each on a new key (RSA's keys take long to make: fewer of them).
const CA_STEP_CSRS: Record<string, number> = { 'ecdsa-p256': 4000, ed25519: 4000, 'rsa-2048': 400 };

/**
 * The CA step for CSRs that each bring a key never seen before, in turns (ROUNDS rounds, each CSR once a
 * round): kubepki in this thread (parseCsr + issueCertificate, as the signer calls them), kubepki's
 * issueCertificates on a running pool of one worker per core, Go's crypto/x509 (bench/go: one goroutine,
 * then GOMAXPROCS goroutines), and node:crypto's floor (the key import + verify + sign, nothing else).
 */
async function caStep(spec: KeySpec): Promise<void> {
  const ca = await createCertificateAuthority({ keySpec: spec });
  const caKeyObject = createPrivateKey({ key: await exportPrivateKeyPem(ca.keyPair), format: 'pem' });
  const csrs = await freshCsrs(spec, CA_STEP_CSRS[spec]!);
  const inputs = floorInputs(csrs);
  const { hash } = inputs[0]!;
  const csrDer = readPemBlocks(csrs[0]!)[0]!.der;
  const publicKey = createPublicKey(caKeyObject);
  const signature = nodeSign(hash, csrDer, caKeyObject);
  const peculiarCa = new x509.X509Certificate(ca.certificate.der as Uint8Array<ArrayBuffer>);
  let i = 0;
  // The floor and the plain @peculiar/x509 baseline (one CSR over and over: the floor with a key already parsed).
  const result = await measure({
    [`floor (${spec}): node:crypto verify + sign`]: () => {
      nodeVerify(hash, csrDer, publicKey, signature);
      nodeSign(hash, csrDer, caKeyObject);
    },
    [`plain @peculiar/x509 (${spec}): parse+verify CSR, create`]: async () => {
      const csr = new x509.Pkcs10CertificateRequest(csrs[i++ % csrs.length]!);
      await csr.verify();
      const cert = await x509.X509CertificateGenerator.create({
        subject: csr.subjectName,
        issuer: peculiarCa.subjectName,
        publicKey: csr.publicKey,
        signingKey: ca.privateKey,
        signingAlgorithm: peculiarCa.signatureAlgorithm as Algorithm,
      });
      void cert.toString('pem');
    },
  });
  const [floor, peculiar] = Object.values(result) as [Row, Row];
  record(floor);
  record(peculiar, floor);

  const go = await goPeer();
  const goDir = await goInputs(ca, Object.fromEntries(csrs.map((csr, k) => [`csr-${k}.pem`, csr])));
  const pool = createWorkerPool();
  const requests = csrs.map((csr) => ({ csr, profile: PROFILES.kubeletClient }));
  try {
    await issueCertificates(requests.slice(0, 400), { issuer: ca, pool });
    const goSamples: { single: number; parallel: number }[] = [];
    const n = csrs.length;
    const label = `${n.toLocaleString('en')} CSRs, each on a new key, ${ROUNDS} rounds in turns`;
    const cases: Record<string, () => Promise<number> | number> = {
      [`floor (${spec}): node:crypto import of the CSR's key (JWK) + verify + sign, one thread (${label})`]: () => {
        const started = performance.now();
        for (const input of inputs) {
          if (!nodeVerify(input.hash, input.info, createPublicKey({ key: input.jwk, format: 'jwk' }), input.signature)) throw new Error('bench: the floor refused a CSR');
          nodeSign(hash, input.info, caKeyObject);
        }
        return (performance.now() - started) / n;
      },
      [`kubepki CA step (${spec}), one thread: parseCsr + issueCertificate (verify, issue, lint), PEM (${label})`]: async () => {
        const started = performance.now();
        for (const pem of csrs) {
          const csr = await parseCsr(pem);
          void (await issueCertificate({ profile: PROFILES.kubeletClient, subject: { ...csr.subject, der: csr.certifiedSubjectDer }, publicKey: csr.publicKey, issuer: ca })).pem;
        }
        return (performance.now() - started) / n;
      },
      [`kubepki CA step (${spec}), issueCertificates on a running pool of ${pool.size} worker threads, PEM (${label})`]: async () => {
        const started = performance.now();
        const outcomes = await issueCertificates(requests, { issuer: ca, pool });
        if (outcomes.some((o) => o.error)) throw new Error('bench: the batch refused a CSR');
        for (const outcome of outcomes) void encodePem('CERTIFICATE', outcome.der!);
        return (performance.now() - started) / n;
      },
    };
    if (go) {
      cases[`Go ${go.version} crypto/x509 CA step (${spec}), one goroutine: pem.Decode, ParseCertificateRequest, CheckSignature, CreateCertificate, pem.Encode (${label})`] = () => {
        const out = runGo(go.binary, ['castep', goDir.dir, '1']);
        goSamples.push({ single: out.single[0]!, parallel: out.parallel![0]! });
        return out.single[0]!;
      };
    }
    const [floorWithImport, ours, pooled, goSingle] = (await interleaved(ROUNDS, cases)) as [Row, Row, Row, Row | undefined];
    record(floorWithImport);
    record(ours, floorWithImport);
    const cores = pool.size;
    const floorOnCores: Row = { ...floorWithImport, name: `${floorWithImport.name} x ${cores} cores`, opsPerSecond: floorWithImport.opsPerSecond * cores, medianMs: floorWithImport.medianMs / cores, minMs: floorWithImport.minMs / cores, maxMs: floorWithImport.maxMs / cores };
    record(pooled, floorOnCores);
    if (goSingle && go) {
      const goAll = rowOf(`Go ${go.version} crypto/x509 CA step (${spec}), GOMAXPROCS=${cores} goroutines (same rounds)`, goSamples.map((sample) => sample.parallel));
      record(goSingle);
      record(goAll);
      rows.push({ ...ours, name: `${ours.name} vs Go, one goroutine`, baseline: goSingle.name, ratio: ours.opsPerSecond / goSingle.opsPerSecond });
      rows.push({ ...pooled, name: `${pooled.name} vs Go, ${cores} goroutines`, baseline: goAll.name, ratio: pooled.opsPerSecond / goAll.opsPerSecond });
      summary.push({ spec, ours, pooled, goSingle, goAll, floorWithImport, cores });
    }
  } finally {
    await pool.close();
    goDir.close();
  }
  if (spec !== 'ecdsa-p256') return;
  const openssl = await opensslCa(ca, csrs);
  try {
    const [batch, coldBatch, opensslBatch] = await batchCaStep(ca, csrs, openssl.batch);
    record(batch, floor);
    record(coldBatch, floor);
    await caStepPerProfile(ca, floor);
    await caStepThroughToken(floor);
    record(opensslBatch);
    record(oneShot('openssl x509 -req (one process per certificate)', openssl.perProcess()));
    for (const row of [batch, coldBatch]) rows.push({ ...row, name: `${row.name} vs openssl ca -batch`, baseline: opensslBatch.name, ratio: row.opsPerSecond / opensslBatch.opsPerSecond });
  } finally {
    openssl.close();
  }
}

/** The headline: each key type's CA step against Go and the floor, measured in the same rounds. */
const summary: { spec: KeySpec; ours: Row; pooled: Row; goSingle: Row; goAll: Row; floorWithImport: Row; cores: number }[] = [];

/**
 * The CA step for the fresh CSRs through issueCertificates over one worker per core: once with the pool a
 * long-running signer keeps (started and warmed before the clock starts), once as a one-shot command runs it
 * (starting its workers inside the timing); in turns with `openssl ca -batch`, whose row comes third.
 */
async function batchCaStep(ca: CertificateAuthority, csrs: string[], opensslBatch: () => number): Promise<[Row, Row, Row]> {
  const requests = csrs.map((csr) => ({ csr, profile: PROFILES.kubeletClient }));
  const timed = async (options: Parameters<typeof issueCertificates>[1]): Promise<number> => {
    const start = performance.now();
    const outcomes = await issueCertificates(requests, options);
    if (outcomes.some((o) => o.error)) throw new Error('the batch refused a CSR');
    return (performance.now() - start) / requests.length;
  };
  const pool = createWorkerPool();
  const n = requests.length.toLocaleString('en');
  try {
    await issueCertificates(requests.slice(0, 400), { issuer: ca, pool });
    // In turns with openssl ca -batch, the baseline the ratios are taken against.
    return (await interleaved(ROUNDS, {
      [`kubepki CA step, issueCertificates on a running pool of ${pool.size} worker threads (${n} CSRs on new keys, ${ROUNDS} runs)`]: () => timed({ issuer: ca, pool }),
      [`kubepki CA step, issueCertificates starting ${pool.size} worker threads (${n} CSRs on new keys, one-shot, ${ROUNDS} runs)`]: () => timed({ issuer: ca }),
      [`openssl ca -batch (one process, 200 CSRs, ${ROUNDS} runs in turn with the pool)`]: opensslBatch,
    })) as [Row, Row, Row];
  } finally {
    await pool.close();
  }
}

/** The CA step with the CA key in a SoftHSM2 token (when Debian's softhsm2 is installed) beside the in-memory key. */
async function caStepThroughToken(floor: Row): Promise<void> {
  const module = '/usr/lib/softhsm/libsofthsm2.so';
  if (!existsSync(module)) {
    console.error('bench: softhsm2 is not installed; the PKCS#11 case is left out');
    return;
  }
  const home = mkdtempSync(join(tmpdir(), 'kubepki-bench-softhsm-'));
  try {
    writeFileSync(join(home, 'softhsm2.conf'), `directories.tokendir = ${home}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    process.env.SOFTHSM2_CONF = join(home, 'softhsm2.conf');
    process.env.KUBEPKI_BENCH_PIN = '1234';
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--pin', '1234', '--so-pin', '4321'], { stdio: 'ignore' });
    const reference = { module, token: 'bench', key: 'bench-ca', pin: { env: 'KUBEPKI_BENCH_PIN' } };
    const token = await openPkcs11Token(reference);
    const keyPair = await generatePkcs11KeyPair(reference, 'ecdsa-p256');
    const ca = await createCertificateAuthority({ keyPair, crypto: token.crypto });
    const issuer = { certificate: ca.certificate, privateKey: ca.privateKey, crypto: token.crypto };
    const memoryCa = await createCertificateAuthority();
    const csr = (await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('n1') })).pem;
    const step = (signer: typeof issuer | CertificateAuthority) => async (): Promise<void> => {
      const parsed = await parseCsr(csr);
      void (await issueCertificate({ profile: PROFILES.kubeletClient, subject: parsed.subject, publicKey: parsed.publicKey, issuer: signer })).pem;
    };
    const result = await measure({ 'kubepki CA step, CA key in SoftHSM2 (PKCS#11)': step(issuer), 'kubepki CA step, CA key in memory (same run)': step(memoryCa) });
    const [token11, memory] = Object.values(result) as [Row, Row];
    record(memory, floor);
    record(token11, memory);
    await closePkcs11Tokens();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The CA step for the profiles whose certificates differ most: few or many SANs, one or two EKUs. */
async function caStepPerProfile(ca: CertificateAuthority, floor: Row): Promise<void> {
  const key = await generateKeyPair();
  const apiserverSans = { dns: ['cp-1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'], ips: ['10.96.0.1', '10.0.0.10'] };
  const cases = [
    [PROFILES.kubeletServing, nodeSubject('n1'), { dns: ['n1'], ips: ['10.0.0.11'] }],
    [PROFILES.apiserver, { commonName: 'kube-apiserver' }, apiserverSans],
    [PROFILES.etcdServer, { commonName: 'cp-1' }, { dns: ['cp-1', 'localhost'], ips: ['10.0.0.10', '127.0.0.1', '::1'] }],
    [PROFILES.admin, { commonName: 'kubernetes-admin', organizations: ['kubeadm:cluster-admins'] }, undefined],
  ] as const;
  const tasks: Record<string, () => Promise<void>> = {};
  for (const [profile, subject, sans] of cases) {
    const csr = (await createCsr({ keyPair: key, subject, sans })).pem;
    tasks[`kubepki CA step, profile ${profile.name}`] = async () => {
      const parsed = await parseCsr(csr);
      const { dns, ips, emails, uris } = parsed.sans;
      void (await issueCertificate({ profile, subject: { ...parsed.subject, der: parsed.subjectDer }, sans: { dns, ips, emails, uris }, publicKey: parsed.publicKey, issuer: ca })).pem;
    };
  }
  for (const row of Object.values(await measure(tasks))) record(row, floor);
}

function oneShot(name: string, ms: number): Row {
  return { name, opsPerSecond: 1000 / ms, medianMs: ms, minMs: ms, maxMs: ms };
}

/** A case too long for tinybench, timed `runs` times (ms per operation each): the median, min and max. */
async function repeated(name: string, runs: number, time: () => Promise<number> | number): Promise<Row> {
  return (await interleaved(runs, { [name]: time }))[0]!;
}

// Rounds of the cases run in turns. The machine's speed drifts between minutes (Go's own P-256 CA step
// ran at 4,025 and 4,501/s in two runs of one day): the more rounds, the less one slow round moves a median.
const ROUNDS = 5;

/**
 * Long cases timed in turns, `runs` rounds of one run each, so that a case and its baseline see the same
 * moments of a noisy machine; a row per case with the median, min and max.
 */
async function interleaved(runs: number, cases: Record<string, () => Promise<number> | number>): Promise<Row[]> {
  const timers = Object.values(cases);
  const samples = timers.map(() => [] as number[]);
  for (let k = 0; k < runs; k++) for (const [i, time] of timers.entries()) samples[i]!.push(await time());
  return Object.keys(cases).map((name, i) => {
    const sorted = samples[i]!.sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return { name, opsPerSecond: 1000 / median, medianMs: median, minMs: sorted[0]!, maxMs: sorted.at(-1)! };
  });
}

/**
 * A working folder for openssl over `csrs`: `batch()` times one `openssl ca -batch` over 200 CSRs in one
 * process, `perProcess()` one `openssl x509 -req` process per certificate (ms per certificate each).
 */
async function opensslCa(ca: CertificateAuthority, csrs: string[]): Promise<{ batch: () => number; perProcess: () => number; close: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'kubepki-bench-'));
  writeFileSync(join(dir, 'ca.crt'), ca.certificate.pem);
  writeFileSync(join(dir, 'ca.key'), await exportPrivateKeyPem(ca.keyPair, 'pkcs8'), { mode: 0o600 });
  mkdirSync(join(dir, 'new'));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  const n = 200;
  const files = Array.from({ length: n }, (_, k) => {
    const path = join(dir, `${k}.csr`);
    writeFileSync(path, csrs[k % csrs.length]!);
    return path;
  });
  writeFileSync(
    join(dir, 'ca.cnf'),
    `[ca]\ndefault_ca=d\n[d]\ndir=${dir}\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\nserial=$dir/serial\ncertificate=$dir/ca.crt\nprivate_key=$dir/ca.key\ndefault_md=sha256\ndefault_days=365\npolicy=p\nunique_subject=no\ncopy_extensions=none\nx509_extensions=ext\n[p]\ncommonName=supplied\norganizationName=optional\n[ext]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n`,
  );
  return {
    batch: () => {
      const started = performance.now();
      execFileSync('openssl', ['ca', '-batch', '-notext', '-config', join(dir, 'ca.cnf'), '-outdir', join(dir, 'new'), '-out', join(dir, 'out.pem'), '-infiles', ...files], { stdio: 'ignore' });
      return (performance.now() - started) / n;
    },
    perProcess: () => {
      const started = performance.now();
      const count = 20;
      for (let k = 0; k < count; k++) {
        spawnSync('openssl', ['x509', '-req', '-in', files[k]!, '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-days', '365', '-out', join(dir, `x${k}.pem`)], { stdio: 'ignore' });
      }
      return (performance.now() - started) / count;
    },
    close: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function issuanceWithKeys(spec: KeySpec): Promise<void> {
  const ca = await createCertificateAuthority({ keySpec: spec === 'rsa-2048' ? 'ecdsa-p256' : spec });
  const caKey = createPrivateKey({ key: await exportPrivateKeyPem(ca.keyPair), format: 'pem' });
  const data = Buffer.alloc(300, 1);
  const floorName = `floor (${spec}): node:crypto key generation + one signature`;
  const webFloorName = `floor (${spec}): WebCrypto generateKey + sign`;
  const result = await measure({
    [`kubepki issuance incl. key generation (${spec})`]: async () => {
      const key = await generateKeyPair(spec);
      await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key.publicKey, issuer: ca });
    },
    // The same work through WebCrypto, which generateKeyPair uses (Node's default provider).
    [webFloorName]: async () => {
      await crypto.subtle.generateKey(keyAlgorithm(spec), true, ['sign', 'verify']);
      await crypto.subtle.sign(ca.keyPair.spec === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' }, ca.privateKey, data);
    },
    [floorName]: () => {
      if (spec === 'rsa-2048') generateKeyPairSync('rsa', { modulusLength: 2048 });
      else if (spec === 'ed25519') generateKeyPairSync('ed25519');
      else generateKeyPairSync('ec', { namedCurve: spec === 'ecdsa-p384' ? 'secp384r1' : 'prime256v1' });
      nodeSign(ca.keyPair.spec === 'ed25519' ? null : 'sha256', data, caKey);
    },
  });
  const ours = Object.values(result)[0]!;
  const floor = result[floorName]!;
  const webFloor = result[webFloorName]!;
  record(floor);
  record(webFloor);
  record(ours, floor);
  record({ ...ours, name: `${ours.name} vs WebCrypto` }, webFloor);
  // Key generation runs in libuv's thread pool: 64 at a time keep every core busy. In turns with Go's
  // crypto/x509 (GenerateKey + CreateCertificate, one goroutine, then GOMAXPROCS goroutines).
  const count = spec === 'rsa-2048' ? 16 : 2000;
  const oneAtATime = async (): Promise<number> => {
    const start = performance.now();
    for (let k = 0; k < count; k++) {
      const key = await generateKeyPair(spec);
      await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key.publicKey, issuer: ca });
    }
    return (performance.now() - start) / count;
  };
  const concurrently = async (work: () => Promise<unknown>): Promise<number> => {
    const start = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next++ < count) await work();
    }));
    return (performance.now() - start) / count;
  };
  const go = await goPeer();
  const goDir = await goInputs(ca);
  const goSamples: { single: number; parallel: number }[] = [];
  const n = count.toLocaleString('en');
  try {
    const cases: Record<string, () => Promise<number> | number> = {
      [`kubepki issuance incl. key generation (${spec}), one at a time (${n} certificates, ${ROUNDS} rounds in turns)`]: oneAtATime,
      [`kubepki issuance incl. key generation (${spec}), 64 concurrent (${n} certificates, ${ROUNDS} rounds in turns)`]: () =>
        concurrently(async () => {
          const key = await generateKeyPair(spec);
          await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key.publicKey, issuer: ca });
        }),
      [`floor (${spec}): WebCrypto generateKey + sign, 64 concurrent (${n}, ${ROUNDS} rounds in turns)`]: () =>
        concurrently(async () => {
          await crypto.subtle.generateKey(keyAlgorithm(spec), true, ['sign', 'verify']);
          await crypto.subtle.sign(ca.keyPair.spec === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' }, ca.privateKey, data);
        }),
    };
    if (go) {
      cases[`Go ${go.version} issuance incl. key generation (${spec}), one goroutine: GenerateKey + CreateCertificate (${n}, ${ROUNDS} rounds in turns)`] = () => {
        const out = runGo(go.binary, ['issue', goDir.dir, spec, String(count)]);
        goSamples.push({ single: out.single[0]!, parallel: out.parallel![0]! });
        return out.single[0]!;
      };
    }
    const [single, concurrent, webConcurrent, goSingle] = (await interleaved(ROUNDS, cases)) as [Row, Row, Row, Row | undefined];
    record(webConcurrent);
    record(concurrent, webConcurrent);
    if (go && goSingle) {
      const goAll = rowOf(`Go ${go.version} issuance incl. key generation (${spec}), GOMAXPROCS goroutines (same rounds)`, goSamples.map((sample) => sample.parallel));
      record(goSingle);
      record(goAll);
      record(single, goSingle);
      record({ ...concurrent, name: `${concurrent.name} vs Go on all cores` }, goAll);
    } else {
      record(single);
    }
  } finally {
    goDir.close();
  }
}

async function verification(): Promise<void> {
  const ca = await createCertificateAuthority();
  const key = await generateKeyPair();
  const leaf = await issueCertificate({ profile: PROFILES.server, subject: { commonName: 's' }, sans: { ips: ['10.0.0.1'] }, publicKey: key.publicKey, issuer: ca });
  const { X509Certificate } = await import('node:crypto');
  const nodeLeaf = new X509Certificate(leaf.pem);
  const nodeCa = new X509Certificate(ca.certificate.pem);
  const result = await measure({
    'kubepki verifyCertificate (server purpose, IP)': async () => {
      await verifyCertificate(leaf.pem, { roots: [ca.certificate], purpose: 'server', name: '10.0.0.1' });
    },
    'kubepki verifyCertificate with the pkijs cross-check': async () => {
      await crossCheckChain(verifyCertificate(leaf.pem, { roots: [ca.certificate], purpose: 'server', name: '10.0.0.1' }).chain);
    },
    "Node X509Certificate walk (verify + checkIP)": () => {
      nodeLeaf.verify(nodeCa.publicKey);
      nodeLeaf.checkIP('10.0.0.1');
    },
  });
  const [ours, crossChecked, node] = Object.values(result) as [Row, Row, Row];
  record(node);
  record(ours, node);
  record(crossChecked, node);
  const go = await goPeer();
  if (go) {
    const goDir = await goInputs(ca, { 'leaf.crt': leaf.pem, name: '10.0.0.1' });
    const count = 5000;
    try {
      const [kubepki, goVerify] = (await interleaved(ROUNDS, {
        [`kubepki verifyCertificate from PEM (server purpose, IP) (${count.toLocaleString('en')}, ${ROUNDS} rounds in turns)`]: () => {
          const start = performance.now();
          for (let k = 0; k < count; k++) verifyCertificate(leaf.pem, { roots: [ca.certificate], purpose: 'server', name: '10.0.0.1' });
          return (performance.now() - start) / count;
        },
        [`Go ${go.version} pem.Decode + ParseCertificate + Verify (roots, ServerAuth, IP) (same rounds)`]: () => runGo(go.binary, ['verify', goDir.dir, String(count)]).single[2]!,
      })) as [Row, Row];
      record(goVerify);
      record(kubepki, goVerify);
    } finally {
      goDir.close();
    }
  }
  const bundleInputs = await Promise.all(Array.from({ length: 10 }, async () => (await createCertificateAuthority()).certificate.pem));
  const text = bundleInputs.join('');
  const misc = await measure({
    'buildCaBundle (10 CAs from PEM)': () => void buildCaBundle([text]),
    'readPemBlocks (10 certificates)': () => void readPemBlocks(text),
  });
  for (const row of Object.values(misc)) record(row);
}

/**
 * The bootstrap of a fleet through the embedded registry, in a child process of its own (bench/fleet.mjs):
 * on the temporary folder's disk, on a memory file system (the crypto and registry work without the
 * disk's flushes), and the file stores alone on that disk (the floor the disk sets).
 *
 * Three runs each, reported as the median and every run's time. The disk runs come first and their
 * folders are removed only after all of them: ext4 without a journal (this machine's root) skips
 * inodes freed in the last 60 s, or 360 s while their table block is dirty (fs/ext4/ialloc.c,
 * recently_deleted), so creating files soon after deleting thousands scans past each of them, and a
 * run would measure the cleanup of the one before.
 */
async function fleet(nodes: number, runs = 3): Promise<void> {
  const script = fileURLToPath(new URL('./fleet.mjs', import.meta.url));
  // Each run in a folder of its own under `parent`, removed with the parent once every run is done.
  const run = async (where: string, parent: string, extra: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<void> => {
    const results: { ms: number; certificates: number; maxRssMb?: number }[] = [];
    const row = await repeated('', runs, () => {
      const dir = mkdtempSync(join(parent, 'run-'));
      const output = execFileSync(process.execPath, [...nodeFlags, script, String(nodes), ...extra, '--dir', dir], { encoding: 'utf8' });
      const result = JSON.parse(output.trim().split('\n').at(-1)!) as { ms: number; certificates: number; maxRssMb?: number };
      results.push(result);
      return result.ms / result.certificates;
    });
    const seconds = results.map((r) => (r.ms / 1000).toFixed(1)).join(', ');
    const rss = results[0]!.maxRssMb === undefined ? '' : `, peak RSS up to ${Math.max(...results.map((r) => r.maxRssMb!)).toFixed(0)} MB`;
    const what = extra.includes('--store-only')
      ? `file stores alone for ${nodes} nodes (${results[0]!.certificates} pairs)`
      : `bootstrap of ${nodes} nodes (client + serving, a new key for each CSR), CSR to file store through the embedded registry (target: under 10 s, peak RSS under 200 MB)`;
    const flags = nodeFlags.length ? `, node ${nodeFlags.join(' ')}` : '';
    rows.push({ ...row, name: `${what}, ${where}${flags}: ${seconds} s${rss}` });
  };
  const disk = mkdtempSync(join(tmpdir(), 'kubepki-fleet-'));
  try {
    await run(`on ${tmpdir()}`, disk);
    await run(`on ${tmpdir()}`, disk, ['--store-only']);
  } finally {
    rmSync(disk, { recursive: true, force: true });
  }
  if (existsSync('/dev/shm')) {
    const memory = mkdtempSync(join('/dev/shm', 'kubepki-fleet-'));
    try {
      await run('on /dev/shm (no disk)', memory);
      // The live heap of the fleet's main thread was 25 MB in a snapshot at 2,400 of 3,000 nodes; most of its RSS is V8's young
      // generation (up to 3 x 16 MB semi-spaces) and old-generation headroom: the same run with the main
      // thread's semi-spaces capped shows that share.
      await run('on /dev/shm (no disk)', memory, [], ['--max-semi-space-size=2']);
    } finally {
      rmSync(memory, { recursive: true, force: true });
    }
  }
}

function coldImport(): void {
  const runs = 5;
  let total = 0;
  for (let k = 0; k < runs; k++) {
    const start = performance.now();
    execFileSync(process.execPath, ['-e', "import('./dist/index.js')"], { stdio: 'ignore' });
    total += performance.now() - start;
  }
  const base = performance.now();
  for (let k = 0; k < runs; k++) execFileSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const nodeMs = (performance.now() - base) / runs;
  const ms = total / runs;
  rows.push({ name: 'cold import of kubepki (node -e import(dist))', opsPerSecond: 1000 / ms, medianMs: ms, minMs: ms, maxMs: ms });
  rows.push({ name: 'node -e 0 (process start, the baseline)', opsPerSecond: 1000 / nodeMs, medianMs: nodeMs, minMs: nodeMs, maxMs: nodeMs });
}

// BENCH_CASES=castep,issuance (fleet, castep, issuance, verify, import) runs some of the cases: for trying a change.
const only = process.env.BENCH_CASES?.split(',');
const runs = (name: string): boolean => !only || only.includes(name);
// First, before the cases that write and delete files (openssl ca) make the disk slow to create files.
const fleetNodes = Number(process.env.BENCH_FLEET_NODES ?? 5000);
if (runs('fleet')) await fleet(fleetNodes);
if (runs('castep')) for (const spec of ['ecdsa-p256', 'ed25519', 'rsa-2048'] as const) await caStep(spec);
if (runs('issuance')) for (const spec of ['ecdsa-p256', 'ed25519', 'rsa-2048'] as const) await issuanceWithKeys(spec);
if (runs('verify')) await verification();
if (runs('import')) coldImport();

const format = (n: number, digits = 2): string => n.toFixed(digits);
const lines = [
  `# kubepki benchmarks`,
  '',
  `Node ${process.version}, ${new Date().toISOString()}, ${time} ms per case. Medians; ratio = ops/s of the row / ops/s of its baseline, measured in this run.`,
  '',
  ...(summary.length
    ? [
        '## The CA step against Go and the floor',
        '',
        `Each CSR on a key of its own, each once a round; ${ROUNDS} rounds in turns; ops/s of the medians. The floor: node:crypto importing the CSR's key (JWK), verifying its signature and signing, nothing else.`,
        '',
        '| key | kubepki, one thread | Go, one goroutine | ratio | kubepki pool | Go, all cores | ratio | floor, one thread | one thread / floor | pool / (floor x cores) |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
        ...summary.map(
          ({ spec, ours, pooled, goSingle, goAll, floorWithImport, cores }) =>
            `| ${spec} | ${format(ours.opsPerSecond, 0)} | ${format(goSingle.opsPerSecond, 0)} | ${format(ours.opsPerSecond / goSingle.opsPerSecond)} | ${format(pooled.opsPerSecond, 0)} | ${format(goAll.opsPerSecond, 0)} | ${format(pooled.opsPerSecond / goAll.opsPerSecond)} | ${format(floorWithImport.opsPerSecond, 0)} | ${format(ours.opsPerSecond / floorWithImport.opsPerSecond)} | ${format(pooled.opsPerSecond / (floorWithImport.opsPerSecond * cores))} |`,
        ),
        '',
        '## Every case',
        '',
      ]
    : []),
  '| case | ops/s | median ms | min ms | max ms | baseline | ratio |',
  '|---|---:|---:|---:|---:|---|---:|',
  ...rows.map((r) => `| ${r.name} | ${format(r.opsPerSecond, 0)} | ${format(r.medianMs, 3)} | ${format(r.minMs, 3)} | ${format(r.maxMs, 3)} | ${r.baseline ?? ''} | ${r.ratio === undefined ? '' : format(r.ratio)} |`),
  '',
];
const resultsName = `./results/node${process.versions.node.split('.')[0]}`;
writeFileSync(new URL(`${resultsName}.md`, import.meta.url), lines.join('\n'));
writeFileSync(new URL(`${resultsName}.json`, import.meta.url), JSON.stringify({ node: process.version, at: new Date().toISOString(), summary, rows }, null, 2));
console.log(lines.join('\n'));
