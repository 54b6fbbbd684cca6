// A cluster CA whose key never leaves a PKCS#11 token: SoftHSM2 (Debian's softhsm2) with a token made in a
// temporary folder. The key is generated in the token, non-extractable; the directory holds a reference;
// every signing path (init, the bootstrap signer, batches, CRLs, CA rotation) signs through the token, and
// Go's crypto/x509 judges the certificates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapKubelet,
  bootstrapTokenSecret,
  formatBootstrapToken,
  generateBootstrapToken,
  memoryTokenStore,
  startEmbeddedBootstrap,
  stringifyKubeconfig,
  Certificate,
  closePkcs11Tokens,
  createCsr,
  generateKeyPair,
  generatePkcs11KeyPair,
  initPkiDirectory,
  issueCertificates,
  issueRevocationList,
  loadAuthority,
  loadPkcs11KeyPair,
  loadPkiDirectory,
  memoryRegistry,
  nodeSubject,
  PROFILES,
  rotateAuthority,
  startApprover,
  startSigner,
  type Pkcs11KeyReference,
} from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { AUTHORITY_LAYOUT } from '../../lib/cluster/layout.js';
import { csrObject, SIGNERS } from '../../lib/bootstrap/csr-object.js';
import { openPkcs11Token } from '../../lib/crypto/pkcs11.js';
import { verifySignature } from '../../lib/x509/signature.js';
import { runCli } from '../helpers/cli.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';
import { codeOf, failureOf } from '../helpers/fixtures.js';
import { goJudge } from './judges.js';
import { requireJudge } from '../helpers/judge-packages.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const home = mkdtempSync(join(tmpdir(), 'kubepki-softhsm-'));
writeFileSync(join(home, 'softhsm2.conf'), `directories.tokendir = ${home}\nobjectstore.backend = file\nlog.level = ERROR\n`);
// SoftHSM reads its configuration when the module is first initialised, which happens in this process.
process.env.SOFTHSM2_CONF = join(home, 'softhsm2.conf');
process.env.KUBEPKI_TEST_PIN = '246810';
process.env.KUBEPKI_TEST_WRONG_PIN = '999999';
requireJudge('softhsm2-util');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'kubepki-test', '--pin', '246810', '--so-pin', '13579'], { stdio: 'ignore' });

const reference = (key: string, pinEnv = 'KUBEPKI_TEST_PIN'): Pkcs11KeyReference => ({ module: MODULE, token: 'kubepki-test', key, pin: { env: pinEnv } });
const CONFIG = { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false };
const caEntry = AUTHORITY_LAYOUT.find((e) => e.name === 'ca')!;

test('a wrong PIN, a missing token and a missing module are clear errors, and nothing is written', async () => {
  await withTempDir(async (dir) => {
    const before = await snapshot(dir);
    const wrongPin = await failureOf(() => initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('cluster-ca', 'KUBEPKI_TEST_WRONG_PIN') } }));
    assert.is(wrongPin.code, 'ERR_PKCS11');
    assert.match(wrongPin.message!, /refused the login \(CKR_PIN_INCORRECT\)/);
    assert.not.match(wrongPin.message!, /999999/, 'the PIN is never in a message');
    const noToken = await failureOf(() => initPkiDirectory(dir, CONFIG, { pkcs11: { ca: { ...reference('cluster-ca'), token: 'no-such-token' } } }));
    assert.equal([noToken.code, noToken.field], ['ERR_PKCS11', 'pkcs11.ca.token']);
    assert.is(await codeOf(() => initPkiDirectory(dir, CONFIG, { pkcs11: { ca: { ...reference('cluster-ca'), module: '/nonexistent/libpkcs11.so' } } })), 'ERR_PKCS11');
    assert.is(await codeOf(() => initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('cluster-ca', 'KUBEPKI_UNSET_VARIABLE') } })), 'ERR_PKCS11');
    assert.equal(await snapshot(dir), before);
  });
});

