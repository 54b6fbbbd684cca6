import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, describeCertificate, exportPrivateKeyPem } from '../../lib/index.js';
import { encodePem } from '../../lib/crypto/pem.js';
import { codeOf, fixtureAuthorities } from '../helpers/fixtures.js';

test('a certificate parses from PEM, DER or itself and keeps its bytes', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const fromPem = Certificate.from(root.certificate.pem);
  const fromDer = Certificate.from(root.certificate.der);
  assert.ok(Buffer.from(fromPem.der).equals(fromDer.der));
  assert.is(Certificate.from(fromPem), fromPem);
  assert.is(fromPem.version, 2);
  assert.is(fromPem.pem, root.certificate.pem);
});

test('a PEM bundle yields every certificate in order', async () => {
  const { root, intermediate } = await fixtureAuthorities('ecdsa-p256');
  const bundle = Certificate.fromPemBundle(intermediate.certificate.pem + root.certificate.pem);
  assert.equal(bundle.map((c) => c.subject.commonName), ['intermediate-ecdsa-p256', 'root-ecdsa-p256']);
  assert.is(await codeOf(async () => Certificate.fromPemBundle(root.certificate.pem + (await exportPrivateKeyPem(root.keyPair)))), 'ERR_PEM');
});

test('bad certificate input is refused with the right code', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  assert.is(await codeOf(() => Certificate.from(root.certificate.der.subarray(0, 100))), 'ERR_DER');
  assert.is(await codeOf(() => Certificate.from(Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x01]))), 'ERR_DER');
  assert.is(await codeOf(async () => Certificate.from(await exportPrivateKeyPem(root.keyPair))), 'ERR_PEM');
  assert.is(await codeOf(() => Certificate.from(encodePem('CERTIFICATE', Uint8Array.from([0x30, 0x00])))), 'ERR_DER');
  assert.is(await codeOf(() => Certificate.from(42 as unknown as string)), 'ERR_ARGUMENT');
});

test('describeCertificate summarises for people', async () => {
  const { intermediate } = await fixtureAuthorities('rsa-2048');
  const summary = describeCertificate(intermediate.certificate);
  assert.is(summary.subject, 'CN=intermediate-rsa-2048');
  assert.is(summary.issuer, 'CN=root-rsa-2048');
  assert.equal(summary.sans, ['DNS:intermediate-rsa-2048']);
  assert.ok(summary.isCA);
  assert.is(summary.keySpec, 'rsa-2048');
  assert.equal(summary.keyUsages, ['digitalSignature', 'keyCertSign', 'cRLSign'], 'an RSA CA carries no keyEncipherment');
});

test.run();
