// Judge: a real kubelet (1.20.2, built from Debian's `kubernetes` source by build.sh) runs its TLS bootstrap
// against `kubepki serve-bootstrap` on 127.0.0.1. The kubelet has no container runtime: it is pointed at a
// CRI socket this test holds open and never answers, so it stops in its runtime set-up (before it creates a
// cgroup, sets a sysctl or opens a port other than its own on 127.0.0.1) and stays there until it is stopped,
// which gives its certificate manager the time it needs. Everything it writes is under the case's folder.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Certificate,
  exportPrivateKeyPem,
  generateKeyPair,
  initPkiDirectory,
  issueCertificate,
  nodeSubject,
  PROFILES,
  stringifyKubeconfig,
  verifyCertificate,
} from '../../../lib/index.js';
import { loadAuthority } from '../../../lib/cluster/material.js';
import { AUTHORITY_LAYOUT } from '../../../lib/cluster/layout.js';
import { runCli } from '../../helpers/cli.js';
import { suiteTempDir } from '../../helpers/dirs.js';
import { freePort, kubeBinaries } from '../../helpers/processes.js';
import { KUBELET_SANDBOX_FLAGS, unmountUnder } from './kubelet-process.js';

const NODE = '127.0.0.1'; // kubelet 1.20 refuses --node-ip=127.0.0.1, but a node of that name works
/** serve-bootstrap's --signing-duration: the shortest lifetime the signers give (their 600 s floor). */
const SIGNING_SECONDS = 600;

let suite: { dir: string; remove: () => Promise<void> };
let dir: string;
let kubelet: string;
let token: string;
let ca: string;
let endpoint: { url: string; child: ChildProcess; log: () => string; stop: () => Promise<void> };

/** A child process whose whole output is kept (the kubelet logs with klog to stderr). */
function run(file: string, args: readonly string[]): { child: ChildProcess; log: () => string; exited: Promise<number | null>; stop: () => Promise<void> } {
  const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer): void => {
    if (log.length < 8 << 20) log += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.kill('SIGTERM');
    await exited;
    clearTimeout(timer);
  };
  return { child, log: () => log, exited, stop };
}

/**
 * The endpoint's log from offset `from` of its stderr: its request log (`kubepki: request METHOD PATH
 * BODY-TYPE ANSWER-TYPE STATUS`, without the prefix) and the approver's and signers' decisions.
 */
function endpointLog(from: number): { requests: string[]; decisions: string[] } {
  const lines = endpoint.log().slice(from).split('\n');
  return {
    requests: lines.filter((line) => line.startsWith('kubepki: request ')).map((line) => line.slice('kubepki: request '.length)),
    decisions: lines.filter((line) => line.startsWith('kubepki: ') && !line.startsWith('kubepki: request ')),
  };
}

test.before(async () => {
  kubelet = join(await kubeBinaries(), 'kubelet');
  suite = await suiteTempDir();
  dir = suite.dir;
  // The CA starts 4 hours back, so that the renewal case can hold a certificate from it that is already past
  // its rotation deadline (a certificate never starts before its CA).
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false }, { now: new Date(Date.now() - 4 * 3600_000) });
  const created = await runCli('token', 'create', '--dir', dir, '--ttl', '1h', '--json');
  assert.is(created.code, 0, created.err);
  token = (JSON.parse(created.out) as { token: string }).token;
  ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
  const server = run(process.execPath, ['--import', 'tsx', 'lib/cli.ts', 'serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--signing-duration', `${SIGNING_SECONDS}s`, '--log-requests']);
  const url = await new Promise<string>((resolve, reject) => {
    const look = (): void => {
      const match = /https:\/\/127\.0\.0\.1:\d+/.exec(server.log());
      if (match) resolve(match[0]);
    };
    server.child.stdout!.on('data', look);
    void server.exited.then((code) => reject(new Error(`serve-bootstrap exited ${code}: ${server.log()}`)));
  });
  endpoint = { url, child: server.child, log: server.log, stop: server.stop };
});

test.after(async () => {
  await endpoint?.stop();
  await suite?.remove();
});

/**
 * A CRI socket that completes the HTTP/2 handshake (an empty SETTINGS frame and an acknowledgement of the
 * client's) and then answers nothing: the kubelet's first runtime call (Version) waits there for
 * --runtime-request-timeout. Without the handshake gRPC gives up after 20 s and the kubelet exits.
 */
