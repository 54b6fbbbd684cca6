import { createDecipheriv } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { initPkiDirectory, isPkiError, loadAuthority, nodeSubject, PROFILES, stringifyKubeconfig, type ClusterConfig } from '../../lib/index.js';
import { issuePair } from '../helpers/tls-servers.js';
import {
  createCertificateKey,
  restoreSharedCertificates,
  sharedCertificateManifest,
  sharedCertificateManifestData,
  sharedCertificateSecret,
  SHARED_CERTIFICATE_FILES,
} from '../../lib/cluster/shared-certs.js';
import { runCli } from '../helpers/cli.js';
import { snapshot, suiteTempDir, withTempDir } from '../helpers/dirs.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' };
// kubeadm's certsToTransfer for a local etcd, through certOrKeyNameToSecretName.
const KUBEADM_DATA_KEYS = ['ca.crt', 'ca.key', 'etcd-ca.crt', 'etcd-ca.key', 'front-proxy-ca.crt', 'front-proxy-ca.key', 'sa.key', 'sa.pub'];
const PATHS = ['pki/ca.crt', 'pki/ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key', 'pki/front-proxy-ca.crt', 'pki/front-proxy-ca.key', 'pki/sa.key', 'pki/sa.pub'];

let source = '';
let remove: () => Promise<void> = async () => undefined;

test.before(async () => {
  const temp = await suiteTempDir();
  remove = temp.remove;
  source = join(temp.dir, 'cp-1');
  await initPkiDirectory(source, CONFIG);
});
test.after(() => remove());

const refusal = async (promise: Promise<unknown>): Promise<{ code: string; message: string; field?: string }> => {
  try {
    await promise;
  } catch (error) {
    if (isPkiError(error)) return { code: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }) };
    throw error;
  }
  throw new Error('expected a refusal');
};

test('createCertificateKey: 64 lowercase hex characters, different each time', () => {
  const a = createCertificateKey();
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.is.not(a, createCertificateKey());
});

test("the data keys are exactly kubeadm's names, each nonce || ciphertext || tag under the key", async () => {
  const key = createCertificateKey();
  const { data, empty } = await sharedCertificateSecret(source, key);
  assert.equal(Object.keys(data).sort(), KUBEADM_DATA_KEYS);
  assert.equal(empty, []);
  assert.equal(SHARED_CERTIFICATE_FILES.map((f) => f.path).sort(), PATHS);
  // Opened here with node:crypto as Go's gcm.Open does: the nonce first, the 16-byte tag last.
  for (const file of SHARED_CERTIFICATE_FILES) {
    const blob = Buffer.from(data[file.dataKey]!, 'base64');
    const decipher = createDecipheriv('aes-256-gcm', Buffer.from(key, 'hex'), blob.subarray(0, 12));
    decipher.setAuthTag(blob.subarray(blob.length - 16));
    const plain = Buffer.concat([decipher.update(blob.subarray(12, blob.length - 16)), decipher.final()]);
    assert.ok(plain.equals(await readFile(join(source, file.path))), file.path);
    assert.is(blob.length, 12 + plain.length + 16);
  }
  // A fresh nonce for each upload.
  const again = await sharedCertificateSecret(source, key);
  assert.is.not(again.data['ca.crt'], data['ca.crt']);
});

test('round trip kubepki -> kubepki: byte-identical files, keys 0600, certificates 0644', async () => {
  await withTempDir(async (dir) => {
    const key = createCertificateKey();
    const { data } = await sharedCertificateSecret(source, key);
    const result = await restoreSharedCertificates(dir, data, key);
    assert.equal(result.written.map((p) => p.slice(dir.length + 1)).sort(), PATHS);
    for (const path of PATHS) {
      assert.ok((await readFile(join(dir, path))).equals(await readFile(join(source, path))), path);
      assert.is((await stat(join(dir, path))).mode & 0o777, path.endsWith('.key') ? 0o600 : 0o644, path);
    }
    // Again: everything is unchanged, nothing written.
    const second = await restoreSharedCertificates(dir, data, key);
    assert.equal(second.written, []);
    assert.is(second.unchanged.length, 8);
  });
});

