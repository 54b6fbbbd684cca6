// Judges: Go's x509.ParseCertificateRequest + CheckSignature and `openssl req -verify` on CSRs kubepki
// makes; kubepki on CSRs OpenSSL makes; all three refuse a tampered CSR.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCsr, exportPrivateKeyPem, nodeSubject, parseCsr } from '../../lib/index.js';
import { encodePem, readPemBlock } from '../../lib/crypto/pem.js';
import { ALL_KEY_SPECS, codeOf, fixtureKey, tamperSignature } from '../helpers/fixtures.js';
import { goJudge, opensslCsrVerify, opensslMakeCsr } from './judges.js';

test('CSRs made by kubepki pass Go and OpenSSL; tampered copies fail both', async () => {
  const good: string[] = [];
  const bad: string[] = [];
  for (const spec of ALL_KEY_SPECS) {
    const csr = await createCsr({ keyPair: await fixtureKey(spec, undefined, 1), subject: nodeSubject('node-9'), sans: { dns: ['node-9'], ips: ['10.0.0.9', 'fd00::9'] } });
    good.push(csr.pem);
    bad.push(encodePem('CERTIFICATE REQUEST', tamperSignature(csr.der)));
  }
  const results = await goJudge([...good, ...bad].map((csr) => ({ op: 'csr', csr })));
  assert.equal(results.map((r) => r.ok), [...good.map(() => true), ...bad.map(() => false)], results.map((r) => r.error).join(' | '));
  for (const [i, csr] of good.entries()) assert.ok(await opensslCsrVerify(csr), `openssl accepts ${ALL_KEY_SPECS[i]}`);
  for (const [i, csr] of bad.entries()) assert.not.ok(await opensslCsrVerify(csr), `openssl refuses tampered ${ALL_KEY_SPECS[i]}`);
});

for (const kind of ['rsa-2048', 'ecdsa-p256', 'ecdsa-p384', 'ed25519'] as const) {
  test(`a CSR made by OpenSSL with a ${kind} key parses in kubepki; its tampered copy does not`, async () => {
    const keyPem = await exportPrivateKeyPem(await fixtureKey(kind, undefined, 4), 'pkcs8');
    const pem = await opensslMakeCsr(keyPem, '/O=system:nodes/CN=system:node:n1', ['DNS:n1.example', 'IP:10.0.0.1']);
    const csr = await parseCsr(pem);
    assert.equal(csr.subject, { commonName: 'system:node:n1', organizations: ['system:nodes'] });
    assert.equal([csr.sans.dns, csr.sans.ips], [['n1.example'], ['10.0.0.1']]);
    assert.is(csr.publicKey.spec, kind);
    const der = readPemBlock(pem, ['CERTIFICATE REQUEST']).der;
    assert.is(await codeOf(() => parseCsr(tamperSignature(der))), 'ERR_CSR_SIGNATURE');
  });
}

test.run();
