import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  caPublicKeyPin,
  Certificate,
  clusterInfoConfigMap,
  createCertificateAuthority,
  createCertificateKey,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  PROFILES,
  initPkiDirectory,
  joinControlPlane,
  loadPkiDirectory,
  parseBootstrapToken,
  sharedCertificateSecret,
  type ClusterConfig,
} from '../../lib/index.js';
import { CLUSTER_INFO_PATH, clusterInfoKubeconfig } from '../../lib/bootstrap/token.js';
import { SHARED_CERTIFICATE_FILES } from '../../lib/cluster/shared-certs.js';
import { runCli } from '../helpers/cli.js';
import { failureOf } from '../helpers/fixtures.js';
import { snapshot, suiteTempDir } from '../helpers/dirs.js';

// The joining token, and a second one cluster-info is signed for but kubeadm's RBAC does not let read the Secret.
const TOKEN = parseBootstrapToken('abcdef.0123456789abcdef');
const OUTSIDER = parseBootstrapToken('zyxwvu.0123456789abcdef');
const SECRET_PATH = '/api/v1/namespaces/kube-system/secrets/kubeadm-certs';

let temp: { dir: string; remove: () => Promise<void> };
let dirA: string;
let server: Server;
let endpoint: string;
let certificateKey: string;
let pin: string;
let now: Date;
/** Authorization headers of the Secret GETs the stand-in API saw. */
const secretRequests: (string | undefined)[] = [];

const bConfig = (overrides: Partial<ClusterConfig> = {}): ClusterConfig => ({
  nodeName: 'cp-b',
  advertiseAddress: '10.0.0.12',
  controlPlaneEndpoint: endpoint,
  apiServerCertSans: ['cp.example.test'],
  ...overrides,
});

