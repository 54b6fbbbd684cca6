import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, initPkiDirectory, issueRevocationList, loadAuthority, parseRevocationList } from '../../lib/index.js';
import { AUTHORITY_LAYOUT } from '../../lib/cluster/layout.js';
import { readPemBlocks } from '../../lib/crypto/pem.js';
import { runCli as run } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

test('bundle --dir writes every named bundle from the directory', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', separateKubeletServingCa: true });
    const result = await run('bundle', '--dir', dir, '--json');
    assert.is(result.code, 0, result.err);
    const read = async (name: string) => Certificate.fromPemBundle(await readFile(join(dir, 'bundles', `${name}.crt`), 'utf8')).map((c) => c.subject.commonName);
    assert.equal(await read('kubelet-certificate-authority'), ['kubelet-serving-ca']);
    assert.equal(await read('client-ca-file'), ['kubernetes']);
    assert.equal(await read('requestheader-client-ca-file'), ['front-proxy-ca']);
    assert.equal(await read('etcd-trusted-ca-file'), ['etcd-ca']);
    const one = await run('bundle', join(dir, 'pki/ca.crt'), join(dir, 'pki/etcd/ca.crt'), join(dir, 'pki/ca.crt'));
    assert.equal(readPemBlocks(one.out).length, 2);
    assert.is((await run('bundle', join(dir, 'pki/apiserver.crt'))).code, 1, 'a leaf is not a CA');
  });
});

test('verify answers like Go, and revoke makes a certificate fail with --crl', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' });
    const ca = join(dir, 'pki/ca.crt');
    const apiserver = join(dir, 'pki/apiserver.crt');
    assert.match((await run('verify', '--ca', ca, '--purpose', 'server', '--ip', '10.96.0.1', apiserver)).out, /: OK \(CN=kube-apiserver <- CN=kubernetes\)/);
    const wrongName = await run('verify', '--ca', ca, '--purpose', 'server', '--name', 'evil.example.com', apiserver);
    assert.equal([wrongName.code, /ERR_NAME_MISMATCH/.test(wrongName.err)], [1, true]);
    const wrongPurpose = await run('verify', '--ca', ca, '--purpose', 'client', apiserver);
    assert.match(wrongPurpose.err, /ERR_PURPOSE/);
    const wrongCa = await run('verify', '--ca', join(dir, 'pki/etcd/ca.crt'), apiserver);
    assert.match(wrongCa.err, /ERR_UNKNOWN_AUTHORITY/);
    assert.match((await run('revoke', '--dir', dir, '--cert', apiserver)).out, /ca\.crl: 1 revoked/);
    const revoked = await run('verify', '--ca', ca, '--crl', join(dir, 'pki/ca.crl'), '--ip', '10.96.0.1', apiserver);
    assert.match(revoked.err, /ERR_REVOKED/);
    const kept = await run('verify', '--ca', ca, '--crl', join(dir, 'pki/ca.crl'), '--purpose', 'client', join(dir, 'pki/apiserver-kubelet-client.crt'));
    assert.is(kept.code, 0, kept.err);
    const firstCrl = parseRevocationList(await readFile(join(dir, 'pki/ca.crl'), 'utf8'));
    assert.is(firstCrl.crlNumber, 1n, 'the first CRL is number 1');
    assert.is(Buffer.from(firstCrl.authorityKeyId ?? []).toString('hex'), Buffer.from(Certificate.from(await readFile(ca, 'utf8')).subjectKeyId!).toString('hex'), "the CRL names the CA's key");
    assert.match((await run('revoke', '--dir', dir, '--cert', join(dir, 'pki/apiserver-kubelet-client.crt'))).out, /2 revoked/, 'earlier revocations are kept');
    assert.is(parseRevocationList(await readFile(join(dir, 'pki/ca.crl'), 'utf8')).crlNumber, 2n, 'each reissue numbers the CRL one higher');
    assert.match((await run('revoke', '--dir', dir, '--cert', apiserver)).out, /2 revoked/, 'a serial named again is not added again');
    assert.is(parseRevocationList(await readFile(join(dir, 'pki/ca.crl'), 'utf8')).crlNumber, 3n, 'even a reissue that revokes nothing new');
  });
});

test('revoke keeps the date each serial was first revoked, and a serial named again is not revoked anew', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const issuer = await loadAuthority(dir, AUTHORITY_LAYOUT.find((entry) => entry.name === 'ca')!);
    const earlier = new Date('2026-01-02T03:04:05Z');
    const first = await issueRevocationList({ issuer, revoked: [{ serialNumber: '00ABCDEF', revokedAt: earlier }], thisUpdate: earlier, crlNumber: 41n });
    await writeFile(join(dir, 'pki/ca.crl'), first.pem);
    const apiserver = Certificate.from(await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'));
    assert.match((await run('revoke', '--dir', dir, '--cert', join(dir, 'pki/apiserver.crt'), '--serial', 'abcdef')).out, /ca\.crl: 2 revoked/);
    const crl = parseRevocationList(await readFile(join(dir, 'pki/ca.crl'), 'utf8'));
    assert.equal(crl.revocationDates.get('abcdef'), earlier);
    assert.is(crl.crlNumber, 42n, "one above the previous CRL's number");
    const revokedNow = crl.revocationDates.get(apiserver.serialNumber)!;
    assert.ok(Math.abs(revokedNow.getTime() - crl.thisUpdate.getTime()) < 1000, 'the new serial is revoked as of this update');
  });
});

test('rotate-ca runs the phases and reports the files it changed', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    for (const phase of ['add', 'reissue', 'finish']) {
      const result = await run('rotate-ca', '--dir', dir, '--phase', phase, '--json');
      assert.is(result.code, 0, result.err);
      assert.ok((JSON.parse(result.out) as { changed: string[] }).changed.length > 0, phase);
    }
    assert.is((await run('rotate-ca', '--dir', dir, '--phase', 'later')).code, 2);
    assert.is((await run('audit', '--dir', dir)).code, 1, 'kubeadm-default flags: path 4 unverified');
  });
});

test.run();