async function silentRuntime(path: string): Promise<{ close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const settings = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const settingsAck = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.write(Buffer.concat([settings, settingsAck]));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface KubeletCase {
  name: string;
  rotate: boolean;
  json: boolean;
}

interface KubeletRun {
  folder: string;
  log: () => string;
  requests: () => string[];
  decisions: () => string[];
  exited: Promise<number | null>;
  child: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Starts the real kubelet on a folder of its own: bootstrap kubeconfig, cert dir, root dir, a CRI socket
 * that never answers, its ports on 127.0.0.1 (the kubelet's own server on a free port; read-only and healthz
 * ports off). `fresh` writes the bootstrap kubeconfig and an empty cert dir first.
 */
async function startKubelet(c: KubeletCase, fresh = true): Promise<KubeletRun> {
  const folder = join(dir, c.name);
  const from = endpoint.log().length;
  if (fresh) {
    await mkdir(join(folder, 'pki'), { recursive: true });
    await writeFile(join(folder, 'bootstrap-kubelet.conf'), stringifyKubeconfig({ clusterName: 'kubernetes', server: endpoint.url, caPem: ca, userName: 'tls-bootstrap-token-user', token }), { mode: 0o600 });
  }
  const runtime = await silentRuntime(join(folder, 'cri.sock'));
  const args = [
    `--bootstrap-kubeconfig=${join(folder, 'bootstrap-kubelet.conf')}`,
    `--kubeconfig=${join(folder, 'kubelet.conf')}`,
    `--cert-dir=${join(folder, 'pki')}`,
    `--root-dir=${join(folder, 'root')}`,
    `--volume-plugin-dir=${join(folder, 'volume-plugins')}`,
    `--hostname-override=${NODE}`,
    ...(c.json ? ['--kube-api-content-type=application/json'] : []),
    ...(c.rotate ? ['--rotate-certificates'] : []),
    '--container-runtime=remote',
    `--container-runtime-endpoint=unix://${join(folder, 'cri.sock')}`,
    '--runtime-request-timeout=10m',
    ...KUBELET_SANDBOX_FLAGS,
    `--port=${await freePort()}`,
  ];
  const process_ = run(kubelet, args);
  const stop = async (): Promise<void> => {
    await process_.stop();
    await runtime.close();
    await unmountUnder(join(folder, 'root'));
  };
  return { folder, log: process_.log, requests: () => endpointLog(from).requests, decisions: () => endpointLog(from).decisions, exited: process_.exited, child: process_.child, stop };
}

/** The kubelet's own log lines (klog: `I1206 01:02:03.456789 ...`), without the goroutine dump of a fatal exit. */
function klogLines(log: string): string[] {
  return log.split('\n').filter((line) => /^[IWEF]\d{4} /.test(line));
}

/** The certificate (first PEM block) of the kubelet's kubelet-client-current.pem, once it is there. */
async function waitForClientCertificate(k: KubeletRun, seconds: number, other?: string): Promise<Certificate> {
  const path = join(k.folder, 'pki', 'kubelet-client-current.pem');
  const deadline = Date.now() + seconds * 1000;
  let exitCode: number | null | undefined;
  void k.exited.then((code) => (exitCode = code));
  while (Date.now() < deadline) {
    const pem = await readFile(path, 'utf8').catch(() => '');
    if (pem.includes('-----END CERTIFICATE-----')) {
      const certificate = Certificate.fromPemBundle(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 25))[0]!;
      if (certificate.serialNumber !== other) return certificate;
    }
    if (exitCode !== undefined) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `no ${other ? 'new ' : ''}kubelet-client-current.pem after ${seconds}s (kubelet ${exitCode === undefined ? 'running' : `exited ${exitCode}`})\n` +
      `--- kubelet log (klog lines, goroutine dumps left out) ---\n${klogLines(k.log()).slice(-60).join('\n')}\n--- request log ---\n${summarizedRequestLog(k).join('\n')}\n--- decisions ---\n${k.decisions().join('\n')}`,
  );
}

/** The client certificate as kube-apiserver would take it: chains to pki/ca.crt for client auth, node identity. */
async function assertNodeClientCertificate(certificate: Certificate): Promise<void> {
  const { chain } = await verifyCertificate(certificate, { roots: [ca], purpose: 'client' });
  assert.is(chain.length, 2);
  assert.equal(certificate.subject, { commonName: `system:node:${NODE}`, organizations: ['system:nodes'] });
}

/**
 * The kubelet's certificate manager logs "Certificate expiration is X, rotation deadline is Y" and "Waiting D
 * for next certificate rotation" once it holds a certificate: X is this certificate's NotAfter and Y lies at
 * 70-90% of its validity, as client-go's nextRotationDeadline draws it.
 */
async function assertRotationScheduled(k: KubeletRun, certificate: Certificate): Promise<void> {
  const goTime = (text: string): number => Date.parse(text.replace(/^(\S+) (\S+?)(\.\d+)? ([+-]\d{4}) UTC$/, '$1T$2$3Z'));
  // Only what follows the manager's last "Rotating certificates" (the request that got this certificate).
  const since = (): string => k.log().slice(k.log().lastIndexOf('Rotating certificates'));
  const find = (): RegExpMatchArray[] => [...since().matchAll(/Certificate expiration is (.+?), rotation deadline is (.+?)\n/g)];
  for (let i = 0; i < 40 && !find().some((m) => goTime(m[1]!) === certificate.notAfter.getTime()); i++) await new Promise((r) => setTimeout(r, 250));
  const log = since();
  const lines = find();
  const scheduled = lines.find((m) => goTime(m[1]!) === certificate.notAfter.getTime());
  assert.ok(scheduled, `no rotation deadline for the certificate expiring ${certificate.notAfter.toISOString()} in the kubelet's log:\n${lines.map((m) => m[0]).join('')}`);
  const start = certificate.notBefore.getTime();
  const lifetime = certificate.notAfter.getTime() - start;
  const fraction = (goTime(scheduled![2]!) - start) / lifetime;
  assert.ok(fraction >= 0.7 && fraction <= 0.9, `rotation deadline at ${(fraction * 100).toFixed(1)}% of the lifetime`);
  assert.match(log, /Waiting \S+ for next certificate rotation/);
}

/**
 * With KUBEPKI_TEST_REQUEST_LOG set, prints the kubelet's certificate lines and the endpoint's request log of a case: every certificates.k8s.io
 * request, and a count of the rest (the kubelet's Node, Pod and Service informers, which the endpoint does
 * not serve: 401 before the kubelet has a certificate, 404 after).
 */
function printRequestLog(name: string, k: KubeletRun): void {
  if (!process.env.KUBEPKI_TEST_REQUEST_LOG) return;
  const certificateLines = klogLines(k.log()).filter((line) => / (certificate_manager|certificate_store|csr|bootstrap|transport)\.go:\d+\]|Client rotation|client certificate rotation/.test(line));
  process.stderr.write(`\n[${name}] request log:\n${summarizedRequestLog(k).join('\n')}\n[${name}] decisions:\n${k.decisions().join('\n')}\n[${name}] kubelet:\n${certificateLines.join('\n')}\n`);
}