test("a Secret whose cluster CA is not the one the node pinned is refused before anything is written", async () => {
  await withTempDir(async (dir) => {
    const key = createCertificateKey();
    const { data } = await sharedCertificateSecret(source, key);
    await initPkiDirectory(join(dir, 'other'), CONFIG);
    const otherCa = await readFile(join(dir, 'other', 'pki/ca.crt'), 'utf8');
    const target = join(dir, 'node');
    const error = await refusal(restoreSharedCertificates(target, data, key, { expectedClusterCa: otherCa }));
    assert.equal([error.code, error.field], ['ERR_CERTIFICATE', 'data.ca.crt']);
    assert.equal(await snapshot(target).catch(() => ({})), {});
    const ours = await readFile(join(source, 'pki/ca.crt'), 'utf8');
    assert.is((await restoreSharedCertificates(target, data, key, { expectedClusterCa: ours })).written.length, 8);
  });
});

test('a wrong key is refused naming the data key, never the key, and nothing is written', async () => {
  await withTempDir(async (dir) => {
    const key = createCertificateKey();
    const wrong = createCertificateKey();
    const { data } = await sharedCertificateSecret(source, key);
    const error = await refusal(restoreSharedCertificates(dir, data, wrong));
    assert.is(error.code, 'ERR_KEY');
    assert.match(error.field ?? '', /^data\.(ca|etcd-ca|front-proxy-ca|sa)\.(crt|key|pub)$/);
    assert.not.ok(error.message.includes(wrong) || error.message.includes(key));
    assert.equal(await snapshot(dir), {});
  });
});

test('a tampered ciphertext, a truncated value, a missing or unknown data key: refused with nothing written', async () => {
  await withTempDir(async (dir) => {
    const key = createCertificateKey();
    const { data } = await sharedCertificateSecret(source, key);
    const blob = Buffer.from(data['sa.key']!, 'base64');
    blob[20]! ^= 1;
    let error = await refusal(restoreSharedCertificates(dir, { ...data, 'sa.key': blob.toString('base64') }, key));
    assert.is(error.code, 'ERR_KEY');
    assert.is(error.field, 'data.sa.key');
    error = await refusal(restoreSharedCertificates(dir, { ...data, 'ca.crt': Buffer.alloc(20).toString('base64') }, key));
    assert.is(error.code, 'ERR_KEY');
    assert.is(error.field, 'data.ca.crt');
    const missing = { ...data };
    delete missing['etcd-ca.key'];
    error = await refusal(restoreSharedCertificates(dir, missing, key));
    assert.is(error.code, 'ERR_ARGUMENT');
    assert.is(error.field, 'data.etcd-ca.key');
    error = await refusal(restoreSharedCertificates(dir, { ...data, 'apiserver.key': data['ca.key']! }, key));
    assert.is(error.field, 'data.apiserver.key');
    error = await refusal(restoreSharedCertificates(dir, { ...data, 'ca.crt': 'not base64!' }, key));
    assert.is(error.field, 'data.ca.crt');
    // Values swapped between data keys decrypt but do not fit their names.
    error = await refusal(restoreSharedCertificates(dir, { ...data, 'ca.key': data['front-proxy-ca.key']! }, key));
    assert.is(error.code, 'ERR_KEY');
    assert.is(error.field, 'data.ca.key');
    error = await refusal(restoreSharedCertificates(dir, { ...data, 'ca.crt': data['ca.key']! }, key));
    assert.is(error.field, 'data.ca.crt');
    assert.equal(await snapshot(dir), {});
  });
});

test('a malformed certificate key is ERR_ARGUMENT that does not quote it', async () => {
  for (const bad of ['', 'abc', 'g'.repeat(64), 'a'.repeat(32), 'a'.repeat(66)]) {
    const error = await refusal(sharedCertificateSecret(source, bad));
    assert.is(error.code, 'ERR_ARGUMENT');
    assert.is(error.field, 'certificateKey');
    if (bad) assert.not.ok(error.message.includes(bad));
  }
});

