// Judge: client-go 0.32's certificate code (k8s.io/client-go/util/certificate/csr and the certificate
// manager, what the modern kubelet runs for its client certificate), built from Debian trixie's
// packages by test/interop/clientgo/build.sh, against `kubepki serve-bootstrap` on 127.0.0.1, with the
// client speaking JSON and then protobuf. See test/interop/clientgo/main.go for the two steps.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  Certificate,
  certificateIdentity,
  formatBootstrapToken,
  generateBootstrapToken,
  importPrivateKeyPem,
  initPkiDirectory,
  memoryRegistry,
  memoryTokenStore,
  startApprover,
  startBootstrapServer,
  startSigner,
  stringifyKubeconfig,
  verifyCertificate,
  writeFileAtomic,
  type Controller,
  type RequestLogEntry,
} from '../../lib/index.js';
import { endpointServingCertificate } from '../../lib/bootstrap/endpoint-certificate.js';
import { runCli } from '../helpers/cli.js';
import { suiteTempDir } from '../helpers/dirs.js';

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

interface Exchange {
  step: string;
  method: string;
  path: string;
  requestContentType?: string;
  accept?: string;
  status?: number;
  responseContentType?: string;
  body?: string;
  error?: string;
}
interface JudgeCert {
  subject: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  extKeyUsage: string[];
  verifyError: string;
}
interface JudgeSummary {
  contentType: string;
  csr?: { name: string; uid: string; certificate?: JudgeCert; certFile?: string; keyFile?: string };
  manager?: { bootstrap?: JudgeCert; rotated?: JudgeCert; currentFile?: string; log: string[] };
  exchanges: Exchange[];
  error?: string;
}

interface Context {
  binary: string;
  dir: string;
  remove: () => Promise<void>;
  server: ChildProcess;
  serverLog: string;
  bootstrap: string;
  ca: string;
}

const ClientGo = suite<Context>('client-go 0.32 against serve-bootstrap');

ClientGo.before(async (context) => {
  const script = join(root, 'test/interop/clientgo/build.sh');
  const built = await execFileAsync(script, [], { timeout: 20 * 60_000, maxBuffer: 64 << 20 });
  context.binary = built.stdout.trim().split('\n').pop()!;
  const { dir, remove } = await suiteTempDir();
  Object.assign(context, { dir, remove, serverLog: '' });
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
  const created = await runCli('token', 'create', '--dir', dir, '--ttl', '1h', '--json');
  assert.is(created.code, 0, created.err);
  const { token } = JSON.parse(created.out) as { token: string };
  const server = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', 'serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--signer-workers', '1'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  context.server = server;
  server.stderr!.on('data', (c: Buffer) => (context.serverLog += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout!.on('data', (c: Buffer) => {
      const match = /https:\/\/127\.0\.0\.1:\d+/.exec(c.toString());
      if (match) resolve(match[0]);
    });
    server.on('exit', (code) => reject(new Error(`serve-bootstrap exited ${code}: ${context.serverLog}`)));
  });
  context.ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
  context.bootstrap = join(dir, 'bootstrap-kubelet.conf');
  await writeFileAtomic({ path: context.bootstrap, content: stringifyKubeconfig({ clusterName: 'kubepki', server: url, caPem: context.ca, userName: 'kubelet-bootstrap', token }), mode: 0o600 });
});

ClientGo.after(async (context) => {
  const { server } = context;
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  await context.remove?.();
});

/** One line per HTTP exchange: "manager GET /apis/...?watch=true [application/json] -> 200 application/json". */
function exchangeLines(summary: JudgeSummary): string {
  return summary.exchanges
    .map((e) => `  ${e.step} ${e.method} ${e.path} [${e.requestContentType || '-'}; accept ${e.accept || '-'}] -> ${e.error ? `error ${e.error}` : `${e.status} ${e.responseContentType || '-'}`}${e.body ? ` ${e.body}` : ''}`)
    .join('\n');
}

