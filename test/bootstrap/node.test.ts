import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapKubelet,
  bootstrapTokenSecret,
  Certificate,
  formatBootstrapToken,
  generateBootstrapToken,
  importPrivateKeyPem,
  initPkiDirectory,
  kubeletRotation,
  loadCurrentPair,
  memoryRegistry,
  memoryTokenStore,
  nodeSubject,
  parseKubeconfig,
  requestServingCertificate,
  startApprover,
  startBootstrapServer,
  startSigner,
  staticNodeAddresses,
  stringifyKubeconfig,
  writeFileAtomic,
  type BootstrapServer,
  type Clock,
  type Controller,
  type CsrRegistry,
} from '../../lib/index.js';
import { exportSpki } from '../../lib/crypto/keys.js';
import { nodeCsrName } from '../../lib/bootstrap/node.js';
import { SIGNERS } from '../../lib/bootstrap/csr-object.js';
import { failureOf } from '../helpers/fixtures.js';
import { withTempDir } from '../helpers/dirs.js';

test('the CSR name is the kubelet\'s digest: stable for the same key and subject, different otherwise', async () => {
  const spki = Uint8Array.from([1, 2, 3]);
  const usages = ['digital signature', 'key encipherment', 'client auth'];
  const name = nodeCsrName(spki, nodeSubject('n1'), usages);
  assert.match(name, /^node-csr-[A-Za-z0-9_-]{43}$/);
  assert.is(nodeCsrName(spki, nodeSubject('n1'), usages), name);
  assert.is.not(nodeCsrName(spki, nodeSubject('n2'), usages), name);
  assert.is.not(nodeCsrName(Uint8Array.from([1, 2, 4]), nodeSubject('n1'), usages), name);
  // The delimiter keeps CN "ab" + O "c" apart from CN "a" + O "bc".
  assert.is.not(nodeCsrName(spki, { commonName: 'ab', organizations: ['c'] }, usages), nodeCsrName(spki, { commonName: 'a', organizations: ['bc'] }, usages));
});

async function cluster(dir: string, fn: (ctx: { server: BootstrapServer; registry: CsrRegistry; bootstrapKubeconfig: string; startControllers: () => Promise<Controller[]> }) => Promise<void>): Promise<void> {
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
  const read = (path: string): Promise<string> => readFile(join(dir, path), 'utf8');
  const ca = await read('pki/ca.crt');
  const caKey = (await importPrivateKeyPem(await read('pki/ca.key'))).privateKey;
  const token = generateBootstrapToken();
  const registry = await memoryRegistry({ dir: join(dir, 'csrs') });
  const server = await startBootstrapServer({ registry, tokens: memoryTokenStore([bootstrapTokenSecret(token)]), tls: { cert: await read('pki/apiserver.crt'), key: await read('pki/apiserver.key'), clientCa: ca } });
  const bootstrapKubeconfig = join(dir, 'bootstrap-kubelet.conf');
  await writeFileAtomic({ path: bootstrapKubeconfig, content: stringifyKubeconfig({ clusterName: 'k', server: server.url, caPem: ca, userName: 'b', token: formatBootstrapToken(token) }), mode: 0o600 });
  const controllers: Controller[] = [];
  const startControllers = async (): Promise<Controller[]> => {
    controllers.push(
      await startApprover(registry, { nodeAddresses: staticNodeAddresses({ 'node-1': ['10.0.0.11', 'node-1'] }) }),
      await startSigner(registry, { signerName: SIGNERS.kubeApiserverClientKubelet, issuer: { certificate: ca, privateKey: caKey } }),
      await startSigner(registry, { signerName: SIGNERS.kubeletServing, issuer: { certificate: ca, privateKey: caKey } }),
    );
    return controllers;
  };
  try {
    await fn({ server, registry, bootstrapKubeconfig, startControllers });
  } finally {
    for (const c of controllers) c.stop();
    await server.close();
  }
}

test('a node bootstraps: client certificate, file store, kubeconfig pointing at the current file; then a serving certificate', async () => {
  await withTempDir(async (dir) =>
    cluster(dir, async ({ bootstrapKubeconfig, startControllers }) => {
      await startControllers();
      const certDir = join(dir, 'kubelet-pki');
      const kubeconfig = join(dir, 'node', 'kubelet.conf');
      const result = await bootstrapKubelet({ bootstrapKubeconfig, kubeconfig, certDir, nodeName: 'node-1', timeoutMs: 10_000 });
      assert.ok(result.bootstrapped);
      assert.equal(result.certificate.subject, nodeSubject('node-1'));
      const current = join(certDir, 'kubelet-client-current.pem');
      assert.ok((await lstat(current)).isSymbolicLink());
      assert.match(await readlink(current), /^kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$/);
      assert.is((await lstat(join(certDir, await readlink(current)))).mode & 0o777, 0o600);
      const config = parseKubeconfig(await readFile(kubeconfig, 'utf8'));
      assert.equal([config.clientCertificateFile, config.clientKeyFile], [current, current]);
      assert.is(await lstat(join(certDir, 'kubelet-client.key.tmp')).then(() => 'exists', () => 'gone'), 'gone');
      const again = await bootstrapKubelet({ bootstrapKubeconfig, kubeconfig, certDir, nodeName: 'node-1' });
      assert.not.ok(again.bootstrapped, 'a valid kubeconfig means no second bootstrap');
      const serving = await requestServingCertificate({ kubeconfig, certDir, nodeName: 'node-1', addresses: ['10.0.0.11', 'node-1'], timeoutMs: 10_000 });
      assert.equal([serving.sans.dns, serving.sans.ips], [['node-1'], ['10.0.0.11']]);
      assert.ok((await lstat(join(certDir, 'kubelet-server-current.pem'))).isSymbolicLink());
      const denied = await failureOf(() => requestServingCertificate({ kubeconfig, certDir, nodeName: 'node-1', addresses: ['10.0.0.12'], timeoutMs: 10_000 }));
      assert.is(denied.code, 'ERR_DENIED');
    }),
  );
});