test('init with the cluster CA in the token: non-extractable key, a reference instead of ca.key, certificates Go accepts', async () => {
  await withTempDir(async (dir) => {
    const result = await initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('cluster-ca') } });
    assert.ok(result.created.includes('ca'));
    const files = await readdir(join(dir, 'pki'));
    assert.ok(files.includes('ca.pkcs11.json') && !files.includes('ca.key'), files.join(' '));
    const stored = await readFile(join(dir, 'pki/ca.pkcs11.json'), 'utf8');
    assert.equal(JSON.parse(stored), { module: MODULE, token: 'kubepki-test', key: 'cluster-ca', pin: { env: 'KUBEPKI_TEST_PIN' } });
    assert.not.match(stored, /246810/);
    const key = await loadPkcs11KeyPair(reference('cluster-ca'));
    assert.is(key.privateKey.extractable, false);
    const ca = await loadAuthority(dir, caEntry);
    assert.ok(ca.crypto, 'the CA signs through the token');
    assert.is(await codeOf(() => ca.crypto!.subtle.exportKey('pkcs8', ca.privateKey)), 'non-PkiError: Error: key: Is not extractable');
    const loaded = await loadPkiDirectory(dir);
    assert.equal([loaded.missing, loaded.problems], [[], []]);
    const leaf = (name: string): string => loaded.certificates.get(name)!.certificate.pem;
    const results = await goJudge([
      { op: 'verify', leaf: leaf('apiserver'), roots: [ca.certificate.pem], name: 'kubernetes.default.svc', eku: 'server' },
      { op: 'verify', leaf: leaf('apiserver-kubelet-client'), roots: [ca.certificate.pem], eku: 'client' },
      { op: 'verify', leaf: leaf('admin'), roots: [ca.certificate.pem], eku: 'client' },
      { op: 'verify', leaf: ca.certificate.pem, roots: [ca.certificate.pem], eku: 'any' },
    ]);
    assert.equal(results.map((r) => r.error), ['', '', '', '']);
    // A second run keeps the CA in the token and the files as they are.
    const again = await initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('cluster-ca') } });
    assert.equal(again.created, []);
    // Asking for the token when the CA key is a file is a conflict, not a silent switch.
    await withTempDir(async (fileDir) => {
      await initPkiDirectory(fileDir, CONFIG);
      assert.is(await codeOf(() => initPkiDirectory(fileDir, CONFIG, { pkcs11: { ca: reference('cluster-ca') } })), 'ERR_EXISTS');
    });
  });
});

test('an existing key in the token is used by its CKA_ID, and a new key without a label is refused', async () => {
  const made = await generatePkcs11KeyPair(reference('made-elsewhere'), 'ecdsa-p384');
  const token = await openPkcs11Token(reference('made-elsewhere'));
  const storage = (token.crypto as unknown as { keyStorage: { keys(): Promise<string[]>; getItem(i: string): Promise<CryptoKey> } }).keyStorage;
  let id = '';
  for (const index of await storage.keys()) if (((await storage.getItem(index)).algorithm as { label?: string }).label === 'made-elsewhere') id = index.split('-').at(-1)!;
  assert.ok(id.length > 0);
  const { key: _label, ...byId } = { ...reference('unused'), id };
  void _label;
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, keySpec: 'ecdsa-p384' }, { pkcs11: { ca: byId } });
    const ca = await loadAuthority(dir, caEntry);
    assert.ok(Buffer.from(ca.certificate.spki).equals(Buffer.from(await token.crypto.subtle.exportKey('spki', made.publicKey))), 'the CA certifies the existing key');
    assert.is((JSON.parse(await readFile(join(dir, 'pki/ca.pkcs11.json'), 'utf8')) as { id: string }).id, id);
  });
  assert.is(await codeOf(() => generatePkcs11KeyPair(byId, 'ecdsa-p256')), 'ERR_PKCS11');
  assert.is(await codeOf(() => generatePkcs11KeyPair(reference('made-elsewhere'), 'ecdsa-p256')), 'ERR_EXISTS');
});

