// Judges: Go (client-go's keyutil rules), OpenSSL and GnuTLS load the keys kubepki writes; kubepki loads
// the keys OpenSSL writes in all three PEM formats.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportPrivateKeyPem, exportPublicKeyPem, importPrivateKeyPem } from '../../lib/index.js';
import { privateKeyFormats } from '../../lib/crypto/keys.js';
import { ALL_KEY_SPECS, codeOf, fixtureKey } from '../helpers/fixtures.js';
import { gnutlsLoadKey, goJudge, opensslGenerateKey, opensslLoadKey, opensslLoadPublicKey } from './judges.js';


test('keys written by kubepki load in Go, OpenSSL and GnuTLS', async () => {
  const pems: { label: string; pem: string }[] = [];
  const publics: string[] = [];
  for (const spec of ALL_KEY_SPECS) {
    const pair = await fixtureKey(spec, undefined, 1);
    for (const format of privateKeyFormats(spec)) pems.push({ label: `${spec}/${format}`, pem: await exportPrivateKeyPem(pair, format) });
    publics.push(await exportPublicKeyPem(pair.publicKey));
  }
  const results = await goJudge([...pems.map(({ pem }) => ({ op: 'key' as const, key: pem })), ...publics.map((key) => ({ op: 'pubkey' as const, key }))]);
  assert.ok(results.every((r) => r.ok), results.map((r) => r.error).join(' | '));
  for (const { label, pem } of pems) {
    assert.ok(await opensslLoadKey(pem), `openssl loads ${label}`);
    assert.ok(await gnutlsLoadKey(pem), `certtool loads ${label}`);
  }
  for (const pem of publics) assert.ok(await opensslLoadPublicKey(pem));
});

const OPENSSL_KEYS: [Parameters<typeof opensslGenerateKey>[0], Parameters<typeof opensslGenerateKey>[1]][] = [
  ['rsa-2048', 'pkcs8'],
  ['rsa-2048', 'pkcs1'],
  ['ecdsa-p256', 'pkcs8'],
  ['ecdsa-p256', 'sec1'],
  ['ecdsa-p384', 'pkcs8'],
  ['ecdsa-p384', 'sec1'],
  ['ed25519', 'pkcs8'],
];

for (const [kind, format] of OPENSSL_KEYS) {
  test(`a ${kind} key written by OpenSSL as ${format} loads in kubepki`, async () => {
    const pem = await opensslGenerateKey(kind, format);
    const pair = await importPrivateKeyPem(pem);
    assert.is(pair.spec, kind);
  });
}

test('a garbage key is refused by every judge and by kubepki', async () => {
  const garbage = '-----BEGIN EC PRIVATE KEY-----\nMAMCAQU=\n-----END EC PRIVATE KEY-----\n';
  const [go] = await goJudge([{ op: 'key', key: garbage }]);
  assert.not.ok(go!.ok);
  assert.not.ok(await opensslLoadKey(garbage));
  assert.not.ok(await gnutlsLoadKey(garbage));
  assert.is(await codeOf(() => importPrivateKeyPem(garbage)), 'ERR_KEY');
});

test.run();
