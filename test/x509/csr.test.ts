import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, createCsr, encodePem, issueCertificate, nodeSubject, parseCsr, PROFILES } from '../../lib/index.js';
import * as x509 from '../../lib/x509/peculiar.js';
import { ALL_KEY_SPECS, codeOf, failureOf, fixtureKey, PROVIDERS, tamperSignature } from '../helpers/fixtures.js';

for (const { name: provider, crypto } of PROVIDERS) {
  for (const spec of ALL_KEY_SPECS) {
    test(`${provider}/${spec}: a CSR round-trips and its tampered copy is refused`, async () => {
      const keyPair = await fixtureKey(spec, crypto, 1);
      const csr = await createCsr({ crypto, keyPair, subject: nodeSubject('node-7'), sans: { dns: ['node-7'], ips: ['10.0.0.7'] }, profile: PROFILES.kubeletServing });
      const parsed = await parseCsr(csr.pem, { crypto });
      assert.equal(parsed.subject, { commonName: 'system:node:node-7', organizations: ['system:nodes'] });
      assert.equal([parsed.sans.dns, parsed.sans.ips], [['node-7'], ['10.0.0.7']]);
      assert.is(parsed.publicKey.spec, spec);
      assert.equal(parsed.requestedExtensions.map((e) => e.oid), ['2.5.29.17']);
      assert.is(await codeOf(() => parseCsr(tamperSignature(csr.der), { crypto })), 'ERR_CSR_SIGNATURE');
      assert.is(await codeOf(() => parseCsr(encodePem('CERTIFICATE REQUEST', tamperSignature(csr.der)), { crypto })), 'ERR_CSR_SIGNATURE');
    });
  }
}

test('a CSR for a kubelet client has no SANs and the profile is checked before signing', async () => {
  const keyPair = await fixtureKey('ecdsa-p256', undefined, 1);
  const csr = await createCsr({ keyPair, subject: nodeSubject('n'), profile: PROFILES.kubeletClient });
  assert.equal(csr.requestedExtensions, []);
  const failure = await failureOf(() => createCsr({ keyPair, subject: nodeSubject('n'), sans: { dns: ['n'] }, profile: PROFILES.kubeletClient }));
  assert.equal([failure.code, failure.field], ['ERR_PROFILE', 'sans.dns']);
});

test('malformed CSRs are refused with the right code', async () => {
  const keyPair = await fixtureKey('ecdsa-p256', undefined, 1);
  const csr = await createCsr({ keyPair, subject: { commonName: 'x' } });
  assert.is(await codeOf(() => parseCsr(csr.der.subarray(0, csr.der.length - 3))), 'ERR_DER');
  assert.is(await codeOf(() => parseCsr(csr.pem.replace(/CERTIFICATE REQUEST/g, 'CERTIFICATE'))), 'ERR_PEM');
  assert.is(await codeOf(() => parseCsr(encodePem('CERTIFICATE REQUEST', Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x00])))), 'ERR_CSR');
  assert.is(await codeOf(() => parseCsr('garbage')), 'ERR_PEM');
});

test('a CSR signed with SHA-1 is refused', async () => {
  const keys = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=old', keys, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' } as Algorithm });
  const failure = await failureOf(() => parseCsr(csr.toString('pem')));
  assert.equal([failure.code, failure.field], ['ERR_CSR', 'csr.signatureAlgorithm']);
});

test('requested extensions are reported, not honoured', async () => {
  const keys = await fixtureKey('ecdsa-p256', undefined, 1);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=wants-ca',
    keys: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
  });
  const parsed = await parseCsr(csr.toString('pem'));
  assert.equal(parsed.requestedExtensions.map((e) => [e.oid, e.critical]), [['2.5.29.19', true]]);
});


test('a CSR whose key is not a point on its curve is ERR_KEY, not a signature failure', async () => {
  const keyPair = await fixtureKey('ecdsa-p256', undefined, 1);
  const csr = await createCsr({ keyPair, subject: nodeSubject('n') });
  const der = Uint8Array.from(csr.der);
  const at = Buffer.from(der).indexOf(Buffer.from(csr.publicKey.spki)) + csr.publicKey.spki.length - 1;
  der[at]! ^= 1;
  const failure = await failureOf(() => parseCsr(der));
  assert.equal([failure.code, failure.field], ['ERR_KEY', 'csr.publicKey']);
});

test("a parsed CSR's publicKey is certified as it is, without parsing the key again", async () => {
  const ca = await createCertificateAuthority();
  const keyPair = await fixtureKey('ecdsa-p384', undefined, 1);
  const parsed = await parseCsr((await createCsr({ keyPair, subject: nodeSubject('n') })).pem);
  const certificate = await issueCertificate({ issuer: ca, profile: PROFILES.kubeletClient, subject: parsed.subject, publicKey: parsed.publicKey });
  assert.equal(certificate.spki, parsed.publicKey.spki);
  assert.is(certificate.keySpec, 'ecdsa-p384');
  assert.ok(Object.isFrozen(parsed.publicKey));
});

test.run();
