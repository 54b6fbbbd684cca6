// 1,000 kubelets' client CSRs submitted concurrently to `kubepki serve-bootstrap` (a child process;
// HTTPS, bootstrap token, the registry persisted in <dir>/csrs), each client then polling its CSR for
// the certificate as a kubelet does. Once a third have been issued the server is killed -9 and started
// again on the same directory (a new port: the clients retry against it). Then: every accepted CSR is
// there exactly once, nothing accepted by the killed server was lost, what was issued (on disk or seen by
// a client) kept its certificate bytes, what was pending kept its state and got issued after the restart,
// each CSR has exactly one certificate for its own key, and every serial is unique.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, createCsr, generateKeyPair, initPkiDirectory, nodeSubject, parseCsr, type CertificateSigningRequestObject } from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

const COUNT = Number(process.env.KUBEPKI_CONCURRENT_CSRS ?? 1000);
/** Kubelets bootstrapping at once (each one: create its CSR, then poll it until it has a certificate). */
const NODES_AT_ONCE = Number(process.env.KUBEPKI_CONCURRENT_NODES ?? 150);
/** Signer worker threads in the server (serve-bootstrap --signer-workers); 0 signs in the main thread. */
const SIGNER_WORKERS = process.env.KUBEPKI_SIGNER_WORKERS ?? '0';
const PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
// Every kubelet here shares one bootstrap token and none retries a 403: the pending-CSR cap per requester is lifted.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Server {
  readonly generation: number;
  readonly child: ChildProcess;
  readonly port: number;
  /** CSR names the server logged as issued (it logs only once the registry holds the certificate). */
  readonly issued: string[];
  log(): string;
}

function startServer(dir: string, generation: number): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'lib/cli.ts'), 'serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--signer-workers', SIGNER_WORKERS, '--max-pending-per-requester', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let partial = '';
  const issued: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-20_000);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const match = /^kubepki: (node-csr-\d+): issued$/.exec(line);
      if (match) issued.push(match[1]!);
    }
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /https:\/\/127\.0\.0\.1:(\d+)/.exec(chunk.toString());
      if (match) resolve({ generation, child, port: Number(match[1]), issued, log: () => log.slice(-4000) });
    });
    child.once('exit', (code, signal) => reject(new Error(`serve-bootstrap exited ${code ?? signal}: ${log.slice(-4000)}`)));
  });
}

async function stopServer(server: Server | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  // 'close', not 'exit': every line the server wrote to stderr has been read by then.
  const exited = new Promise((r) => server.child.once('close', r));
  server.child.kill(signal);
  await exited;
}

