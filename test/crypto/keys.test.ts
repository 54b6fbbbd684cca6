import { generateKeyPairSync } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, createCsr, exportPrivateKeyPem, exportPublicKeyPem, generateKeyPair, importPrivateKeyPem, type KeySpec } from '../../lib/index.js';
import { readPemBlock, encodePem } from '../../lib/crypto/pem.js';
import { exportPairSpki, exportSpki, publicKeyInfo, privateKeyFormats, signatureAlgorithm } from '../../lib/crypto/keys.js';
import { keySpecOfSpkiStructure } from '../../lib/crypto/keys.js';
import { ALL_KEY_SPECS, codeOf, failureOf, fixtureKey, PROVIDERS } from '../helpers/fixtures.js';

const LABEL = { pkcs8: 'PRIVATE KEY', sec1: 'EC PRIVATE KEY', pkcs1: 'RSA PRIVATE KEY' };

for (const { name, crypto } of PROVIDERS) {
  for (const spec of ALL_KEY_SPECS) {
    test(`${name}: ${spec} keys export and import in every format`, async () => {
      const pair = await fixtureKey(spec, crypto);
      assert.is(pair.spec, spec);
      const publicPem = await exportPublicKeyPem(pair.publicKey, { crypto });
      assert.is((await publicKeyInfo(publicPem)).spec, spec);
      for (const format of privateKeyFormats(spec)) {
        const pem = await exportPrivateKeyPem(pair, format, { crypto });
        assert.ok(pem.startsWith(`-----BEGIN ${LABEL[format]}-----\n`), `${format} label`);
        const back = await importPrivateKeyPem(pem, { crypto });
        assert.is(back.spec, spec);
        assert.is(await exportPublicKeyPem(back.publicKey, { crypto }), publicPem);
      }
    });
  }
}