test('a restart in the middle of a bootstrap resumes the same CSR with the same pending key', async () => {
  await withTempDir(async (dir) =>
    cluster(dir, async ({ registry, bootstrapKubeconfig, startControllers }) => {
      const options = { bootstrapKubeconfig, kubeconfig: join(dir, 'node', 'kubelet.conf'), certDir: join(dir, 'kubelet-pki'), nodeName: 'node-1' };
      // No approver yet: the first attempt times out, leaving a pending CSR and the pending key.
      assert.is((await failureOf(() => bootstrapKubelet({ ...options, timeoutMs: 300 }))).code, 'ERR_TIMEOUT');
      const pendingKey = await importPrivateKeyPem(await readFile(join(options.certDir, 'kubelet-client.key.tmp')));
      const [pending] = await registry.list();
      assert.is(pending!.metadata.name, nodeCsrName(await exportSpki(pendingKey.publicKey), nodeSubject('node-1'), ['digital signature', 'key encipherment', 'client auth']));
      await startControllers();
      const result = await bootstrapKubelet({ ...options, timeoutMs: 10_000 });
      assert.equal((await registry.list()).map((c) => c.metadata.name), [pending!.metadata.name], 'the same CSR, not a second one');
      assert.ok(Buffer.from(result.certificate.spki).equals(await exportSpki(pendingKey.publicKey)), 'the pending key was used');
      assert.ok(result.certificate.isIssuedBy(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'))));
    }),
  );
});

test('kubeletRotation renews the client certificate past its deadline with a new key, and the serving one when the node gains an address', async () => {
  await withTempDir(async (dir) =>
    cluster(dir, async ({ registry, bootstrapKubeconfig, startControllers }) => {
      await startControllers();
      const certDir = join(dir, 'kubelet-pki');
      const kubeconfig = join(dir, 'node', 'kubelet.conf');
      const first = (await bootstrapKubelet({ bootstrapKubeconfig, kubeconfig, certDir, nodeName: 'node-1', timeoutMs: 10_000 })).certificate;
      await requestServingCertificate({ kubeconfig, certDir, nodeName: 'node-1', addresses: ['10.0.0.11'], timeoutMs: 10_000 });
      // A clock at 80% of the client certificate's lifetime; with random 0 the deadline is at 70%.
      const lifetime = first.notAfter.getTime() - first.notBefore.getTime();
      const at = new Date(first.notBefore.getTime() + 0.8 * lifetime);
      const clock: Clock = { now: () => at, sleep: async () => undefined };
      const rotated: string[] = [];
      const options = { kubeconfig, certDir, nodeName: 'node-1', addresses: ['10.0.0.11', 'node-1'], timeoutMs: 10_000, random: () => 0 };
      const rotation = kubeletRotation({ ...options, clock, onRotated: (kind) => rotated.push(kind), onError: (_, error) => assert.unreachable(String(error)) });
      assert.is(await rotation.client.runOnce(), 'rotated');
      const renewed = (await loadCurrentPair({ certDir, prefix: 'kubelet-client' }))!.certificate;
      assert.is.not(renewed.serialNumber, first.serialNumber);
      assert.not.ok(Buffer.from(renewed.spki).equals(first.spki), 'a new key');
      assert.equal(renewed.subject, nodeSubject('node-1'));
      const renewal = (await registry.list()).find((csr) => csr.status?.certificate && Buffer.from(csr.status.certificate, 'base64').toString() === renewed.pem);
      assert.match(renewal!.metadata.name, /^csr-/);
      assert.is(renewal!.spec.username, 'system:node:node-1', 'asked with the current client certificate (selfnodeclient)');
      // The serving certificate lacks the DNS name now in the template: renewed at once, through the new client certificate.
      assert.is(await rotation.serving!.runOnce(), 'rotated');
      const serving = (await loadCurrentPair({ certDir, prefix: 'kubelet-server' }))!.certificate;
      assert.equal([serving.sans.dns, serving.sans.ips], [['node-1'], ['10.0.0.11']]);
      assert.equal(rotated, ['client', 'serving']);
      // On the real clock both are fresh and match: nothing to do until their deadlines.
      const now = kubeletRotation(options);
      assert.equal([await now.client.runOnce(), await now.serving!.runOnce()], ['waiting', 'waiting']);
    }),
  );
});

test.run();