/** The registry as its files on disk say; temporary files of an interrupted write are counted apart. */
async function onDisk(dir: string): Promise<{ objects: Map<string, CertificateSigningRequestObject>; files: number; temporary: number }> {
  const folder = join(dir, 'csrs');
  const names = await readdir(folder);
  const objects = new Map<string, CertificateSigningRequestObject>();
  for (const file of names.filter((f) => f.endsWith('.json'))) {
    const object = JSON.parse(await readFile(join(folder, file), 'utf8')) as CertificateSigningRequestObject;
    assert.is(file, `${object.metadata.name}.json`, 'a registry file holds the CSR it is named after');
    objects.set(object.metadata.name, object);
  }
  return { objects, files: names.filter((f) => f.endsWith('.json')).length, temporary: names.filter((f) => f.includes('.tmp-')).length };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const conditionTypes = (object: CertificateSigningRequestObject): string[] => (object.status?.conditions ?? []).map((c) => c.type);

test(`${COUNT} concurrent kubelet CSRs, kill -9 after a third are issued, restart on the persisted registry`, async () => {
  await withTempDir(async (dir) => {
    const started = Date.now();
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const { token } = JSON.parse((await runCli('token', 'create', '--dir', dir, '--ttl', '1h', '--json')).out) as { token: string };
    const ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
    const caCertificate = Certificate.from(ca);
    // One ECDSA P-256 key per node, as each kubelet has its own.
    const objects = await Promise.all(
      Array.from({ length: COUNT }, async (_, i) =>
        csrObject(`node-csr-${i}`, (await createCsr({ keyPair: await generateKeyPair('ecdsa-p256'), subject: nodeSubject(`node-${i}`) })).pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth']),
      ),
    );
    const spkiOf = new Map(await Promise.all(objects.map(async (o) => [o.metadata.name, Buffer.from((await parseCsr(Buffer.from(o.spec.request, 'base64').toString())).publicKey.spki).toString('hex')] as const)));
    const keysReady = Date.now();

    const first = await startServer(dir, 1);
    let second: Server | undefined;
    const agent = new Agent({ keepAlive: true, maxSockets: NODES_AT_ONCE, ca });
    try {
      // Where the clients send their requests; replaced by the restarted server's promise before the kill.
      let current: Promise<Server> = Promise.resolve(first);
      let killing = false;
      let retries = 0;
      let idleResets = 0;
      const failuresBeforeKill: string[] = [];

      const once = (port: number, method: string, path: string, body?: string): Promise<{ status: number; body: string }> =>
        new Promise((resolve, reject) => {
          const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
          if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
            res.on('error', reject);
          });
          req.setTimeout(20_000, () => req.destroy(new Error('timed out')));
          req.on('error', (error: NodeJS.ErrnoException) => reject(Object.assign(error, { reusedSocket: req.reusedSocket })));
          req.end(body);
        });
      // A request to whichever server is current, repeated on a connection error (the kill).
      const call = async (method: string, path: string, body?: string): Promise<{ status: number; body: string; generation: number; attempts: number }> => {
        for (let attempt = 1; ; attempt++) {
          const server = await current;
          try {
            return { ...(await once(server.port, method, path, body)), generation: server.generation, attempts: attempt };
          } catch (error) {
            retries++;
            // A keep-alive connection the server closed as idle just as a request went out on it: the race
            // Node's documentation says to retry (request.reusedSocket); the server never saw the request.
            const { code, reusedSocket } = error as NodeJS.ErrnoException & { reusedSocket?: boolean };
            if (!killing && reusedSocket && code === 'ECONNRESET') idleResets++;
            else if (!killing) failuresBeforeKill.push(`${method} ${path}: ${(error as Error).message}`);
            if (attempt >= 100) throw new Error(`${method} ${path} never got through`, { cause: error });
            await sleep(20);
          }
        }
      };

      const retriedCreates: string[] = [];
      let creating = 0;
      const answers = new Map<string, { status: number; generation: number; attempts: number }>();
      const seen = new Map<string, { certificate: string; generation: number }>();
      let free = NODES_AT_ONCE;
      const waiting: (() => void)[] = [];
      const acquire = (): Promise<void> => (free > 0 ? (free--, Promise.resolve()) : new Promise((r) => waiting.push(r)));
      const release = (): void => {
        const next = waiting.shift();
        if (next) next();
        else free++;
      };
      // A kubelet: create the CSR, then poll it until it holds a certificate.
      const kubelet = async (object: CertificateSigningRequestObject): Promise<void> => {
        await acquire();
        try {
          const name = object.metadata.name;
          creating++;
          const created = await call('POST', PREFIX, JSON.stringify(object)).finally(() => creating--);
          answers.set(name, { status: created.status, generation: created.generation, attempts: created.attempts });
          if (created.attempts > 1) retriedCreates.push(`${name}: ${created.status}`);
          // 409 is acceptance only for a retried create: the killed server stored it and died before answering.
          if (created.status !== 201 && !(created.status === 409 && created.attempts > 1)) throw new Error(`${name}: create answered ${created.status} ${created.body}`);
          for (;;) {
            const got = await call('GET', `${PREFIX}/${name}`);
            if (got.status !== 200) throw new Error(`${name}: get answered ${got.status} (generation ${got.generation}) ${got.body}`);
            const csr = JSON.parse(got.body) as CertificateSigningRequestObject;
            if (csr.status?.certificate) {
              seen.set(name, { certificate: csr.status.certificate, generation: got.generation });
              return;
            }
            if (conditionTypes(csr).some((t) => t === 'Denied' || t === 'Failed')) throw new Error(`${name}: ${JSON.stringify(csr.status)}`);
            await sleep(100 + Math.random() * 100);
          }
        } finally {
          release();
        }
      };
      const kubelets = Promise.allSettled(objects.map(kubelet));

      // Kill -9 once a third are issued, with creates in flight (unless that never coincides before half
      // are issued); the registry as the killed server left it on disk.
      let creatingAtKill = 0;
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => {
          if ((first.issued.length >= COUNT / 3 && creating >= 3) || first.issued.length >= COUNT / 2) {
            creatingAtKill = creating;
            clearInterval(poll);
            first.child.removeAllListeners('exit');
            resolve();
          }
        }, 2);
        first.child.once('exit', () => reject(new Error(`the server stopped early: ${first.log()}`)));
      });
      let restart!: (server: Server) => void;
      current = new Promise<Server>((r) => (restart = r));
      killing = true;
      const killedAt = Date.now();
      await stopServer(first, 'SIGKILL');
      const atKill = await onDisk(dir);
      const answeredAtKill = answers.size;
      const issuedAtKill = [...atKill.objects.values()].filter((o) => o.status?.certificate);
      const pendingAtKill = [...atKill.objects.values()].filter((o) => !o.status?.certificate);
      const approvedPendingAtKill = pendingAtKill.filter((o) => conditionTypes(o).includes('Approved')).length;

      // What a kill in the middle of a write can leave besides: a temporary file cut short (planted, as the
      // kill does not always land in a write). The restart must ignore it.
      await writeFile(join(dir, 'csrs', 'node-csr-0.json.tmp-0123456789ab'), JSON.stringify(atKill.objects.get('node-csr-0')).slice(0, 100));

      second = await startServer(dir, 2);
      // Right after the restart, before the clients are let through: the first list the new server gives.
      const firstList = JSON.parse((await once(second.port, 'GET', PREFIX)).body) as { items: CertificateSigningRequestObject[] };
      restart(second);
      const settled = await kubelets;
      const finalList = JSON.parse((await once(second.port, 'GET', PREFIX)).body) as { items: CertificateSigningRequestObject[] };
      const finished = Date.now();
      await stopServer(second, 'SIGTERM');
      const atEnd = await onDisk(dir);

      // Every kubelet got through: created (201, or 409 for a create retried after the kill) and issued.
      const failed = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
      assert.equal(failed.slice(0, 5), [], `${failed.length} kubelets failed`);
      assert.equal(failuresBeforeKill.slice(0, 5), [], 'no request failed before the kill');
      assert.is(answers.size, COUNT);
      assert.is(seen.size, COUNT, 'every kubelet saw its certificate');

      // The kill happened where intended, and in the middle of things.
      assert.ok(issuedAtKill.length >= COUNT / 3 && issuedAtKill.length < COUNT, `${issuedAtKill.length} issued at the kill`);
      assert.ok(pendingAtKill.length > 0, 'some CSRs were pending at the kill');
      assert.ok(answeredAtKill < COUNT, 'some CSRs were not yet created at the kill');
      assert.ok(retries > 0, 'clients had to retry against the restarted server');

      // None lost: what the killed server answered 201 for is in its files; what it logged issued is issued there.
      for (const [name, answer] of answers) if (answer.generation === 1 && answer.status === 201) assert.ok(atKill.objects.has(name), `${name}: accepted before the kill, missing from the registry`);
      for (const name of first.issued) assert.ok(atKill.objects.get(name)?.status?.certificate, `${name}: logged issued before the kill, not issued on disk`);
      assert.is(atKill.files, atKill.objects.size);

      // None duplicated: one object per name, in the list and on disk, each the request that kubelet sent.
      const names = finalList.items.map((o) => o.metadata.name);
      assert.is(names.length, COUNT, 'one list item per CSR');
      assert.is(new Set(names).size, COUNT, 'names unique');
      assert.equal(new Set(names), new Set(objects.map((o) => o.metadata.name)));
      assert.is(atEnd.files, COUNT, 'one registry file per CSR');
      const submitted = new Map(objects.map((o) => [o.metadata.name, o]));
      const final = new Map(finalList.items.map((o) => [o.metadata.name, o]));
      for (const object of finalList.items) {
        assert.is(object.spec.request, submitted.get(object.metadata.name)!.spec.request, `${object.metadata.name}: the request its kubelet sent`);
        assert.equal(atEnd.objects.get(object.metadata.name), object, `${object.metadata.name}: the list and the file agree`);
      }

      // Every CSR approved once and issued exactly one certificate, for its own key, by the cluster CA; serials unique.
      const serials = new Set<string>();
      for (const object of finalList.items) {
        const name = object.metadata.name;
        assert.equal(conditionTypes(object), ['Approved'], `${name}: approved exactly once, nothing else`);
        assert.ok(object.status?.certificate, `${name} issued`);
        const certificates = Certificate.fromPemBundle(Buffer.from(object.status.certificate, 'base64').toString());
        assert.is(certificates.length, 1, `${name}: exactly one certificate`);
        const certificate = certificates[0]!;
        assert.is(certificate.subject.commonName, `system:node:${name.replace('node-csr-', 'node-')}`);
        assert.is(Buffer.from(certificate.spki).toString('hex'), spkiOf.get(name), `${name}: the certificate is for the CSR's key`);
        assert.equal(Buffer.from(certificate.issuerDer), Buffer.from(caCertificate.subjectDer), `${name}: issued by the cluster CA`);
        serials.add(certificate.serialNumber);
      }
      assert.is(serials.size, COUNT, 'every serial unique');

      // Issued before the kill (on disk, or as a kubelet saw it): the same certificate bytes after the restart.
      for (const before of issuedAtKill) assert.is(final.get(before.metadata.name)!.status!.certificate, before.status!.certificate, `${before.metadata.name} kept its certificate`);
      const seenBeforeKill = [...seen].filter(([, s]) => s.generation === 1);
      assert.ok(seenBeforeKill.length > 0, 'kubelets saw certificates from the killed server');
      for (const [name, { certificate }] of seen) assert.is(final.get(name)!.status!.certificate, certificate, `${name}: the certificate its kubelet saw`);
      // Every object that was on disk at the kill is the same object after it (not created again).
      for (const before of atKill.objects.values()) {
        const after = final.get(before.metadata.name)!;
        assert.equal([after.metadata.uid, after.metadata.creationTimestamp, after.spec], [before.metadata.uid, before.metadata.creationTimestamp, before.spec], `${before.metadata.name} kept its identity`);
      }

      // Pending at the kill: right after the restart still there, its conditions as they were (an Approved
      // one kept, nothing denied or failed), no certificate from before; eventually issued by the new server.
      const listed = new Map(firstList.items.map((o) => [o.metadata.name, o]));
      assert.is(listed.size, atKill.objects.size, 'right after the restart, the server has what was on disk');
      let stillPending = 0;
      const issuedBySecond = new Set(second.issued);
      for (const before of pendingAtKill) {
        const name = before.metadata.name;
        const after = listed.get(name);
        assert.ok(after, `${name}: pending at the kill, missing after the restart`);
        assert.equal(after.status?.conditions?.slice(0, before.status?.conditions?.length ?? 0) ?? [], before.status?.conditions ?? [], `${name}: its conditions at the kill kept`);
        assert.not.ok(conditionTypes(after).some((t) => t === 'Denied' || t === 'Failed'), `${name} neither denied nor failed`);
        if (!after.status?.certificate) stillPending++;
        assert.ok(issuedBySecond.has(name), `${name}: pending at the kill, issued by the restarted server`);
      }
      for (const before of issuedAtKill) assert.not.ok(issuedBySecond.has(before.metadata.name), `${before.metadata.name}: issued before the kill and again after it`);
      const logged = [...first.issued, ...second.issued];
      assert.is(new Set(logged).size, logged.length, 'no CSR logged as issued twice');

      console.log(
        `${COUNT} CSRs (${NODES_AT_ONCE} kubelets at once, ${SIGNER_WORKERS} signer workers): keys ${((keysReady - started) / 1000).toFixed(1)} s; killed ${((killedAt - keysReady) / 1000).toFixed(1)} s in with ${answeredAtKill} created and ${creatingAtKill} creates in flight, ` +
          `on disk ${atKill.objects.size} (${issuedAtKill.length} issued, ${pendingAtKill.length} pending of which ${approvedPendingAtKill} approved; ${atKill.temporary} temporary files), ` +
          `${seenBeforeKill.length} certificates seen by kubelets before the kill; right after the restart ${stillPending} still pending; ${retries} client retries (${idleResets} of them idle keep-alive connections closed by the server before the kill, ${retriedCreates.length} of them creates, answered ${JSON.stringify(Object.fromEntries(['201', '409'].map((s) => [s, retriedCreates.filter((r) => r.endsWith(s)).length])))}); ` +
          `after the restart ${second.issued.length} issued; all done ${((finished - keysReady) / 1000).toFixed(1)} s after the keys`,
      );
    } finally {
      await stopServer(first, 'SIGKILL');
      await stopServer(second, 'SIGKILL');
      agent.destroy();
    }
  });
});

test.run();