test('the default private key format is what Kubernetes writes', async () => {
  assert.match(await exportPrivateKeyPem(await fixtureKey('ecdsa-p256')), /^-----BEGIN EC PRIVATE KEY-----/);
  assert.match(await exportPrivateKeyPem(await fixtureKey('rsa-2048')), /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.match(await exportPrivateKeyPem(await fixtureKey('ed25519')), /^-----BEGIN PRIVATE KEY-----/);
});

test('generateKeyPair defaults to ECDSA P-256 and refuses unknown specs', async () => {
  assert.is((await generateKeyPair()).spec, 'ecdsa-p256');
  assert.is(await codeOf(() => generateKeyPair('rsa-1024' as KeySpec)), 'ERR_KEY');
});

test('a format that does not fit the key is an argument error', async () => {
  assert.is(await codeOf(async () => exportPrivateKeyPem(await fixtureKey('rsa-2048'), 'sec1')), 'ERR_ARGUMENT');
  assert.is(await codeOf(async () => exportPrivateKeyPem(await fixtureKey('ecdsa-p256'), 'pkcs1')), 'ERR_ARGUMENT');
  assert.is(await codeOf(async () => exportPrivateKeyPem(await fixtureKey('ed25519'), 'sec1')), 'ERR_ARGUMENT');
});

test('a non-extractable key cannot be exported', async () => {
  const pair = await generateKeyPair('ecdsa-p256', { extractable: false });
  assert.is(await codeOf(() => exportPrivateKeyPem(pair)), 'ERR_KEY');
});

for (const spec of ['ecdsa-p256', 'ecdsa-p384', 'ed25519'] as const) {
  test(`${spec}: a generated pair used only through kubepki (CSR, key file) is the pair its CryptoKeys are, made once when read`, async () => {
    const pair = await generateKeyPair(spec);
    const csr = await createCsr({ keyPair: pair, subject: { commonName: 'n' } });
    const pem = await exportPrivateKeyPem(pair);
    const spki = await exportPairSpki(pair);
    // Whatever kubepki used, the CryptoKeys read later are the same key.
    assert.equal(spki, csr.publicKey.spki);
    assert.equal(await exportSpki(pair.publicKey), spki);
    assert.equal(await exportSpki((await importPrivateKeyPem(pem)).publicKey), spki);
    assert.is(pair.privateKey, pair.privateKey);
    assert.is(pair.publicKey, pair.publicKey);
    assert.is(pair.privateKey.type, 'private');
    assert.equal([pair.privateKey.extractable, pair.publicKey.extractable], [true, true]);
    const signature = await crypto.subtle.sign(signatureAlgorithm(spec), pair.privateKey, Buffer.from('x'));
    assert.ok(await crypto.subtle.verify(signatureAlgorithm(spec), pair.publicKey, signature, Buffer.from('x')));
    // A copy or a clone of the pair carries the keys, as a plain object's properties.
    const copy = { ...pair };
    assert.equal(Object.keys(copy).sort(), ['privateKey', 'publicKey', 'spec']);
    assert.is(copy.privateKey, pair.privateKey);
    assert.is(structuredClone(pair).privateKey.algorithm.name, pair.privateKey.algorithm.name);
  });

  test(`${spec}: a non-extractable generated pair still signs a CSR, and its key is never written`, async () => {
    const pair = await generateKeyPair(spec, { extractable: false });
    const csr = await createCsr({ keyPair: pair, subject: { commonName: 'n' } });
    assert.equal(csr.publicKey.spki, await exportPairSpki(pair));
    assert.is(await codeOf(() => exportPrivateKeyPem(pair)), 'ERR_KEY');
    assert.is(pair.privateKey.extractable, false);
  });
}

const nodePem = (type: 'rsa' | 'ec', options: object, format: 'pkcs8' | 'sec1' | 'pkcs1'): string =>
  generateKeyPairSync(type as 'rsa', { ...options, privateKeyEncoding: { type: format, format: 'pem' } } as never).privateKey as unknown as string;

test('unsupported key types and sizes are refused with ERR_KEY', async () => {
  assert.is(await codeOf(() => importPrivateKeyPem(nodePem('rsa', { modulusLength: 1024 }, 'pkcs1'))), 'ERR_KEY');
  assert.is(await codeOf(() => importPrivateKeyPem(nodePem('ec', { namedCurve: 'secp521r1' }, 'sec1'))), 'ERR_KEY');
  assert.is(await codeOf(() => importPrivateKeyPem(nodePem('ec', { namedCurve: 'secp256k1' }, 'pkcs8'))), 'ERR_KEY');
  const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  assert.is(await codeOf(() => importPrivateKeyPem(dsa.privateKey)), 'ERR_KEY');
  assert.is(await codeOf(() => publicKeyInfo(dsa.publicKey)), 'ERR_KEY');
});

test('malformed or mislabelled keys are refused', async () => {
  const sec1 = await exportPrivateKeyPem(await fixtureKey('ecdsa-p256'), 'sec1');
  const pkcs8Body = (await exportPrivateKeyPem(await fixtureKey('ecdsa-p256'), 'pkcs8')).replace(/PRIVATE KEY/g, 'EC PRIVATE KEY');
  assert.is(await codeOf(() => importPrivateKeyPem(pkcs8Body)), 'ERR_KEY');
  assert.is(await codeOf(() => importPrivateKeyPem(sec1.replace(/EC PRIVATE KEY/g, 'RSA PRIVATE KEY'))), 'ERR_KEY');
  assert.is(await codeOf(() => importPrivateKeyPem(encodePem('PRIVATE KEY', Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x05])))), 'ERR_KEY');
  assert.is(await codeOf(() => importPrivateKeyPem('not a key')), 'ERR_PEM');
  assert.is(await codeOf(() => importPrivateKeyPem(sec1 + sec1)), 'ERR_PEM');
});

