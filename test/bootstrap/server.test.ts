// Judge: @kubernetes/client-node, a client no one here wrote, drives the embedded endpoint.
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  Certificate,
  createCsr,
  formatBootstrapToken,
  generateBootstrapToken,
  generateKeyPair,
  importPrivateKeyPem,
  initPkiDirectory,
  memoryRegistry,
  memoryTokenStore,
  nodeSubject,
  parseKubeconfig,
  startApprover,
  startBootstrapServer,
  startSigner,
  stringifyKubeconfig,
  type BootstrapServer,
  type Controller,
  type CsrRegistry,
  type CertificateSigningRequestObject,
} from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { suiteTempDir } from '../helpers/dirs.js';

let dir: string;
let server: BootstrapServer;
let registry: CsrRegistry;
let controllers: Controller[] = [];
let ca: string;
let admin: { cert: string; key: string };
const token = formatBootstrapToken(generateBootstrapToken());
const expired = generateBootstrapToken();
const noAuthUsage = generateBootstrapToken();
let removeDir: (() => Promise<void>) | undefined;

test.before(async () => {
  ({ dir, remove: removeDir } = await suiteTempDir());
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
  ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
  const adminConf = parseKubeconfig(await readFile(join(dir, 'admin.conf'), 'utf8'));
  admin = { cert: adminConf.clientCertificatePem!, key: adminConf.clientKeyPem! };
  const tokens = memoryTokenStore([
    bootstrapTokenSecret({ id: token.slice(0, 6), secret: token.slice(7) }),
    bootstrapTokenSecret(expired, { expiration: new Date(Date.now() - 1000) }),
    bootstrapTokenSecret(noAuthUsage, { usages: ['signing'] }),
  ]);
  registry = await memoryRegistry({ dir: join(dir, 'csrs') });
  server = await startBootstrapServer({
    registry,
    tokens,
    tls: { cert: await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'), key: await readFile(join(dir, 'pki/apiserver.key'), 'utf8'), clientCa: ca },
  });
  const signingCa = { certificate: ca, privateKey: (await importPrivateKeyPem(await readFile(join(dir, 'pki/ca.key')))).privateKey };
  controllers = [
    await startApprover(registry),
    await startSigner(registry, { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: signingCa }),
    await startSigner(registry, { signerName: 'example.com/custom', issuer: signingCa }),
  ];
});

test.after(async () => {
  for (const c of controllers) c.stop();
  await server?.close();
  await removeDir?.();
});

const kubeconfig = (user: { token?: string; cert?: string; key?: string }): k8s.KubeConfig => {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(stringifyKubeconfig({ clusterName: 'embedded', server: server.url, caPem: ca, userName: 'u', token: user.token, clientCertificatePem: user.cert, clientKeyPem: user.key }));
  return kc;
};

async function nodeCsr(name: string, options: { expirationSeconds?: number; organizations?: string[] } = {}) {
  const keyPair = await generateKeyPair();
  const csr = await createCsr({ keyPair, subject: { commonName: 'system:node:worker-1', organizations: options.organizations ?? ['system:nodes'] } });
  return csrObject(name, csr.pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth'], options.expirationSeconds);
}

/** kubepki's CSR type keeps timestamps as the JSON strings they are; client-node's type says Date. */
const v1 = (csr: CertificateSigningRequestObject): k8s.V1CertificateSigningRequest => csr as unknown as k8s.V1CertificateSigningRequest;

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await fn();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('client-node creates a CSR with a bootstrap token; the approver and signer issue it; the node reads it back', async () => {
  const api = kubeconfig({ token }).makeApiClient(k8s.CertificatesV1Api);
  const created = await api.createCertificateSigningRequest({ body: v1(await nodeCsr('node-csr-worker-1')) });
  assert.is(created.spec.username, `system:bootstrap:${token.slice(0, 6)}`);
  const issued = await until('the certificate', async () => {
    const csr = await api.readCertificateSigningRequest({ name: 'node-csr-worker-1' });
    return csr.status?.certificate;
  });
  const leaf = Certificate.from(Buffer.from(issued, 'base64').toString());
  assert.equal(leaf.subject, nodeSubject('worker-1'));
  assert.ok(leaf.isIssuedBy(Certificate.from(ca)));
});

test('client-node as admin approves a CSR for a custom signer and reads the issued certificate', async () => {
  const node = kubeconfig({ token }).makeApiClient(k8s.CertificatesV1Api);
  const adminApi = kubeconfig(admin).makeApiClient(k8s.CertificatesV1Api);
  const keyPair = await generateKeyPair();
  const csr = await createCsr({ keyPair, subject: { commonName: 'svc-a', organizations: ['team'] } });
  await node.createCertificateSigningRequest({ body: v1(csrObject('custom-1', csr.pem, 'example.com/custom', ['digital signature', 'server auth'], 3600)) });
  const pending = await adminApi.readCertificateSigningRequest({ name: 'custom-1' });
  pending.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'Admin', message: 'ok' }] };
  await adminApi.replaceCertificateSigningRequestApproval({ name: 'custom-1', body: pending });
  const issued = await until('the certificate', async () => (await adminApi.readCertificateSigningRequestStatus({ name: 'custom-1' })).status?.certificate);
  const leaf = Certificate.from(Buffer.from(issued, 'base64').toString());
  // expirationSeconds honoured: 1 h, under the 8-hour rule, plus the 5-minute backdate (to whole seconds).
  const seconds = (leaf.notAfter.getTime() - leaf.notBefore.getTime()) / 1000;
  assert.ok(seconds >= 3899 && seconds <= 3900, String(seconds));
});