test('existing different files are ERR_EXISTS with nothing written, replaced with force; empty values are skipped', async () => {
  await withTempDir(async (dir) => {
    const other = join(dir, 'other');
    await initPkiDirectory(other, { ...CONFIG, nodeName: 'cp-2' });
    const before = await snapshot(other);
    const key = createCertificateKey();
    const { data } = await sharedCertificateSecret(source, key);
    const error = await refusal(restoreSharedCertificates(other, data, key));
    assert.is(error.code, 'ERR_EXISTS');
    assert.match(error.message, /pki\/ca\.key/);
    assert.equal(await snapshot(other), before);
    await restoreSharedCertificates(other, data, key, { force: true });
    for (const path of PATHS) assert.ok((await readFile(join(other, path))).equals(await readFile(join(source, path))), path);

    // A directory without ca.key (a CA key in a token) uploads it empty, as kubeadm does; download skips it.
    const partial = join(dir, 'partial');
    await initPkiDirectory(partial, CONFIG);
    await rm(join(partial, 'pki/ca.key'));
    const uploaded = await sharedCertificateSecret(partial, key);
    assert.equal(uploaded.empty, ['ca.key']);
    assert.is(uploaded.data['ca.key'], '');
    const target = join(dir, 'target');
    const restored = await restoreSharedCertificates(target, uploaded.data, key);
    assert.equal(restored.empty, ['ca.key']);
    assert.is(restored.written.length, 7);
    await assert.not.ok(await stat(join(target, 'pki/ca.key')).then(() => true, () => false));
  });
});

test('the manifest round trip, and the certs upload / download command', async () => {
  await withTempDir(async (dir) => {
    const key = createCertificateKey();
    const { data } = await sharedCertificateSecret(source, key);
    const manifest = sharedCertificateManifest(data);
    assert.match(manifest, /^apiVersion: v1\nkind: Secret\nmetadata:\n {2}name: kubeadm-certs\n {2}namespace: kube-system\n/);
    assert.equal(sharedCertificateManifestData(manifest), data);
    const notSecret = await refusal(Promise.resolve().then(() => sharedCertificateManifestData('kind: ConfigMap')));
    assert.is(notSecret.code, 'ERR_ARGUMENT');

    const out = join(dir, 'kubeadm-certs.yaml');
    let run = await runCli('certs', 'upload', '--dir', source, '--certificate-key', key, '--out', out);
    assert.is(run.code, 0, run.err);
    assert.not.ok(run.out.includes(key) || run.err.includes(key));
    assert.is((await stat(out)).mode & 0o777, 0o600);
    const target = join(dir, 'cp-2');
    run = await runCli('certs', 'download', '--dir', target, '--certificate-key', key, '--from', out);
    assert.is(run.code, 0, run.err);
    for (const path of PATHS) assert.ok((await readFile(join(target, path))).equals(await readFile(join(source, path))), path);

    const wrong = createCertificateKey();
    run = await runCli('certs', 'download', '--dir', join(dir, 'cp-3'), '--certificate-key', wrong, '--from', out);
    assert.is(run.code, 1);
    assert.match(run.err, /ERR_KEY/);
    assert.not.ok(run.err.includes(wrong));
    run = await runCli('certs', 'download', '--dir', join(dir, 'cp-3'), '--certificate-key', 'xyz', '--from', out);
    assert.is(run.code, 2);
    assert.not.ok(run.err.includes('xyz'));

    // kubeadm's `certs certificate-key`: a new key on standard output, and nothing else.
    run = await runCli('certs', 'certificate-key');
    assert.is(run.code, 0, run.err);
    assert.match(run.out, /^[0-9a-f]{64}$/);
    const printed = run.out;
    const generated = join(dir, 'generated.yaml');
    run = await runCli('certs', 'upload', '--dir', source, '--certificate-key', printed, '--out', generated);
    assert.is(run.code, 0, run.err);
    run = await runCli('certs', 'upload', '--dir', source, '--out', generated);
    assert.is(run.code, 2);
    run = await runCli('certs', 'download', '--dir', join(dir, 'cp-4'), '--certificate-key', printed!, '--from', generated);
    assert.is(run.code, 0, run.err);
  });
});