/** The case's request log: every request but the informers' (/api/v1/...), which are counted by path and status. */
function summarizedRequestLog(k: KubeletRun): string[] {
  const lines = k.requests();
  const others = new Map<string, number>();
  for (const line of lines.filter((l) => l.includes(' /api/v1/'))) {
    const key = line.replace(/\?\S*/, '');
    others.set(key, (others.get(key) ?? 0) + 1);
  }
  return [...lines.filter((line) => !line.includes(' /api/v1/')), ...[...others].map(([line, count]) => `${count} x ${line}`)];
}

const cases: (KubeletCase & { title: string })[] = [
  { name: 'json', rotate: false, json: true, title: 'JSON, no rotation: the kubelet gets its client certificate (a node-csr-* CSR) from serve-bootstrap' },
  { name: 'rotate-protobuf', rotate: true, json: false, title: 'rotation on, protobuf: the certificate manager gets its client certificate and schedules rotation at 70-90%' },
  { name: 'rotate-json', rotate: true, json: true, title: 'rotation on, JSON: the certificate manager gets its client certificate and schedules rotation at 70-90%' },
];

for (const c of cases) {
  test(c.title, async () => {
    const k = await startKubelet(c);
    try {
      const certificate = await waitForClientCertificate(k, 60);
      await assertNodeClientCertificate(certificate);
      assert.ok(certificate.notAfter.getTime() - certificate.notBefore.getTime() <= (SIGNING_SECONDS + 300) * 1000, '--signing-duration bounds the lifetime');
      assert.match(await readlink(join(k.folder, 'pki', 'kubelet-client-current.pem')), /kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$/);
      const kubeconfig = await readFile(join(k.folder, 'kubelet.conf'), 'utf8');
      assert.ok(kubeconfig.includes(join(k.folder, 'pki', 'kubelet-client-current.pem')), 'kubelet.conf points at the cert dir');
      const created = k.requests().filter((line) => /^POST \/apis\/certificates\.k8s\.io\/v1(beta1)?\/certificatesigningrequests /.test(line));
      assert.ok(created.length >= 1, `the kubelet created a CSR: ${k.requests().join('\n')}`);
      if (c.json) assert.ok(created.every((line) => line.includes('application/json')), created.join('\n'));
      else assert.ok(created.every((line) => line.includes('application/vnd.kubernetes.protobuf')), created.join('\n'));
      assert.ok(k.decisions().some((line) => /: approve \(Auto approving kubelet client certificate/.test(line)), `approved as a bootstrap: ${k.decisions().join('\n')}`);
      if (c.rotate) await assertRotationScheduled(k, certificate);
      printRequestLog(c.name, k);
    } finally {
      await k.stop();
    }
    assert.equal(await unmountUnder(join(k.folder, 'root')), [], 'nothing is left mounted under the root dir');
    await rm(k.folder, { recursive: true, force: true });
  });
}

test('rotation: a kubelet whose client certificate is past its rotation deadline renews it at start, as the node', async () => {
  // A 10-minute certificate from serve-bootstrap reaches its deadline after 7-9 minutes: too long to wait in
  // a test. Instead the kubelet starts with a certificate from pki/ca.crt that is already past its deadline
  // (valid from 3 hours ago for 3 hours 15 minutes: 70-90% of that lies 2h16m to 2h56m after its start) and
  // must renew it at once, authenticated by that certificate, not by the bootstrap token.
  const c: KubeletCase = { name: 'renew', rotate: true, json: false };
  const folder = join(dir, c.name);
  const authority = await loadAuthority(dir, AUTHORITY_LAYOUT.find((e) => e.name === 'ca')!);
  const key = await generateKeyPair();
  const old = await issueCertificate({
    profile: PROFILES.kubeletClient,
    subject: nodeSubject(NODE),
    publicKey: key.publicKey,
    issuer: { certificate: authority.certificate.pem, privateKey: authority.privateKey },
    validity: { backdateSeconds: 3 * 3600, lifetimeSeconds: 900 },
  });
  await mkdir(join(folder, 'pki'), { recursive: true });
  // The kubelet's certificate store: kubelet-client-<time>.pem (certificate and key) and the
  // kubelet-client-current.pem symlink to it, which it replaces when it renews.
  const stamp = old.notBefore.toISOString().slice(0, 19).replace(/[T:]/g, '-');
  await writeFile(join(folder, 'pki', `kubelet-client-${stamp}.pem`), `${old.pem}${await exportPrivateKeyPem(key)}`, { mode: 0o600 });
  await symlink(join(folder, 'pki', `kubelet-client-${stamp}.pem`), join(folder, 'pki', 'kubelet-client-current.pem'));
  await writeFile(join(folder, 'bootstrap-kubelet.conf'), stringifyKubeconfig({ clusterName: 'kubernetes', server: endpoint.url, caPem: ca, userName: 'tls-bootstrap-token-user', token }), { mode: 0o600 });
  await writeFile(
    join(folder, 'kubelet.conf'),
    stringifyKubeconfig({ clusterName: 'kubernetes', server: endpoint.url, caPem: ca, userName: 'default-auth', clientCertificateFile: join(folder, 'pki', 'kubelet-client-current.pem'), clientKeyFile: join(folder, 'pki', 'kubelet-client-current.pem') }),
    { mode: 0o600 },
  );
  const k = await startKubelet(c, false);
  try {
    const renewed = await waitForClientCertificate(k, 60, old.serialNumber);
    await assertNodeClientCertificate(renewed);
    assert.ok(renewed.notBefore.getTime() > old.notBefore.getTime(), 'a new certificate');
    assert.match(k.log(), /Rotating certificates/);
    // The approver's selfnodeclient rule: the CSR came from system:node:127.0.0.1, not from the token.
    assert.ok(k.decisions().some((line) => /: approve \(Auto approving self kubelet client certificate/.test(line)), `approved as the node's renewal: ${k.decisions().join('\n')}`);
    await assertRotationScheduled(k, renewed);
    printRequestLog(c.name, k);
  } finally {
    await k.stop();
  }
  assert.equal(await unmountUnder(join(k.folder, 'root')), []);
  await rm(folder, { recursive: true, force: true });
});

test.run();