function answer(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

test.before(async () => {
  temp = await suiteTempDir();
  dirA = join(temp.dir, 'a');
  certificateKey = createCertificateKey();
  let clusterInfo: object = {};
  let secretData: Record<string, string> = {};
  // A stand-in API server: cluster-info for anyone, the kubeadm-certs Secret only for the joining token (kubeadm's RBAC).
  server = createServer((req: IncomingMessage, res) => {
    if (req.method === 'GET' && req.url === CLUSTER_INFO_PATH) return answer(res, 200, clusterInfo);
    if (req.method === 'GET' && req.url === SECRET_PATH) {
      secretRequests.push(req.headers.authorization);
      if (!req.headers.authorization) return answer(res, 401, { kind: 'Status', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      if (req.headers.authorization !== `Bearer ${TOKEN.id}.${TOKEN.secret}`) return answer(res, 403, { kind: 'Status', message: 'secrets "kubeadm-certs" is forbidden', reason: 'Forbidden', code: 403 });
      return answer(res, 200, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'kubeadm-certs', namespace: 'kube-system' }, type: 'Opaque', data: secretData });
    }
    answer(res, 404, { kind: 'Status', reason: 'NotFound', code: 404 });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The first control plane, whose endpoint is the stand-in's address; the stand-in serves A's apiserver certificate.
  await initPkiDirectory(dirA, { nodeName: 'cp-a', advertiseAddress: '10.0.0.11', controlPlaneEndpoint: endpoint, apiServerCertSans: ['cp.example.test'] });
  server.setSecureContext({ cert: await readFile(join(dirA, 'pki/apiserver.crt')), key: await readFile(join(dirA, 'pki/apiserver.key')) });
  const caPem = await readFile(join(dirA, 'pki/ca.crt'), 'utf8');
  const ca = Certificate.from(caPem);
  pin = caPublicKeyPin(ca);
  now = new Date(ca.notBefore.getTime() + 3600_000);
  clusterInfo = clusterInfoConfigMap(clusterInfoKubeconfig(`https://${endpoint}`, caPem), [TOKEN, OUTSIDER]);
  secretData = { ...(await sharedCertificateSecret(dirA, certificateKey)).data };
});

test.after(async () => {
  await new Promise<void>((r) => {
    server.close(() => r());
    server.closeAllConnections();
  });
  await temp.remove();
});

/** A fresh empty folder for a joining node. */
async function emptyDir(name: string): Promise<string> {
  const dir = join(temp.dir, name);
  await mkdir(dir, { recursive: true });
  return dir;
}

test('joinControlPlane: B gets A\'s CAs and sa keys byte for byte and its own certificates signed by them', async () => {
  const dirB = await emptyDir('b');
  const before = secretRequests.length;
  const result = await joinControlPlane({ dir: dirB, server: endpoint, token: `${TOKEN.id}.${TOKEN.secret}`, caCertHashes: [pin], certificateKey, config: bConfig(), now });
  assert.is(result.cluster.server, `https://${endpoint}`);
  // The Secret was read once, with the bootstrap token as the credential.
  assert.equal(secretRequests.slice(before), [`Bearer ${TOKEN.id}.${TOKEN.secret}`]);
  for (const file of SHARED_CERTIFICATE_FILES) {
    assert.ok((await readFile(join(dirA, file.path))).equals(await readFile(join(dirB, file.path))), `${file.path} differs`);
  }
  assert.equal([...result.restored].sort(), SHARED_CERTIFICATE_FILES.map((f) => join(dirB, f.path)).sort());
  const caA = Certificate.from(await readFile(join(dirA, 'pki/ca.crt'), 'utf8'));
  const apiserverA = Certificate.from(await readFile(join(dirA, 'pki/apiserver.crt'), 'utf8'));
  const apiserverB = Certificate.from(await readFile(join(dirB, 'pki/apiserver.crt'), 'utf8'));
  assert.ok(apiserverB.isIssuedBy(caA));
  assert.ok(apiserverB.sans.ips.includes('10.0.0.12'), 'B\'s advertise address');
  assert.not.ok(apiserverB.sans.ips.includes('10.0.0.11'), 'not A\'s advertise address');
  assert.ok(apiserverB.sans.ips.includes('127.0.0.1'), 'the shared endpoint');
  assert.ok(apiserverB.sans.dns.includes('cp.example.test'), 'the shared extra SAN');
  assert.ok(apiserverB.sans.dns.includes('cp-b'));
  assert.ok(!apiserverB.spki.every((byte, i) => byte === apiserverA.spki[i]), 'B has its own apiserver key');
  for (const name of ['apiserver-kubelet-client', 'front-proxy-client', 'etcd-server', 'etcd-peer', 'etcd-healthcheck-client', 'apiserver-etcd-client', 'admin', 'controller-manager', 'scheduler']) {
    assert.ok(result.init.created.includes(name), `${name} issued`);
  }
  const etcdServer = Certificate.from(await readFile(join(dirB, 'pki/etcd/server.crt'), 'utf8'));
  assert.ok(etcdServer.isIssuedBy(Certificate.from(await readFile(join(dirA, 'pki/etcd/ca.crt'), 'utf8'))));
  assert.ok(etcdServer.sans.ips.includes('10.0.0.12'));
  const loaded = await loadPkiDirectory(dirB);
  assert.equal(loaded.missing, []);
  assert.equal(loaded.problems, []);
  assert.ok((await readFile(join(dirB, 'admin.conf'), 'utf8')).includes(`https://${endpoint}`));
  // A second run changes nothing.
  const again = await joinControlPlane({ dir: dirB, server: endpoint, token: TOKEN, caCertHashes: [pin], certificateKey, config: bConfig(), now });
  assert.equal(again.restored, []);
  assert.equal(again.init.files, []);
});

test('joinControlPlane: a wrong certificate key, pin, token or endpoint writes nothing, and never echoes the secrets', async () => {
  const dirB = await emptyDir('refused');
  const other = await createCertificateAuthority({ commonName: 'someone-else' });
  const base = { dir: dirB, server: endpoint, token: TOKEN, caCertHashes: [pin], certificateKey, config: bConfig(), now };
  const cases: [string, Partial<typeof base> & Record<string, unknown>, string][] = [
    ['wrong certificate key', { certificateKey: createCertificateKey() }, 'ERR_KEY'],
    ['malformed certificate key', { certificateKey: 'abc' }, 'ERR_ARGUMENT'],
    ['wrong pin', { caCertHashes: [caPublicKeyPin(other.certificate)] }, 'ERR_CERTIFICATE'],
    ['unknown token', { token: parseBootstrapToken('qqqqqq.0123456789abcdef') }, 'ERR_TOKEN'],
    ['token without access to the Secret', { token: OUTSIDER }, 'ERR_FORBIDDEN'],
    ['another endpoint', { config: bConfig({ controlPlaneEndpoint: 'elsewhere.example.test:6443' }) }, 'ERR_ARGUMENT'],
    ['no endpoint', { config: bConfig({ controlPlaneEndpoint: undefined }) }, 'ERR_ARGUMENT'],
    ['bad config', { config: bConfig({ advertiseAddress: 'not-an-ip' }) }, 'ERR_ARGUMENT'],
  ];
  for (const [name, change, code] of cases) {
    const failure = await failureOf(() => joinControlPlane({ ...base, ...change } as Parameters<typeof joinControlPlane>[0]));
    assert.is(failure.code, code, name);
    const text = JSON.stringify(failure);
    for (const secret of [TOKEN.secret, OUTSIDER.secret, certificateKey]) assert.not.ok(text.includes(secret), `${name}: a secret in the error`);
    assert.equal(await snapshot(dirB), {}, `${name}: something was written`);
  }
});

test('joinControlPlane: a directory holding files the node\'s certificates would conflict with is refused before the shared files are restored', async () => {
  const dirD = await emptyDir('conflicting');
  // Another cluster's apiserver certificate where this node's would go.
  const stranger = await createCertificateAuthority({ commonName: 'someone-else' });
  const key = await generateKeyPair('ecdsa-p256');
  const foreign = await issueCertificate({ profile: PROFILES.apiserver, subject: { commonName: 'kube-apiserver', organizations: [] }, sans: { dns: ['kubernetes'] }, publicKey: key.publicKey, issuer: stranger });
  await mkdir(join(dirD, 'pki'), { recursive: true });
  await writeFile(join(dirD, 'pki/apiserver.crt'), foreign.pem);
  await writeFile(join(dirD, 'pki/apiserver.key'), await exportPrivateKeyPem(key), { mode: 0o600 });
  const before = await snapshot(dirD);
  const failure = await failureOf(() => joinControlPlane({ dir: dirD, server: endpoint, token: TOKEN, caCertHashes: [pin], certificateKey, config: bConfig(), now }));
  assert.is(failure.code, 'ERR_EXISTS', failure.message);
  assert.equal(await snapshot(dirD), before, 'the shared files were restored before the refusal');
});

test('kubepki join --control-plane: writes the node\'s PKI, prints the files and component flags, never the secrets', async () => {
  const dirC = await emptyDir('c');
  const token = `${TOKEN.id}.${TOKEN.secret}`;
  const args = ['join', endpoint, '--control-plane', '--token', token, '--discovery-token-ca-cert-hash', pin, '--dir', dirC, '--node-name', 'cp-c', '--advertise-address', '10.0.0.13', '--apiserver-cert-extra-sans', 'cp.example.test'];
  const wrongKey = await runCli(...args, '--certificate-key', createCertificateKey());
  assert.is.not(wrongKey.code, 0);
  assert.match(wrongKey.err, /ERR_KEY|does not decrypt/);
  assert.equal(await snapshot(dirC), {});
  const result = await runCli(...args, '--certificate-key', certificateKey);
  assert.is(result.code, 0, result.err);
  assert.match(result.out, new RegExp(`wrote ${join(dirC, 'pki/ca.key').replaceAll('/', '\\/')}`));
  assert.match(result.out, /wrote .*pki\/apiserver\.crt/);
  assert.match(result.out, /kubeApiserver:/);
  assert.match(result.out, /--advertise-address=10\.0\.0\.13/);
  for (const out of [result.out, result.err, wrongKey.out, wrongKey.err]) {
    assert.not.ok(out.includes(TOKEN.secret), 'the token in the output');
    assert.not.ok(out.includes(certificateKey), 'the certificate key in the output');
  }
  const apiserver = Certificate.from(await readFile(join(dirC, 'pki/apiserver.crt'), 'utf8'));
  assert.ok(apiserver.isIssuedBy(Certificate.from(await readFile(join(dirA, 'pki/ca.crt'), 'utf8'))));
  assert.equal((await loadPkiDirectory(dirC)).problems, []);
  // Flag refusals: the certificate key only with --control-plane, the worker's kubelet flags not with it.
  const noControlPlane = await runCli('join', endpoint, '--token', token, '--discovery-token-ca-cert-hash', pin, '--certificate-key', certificateKey);
  assert.is.not(noControlPlane.code, 0);
  assert.match(noControlPlane.err, /--certificate-key/);
  const workerFlag = await runCli(...args, '--certificate-key', certificateKey, '--cert-dir', join(dirC, 'kubelet'));
  assert.is.not(workerFlag.code, 0);
  assert.match(workerFlag.err, /--cert-dir/);
});

test('kubepki join --control-plane --config: the cluster-wide settings from kubeadm\'s ClusterConfiguration', async () => {
  const dirD = await emptyDir('d');
  const file = join(temp.dir, 'kubeadm.yaml');
  await writeFile(file, `apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\ncontrolPlaneEndpoint: "${endpoint}"\napiServer:\n  certSANs: [cp.example.test]\n---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\n`);
  const args = ['join', endpoint, '--control-plane', '--certificate-key', certificateKey, '--token', `${TOKEN.id}.${TOKEN.secret}`, '--discovery-token-ca-cert-hash', pin, '--dir', dirD, '--node-name', 'cp-d', '--advertise-address', '10.0.0.14', '--config', file];
  const mixed = await runCli(...args, '--service-cidr', '10.0.0.0/16');
  assert.is.not(mixed.code, 0);
  assert.match(mixed.err, /--service-cidr/);
  assert.equal(await snapshot(dirD), {});
  const result = await runCli(...args, '--json');
  assert.is(result.code, 0, result.err);
  assert.match(result.err, /skipping JoinConfiguration/);
  const summary = JSON.parse(result.out) as { server: string; restored: string[]; files: string[] };
  assert.is(summary.server, `https://${endpoint}`);
  assert.is(summary.restored.length, SHARED_CERTIFICATE_FILES.length);
  const apiserver = Certificate.from(await readFile(join(dirD, 'pki/apiserver.crt'), 'utf8'));
  assert.ok(apiserver.sans.ips.includes('10.0.0.14') && apiserver.sans.dns.includes('cp.example.test'));
});

test.run();
