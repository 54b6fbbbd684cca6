// The hostile review's escalations, replayed against the running embedded endpoint: a subject read one way
// by the approver and signer and another by the endpoint, and a revoked certificate that still renews.
import { request } from 'node:https';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  issueCertificate,
  issueRevocationList,
  memoryTokenStore,
  nodeSubject,
  PROFILES,
  exportPrivateKeyPem,
  revocationListFile,
  startEmbeddedBootstrap,
  staticNodeAddresses,
  type EmbeddedBootstrap,
  type KeyPair,
} from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { suiteTempDir } from '../helpers/dirs.js';
import { clientCertificateWithName, csrWithName, HOSTILE_NAMES } from '../helpers/names.js';

const PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const token = generateBootstrapToken();

interface Credentials {
  token?: string;
  cert?: string;
  key?: string;
}

let dir: string;
let caPem: string;
let ca: { certificate: Certificate; privateKey: CryptoKey };
let endpoint: EmbeddedBootstrap;
const refusals: string[] = [];
let removeDir: (() => Promise<void>) | undefined;

test.before(async () => {
  ({ dir, remove: removeDir } = await suiteTempDir());
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
  caPem = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
  ca = { certificate: Certificate.from(caPem), privateKey: (await importPrivateKeyPem(await readFile(join(dir, 'pki/ca.key')))).privateKey };
  endpoint = await startEmbeddedBootstrap({
    issuer: { certificate: caPem, privateKey: ca.privateKey },
    tokens: memoryTokenStore([bootstrapTokenSecret(token)]),
    nodeAddresses: staticNodeAddresses({ victim: ['10.0.0.21'], attacker: ['10.0.0.22'], evil: ['10.0.0.23'] }),
    revocationLists: revocationListFile(join(dir, 'pki/ca.crl')),
    onRefusal: (reason) => refusals.push(reason),
  });
});

test.after(async () => {
  await endpoint?.close();
  await removeDir?.();
});

function call(method: string, path: string, credentials: Credentials, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: endpoint.server.port,
        method,
        path,
        ca: caPem,
        ...(credentials.cert ? { cert: credentials.cert, key: credentials.key } : {}),
        headers: {
          ...(credentials.token ? { authorization: `Bearer ${credentials.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const bootstrapper: Credentials = { token: formatBootstrapToken(token) };
const clientCsr = (name: string, pem: string) => csrObject(name, pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth']);

async function nodeCredentials(node: string): Promise<Credentials & { keyPair: KeyPair; certificate: Certificate }> {
  const keyPair = await generateKeyPair();
  const certificate = await issueCertificate({ issuer: ca, profile: PROFILES.kubeletClient, subject: nodeSubject(node), publicKey: keyPair.publicKey });
  return { cert: certificate.pem, key: await exportPrivateKeyPem(keyPair, 'pkcs8'), keyPair, certificate };
}

async function hostileCredentials(subject: Uint8Array): Promise<Credentials> {
  const keyPair = await generateKeyPair();
  return { cert: await clientCertificateWithName(subject, keyPair, ca), key: await exportPrivateKeyPem(keyPair, 'pkcs8') };
}

test('a CSR with O=system:masters as a UniversalString is refused at creation: never approved, never signed', async () => {
  const pem = await csrWithName(HOSTILE_NAMES.universalMasters, await generateKeyPair());
  const created = await call('POST', PREFIX, bootstrapper, clientCsr('universal-masters', pem));
  assert.is(created.status, 422, JSON.stringify(created.body));
  assert.match(String(created.body.message), /UniversalString/);
  assert.equal(await endpoint.registry.list(), [], 'nothing stored');
});

test('a certificate with a UniversalString O does not authenticate: Go refuses to parse it, so does the endpoint', async () => {
  const holder = await hostileCredentials(HOSTILE_NAMES.universalMasters);
  const listed = await call('GET', PREFIX, holder);
  assert.is(listed.status, 401, JSON.stringify(listed.body));
  assert.ok(refusals.some((r) => /UniversalString/.test(r)), refusals.join('\n'));
});

test('a renewal asking for two CNs (victim, then attacker) is refused at creation', async () => {
  const attacker = await nodeCredentials('attacker');
  const pem = await csrWithName(HOSTILE_NAMES.twoCommonNames, attacker.keyPair);
  const created = await call('POST', PREFIX, attacker, clientCsr('two-cns', pem));
  assert.is(created.status, 422, JSON.stringify(created.body));
  assert.match(String(created.body.message), /more than one common name/);
  assert.equal(await endpoint.registry.list(), []);
});

test('a certificate with two CNs authenticates as the last one, as Go reads it: the holder cannot read the first CN\'s CSRs', async () => {
  const victim = await nodeCredentials('victim');
  const renewal = await createCsr({ keyPair: victim.keyPair, subject: nodeSubject('victim') });
  const created = await call('POST', PREFIX, victim, clientCsr('victim-renewal', renewal.pem));
  assert.is(created.status, 201, JSON.stringify(created.body));
  assert.is((created.body.spec as { username: string }).username, 'system:node:victim');
  const holder = await hostileCredentials(HOSTILE_NAMES.twoCommonNames);
  const read = await call('GET', `${PREFIX}/victim-renewal`, holder);
  assert.is(read.status, 403, JSON.stringify(read.body));
  assert.match(String(read.body.message), /system:node:attacker/);
  const listed = await call('GET', PREFIX, holder);
  assert.is(listed.status, 200);
  assert.equal(listed.body.items, [], 'the victim\'s CSR is not listed to the attacker');
});

test('a revoked node certificate no longer authenticates, and cannot renew itself', async () => {
  const node = await nodeCredentials('attacker');
  assert.is((await call('GET', PREFIX, node)).status, 200, 'authenticates before the revocation');
  const crl = await issueRevocationList({ issuer: ca, revoked: [{ serialNumber: node.certificate.serialNumber }] });
  await writeFile(join(dir, 'pki/ca.crl'), crl.pem);
  const listed = await call('GET', PREFIX, node);
  assert.is(listed.status, 401, JSON.stringify(listed.body));
  const renewal = await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('attacker') });
  const created = await call('POST', PREFIX, node, clientCsr('revoked-renewal', renewal.pem));
  assert.is(created.status, 401);
  assert.ok(refusals.some((r) => /ERR_REVOKED/.test(r)), refusals.join('\n'));
  const other = await nodeCredentials('victim');
  assert.is((await call('GET', PREFIX, other)).status, 200, 'a certificate that is not listed still authenticates');
});

test.run();