test('the bootstrap signer, batches and CRLs sign through the token', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('cluster-ca') } });
    const ca = await loadAuthority(dir, caEntry);
    const registry = await memoryRegistry();
    const errors: unknown[] = [];
    const controllers = [
      await startApprover(registry),
      // workers are asked for, but a token's key cannot leave this thread: the signer stays here.
      await startSigner(registry, { signerName: SIGNERS.kubeApiserverClientKubelet, issuer: ca, workers: 2, onError: (e) => errors.push(e) }),
    ];
    const keyPair = await generateKeyPair();
    const csr = await createCsr({ keyPair, subject: nodeSubject('node-1') });
    await registry.create(csrObject('node-csr-1', csr.pem, SIGNERS.kubeApiserverClientKubelet, ['digital signature', 'client auth']), { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers'] });
    for (const controller of controllers) await controller.idle();
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const controller of controllers) await controller.idle();
    for (const controller of controllers) controller.stop();
    assert.equal(errors, []);
    const issued = (await registry.get('node-csr-1'))!.status?.certificate;
    assert.ok(issued, 'the kubelet client certificate was issued');
    const kubelet = Certificate.from(Buffer.from(issued, 'base64').toString());
    const [judged] = await goJudge([{ op: 'verify', leaf: kubelet.pem, roots: [ca.certificate.pem], eku: 'client' }]);
    assert.is(judged!.error, '');

    const batch = await issueCertificates([{ csr: csr.pem, profile: PROFILES.kubeletClient }], { issuer: ca, workers: 2 });
    assert.ok(batch[0]!.certificate?.isIssuedBy(ca.certificate));

    const crl = await issueRevocationList({ issuer: ca, revoked: [{ serialNumber: kubelet.serialNumber }] });
    assert.ok(verifySignature(crl.signatureAlgorithmOid, ca.certificate.spki, crl.tbs, crl.signature), 'the CRL is signed by the token key');
    assert.ok(crl.serials.has(kubelet.serialNumber));
  });
});

test('a kubelet bootstraps over HTTPS against the embedded endpoint whose CA key is in the token', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('cluster-ca') } });
    const ca = await loadAuthority(dir, caEntry);
    const token = generateBootstrapToken();
    const embedded = await startEmbeddedBootstrap({ issuer: ca, tokens: memoryTokenStore([bootstrapTokenSecret(token)]), signerWorkers: 2 });
    try {
      const bootstrapKubeconfig = join(dir, 'bootstrap-kubelet.conf');
      writeFileSync(bootstrapKubeconfig, stringifyKubeconfig({ clusterName: 'k', server: embedded.server.url, caPem: ca.certificate.pem, userName: 'b', token: formatBootstrapToken(token) }), { mode: 0o600 });
      // A worker node's files, apart from the control-plane node's own kubelet.conf.
      const result = await bootstrapKubelet({ bootstrapKubeconfig, kubeconfig: join(dir, 'node-9.conf'), certDir: join(dir, 'kubelet-pki'), nodeName: 'node-9', timeoutMs: 10_000 });
      assert.ok(result.bootstrapped);
      assert.ok(result.certificate.isIssuedBy(ca.certificate));
      const [judged] = await goJudge([{ op: 'verify', leaf: result.certificate.pem, roots: [ca.certificate.pem], eku: 'client' }]);
      assert.is(judged!.error, '');
    } finally {
      await embedded.close();
    }
  });
});

