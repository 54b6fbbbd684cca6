// The states a killed run leaves between two file writes, made by hand: each is completed by running the
// same operation again (the crash test in test/resilience finds them at random).
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Certificate,
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  initPkiDirectory,
  loadPkiDirectory,
  renewCertificates,
  type ClusterConfig,
} from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { exportSpki } from '../../lib/crypto/keys.js';
import { withTempDir } from '../helpers/dirs.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false };
const whole = async (dir: string): Promise<void> => {
  const loaded = await loadPkiDirectory(dir);
  assert.equal([loaded.missing, loaded.problems], [[], []]);
};
const spkiOfKeyFile = async (path: string): Promise<Buffer> => Buffer.from(await exportSpki((await importPrivateKeyPem(await readFile(path, 'utf8'))).publicKey));

test('init stopped after a CA key was written, before its certificate: the next init certifies that key', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    const key = await readFile(join(dir, 'pki/ca.key'), 'utf8');
    await rm(dir, { recursive: true });
    await mkdir(join(dir, 'pki'), { recursive: true });
    await writeFile(join(dir, 'pki/ca.key'), key, { mode: 0o600 });
    await initPkiDirectory(dir, CONFIG);
    await whole(dir);
    assert.ok(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8')).spki.length > 0);
    assert.ok((await spkiOfKeyFile(join(dir, 'pki/ca.key'))).equals(Buffer.from(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8')).spki)));
  });
});

test('init stopped after a leaf key, or after sa.key: the next init completes both', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    await rm(join(dir, 'pki/apiserver.crt'));
    await rm(join(dir, 'pki/sa.pub'));
    const before = await spkiOfKeyFile(join(dir, 'pki/apiserver.key'));
    await initPkiDirectory(dir, CONFIG);
    await whole(dir);
    assert.ok(Buffer.from(Certificate.from(await readFile(join(dir, 'pki/apiserver.crt'), 'utf8')).spki).equals(before), 'the key left behind is certified');
    assert.ok((await readFile(join(dir, 'pki/sa.pub'), 'utf8')).includes('PUBLIC KEY'));
  });
});

test('renew stopped between a new key and its certificate: the next renew completes it with that key', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    const fresh = await generateKeyPair();
    await writeFile(join(dir, 'pki/apiserver-kubelet-client.key'), await exportPrivateKeyPem(fresh), { mode: 0o600 });
    assert.is((await loadPkiDirectory(dir)).problems[0]?.name, 'apiserver-kubelet-client');
    const renewed = await renewCertificates(dir, 'all');
    assert.ok(renewed.includes('apiserver-kubelet-client'));
    await whole(dir);
    assert.ok(Buffer.from(Certificate.from(await readFile(join(dir, 'pki/apiserver-kubelet-client.crt'), 'utf8')).spki).equals(Buffer.from(await exportSpki(fresh.publicKey))));
  });
});

test('a CA rotation stopped after its reissue wrote a key, or after finish moved the CA key, is completed', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    await rotateClusterCa(dir, 'add');
    const fresh = await generateKeyPair();
    await writeFile(join(dir, 'pki/apiserver.key'), await exportPrivateKeyPem(fresh), { mode: 0o600 });
    await rotateClusterCa(dir, 'reissue');
    const next = Certificate.from(await readFile(join(dir, 'pki/ca-new.crt'), 'utf8'));
    const apiserver = Certificate.from(await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'));
    assert.ok(apiserver.isIssuedBy(next));
    assert.ok(Buffer.from(apiserver.spki).equals(Buffer.from(await exportSpki(fresh.publicKey))), 'the key left behind is certified by the new CA');
    await rename(join(dir, 'pki/ca-new.key'), join(dir, 'pki/ca.key'));
    await rotateClusterCa(dir, 'finish');
    await whole(dir);
    assert.is(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8')).serialNumber, next.serialNumber);
  });
});

test.run();