test('the API transport: the Secret owned by a 2-hour token that cannot authenticate, the Role and RoleBinding; download gets it back', async () => {
  const objects = new Map<string, Record<string, unknown>>();
  const requests: string[] = [];
  const issuer = await loadAuthority(source, { name: 'ca', profile: PROFILES.clusterCa, path: 'pki/ca', kubeconfig: false });
  const pair = await issuePair(issuer, PROFILES.kubeletServing, nodeSubject('api'), { ips: ['127.0.0.1'] });
  let uid = 0;
  const server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      requests.push(`${req.method} ${req.url}`);
      const answer = (status: number, object: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(object));
      const url = req.url ?? '';
      if (req.method === 'GET') return objects.has(url) ? answer(200, objects.get(url)) : answer(404, { kind: 'Status', reason: 'NotFound', message: 'not found' });
      const object = JSON.parse(body) as { metadata: { name: string; uid?: string } };
      const path = req.method === 'POST' ? `${url}/${object.metadata.name}` : url;
      if (req.method === 'POST' && objects.has(path)) return answer(409, { kind: 'Status', reason: 'AlreadyExists', message: 'exists' });
      object.metadata.uid = `uid-${++uid}`;
      objects.set(path, object);
      answer(req.method === 'POST' ? 201 : 200, object);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    await withTempDir(async (dir) => {
      const kubeconfig = join(dir, 'admin.conf');
      const server_ = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await writeFile(kubeconfig, stringifyKubeconfig({ clusterName: 'k', server: server_, caPem: await readFile(join(source, 'pki/ca.crt'), 'utf8'), userName: 'admin', token: 'unused' }));
      const key = createCertificateKey();
      let run = await runCli('certs', 'upload', '--dir', source, '--certificate-key', key, '--kubeconfig', kubeconfig);
      assert.is(run.code, 0, run.err);
      // Twice: the second upload replaces the Secret (PUT), as kubeadm's CreateOrUpdateSecret.
      run = await runCli('certs', 'upload', '--dir', source, '--certificate-key', key, '--kubeconfig', kubeconfig);
      assert.is(run.code, 0, run.err);
      assert.ok(requests.includes('PUT /api/v1/namespaces/kube-system/secrets/kubeadm-certs'), requests.join('\n'));
      const secret = objects.get('/api/v1/namespaces/kube-system/secrets/kubeadm-certs') as { metadata: { ownerReferences: { kind: string; name: string; uid: string; controller: boolean }[] }; data: Record<string, string> };
      assert.equal(Object.keys(secret.data).sort(), KUBEADM_DATA_KEYS);
      const [owner] = secret.metadata.ownerReferences;
      assert.is(owner!.kind, 'Secret');
      assert.ok(owner!.controller);
      const token = objects.get(`/api/v1/namespaces/kube-system/secrets/${owner!.name}`) as { metadata: { uid: string }; type: string; data: Record<string, string> };
      assert.is(token.metadata.uid, owner!.uid);
      assert.is(token.type, 'bootstrap.kubernetes.io/token');
      const tokenData = Object.fromEntries(Object.entries(token.data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      assert.not.ok(Object.keys(tokenData).some((k) => k.startsWith('usage-bootstrap-')));
      const ttl = Date.parse(tokenData.expiration!) - Date.now();
      assert.ok(ttl > 7100_000 && ttl <= 7200_000, String(ttl));
      const role = objects.get('/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/roles/kubeadm:kubeadm-certs') as { rules: { resourceNames: string[] }[] };
      assert.equal(role.rules[0]!.resourceNames, ['kubeadm-certs']);
      const binding = objects.get('/apis/rbac.authorization.k8s.io/v1/namespaces/kube-system/rolebindings/kubeadm:kubeadm-certs') as { subjects: { name: string }[] };
      assert.is(binding.subjects[0]!.name, 'system:bootstrappers:kubeadm:default-node-token');

      const target = join(dir, 'cp-2');
      run = await runCli('certs', 'download', '--dir', target, '--certificate-key', key, '--kubeconfig', kubeconfig);
      assert.is(run.code, 0, run.err);
      for (const path of PATHS) assert.ok((await readFile(join(target, path))).equals(await readFile(join(source, path))), path);
      objects.delete('/api/v1/namespaces/kube-system/secrets/kubeadm-certs');
      run = await runCli('certs', 'download', '--dir', join(dir, 'cp-3'), '--certificate-key', key, '--kubeconfig', kubeconfig);
      assert.is(run.code, 1);
      assert.match(run.err, /ERR_NOT_FOUND.*might have expired/);
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test.run();
