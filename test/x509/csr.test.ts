import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, createCsr, issueCertificate, nodeSubject, parseCsr, PROFILES } from '../../lib/index.js';
import { encodePem } from '../../lib/crypto/pem.js';
import * as x509 from '../helpers/peculiar.js';
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


test('an RSA key whose public exponent is not 65537 is ERR_KEY: with e = 1 anyone "signs" without a private key', async () => {
  const { concatBytes, encodeElement, encodeSequence, encodeUnsignedInteger, encodeOid } = await import('../../lib/crypto/der.js');
  const { encodeCertificationRequestInfo } = await import('../../lib/x509/csr.js');
  const { encodeName } = await import('../../lib/x509/names.js');
  const { createHash, randomBytes } = await import('node:crypto');
  const modulus = randomBytes(256);
  modulus[0] = 0xc3; // top bit set, above every padded digest (which starts 0x00 0x01)
  modulus[255]! |= 1;
  const spkiOf = (exponent: number[]): Uint8Array =>
    encodeSequence(
      encodeSequence(encodeOid('1.2.840.113549.1.1.1'), Uint8Array.of(0x05, 0x00)),
      encodeElement(0x03, concatBytes([Uint8Array.of(0), encodeSequence(encodeUnsignedInteger(modulus), encodeUnsignedInteger(Uint8Array.from(exponent)))])),
    );
  const info = encodeCertificationRequestInfo(encodeName(nodeSubject('forged')), spkiOf([1]), []);
  // EMSA-PKCS1-v1_5 of SHA-256(info): with e = 1 it is its own signature.
  const digestInfo = Buffer.concat([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(info).digest()]);
  const signature = Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(256 - 3 - digestInfo.length, 0xff), Buffer.from([0]), digestInfo]);
  const csr = encodeSequence(info, encodeSequence(encodeOid('1.2.840.113549.1.1.11'), Uint8Array.of(0x05, 0x00)), encodeElement(0x03, concatBytes([Uint8Array.of(0), signature])));
  const failure = await failureOf(() => parseCsr(encodePem('CERTIFICATE REQUEST', csr)));
  assert.is(failure.code, 'ERR_KEY', failure.message);
  assert.match(failure.message ?? '', /65537/);
  const { keySpecOfSpki } = await import('../../lib/crypto/keys.js');
  assert.is(await codeOf(() => keySpecOfSpki(spkiOf([3]))), 'ERR_KEY', 'e = 3');
  assert.is(await codeOf(() => keySpecOfSpki(spkiOf([1, 0, 0, 1]))), 'ERR_KEY', 'e = 2^24 + 1');
});

test.run();
