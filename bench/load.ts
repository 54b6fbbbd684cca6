// The bootstrap endpoint under load: `kubepki serve-bootstrap` (a process of its own, the registry
// persisted) against autocannon with 200 connections for 30 s, half the requests reading a CSR, half
// creating one (each of which the approver and the signer then handle). Prints and writes
// bench/results/load.md:   node --import tsx bench/load.ts [--connections 200] [--duration 30]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TLSSocket } from 'node:tls';
import autocannon, { type Client, type Request, type Result } from 'autocannon';
import { createCsr, generateKeyPair, initPkiDirectory, nodeSubject } from '../lib/index.js';
import { csrObject } from '../lib/bootstrap/csr-object.js';
import { runCli } from '../test/helpers/cli.js';

const PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface LoadResult {
  readonly connections: number;
  readonly seconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number };
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  /** POSTs sent during the run, and those answered 201 Created (a CSR stored; in flight at the end: the difference). */
  readonly createsSent: number;
  /** TLS connections whose server certificate verified against the cluster CA; every one must. */
  readonly verifiedConnections: number;
  readonly unverifiedConnections: number;
  /** CSRs created, the one made before the run included. */
  readonly created: number;
}

/** Starts serve-bootstrap on a fresh PKI directory and runs the load against it. */
export async function runLoad(options: { connections: number; seconds: number; createsPrepared?: number }): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kubepki-load-'));
  let server: ChildProcess | undefined;
  try {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const { token } = JSON.parse((await runCli('token', 'create', '--dir', dir, '--ttl', '1h', '--json')).out) as { token: string };
    const ca = readFileSync(join(dir, 'pki/ca.crt'), 'utf8');
    server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib/cli.ts'), 'serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--max-pending-per-requester', '0'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const port = await new Promise<number>((resolve, reject) => {
      server!.stdout!.on('data', (chunk: Buffer) => {
        const match = /https:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString());
        if (match) resolve(Number(match[1]));
      });
      server!.once('exit', (code) => reject(new Error(`serve-bootstrap exited ${code}`)));
    });
    // CSR objects for the creates, prepared beforehand (one key, a subject each).
    const key = await generateKeyPair();
    const creates = await Promise.all(
      Array.from({ length: options.createsPrepared ?? options.connections * options.seconds * 10 }, async (_, i) =>
        JSON.stringify(csrObject(`load-${i}`, (await createCsr({ keyPair: key, subject: nodeSubject(`load-${i}`) })).pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth'])),
      ),
    );
    const headers = { authorization: `Bearer ${token}` };
    const first = await verifiedRequest(port, ca, 'POST', PREFIX, headers, creates[0]!);
    if (first !== 201) throw new Error(`the first create answered ${first}`);
    let next = 1;
    const requests: Request[] = [
      { method: 'GET', path: `${PREFIX}/load-0`, headers },
      {
        method: 'POST',
        path: PREFIX,
        headers: { ...headers, 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: creates[next++ % creates.length] }),
      },
    ];
    let verified = 0;
    let unverified = 0;
    let created = 1;
    const result: Result = await autocannon({
      url: `https://127.0.0.1:${port}`,
      connections: options.connections,
      duration: options.seconds,
      timeout: 10,
      requests,
      // autocannon 9 connects with rejectUnauthorized: false whatever it is given; with the CA given,
      // Node still decides each connection's `authorized`, which is checked here for every connection.
      tlsOptions: { ca },
      setupClient: (client: Client) => {
        client.on('response', (status) => status === 201 && created++);
        const inner = client as unknown as { _connect: () => void; conn?: TLSSocket };
        const connect = inner._connect.bind(client);
        inner._connect = () => {
          connect();
          inner.conn?.once('secureConnect', () => (inner.conn!.authorized ? verified++ : unverified++));
        };
      },
    });
    if (next > creates.length) throw new Error('more creates than CSR objects prepared: the later ones were refused as duplicates');
    return {
      connections: options.connections,
      seconds: result.duration,
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
      errors: result.errors,
      timeouts: result.timeouts,
      non2xx: result.non2xx,
      verifiedConnections: verified,
      unverifiedConnections: unverified,
      createsSent: next - 1,
      created,
    };
  } finally {
    server?.kill('SIGTERM');
    if (server && server.exitCode === null) await new Promise((r) => server!.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

function verifiedRequest(port: number, ca: string, method: string, path: string, headers: Record<string, string>, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, ca, headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { connections: { type: 'string', default: '200' }, duration: { type: 'string', default: '30' } } });
  const result = await runLoad({ connections: Number(values.connections), seconds: Number(values.duration) });
  const table = [
    '# Bootstrap endpoint under load',
    '',
    `${new Date().toISOString()}, \`node --import tsx bench/load.ts --connections ${result.connections} --duration ${values.duration}\`: \`kubepki serve-bootstrap\` with its registry persisted, autocannon on 127.0.0.1, half GET of a CSR, half creating one.`,
    '',
    '| connections | seconds | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors | timeouts | non-2xx | creates sent / CSRs created | TLS connections verified / unverified |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|',
    `| ${result.connections} | ${result.seconds.toFixed(1)} | ${result.requests} | ${Math.round(result.requestsPerSecond)} | ${result.latencyMs.p50} | ${result.latencyMs.p90} | ${result.latencyMs.p99} | ${result.latencyMs.max} | ${result.errors} | ${result.timeouts} | ${result.non2xx} | ${result.createsSent} / ${result.created} | ${result.verifiedConnections} / ${result.unverifiedConnections} |`,
    '',
  ].join('\n');
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/load.md'), table);
  console.log(table);
  if (result.errors || result.timeouts || result.non2xx || result.unverifiedConnections) process.exitCode = 1;
}