async function runJudge(context: Context, contentType: string, node: string): Promise<{ summary: JudgeSummary; code: number; stderr: string }> {
  const certDir = join(context.dir, node, 'pki');
  const args = ['-bootstrap-kubeconfig', context.bootstrap, '-cert-dir', certDir, '-node-name', node, '-content-type', contentType, '-timeout', '30s'];
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(context.binary, args, { timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
  let summary: JudgeSummary;
  try {
    summary = JSON.parse(result.stdout) as JudgeSummary;
  } catch {
    throw new Error(`the client-go judge printed no summary (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
  // The exchanges are the report: printed here when the run worked, in the assertion's message when not.
  if (result.code === 0) console.log(`client-go ${contentType}:\n${exchangeLines(summary)}`);
  return { summary, code: result.code, stderr: result.stderr };
}

async function assertClientCertificate(context: Context, pem: string, node: string, what: string): Promise<void> {
  // kubelet-client-current.pem holds the key after the certificate: only the CERTIFICATE blocks are read.
  const certificates = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  assert.ok(certificates.length > 0, `${what} holds no certificate`);
  const leaf = Certificate.fromPemBundle(certificates.join('\n'))[0]!;
  try {
    await verifyCertificate(leaf, { roots: [context.ca], purpose: 'client' });
  } catch (error) {
    assert.unreachable(`${what} does not verify against pki/ca.crt for client auth: ${String(error)}`);
  }
  const identity = certificateIdentity(leaf);
  assert.is(identity?.username, `system:node:${node}`, what);
  assert.equal(identity?.groups, ['system:nodes'], what);
}

for (const [contentType, node] of [
  ['application/json', 'node-json'],
  ['application/vnd.kubernetes.protobuf', 'node-protobuf'],
] as const) {
  ClientGo(`csr.RequestCertificate, WaitForCertificate and the certificate manager speaking ${contentType}`, async (context) => {
    const { summary, code, stderr } = await runJudge(context, contentType, node);
    if (code !== 0) {
      // Name what the endpoint refused, so that the failure says which part of the API is missing.
      const refused = summary.exchanges.filter((e) => e.error || (e.status !== undefined && e.status >= 400));
      const first = refused[0];
      const why = first
        ? `the endpoint answered ${first.method} ${first.path} (${first.requestContentType || 'no body'}) with ${first.error ?? `${first.status} ${first.body ?? ''}`}`
        : 'no HTTP exchange failed';
      const tail = (label: string, text: string): string => (text.trim() ? `\n${label} (last 2000 characters):\n${text.slice(-2000)}` : '');
      assert.unreachable(
        `client-go (${contentType}) did not get its certificates: ${summary.error ?? `exit ${code}`}\n${why}\nexchanges:\n${exchangeLines(summary)}` +
          tail('client-go stderr', stderr) +
          tail('serve-bootstrap log', context.serverLog),
      );
    }
    // Step csr: generateName "csr-", the kubelet client signer, list then watch by field selector.
    assert.match(summary.csr!.name, /^csr-[a-z0-9]+$/);
    assert.ok(summary.csr!.uid, 'the created CSR has a uid');
    const post = summary.exchanges.find((e) => e.step === 'csr' && e.method === 'POST');
    assert.is(post?.requestContentType, contentType, 'client-go posted the CSR in the content type it was given');
    assert.is(post?.status, 201);
    assert.ok(post?.responseContentType?.startsWith(contentType), `the endpoint answered the POST in ${contentType}, not ${post?.responseContentType}`);
    const watched = summary.exchanges.find((e) => e.step === 'csr' && e.method === 'GET' && /[?&]watch=true/.test(e.path));
    assert.ok(watched, 'WaitForCertificate watched the CSR');
    assert.match(watched!.path, /[?&]resourceVersion=[1-9][0-9]*(&|$)/, 'the watch resumes from the list’s resourceVersion');
    assert.is(watched!.status, 200);
    assert.ok(watched!.responseContentType?.startsWith(contentType), `the watch streams ${contentType}, not ${watched!.responseContentType}`);
    assert.is(summary.csr!.certificate!.verifyError, '', 'Go verifies the issued certificate for client auth');
    await assertClientCertificate(context, await readFile(summary.csr!.certFile!, 'utf8'), node, 'the certificate csr.WaitForCertificate returned');

    // Step manager: the bootstrap pair replaced at once by a certificate requested with the node's own
    // certificate, for the requested 10 minutes.
    const { bootstrap, rotated, currentFile } = summary.manager!;
    assert.is(bootstrap!.serial, summary.csr!.certificate!.serial);
    assert.ok(rotated && rotated.serial !== bootstrap!.serial, 'the manager rotated its bootstrap certificate');
    assert.is(rotated!.verifyError, '');
    const lifetime = (Date.parse(rotated!.notAfter) - Date.parse(rotated!.notBefore)) / 1000;
    assert.ok(lifetime <= 15 * 60, `the rotated certificate honours expirationSeconds 600 (lifetime ${lifetime}s)`);
    assert.ok(summary.exchanges.some((e) => e.step === 'manager' && e.method === 'POST' && e.status === 201), 'the manager posted its own CSR');
    // The manager asked with the node's certificate, not the token: the approver saw the node renewing itself.
    const managerCsr = summary.exchanges.map((e) => (e.step === 'manager' ? /fieldSelector=metadata\.name%3D([a-z0-9-]+)/.exec(e.path)?.[1] : undefined)).find(Boolean);
    assert.ok(managerCsr, 'the manager waited for its CSR by name');
    assert.ok(context.serverLog.includes(`${managerCsr}: approve (Auto approving self kubelet client certificate`), `serve-bootstrap approved ${managerCsr} as the node's own renewal:\n${context.serverLog.slice(-2000)}`);
    await assertClientCertificate(context, await readFile(currentFile!, 'utf8'), node, 'the certificate manager’s kubelet-client-current.pem');
  });
}

// The certificate arrives on the watch: an endpoint whose approver and signer start only after client-go has
// listed the pending CSR, so WaitForCertificate must take it from the watch stream (JSON lines or protobuf frames).
for (const [contentType, node] of [
  ['application/json', 'late-json'],
  ['application/vnd.kubernetes.protobuf', 'late-protobuf'],
] as const) {
  ClientGo(`the certificate reaches WaitForCertificate on the watch, ${contentType}`, async (context) => {
    const key = await importPrivateKeyPem(await readFile(join(context.dir, 'pki/ca.key'), 'utf8'));
    const ca = { certificate: context.ca, privateKey: key.privateKey };
    const registry = await memoryRegistry();
    const token = generateBootstrapToken();
    const requests: RequestLogEntry[] = [];
    // The server's watches, counted as it opens them (its request log has a watch only once it ends).
    let watches = 0;
    const server = await startBootstrapServer({
      registry: { ...registry, watch: (listener, options) => (watches++, registry.watch(listener, options)) },
      tokens: memoryTokenStore([bootstrapTokenSecret(token)]),
      tls: { ...(await endpointServingCertificate(ca, ['127.0.0.1'])), clientCa: context.ca },
      onRequest: (entry) => requests.push(entry),
    });
    const controllers: Controller[] = [];
    const bootstrap = join(context.dir, `${node}-bootstrap.conf`);
    await writeFileAtomic({ path: bootstrap, content: stringifyKubeconfig({ clusterName: 'late', server: server.url, caPem: context.ca, userName: 'kubelet-bootstrap', token: formatBootstrapToken(token) }), mode: 0o600 });
    try {
      // Approve and sign only once client-go is watching its pending CSR (WaitForCertificate lists, then watches).
      const watching = (async () => {
        for (let i = 0; i < 600 && watches === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
        controllers.push(await startApprover(registry), await startSigner(registry, { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: ca }));
      })();
      const { summary, code, stderr } = await runJudge({ ...context, bootstrap }, contentType, node);
      await watching;
      const state = JSON.stringify((await registry.list()).map((o) => [o.metadata.name, o.spec.username, (o.status?.conditions ?? []).map((c) => c.type), Boolean(o.status?.certificate)]));
      assert.is(code, 0, `${summary.error ?? ''}\n${exchangeLines(summary)}\n${stderr.slice(-2000)}\nregistry: ${state}\nrequests: ${JSON.stringify(requests)}`);
      const watch = summary.exchanges.find((e) => e.step === 'csr' && /[?&]watch=true/.test(e.path));
      assert.ok(watch?.responseContentType?.startsWith(contentType), exchangeLines(summary));
      const logged = requests.find((r) => r.path.includes('watch=true'));
      assert.ok(logged, 'the endpoint logged the watch');
      await assertClientCertificate(context, await readFile(summary.csr!.certFile!, 'utf8'), node, 'the certificate that arrived on the watch');
    } finally {
      for (const controller of controllers) controller.stop();
      await server.close();
    }
  });
}

ClientGo.run();