interface Raw {
  method?: string;
  path: string;
  token?: string;
  cert?: string;
  key?: string;
  body?: string;
  contentType?: string;
}
function raw(options: Raw): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
    const req = request(`${server.url}${options.path}`, { method: options.method ?? 'GET', ca, cert: options.cert, key: options.key, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

test('unauthenticated, malformed, expired and unusable tokens get 401 Status objects', async () => {
  for (const t of [undefined, 'nope', formatBootstrapToken(expired), formatBootstrapToken(noAuthUsage), `${token.slice(0, 7)}zzzzzzzzzzzzzzzz`]) {
    const res = await raw({ path: CSRS, token: t });
    assert.is(res.status, 401, String(t));
    assert.equal(JSON.parse(res.body).reason, 'Unauthorized');
  }
});

test('a client certificate from a foreign CA is 401, not anonymous', async () => {
  const { createCertificateAuthority, issueCertificate, exportPrivateKeyPem, PROFILES } = await import('../../lib/index.js');
  const foreign = await createCertificateAuthority();
  const key = await generateKeyPair();
  const cert = await issueCertificate({ profile: PROFILES.superAdmin, subject: { commonName: 'kubernetes-super-admin', organizations: ['system:masters'] }, publicKey: key.publicKey, issuer: foreign });
  assert.is((await raw({ path: CSRS, cert: cert.pem, key: await exportPrivateKeyPem(key) })).status, 401);
});

test('hostile bodies: oversized, not JSON, wrong content type, invalid objects; nothing is created', async () => {
  const before = (await registry.list()).length;
  const big = JSON.stringify({ padding: 'x'.repeat(70 * 1024) });
  assert.is((await raw({ method: 'POST', path: CSRS, token, body: big })).status, 413);
  assert.is((await raw({ method: 'POST', path: CSRS, token, body: '{not json' })).status, 400);
  assert.is((await raw({ method: 'POST', path: CSRS, token, body: '{}', contentType: 'text/plain' })).status, 415);
  const invalid = await raw({ method: 'POST', path: CSRS, token, body: JSON.stringify({ ...(await nodeCsr('bad-1')), spec: { ...(await nodeCsr('bad-1')).spec, expirationSeconds: 599 } }) });
  assert.is(invalid.status, 422);
  assert.match(JSON.parse(invalid.body).message, /spec\.expirationSeconds/);
  assert.is((await raw({ path: `${CSRS}/..%2F..%2Fetc` , token })).status, 404);
  assert.is((await raw({ path: `${CSRS}/a/b/c`, token })).status, 404);
  assert.is((await registry.list()).length, before);
  // A path that merely starts with the collection's is another resource, not the CSR named by its tail.
  assert.is((await raw({ method: 'POST', path: CSRS, token, body: JSON.stringify(await nodeCsr('foo')) })).status, 201);
  assert.is((await raw({ path: `${CSRS}/foo`, token })).status, 200);
  assert.is((await raw({ path: `${CSRS}foo`, token })).status, 404);
});

test('every refusal is a Status with the code and reason kube-apiserver gives it; an unserved method is 405', async () => {
  const statusOf = async (options: Parameters<typeof raw>[0]): Promise<[number, string, number]> => {
    const res = await raw(options);
    const body = JSON.parse(res.body) as { kind: string; code: number; reason: string };
    assert.is(body.kind, 'Status');
    return [res.status, body.reason, body.code];
  };
  assert.equal(await statusOf({ method: 'POST', path: CSRS, token, body: JSON.stringify({ padding: 'x'.repeat(70 * 1024) }) }), [413, 'RequestEntityTooLarge', 413]);
  assert.equal(await statusOf({ method: 'POST', path: CSRS, token, body: '{not json' }), [400, 'BadRequest', 400]);
  assert.equal(await statusOf({ method: 'POST', path: CSRS, token, body: 'garbage', contentType: 'application/vnd.kubernetes.protobuf' }), [400, 'BadRequest', 400]);
  assert.equal(await statusOf({ method: 'POST', path: CSRS, token, body: '{}', contentType: 'text/plain' }), [415, 'UnsupportedMediaType', 415]);
  assert.equal(await statusOf({ method: 'POST', path: CSRS, token, body: '{}' }), [422, 'Invalid', 422]);
  assert.equal(await statusOf({ path: `${CSRS}/no-such-csr`, token }), [404, 'NotFound', 404]);
  assert.equal(await statusOf({ path: '/api/v1/nodes', token }), [404, 'NotFound', 404]);
  assert.equal(await statusOf({ path: CSRS, token: 'nope' }), [401, 'Unauthorized', 401]);
  assert.equal(await statusOf({ method: 'DELETE', path: `${CSRS}/node-csr-worker-1`, token }), [405, 'MethodNotAllowed', 405]);
  assert.equal(await statusOf({ method: 'PATCH', path: CSRS, token, body: '{}' }), [405, 'MethodNotAllowed', 405]);
  assert.equal(await statusOf({ path: `${CSRS}?fieldSelector=spec.signerName=x`, token }), [422, 'Invalid', 422]);
});

test('a bootstrapper cannot approve, cannot read or watch CSRs that are not its own', async () => {
  const adminApi = kubeconfig(admin).makeApiClient(k8s.CertificatesV1Api);
  await adminApi.createCertificateSigningRequest({ body: v1(await nodeCsr('admins-own', {})) });
  assert.is((await raw({ path: `${CSRS}/admins-own`, token })).status, 403);
  assert.is((await raw({ path: `${CSRS}?watch=true&fieldSelector=metadata.name=admins-own`, token })).status, 403);
  const approval = await raw({ method: 'PUT', path: `${CSRS}/node-csr-worker-1/approval`, token, body: JSON.stringify(await registry.get('node-csr-worker-1')) });
  assert.is(approval.status, 403);
  const list = JSON.parse((await raw({ path: CSRS, token })).body) as { items: { metadata: { name: string } }[] };
  assert.not.ok(list.items.some((i) => i.metadata.name === 'admins-own'));
});

test('an approval or status PUT naming a resourceVersion that is no longer current is 409 Conflict, as kube-apiserver answers it', async () => {
  const keyPair = await generateKeyPair();
  const csr = await createCsr({ keyPair, subject: { commonName: 'svc-rv' } });
  const created = await registry.create(csrObject('rv-1', csr.pem, 'example.com/nobody', ['digital signature', 'client auth']), { username: 'admin', groups: [] });
  const put = (subresource: string, status: unknown, resourceVersion: string | undefined) =>
    raw({ method: 'PUT', path: `${CSRS}/rv-1/${subresource}`, ...admin, body: JSON.stringify({ ...created, metadata: { ...created.metadata, resourceVersion }, status }) });
  const denied = { conditions: [{ type: 'Denied', status: 'True', reason: 'Admin', message: 'no' }] };
  assert.is((await put('approval', denied, created.metadata.resourceVersion)).status, 200);
  const stale = await put('approval', { conditions: [{ type: 'Approved', status: 'True', reason: 'Admin', message: 'yes' }] }, created.metadata.resourceVersion);
  assert.is(stale.status, 409);
  assert.match(stale.body, /"reason":"Conflict"/);
  assert.is((await put('status', { ...denied, conditions: [...denied.conditions, { type: 'Failed', status: 'True', reason: 'X', message: 'x' }] }, created.metadata.resourceVersion)).status, 409);
  assert.equal((await registry.get('rv-1'))!.status?.conditions?.map((c) => c.type), ['Denied']);
});

test('a CSR asking for system:masters is denied and never issued', async () => {
  await kubeconfig({ token }).makeApiClient(k8s.CertificatesV1Api).createCertificateSigningRequest({ body: v1(await nodeCsr('masters-1', { organizations: ['system:nodes', 'system:masters'] })) });
  const denied = await until('the denial', async () => {
    const csr = await registry.get('masters-1');
    return csr?.status?.conditions?.find((c) => c.type === 'Denied');
  });
  assert.ok(denied);
  assert.is((await registry.get('masters-1'))!.status?.certificate, undefined);
});

test('a watch streams the changes of the watcher\'s own CSR', async () => {
  const events: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const req = request(`${server.url}${CSRS}?watch=true&fieldSelector=metadata.name=node-csr-watch`, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const event = JSON.parse(line) as { type: string; object: { status?: { certificate?: string } } };
          events.push(`${event.type}${event.object.status?.certificate ? '+cert' : ''}`);
          if (event.object.status?.certificate) {
            req.destroy();
            resolve();
          }
        }
      });
    });
    req.on('error', (e) => (events.length ? undefined : reject(e)));
    req.end();
  });
  await new Promise((r) => setTimeout(r, 50));
  await kubeconfig({ token }).makeApiClient(k8s.CertificatesV1Api).createCertificateSigningRequest({ body: v1(await nodeCsr('node-csr-watch')) });
  await done;
  assert.is(events[0], 'ADDED');
  assert.is(events.at(-1), 'MODIFIED+cert');
});

test('the persisted registry keeps everything across a restart', async () => {
  const reopened = await memoryRegistry({ dir: join(dir, 'csrs') });
  const names = (await reopened.list()).map((c) => c.metadata.name).sort();
  assert.ok(names.includes('node-csr-worker-1') && names.includes('custom-1'));
  assert.ok((await reopened.get('node-csr-worker-1'))!.status?.certificate);
});

test('/healthz and /version answer without credentials', async () => {
  assert.equal(await raw({ path: '/healthz' }), { status: 200, body: 'ok' });
  assert.is(JSON.parse((await raw({ path: '/version' })).body).major, '1');
});

test.run();