test('keys OpenSSL would decode inconsistently never reach it (one of them aborted Node when fuzzed)', async () => {
  // PKCS#8 naming P-384 around an ECPrivateKey that names P-256: found by `npm run fuzz`.
  const mixedCurves = '-----BEGIN PRIVATE KEY-----\nMFoCAQAwEAYHKoZIzj0CAQYFK4EEACIEQzBBAgEBBDA4s09hgWZPAM8Cr1coibls\naAhmp53g+scXv3F1LuU/qy4dM2RHgruPrF7RnQiprWegCgYIKoZIzj0DAQc=\n-----END PRIVATE KEY-----\n';
  const mixed = await failureOf(() => importPrivateKeyPem(mixedCurves));
  assert.is(mixed.code, 'ERR_KEY');
  assert.match(mixed.message!, /another curve/);
  const sec1 = readPemBlock(await exportPrivateKeyPem(await fixtureKey('ecdsa-p256'), 'sec1'), ['EC PRIVATE KEY']).der;
  // The same SEC1 key with its scalar cut short by one byte (lengths fixed up): refused by size.
  const short = Uint8Array.from([0x30, sec1[1]! - 1, ...sec1.subarray(2, 5), 0x04, 31, ...sec1.subarray(8, 39), ...sec1.subarray(39)]);
  const cut = await failureOf(() => importPrivateKeyPem(encodePem('EC PRIVATE KEY', short)));
  assert.is(cut.code, 'ERR_KEY');
  assert.match(cut.message!, /not 32 bytes/);
  // A compressed P-256 point: Go's x509 refuses it, and so does kubepki.
  const compressed = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
  const point = compressed.subarray(compressed.length - 65);
  const spki = Uint8Array.from([0x30, 0x39, ...compressed.subarray(2, 23), 0x03, 0x22, 0x00, 0x02 | (point[64]! & 1), ...point.subarray(1, 33)]);
  assert.is(await codeOf(() => publicKeyInfo(spki)), 'ERR_KEY');
});

test("a CryptoKey's SubjectPublicKeyInfo, built from its JWK, is byte for byte the provider's export", async () => {
  for (const spec of ALL_KEY_SPECS) {
    const key = await fixtureKey(spec);
    const info = await publicKeyInfo(key.publicKey);
    assert.is(info.spec, spec);
    assert.equal(Buffer.from(info.spki).toString('hex'), Buffer.from(await crypto.subtle.exportKey('spki', key.publicKey)).toString('hex'), spec);
  }
});

test('an EC private key whose public key is not its own is ERR_KEY, in SEC1 and in PKCS#8', async () => {
  for (const spec of ['ecdsa-p256', 'ecdsa-p384'] as const) {
    const pair = await fixtureKey(spec);
    for (const [format, label] of [['sec1', 'EC PRIVATE KEY'], ['pkcs8', 'PRIVATE KEY']] as const) {
      const der = Uint8Array.from(readPemBlock(await exportPrivateKeyPem(pair, format), [label]).der);
      // The scalar is the OCTET STRING after the ECPrivateKey's INTEGER 1 (header 02 01 01 04 <length>);
      // a flipped bit in its last byte keeps it in range.
      const scalar = Buffer.from(der).indexOf(Buffer.from('02010104', 'hex')) + 5;
      der[scalar + der[scalar - 1]! - 1]! ^= 1;
      const failure = await failureOf(() => importPrivateKeyPem(encodePem(label, der)));
      assert.is(failure.code, 'ERR_KEY', `${spec} ${format}`);
      assert.match(failure.message!, /does not belong to its private key/);
    }
  }
});

test('a PKCS#8 version other than 0 or 1 is refused', async () => {
  const der = readPemBlock(await exportPrivateKeyPem(await fixtureKey('ecdsa-p256'), 'pkcs8'), ['PRIVATE KEY']).der;
  const v2 = Uint8Array.from(der);
  v2[Buffer.from(v2).indexOf(Buffer.from('020100', 'hex')) + 2] = 2;
  const failure = await failureOf(() => importPrivateKeyPem(encodePem('PRIVATE KEY', v2)));
  assert.is(failure.code, 'ERR_KEY');
  assert.match(failure.message!, /PKCS#8 version/);
});

test('a certificate where a key is expected is refused by label', async () => {
  const ca = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256') });
  const failure = await failureOf(() => importPrivateKeyPem(ca.certificate.pem));
  assert.is(failure.code, 'ERR_PEM');
  assert.match(failure.message ?? '', /found CERTIFICATE/);
});

test('a public key input may be PEM, DER or a CryptoKey', async () => {
  const pair = await fixtureKey('ecdsa-p384');
  const fromKey = await publicKeyInfo(pair.publicKey);
  const fromPem = await publicKeyInfo(await exportPublicKeyPem(pair.publicKey));
  const fromDer = await publicKeyInfo(fromKey.spki);
  assert.equal([...fromPem.spki], [...fromKey.spki]);
  assert.is(fromDer.spec, 'ecdsa-p384');
  assert.is(await codeOf(() => publicKeyInfo(Uint8Array.from([0x30, 0x00]))), 'ERR_KEY');
});



test("every private key export is byte for byte OpenSSL's conversion of the provider's PKCS#8 export", async () => {
  // Native keys are written by node:crypto directly; other providers' keys by converting their PKCS#8.
  const { createPrivateKey } = await import('node:crypto');
  for (const { name, crypto: provider } of PROVIDERS) {
    for (const spec of ALL_KEY_SPECS) {
      if (name !== 'native' && spec === 'rsa-4096') continue;
      for (let slot = 0; slot < (spec.startsWith('rsa') ? 1 : 3); slot++) {
        const pair = await fixtureKey(spec, provider, slot);
        const pkcs8 = Buffer.from(await provider.subtle.exportKey('pkcs8', pair.privateKey));
        for (const format of ['pkcs8', spec.startsWith('rsa') ? 'pkcs1' : 'sec1'] as const) {
          if (format === 'sec1' && spec === 'ed25519') continue;
          const openssl = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'der', type: format });
          const ours = readPemBlock(await exportPrivateKeyPem(pair, format, { crypto: provider }), [LABEL[format] as 'PRIVATE KEY']).der;
          assert.ok(Buffer.from(ours).equals(openssl), `${name} ${spec} ${format} slot ${slot}`);
        }
      }
    }
  }
});

