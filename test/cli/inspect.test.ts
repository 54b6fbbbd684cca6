// inspect reads PEM and DER, and shows what openssl x509 shows of a certificate: fingerprint, key identifiers,
// signature algorithm, and the days left.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, createCsr, exportPrivateKeyPem, nodeSubject } from '../../lib/index.js';
import { readPemBlock } from '../../lib/crypto/pem.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';
import { fixtureKey } from '../helpers/fixtures.js';

const openssl = (...args: string[]): string => execFileSync('openssl', args, { encoding: 'utf8' });
const colonHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase().match(/../g)!.join(':');

test('a certificate, as PEM and as DER: SHA-256 fingerprint (as openssl), SKI, AKI, signature algorithm, days left', async () => {
  await withTempDir(async (dir) => {
    assert.is((await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10')).code, 0);
    const pemFile = join(dir, 'pki/apiserver.crt');
    const certificate = Certificate.from(await readFile(pemFile, 'utf8'));
    const derFile = join(dir, 'apiserver.der');
    await writeFile(derFile, certificate.der);
    const fingerprint = openssl('x509', '-in', pemFile, '-noout', '-fingerprint', '-sha256').trim().split('=')[1];
    const ca = Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'));
    for (const file of [pemFile, derFile]) {
      const result = await runCli('inspect', file, '--json');
      assert.is(result.code, 0, result.err);
      const [item] = JSON.parse(result.out) as Record<string, unknown>[];
      assert.is(item!.sha256Fingerprint, fingerprint, file);
      assert.is(item!.subjectKeyIdentifier, colonHex(certificate.subjectKeyId!));
      assert.is(item!.authorityKeyIdentifier, colonHex(ca.subjectKeyId!));
      assert.is(item!.signatureAlgorithm, 'ecdsa-with-SHA256');
      assert.ok(item!.daysLeft === 364 || item!.daysLeft === 365, String(item!.daysLeft));
      assert.is(item!.subject, 'CN=kube-apiserver');
    }
    const text = await runCli('inspect', derFile);
    assert.match(text.out, new RegExp(`^ {2}sha256Fingerprint: ${fingerprint}$`, 'm'));
    assert.match(text.out, /^ {2}daysLeft: 36[45]$/m);
  });
});

test('a DER CSR, private key and public key are read too; other bytes are refused', async () => {
  await withTempDir(async (dir) => {
    const key = await fixtureKey('ecdsa-p256', undefined, 3);
    const csr = await createCsr({ keyPair: key, subject: nodeSubject('n1'), sans: { ips: ['10.0.0.1'] } });
    const pkcs8 = readPemBlock(await exportPrivateKeyPem(key, 'pkcs8'), ['PRIVATE KEY']).der;
    const spki = new Uint8Array(await crypto.subtle.exportKey('spki', key.publicKey));
    for (const [name, der, type] of [['csr.der', csr.der, 'certificate request'], ['key.der', pkcs8, 'private key'], ['pub.der', spki, 'public key']] as const) {
      await writeFile(join(dir, name), der);
      const result = await runCli('inspect', join(dir, name), '--json');
      assert.is(result.code, 0, result.err);
      assert.is((JSON.parse(result.out) as { type: string }[])[0]!.type, type);
    }
    await writeFile(join(dir, 'junk.der'), Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01));
    const junk = await runCli('inspect', join(dir, 'junk.der'));
    assert.is(junk.code, 1);
    assert.match(junk.err, /^kubepki: ERR_DER: .*junk\.der: is neither PEM nor a DER certificate/);
  });
});

test.run();