test('etcd CA rotation from a key file to a new key in the token: the etcd leaves are signed through it, pki/etcd/ca.key gives way to the reference', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    await rotateAuthority(dir, { ca: 'etcd', phase: 'add', crossSign: true, pkcs11: reference('rotating-etcd-ca') });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'reissue' });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'finish' });
    assert.is((JSON.parse(await readFile(join(dir, 'pki/etcd/ca.pkcs11.json'), 'utf8')) as { key: string }).key, 'rotating-etcd-ca');
    assert.not.ok((await readdir(join(dir, 'pki/etcd'))).includes('ca.key'));
    const loaded = await loadPkiDirectory(dir);
    assert.equal(loaded.problems, []);
    assert.ok(loaded.certificates.get('etcd-peer')!.certificate.isIssuedBy(loaded.authorities.get('etcd-ca')!.certificate));
  });
});

test('CA rotation moves the cluster CA to a new key in the token', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG, { pkcs11: { ca: reference('rotating-ca') } });
    const old = (await loadAuthority(dir, caEntry)).certificate;
    await rotateClusterCa(dir, 'add', { crossSign: true, pkcs11: reference('rotating-ca-2') });
    await rotateClusterCa(dir, 'reissue');
    await rotateClusterCa(dir, 'finish');
    const stored = JSON.parse(await readFile(join(dir, 'pki/ca.pkcs11.json'), 'utf8')) as { key: string };
    assert.is(stored.key, 'rotating-ca-2');
    const loaded = await loadPkiDirectory(dir);
    assert.equal(loaded.problems, []);
    const next = loaded.authorities.get('ca')!.certificate;
    assert.not.ok(Buffer.from(next.der).equals(old.der));
    assert.ok(loaded.certificates.get('apiserver')!.certificate.isIssuedBy(next));
  });
});

test('the command: init --ca-pkcs11 (a PIN on the command line is refused), sign-csrs through the token, a removed key', async () => {
  await withTempDir(async (dir) => {
    const spec = `module=${MODULE},token=kubepki-test,key=cli-ca,pin-env=KUBEPKI_TEST_PIN`;
    const refused = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '127.0.0.1', '--ca-pkcs11', `${spec},pin=246810`);
    assert.is(refused.code, 2);
    assert.match(refused.err, /never given on the command line/);
    const init = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '127.0.0.1', '--ca-pkcs11', spec, '--json');
    assert.is(init.code, 0, init.err);
    const flags = (JSON.parse(init.out) as { flags: { kubeControllerManager: string[] } }).flags.kubeControllerManager.join(' ');
    assert.not.match(flags, /cluster-signing-key-file/, 'kube-controller-manager cannot sign with a key in a token');
    const csrFile = join(dir, 'n1.csr');
    writeFileSync(csrFile, (await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('n1') })).pem);
    const signed = await runCli('sign-csrs', '--dir', dir, '--profile', 'kubelet-client', '--out', join(dir, 'out'), csrFile);
    assert.is(signed.code, 0, signed.err);
    // Remove the key from the token: loading the CA is now a clear error, and nothing is issued.
    const key = await loadPkcs11KeyPair(reference('cli-ca'));
    const ca = await loadAuthority(dir, caEntry);
    const storage = (ca.crypto as unknown as { keyStorage: { keys(): Promise<string[]>; getItem(i: string): Promise<CryptoKey>; removeItem(i: string): Promise<void> } }).keyStorage;
    for (const index of await storage.keys()) {
      const item = await storage.getItem(index);
      if ((item.algorithm as { label?: string }).label === 'cli-ca') await storage.removeItem(index);
    }
    void key;
    const gone = await runCli('sign-csrs', '--dir', dir, '--profile', 'kubelet-client', '--out', join(dir, 'out2'), csrFile);
    assert.is(gone.code, 1);
    assert.match(gone.err, /ERR_PKCS11: .*holds no key labelled cli-ca/);
    assert.equal(await readdir(dir).then((f) => f.includes('out2')), false);
  });
});

test.after(async () => {
  await closePkcs11Tokens();
  rmSync(home, { recursive: true, force: true });
});

test.run();
