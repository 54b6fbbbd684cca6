import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkExpiration,
  createCsr,
  generateKeyPair,
  initPkiDirectory,
  loadPkiDirectory,
  parseKubeconfig,
  renewCertificates,
  signCertificateRequests,
  writeCertificateRequests,
  Certificate,
  type ClusterConfig,
} from '../../lib/index.js';
import { encodePem } from '../../lib/crypto/pem.js';
import { failureOf, tamperSignature } from '../helpers/fixtures.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', apiServerCertSans: ['api.example.com'] };
const read = (dir: string, path: string): Promise<string> => readFile(join(dir, path), 'utf8');

test('check-expiration lists every certificate with expiry, residual time and issuing CA', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    const now = new Date();
    const report = await checkExpiration(dir, { now });
    assert.equal(report.authorities.map((r) => r.name), ['ca', 'front-proxy-ca', 'etcd-ca']);
    assert.is(report.certificates.length, 15);
    const etcd = report.certificates.find((r) => r.name === 'etcd-server')!;
    assert.equal([etcd.file, etcd.issuer, etcd.externallyManaged], ['pki/etcd/server.crt', 'etcd-ca', false]);
    assert.ok(Math.abs(etcd.residualSeconds - 365 * 86_400) < 3600);
    await rm(join(dir, 'pki/ca.key'));
    const external = await checkExpiration(dir, { now });
    assert.ok(external.authorities.find((r) => r.name === 'ca')!.externallyManaged);
    assert.ok(external.certificates.find((r) => r.name === 'apiserver')!.externallyManaged);
  });
});

test('renew keeps subject and SANs with a new key, and rewrites the kubeconfig around a renewed certificate', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    const before = await snapshot(dir);
    const oldApiserver = Certificate.from(await read(dir, 'pki/apiserver.crt'));
    const oldAdmin = parseKubeconfig(await read(dir, 'admin.conf'));
    const later = new Date(Date.now() + 30 * 86_400_000);
    assert.equal(await renewCertificates(dir, ['apiserver', 'admin'], { now: later }), ['apiserver', 'admin']);
    const apiserver = Certificate.from(await read(dir, 'pki/apiserver.crt'));
    assert.equal([apiserver.subject, apiserver.sans], [oldApiserver.subject, oldApiserver.sans]);
    assert.ok(apiserver.notAfter > oldApiserver.notAfter);
    assert.is.not(apiserver.serialNumber, oldApiserver.serialNumber);
    assert.is.not((await snapshot(dir))['pki/apiserver.key'], before['pki/apiserver.key']);
    const admin = parseKubeconfig(await read(dir, 'admin.conf'));
    assert.equal([admin.server, admin.userName, admin.caPem], [oldAdmin.server, oldAdmin.userName, oldAdmin.caPem]);
    assert.is.not(admin.clientCertificatePem, oldAdmin.clientCertificatePem);
    const after = await snapshot(dir);
    for (const untouched of ['pki/ca.crt', 'pki/ca.key', 'scheduler.conf', 'pki/etcd/server.crt']) assert.is(after[untouched], before[untouched], untouched);
    assert.equal((await loadPkiDirectory(dir)).problems, []);
    assert.is((await renewCertificates(dir, 'all')).length, 15);
  });
});

test('renew refuses CAs, unknown names and a missing CA key, writing nothing', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    assert.is((await failureOf(() => renewCertificates(dir, ['ca' as never]))).code, 'ERR_ARGUMENT');
    assert.is((await failureOf(() => renewCertificates(dir, ['kubelet-serving' as never]))).code, 'ERR_ARGUMENT');
    await rm(join(dir, 'pki/etcd/ca.key'));
    const before = await snapshot(dir);
    const failure = await failureOf(() => renewCertificates(dir, ['apiserver', 'etcd-server']));
    assert.equal([failure.code, failure.field], ['ERR_DIRECTORY', 'etcd-server']);
    assert.equal(await snapshot(dir), before);
  });
});

test('external-CA mode: keys and CSRs first, no CA key; signing later gives a directory that loads clean', async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (cas) => {
      const files = await writeCertificateRequests(dir, CONFIG);
      assert.ok(files.some((f) => f.endsWith('pki/apiserver.csr')));
      assert.ok(files.some((f) => f.endsWith('admin.conf.csr')));
      const written = Object.keys(await snapshot(dir));
      assert.not.ok(written.some((f) => /ca\.(key|crt)$/.test(f)), 'no CA material');
      assert.is((await failureOf(() => signCertificateRequests(dir))).code, 'ERR_DIRECTORY');
      await initPkiDirectory(cas, CONFIG);
      for (const file of ['pki/ca.crt', 'pki/ca.key', 'pki/front-proxy-ca.crt', 'pki/front-proxy-ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key']) {
        await writeFile(join(dir, file), await read(cas, file), { mode: 0o600 });
      }
      const signed = await signCertificateRequests(dir);
      assert.is(signed.length, 15);
      const loaded = await loadPkiDirectory(dir);
      assert.equal([loaded.missing, loaded.problems], [[], []]);
      assert.not.ok(Object.keys(await snapshot(dir)).some((f) => f.endsWith('.csr')));
      assert.is((await failureOf(() => writeCertificateRequests(dir, CONFIG))).code, 'ERR_EXISTS');
    });
  });
});

test('signing refuses a tampered CSR and a CSR its profile forbids', async () => {
  await withTempDir(async (dir) => {
    await writeCertificateRequests(dir, CONFIG);
    await withTempDir(async (cas) => {
      await initPkiDirectory(cas, CONFIG);
      for (const file of ['pki/ca.crt', 'pki/ca.key', 'pki/front-proxy-ca.crt', 'pki/front-proxy-ca.key', 'pki/etcd/ca.crt', 'pki/etcd/ca.key']) {
        await writeFile(join(dir, file), await read(cas, file), { mode: 0o600 });
      }
    });
    const original = await read(dir, 'pki/apiserver-kubelet-client.csr');
    const der = Buffer.from(original.split('\n').slice(1, -2).join(''), 'base64');
    await writeFile(join(dir, 'pki/apiserver-kubelet-client.csr'), encodePem('CERTIFICATE REQUEST', tamperSignature(der)));
    assert.is((await failureOf(() => signCertificateRequests(dir))).code, 'ERR_CSR_SIGNATURE');
    const keyPair = await generateKeyPair();
    // Neither today's group nor the one kubeadm gave it before 1.29 (system:masters).
    const wantsMore = await createCsr({ keyPair, subject: { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:nodes'] } });
    await writeFile(join(dir, 'pki/apiserver-kubelet-client.csr'), wantsMore.pem);
    const failure = await failureOf(() => signCertificateRequests(dir));
    assert.equal([failure.code, failure.field], ['ERR_PROFILE', 'subject.organizations']);
    assert.not.ok(Object.keys(await snapshot(dir)).some((f) => f.endsWith('.crt') && !/ca\.crt$/.test(f)), 'nothing signed');
  });
});

test.run();
