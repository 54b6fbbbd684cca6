// 1,000 concurrent CSR submissions to `kubepki serve-bootstrap` (HTTPS, bootstrap token, the registry
// persisted in the PKI directory), with the server killed -9 half-way through and started again: nothing accepted is lost, nothing is issued twice, what was issued stays as it was, what was
// pending is still there and gets issued, and every serial is unique.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, createCsr, csrObject, generateKeyPair, initPkiDirectory, nodeSubject, type CertificateSigningRequestObject } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

const COUNT = Number(process.env.KUBEPKI_CONCURRENT_CSRS ?? 1000);
const PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

interface Server {
  child: ChildProcess;
  port: number;
  issued: string[];
  log: () => string;
}

function startServer(dir: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', 'serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const issued: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString();
    for (const match of chunk.toString().matchAll(/kubepki: (node-csr-\d+): issued/g)) issued.push(match[1]!);
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /https:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString());
      if (match) resolve({ child, port: Number(match[1]), issued, log: () => log.slice(-4000) });
    });
    child.once('exit', (code, signal) => reject(new Error(`serve-bootstrap exited ${code ?? signal}: ${log.slice(-4000)}`)));
  });
}

async function onDisk(dir: string): Promise<Map<string, CertificateSigningRequestObject>> {
  const folder = join(dir, 'csrs');
  const out = new Map<string, CertificateSigningRequestObject>();
  for (const file of (await readdir(folder)).filter((f) => f.endsWith('.json'))) {
    const object = JSON.parse(await readFile(join(folder, file), 'utf8')) as CertificateSigningRequestObject;
    out.set(object.metadata.name, object);
  }
  return out;
}

test(`${COUNT} concurrent CSRs, a kill -9 in the middle and a restart: nothing lost, nothing issued twice`, async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const created = await runCli('token', 'create', '--dir', dir, '--ttl', '1h', '--json');
    const { token } = JSON.parse(created.out) as { token: string };
    const ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
    const objects = await Promise.all(
      Array.from({ length: COUNT }, async (_, i) => csrObject(`node-csr-${i}`, (await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject(`node-${i}`) })).pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth'])),
    );
    let server = await startServer(dir);
    const first = server;
    let resumeRestart!: (s: Server) => void;
    const restarted = new Promise<Server>((r) => (resumeRestart = r));
    // Few sockets, so that submissions are still arriving when the server is killed.
    const agent = new Agent({ keepAlive: true, maxSockets: 4, ca });
    const post = (port: number, body: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: PREFIX, agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const outcomes = new Map<string, number>();
    let retries = 0;
    const submit = async (object: CertificateSigningRequestObject): Promise<void> => {
      const body = JSON.stringify(object);
      for (let attempt = 0; ; attempt++) {
        const target = attempt === 0 ? first : await restarted;
        try {
          const status = await post(target.port, body);
          // A retry of a request the killed server had stored already finds it there.
          outcomes.set(object.metadata.name, attempt > 0 && status === 409 ? 201 : status);
          return;
        } catch {
          retries++;
          await new Promise((r) => setTimeout(r, 50));
          assert.ok(attempt < 200, `${object.metadata.name} never got through`);
        }
      }
    };
    const submissions = Promise.all(objects.map(submit));
    // Kill -9 in the middle: half the submissions answered (some of them issued, some pending, the rest
    // still to come or in flight); take the registry as it is on disk; start again.
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (outcomes.size >= COUNT / 2 && first.issued.length > 0) {
          clearInterval(poll);
          resolve();
        }
      }, 5);
      first.child.once('exit', () => reject(new Error(`the server stopped early: ${first.log()}`)));
    });
    const outcomesAtKill = outcomes.size;
    first.child.removeAllListeners('exit');
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const atKill = await onDisk(dir);
    const issuedAtKill = [...atKill.values()].filter((o) => o.status?.certificate);
    const pendingAtKill = [...atKill.values()].filter((o) => !o.status?.certificate);
    server = await startServer(dir);
    resumeRestart(server);
    await submissions;
    // Every submission got through, and every CSR gets its certificate.
    assert.equal([...outcomes.values()].filter((s) => s !== 201), [], 'every submission accepted');
    const deadline = Date.now() + 120_000;
    let final = await onDisk(dir);
    while ([...final.values()].filter((o) => o.status?.certificate).length < COUNT && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      final = await onDisk(dir);
    }
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    agent.destroy();

    assert.is(final.size, COUNT, 'one object per CSR, none lost, none duplicated');
    const serials = new Set<string>();
    for (const object of final.values()) {
      assert.ok(object.status?.certificate, `${object.metadata.name} issued`);
      const pems = Buffer.from(object.status.certificate, 'base64').toString();
      const [certificate, ...more] = Certificate.fromPemBundle(pems);
      assert.is(more.length, 0);
      assert.is(certificate!.subject.commonName, `system:node:${object.metadata.name.replace('node-csr-', 'node-')}`);
      serials.add(certificate!.serialNumber);
    }
    assert.is(serials.size, COUNT, 'every serial unique');
    for (const before of issuedAtKill) assert.is(final.get(before.metadata.name)!.status!.certificate, before.status!.certificate, `${before.metadata.name} kept its certificate`);
    for (const before of pendingAtKill) assert.ok(final.has(before.metadata.name), `${before.metadata.name} was pending at the kill and is still there`);
    const logged = [...first.issued, ...server.issued];
    assert.is(new Set(logged).size, logged.length, 'no CSR was issued by both servers');
    console.log(`${COUNT} CSRs: killed after ${first.issued.length} issued and ${outcomesAtKill} answered; on disk at the kill ${atKill.size} (${issuedAtKill.length} issued, ${pendingAtKill.length} pending); ${retries} client retries; after the restart ${server.issued.length} issued`);
  });
});

test.run();