test('public keys parsed through their JWK form are the keys OpenSSL decodes from the DER', async () => {
  const { createPublicKey } = await import('node:crypto');
  const { publicKeyObject } = await import('../../lib/crypto/keys.js');
  for (const spec of ALL_KEY_SPECS) {
    for (let slot = 0; slot < 2; slot++) {
      const spki = (await publicKeyInfo((await fixtureKey(spec, undefined, slot)).publicKey)).spki;
      const openssl = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      assert.ok(publicKeyObject(Uint8Array.from(spki)).equals(openssl), `${spec} slot ${slot}`);
    }
  }
  // A point off the curve is refused on every path: the cached one, and the one for a key read once
  // (a CSR's), whichever import this OpenSSL takes.
  const { newPublicKey } = await import('../../lib/crypto/keys.js');
  for (const spec of ['ecdsa-p256', 'ecdsa-p384'] as const) {
    const spki = Uint8Array.from((await publicKeyInfo((await fixtureKey(spec)).publicKey)).spki);
    spki[spki.length - 1]! ^= 1;
    assert.is(await codeOf(() => publicKeyObject(spki)), 'ERR_KEY', spec);
    assert.is(await codeOf(() => newPublicKey(spki)), 'ERR_KEY', spec);
  }
});


test('exportSpki gives a fresh array each time, so a caller changing one changes no later export', async () => {
  const pair = await generateKeyPair();
  const first = await exportSpki(pair.publicKey);
  const expected = Uint8Array.from(first);
  first.fill(0);
  assert.equal(await exportSpki(pair.publicKey), expected);
});

test('keySpecOfSpkiStructure counts the bits of an RSA modulus exactly', async () => {
  const spki = Uint8Array.from(await exportSpki((await fixtureKey('rsa-2048')).publicKey));
  assert.is(keySpecOfSpkiStructure(spki), 'rsa-2048');
  // The modulus is the last 2048 bits before the exponent (02 03 01 00 01): clear its top bit.
  const modulusStart = spki.length - 5 - 256;
  assert.ok(spki[modulusStart]! >= 0x80);
  spki[modulusStart] = 0x7f;
  assert.is(keySpecOfSpkiStructure(spki), undefined);
});

test('a PublicKeyInfo this process did not check is read from its SPKI, whatever spec it claims', async () => {
  const p256 = await exportSpki((await fixtureKey('ecdsa-p256')).publicKey);
  assert.equal(await publicKeyInfo({ spec: 'ecdsa-p384', spki: p256 }), { spec: 'ecdsa-p256', spki: p256 });
  const offCurve = Uint8Array.from(p256);
  offCurve[offCurve.length - 1]! ^= 1;
  assert.is(await codeOf(() => publicKeyInfo({ spec: 'ecdsa-p256', spki: offCurve })), 'ERR_KEY');
});

test.run();
