import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildCaBundle, createCertificateAuthority, issueCertificate, PROFILES } from '../../lib/index.js';
import { readPemBlocks } from '../../lib/crypto/pem.js';
import { failureOf, fixtureAuthorities, fixtureKey } from '../helpers/fixtures.js';

test('a bundle keeps order, removes duplicates by DER and is plain concatenated PEM', async () => {
  const a = (await fixtureAuthorities('ecdsa-p256')).root.certificate;
  const b = (await fixtureAuthorities('ed25519')).root.certificate;
  const bundle = buildCaBundle([a, b.pem, a.der, a.pem + b.pem]);
  assert.equal(bundle.certificates.map((c) => c.subject.commonName), ['root-ecdsa-p256', 'root-ed25519']);
  assert.is(bundle.pem, a.pem + b.pem);
  assert.equal(readPemBlocks(bundle.pem).map((blk) => blk.label), ['CERTIFICATE', 'CERTIFICATE'], 'never PKCS#7');
});

test('expired CAs are dropped with the reason; non-CA certificates are refused', async () => {
  const expired = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 20), now: new Date('2020-01-01T00:00:00Z'), validity: { lifetimeSeconds: 86_400 } });
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const bundle = buildCaBundle([expired.certificate, root.certificate]);
  assert.is(bundle.certificates.length, 1);
  assert.match(bundle.dropped[0]!.reason, /^expired at 2020-01-02/);
  const leaf = await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'x' }, publicKey: (await fixtureKey('ecdsa-p256', undefined, 1)).publicKey, issuer: root });
  const failure = await failureOf(() => buildCaBundle([root.certificate, leaf], { field: 'client-ca-file' }));
  assert.equal([failure.code, failure.field], ['ERR_CERTIFICATE', 'client-ca-file[1]']);
});

test.run();
