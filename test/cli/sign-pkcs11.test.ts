// External-CA mode with the cluster CA's key in a PKCS#11 token (SoftHSM2): signCertificateRequests({ pkcs11 })
// and `kubepki sign --ca-pkcs11` sign through the token and write pki/ca.pkcs11.json with the certificates;
// a pki/ca.key beside it is refused before anything is written.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  closePkcs11Tokens,
  initPkiDirectory,
  loadPkiDirectory,
  signCertificateRequests,
  writeCertificateRequests,
  type Pkcs11KeyReference,
} from '../../lib/index.js';
import { formatPkcs11Reference } from '../../lib/crypto/pkcs11.js';
import { runCli } from '../helpers/cli.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';
import { failureOf } from '../helpers/fixtures.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const CONFIG = { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false };
const reference: Pkcs11KeyReference = { module: MODULE, token: 'kubepki-sign', key: 'external-ca', pin: { env: 'KUBEPKI_SIGN_TEST_PIN' } };
const spec = `module=${MODULE},token=kubepki-sign,key=external-ca,pin-env=KUBEPKI_SIGN_TEST_PIN`;

// SoftHSM reads SOFTHSM2_CONF when the module is initialised: set only while this file's tests run (other
// files of the same process use tokens of their own), and the module closed again before it is restored.
let home = '';
let previousConf: string | undefined;
let cas = '';

test.before(async () => {
  home = mkdtempSync(join(tmpdir(), 'kubepki-sign-softhsm-'));
  writeFileSync(join(home, 'softhsm2.conf'), `directories.tokendir = ${home}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  previousConf = process.env.SOFTHSM2_CONF;
  process.env.SOFTHSM2_CONF = join(home, 'softhsm2.conf');
  process.env.KUBEPKI_SIGN_TEST_PIN = '246810';
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'kubepki-sign', '--pin', '246810', '--so-pin', '13579'], { stdio: 'ignore', env: process.env });
  // The CAs made elsewhere: the cluster CA with its key in the token, the others as files.
  cas = join(home, 'cas');
  await initPkiDirectory(cas, CONFIG, { pkcs11: { ca: reference } });
});

test.after(async () => {
  await closePkcs11Tokens();
  if (previousConf === undefined) delete process.env.SOFTHSM2_CONF;
  else process.env.SOFTHSM2_CONF = previousConf;
  rmSync(home, { recursive: true, force: true });
});

/** A CSR-only directory with the CA certificates placed in it; the cluster CA's key is only in the token. */
async function externalDirectory(dir: string): Promise<void> {
  await writeCertificateRequests(dir, CONFIG);
  for (const file of ['pki/ca.crt', 'pki/front-proxy-ca.crt', 'pki/front-proxy-ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key']) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await copyFile(join(cas, file), join(dir, file));
  }
}

test('signCertificateRequests({ pkcs11 }) signs through the token and writes the reference with the certificates', async () => {
  await withTempDir(async (dir) => {
    await externalDirectory(dir);
    const before = await snapshot(dir);
    const withoutKey = await failureOf(() => signCertificateRequests(dir));
    assert.is(withoutKey.code, 'ERR_DIRECTORY', withoutKey.message);
    assert.equal(await snapshot(dir), before, 'nothing is written when a CA cannot sign');

    const signed = await signCertificateRequests(dir, { pkcs11: reference });
    assert.is(signed.length, 12);
    assert.is(await readFile(join(dir, 'pki/ca.pkcs11.json'), 'utf8'), formatPkcs11Reference(reference));
    const loaded = await loadPkiDirectory(dir);
    assert.equal([loaded.missing, loaded.problems], [[], []]);
    const ca = loaded.authorities.get('ca')!;
    assert.ok(ca.pkcs11, 'the directory now finds the CA key in the token');
    assert.ok(loaded.certificates.get('apiserver')!.certificate.isIssuedBy(ca.certificate));
  });
});

test('a key file beside the CA certificate is refused (ERR_ARGUMENT), by the library and the command, and nothing is written', async () => {
  await withTempDir(async (dir) => {
    await externalDirectory(dir);
    await copyFile(join(dir, 'pki/etcd/ca.key'), join(dir, 'pki/ca.key'));
    const before = await snapshot(dir);
    const refused = await failureOf(() => signCertificateRequests(dir, { pkcs11: reference }));
    assert.equal([refused.code, refused.field, refused.message], ['ERR_ARGUMENT', 'pkcs11', 'pkcs11: pki/ca.key is a key file; remove it to sign through the token']);
    const command = await runCli('sign', '--dir', dir, '--ca-pkcs11', spec);
    assert.is(command.code, 2);
    assert.match(command.err, /ERR_ARGUMENT: .*pki\/ca\.key is a key file; remove it to sign through the token/);
    assert.equal(await snapshot(dir), before);
  });
});

test('kubepki sign --ca-pkcs11 signs every CSR through the token', async () => {
  await withTempDir(async (dir) => {
    await externalDirectory(dir);
    const result = await runCli('sign', '--dir', dir, '--ca-pkcs11', spec, '--json');
    assert.is(result.code, 0, result.err);
    assert.is((JSON.parse(result.out) as { signed: string[] }).signed.length, 12);
    assert.is(await readFile(join(dir, 'pki/ca.pkcs11.json'), 'utf8'), formatPkcs11Reference(reference));
    assert.equal((await loadPkiDirectory(dir)).problems, []);
  });
});

test.run();
