// revokeCertificates: what `kubepki revoke` does, as a library call an installer can make.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, initPkiDirectory, parseRevocationList, PkiError, revokeCertificates } from '../../lib/index.js';
import { isRevoked } from '../../lib/x509/crl.js';
import { LOCK_FILE } from '../../lib/cluster/lock.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';

const config = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false };

const rejection = (promise: Promise<unknown>): Promise<PkiError> =>
  promise.then(
    () => assert.unreachable('expected a refusal') as never,
    (error: unknown) => {
      assert.instance(error, PkiError);
      return error as PkiError;
    },
  );

test('revokes serials and certificates in the CA list, keeps earlier revocations with their dates, numbers each list one higher', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    const read = async (path: string) => Certificate.from(await readFile(join(dir, path), 'utf8'));
    const ca = await read('pki/ca.crt');
    const apiserver = await read('pki/apiserver.crt');
    const first = new Date('2030-01-02T03:04:05Z');
    const one = await revokeCertificates(dir, { ca: 'ca', serials: ['00ABCDEF'], certificates: [apiserver.pem], now: first });
    assert.is(one.path, join(dir, 'pki/ca.crl'));
    assert.equal(one.added, ['abcdef', apiserver.serialNumber]);
    const written = parseRevocationList(await readFile(one.path, 'utf8'));
    assert.equal(written.der, one.crl.der, 'the list returned is the list written');
    assert.is(written.crlNumber, 1n);
    assert.equal(written.revocationDates.get('abcdef'), first);
    assert.ok(isRevoked(apiserver, ca, written, new Date('2030-01-03T00:00:00Z')), 'signed by the CA, naming the certificate');

    const later = new Date('2030-02-01T00:00:00Z');
    const two = await revokeCertificates(dir, { ca: 'ca', serials: ['abcdef', '0102'], now: later });
    assert.equal(two.added, ['0102'], 'a serial named again is not revoked anew');
    assert.is(two.crl.crlNumber, 2n);
    assert.equal([...two.crl.serials].sort(), ['0102', 'abcdef', apiserver.serialNumber].sort());
    assert.equal(two.crl.revocationDates.get('abcdef'), first, 'the first revocation date is kept');
    assert.equal(two.crl.revocationDates.get('0102'), later);
    assert.equal(two.crl.thisUpdate, later);
  });
});

test("another CA's list is its own file, signed by that CA", async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    const etcdCa = Certificate.from(await readFile(join(dir, 'pki/etcd/ca.crt'), 'utf8'));
    const peer = Certificate.from(await readFile(join(dir, 'pki/etcd/peer.crt'), 'utf8'));
    const result = await revokeCertificates(dir, { ca: 'etcd-ca', certificates: [peer] });
    assert.is(result.path, join(dir, 'pki/etcd/ca.crl'));
    assert.ok(isRevoked(peer, etcdCa, result.crl, new Date()));
  });
});

test('refusals name the option at fault and change nothing: an unknown CA, no serial, a serial that is not hex, a broken list, a held lock', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, config);
    const before = await snapshot(dir);
    const unknown = await rejection(revokeCertificates(dir, { ca: 'root-ca', serials: ['01'] }));
    assert.equal([unknown.code, unknown.field], ['ERR_ARGUMENT', 'ca']);
    const none = await rejection(revokeCertificates(dir, { ca: 'ca' }));
    assert.equal([none.code, none.field], ['ERR_ARGUMENT', 'serials']);
    const notHex = await rejection(revokeCertificates(dir, { ca: 'ca', serials: ['01', 'xyz'] }));
    assert.equal([notHex.code, notHex.field], ['ERR_ARGUMENT', 'serials[1]']);
    const notCertificate = await rejection(revokeCertificates(dir, { ca: 'ca', certificates: ['not a certificate'] }));
    assert.is(notCertificate.field, 'certificates[0]');
    assert.equal(await snapshot(dir), before);

    await writeFile(join(dir, 'pki/ca.crl'), 'not a list\n');
    const broken = await rejection(revokeCertificates(dir, { ca: 'ca', serials: ['01'] }));
    assert.is(broken.field, join(dir, 'pki/ca.crl'), broken.message);
    assert.is(await readFile(join(dir, 'pki/ca.crl'), 'utf8'), 'not a list\n');

    // pid 1 always runs.
    await writeFile(join(dir, LOCK_FILE), '1\n');
    const locked = await rejection(revokeCertificates(dir, { ca: 'ca', serials: ['01'], lockTimeoutMs: 0 }));
    assert.is(locked.code, 'ERR_LOCKED');
    assert.is(await readFile(join(dir, 'pki/ca.crl'), 'utf8'), 'not a list\n');
  });
});

test.run();
