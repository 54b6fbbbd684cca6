import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, createCsr, nodeSubject, parseCsr, signCertificate, type SigningPolicy } from '../../lib/index.js';
import {
  DEFAULT_MAX_LIFETIME_SECONDS,
  MIN_LIFETIME_SECONDS,
  signingPolicy,
  templateFromCsr,
  unknownUsages,
  x509Usages,
} from '../../lib/bootstrap/signing-policy.js';
import { codeOf, failureOf, fixtureKey } from '../helpers/fixtures.js';

const SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const MIN = 60_000;
const HOUR = 3600;

let caPromise: ReturnType<typeof createCertificateAuthority> | undefined;
const ca = async () => (caPromise ??= createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 9), now: new Date(NOW.getTime() - 60 * MIN) }));
const request = async (spec: Parameters<typeof fixtureKey>[0] = 'ecdsa-p256', sans?: Parameters<typeof createCsr>[0]['sans']) =>
  parseCsr((await createCsr({ keyPair: await fixtureKey(spec, undefined, 3), subject: nodeSubject('node-1'), sans })).pem);

test('the TTL: expirationSeconds clamped to [10 minutes, max]; none asked gives the max (365 days by default)', () => {
  assert.is(signingPolicy(SIGNER, undefined).ttlSeconds, DEFAULT_MAX_LIFETIME_SECONDS);
  assert.is(DEFAULT_MAX_LIFETIME_SECONDS, 365 * 24 * HOUR);
  assert.is(signingPolicy(SIGNER, undefined, 86_400).ttlSeconds, 86_400);
  assert.is(signingPolicy(SIGNER, 10 * 365 * 86_400, 86_400).ttlSeconds, 86_400, 'clamped to the max');
  assert.is(signingPolicy(SIGNER, 3600).ttlSeconds, 3600);
  assert.is(signingPolicy(SIGNER, 60).ttlSeconds, MIN_LIFETIME_SECONDS, 'raised to the 10-minute floor');
  assert.is(MIN_LIFETIME_SECONDS, 600);
  const { backdateSeconds, shortSeconds } = signingPolicy(SIGNER, undefined);
  assert.equal([backdateSeconds, shortSeconds], [300, 8 * HOUR]);
});

test('validity: NotBefore backdated 5 minutes; NotAfter backdated too only when the TTL is 8 hours or more', async () => {
  const csr = await request();
  const usages = ['digital signature', 'client auth'];
  const at = (ttl: number) => templateFromCsr(csr, usages, signingPolicy(SIGNER, ttl), NOW);
  for (const ttl of [600, 3600, 8 * HOUR - 1, 8 * HOUR, 24 * HOUR]) {
    const template = at(ttl);
    assert.is(template.notBefore.getTime(), NOW.getTime() - 5 * MIN, `${ttl}`);
    assert.is(template.notAfter.getTime(), NOW.getTime() + (ttl >= 8 * HOUR ? ttl * 1000 - 5 * MIN : ttl * 1000), `${ttl}`);
  }
});

test("validity: NotAfter truncated to the issuer's, and an expired issuer refused", async () => {
  const short = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 7), validity: { lifetimeSeconds: 3600 }, now: new Date(NOW.getTime() - 10 * MIN) });
  const template = templateFromCsr(await request(), ['client auth'], signingPolicy(SIGNER, undefined), NOW, short.certificate);
  assert.is(template.notAfter.getTime(), short.certificate.notAfter.getTime());
  const expired = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 8), validity: { lifetimeSeconds: 3600 }, now: new Date('2020-01-01T00:00:00Z') });
  assert.is(await codeOf(async () => templateFromCsr(await request(), ['client auth'], signingPolicy(SIGNER, undefined), NOW, expired.certificate)), 'ERR_VALIDITY');
});

test('usages: both request forms map, key usages in bit order, extended key usages sorted, keyEncipherment for RSA keys only', () => {
  const asked = ['server auth', 'key encipherment', 'signing', 'digital signature', 's/mime', 'email protection', 'cert sign'];
  assert.equal(x509Usages(asked, 'ecdsa-p256'), { keyUsages: ['digitalSignature', 'keyCertSign'], extendedKeyUsages: ['emailProtection', 'serverAuth'] });
  assert.equal(x509Usages(asked, 'ed25519').keyUsages, ['digitalSignature', 'keyCertSign']);
  assert.equal(x509Usages(asked, 'rsa-2048').keyUsages, ['digitalSignature', 'keyEncipherment', 'keyCertSign']);
  assert.equal(x509Usages(['client auth'], 'ecdsa-p256'), { keyUsages: [], extendedKeyUsages: ['clientAuth'] });
  assert.equal(unknownUsages(['client auth', 'netscape sgc', 'made up']), ['netscape sgc', 'made up']);
});

test('the template of a CSR: the subject bytes as re-encoded, SANs copied, never a CA; unknown usages refused', async () => {
  const csr = await request('ecdsa-p256', { dns: ['node-1'], ips: ['10.0.0.11'] });
  const template = templateFromCsr(csr, ['digital signature', 'server auth'], signingPolicy('kubernetes.io/kubelet-serving', 3600), NOW);
  assert.ok(Buffer.from(template.subjectDer).equals(csr.certifiedSubjectDer));
  assert.equal(template.subject, nodeSubject('node-1'));
  assert.equal([template.sans.dns, template.sans.ips], [['node-1'], ['10.0.0.11']]);
  assert.equal([template.isCA, template.pathLength, template.keySpec, template.name], [false, undefined, 'ecdsa-p256', 'kubernetes.io/kubelet-serving']);
  const failure = await failureOf(() => templateFromCsr(csr, ['digital signature', 'netscape sgc'], signingPolicy(SIGNER, 3600), NOW));
  assert.equal([failure.code, failure.field], ['ERR_PROFILE', 'usages']);
});

test('a policy of another shape: no backdate, everything short', async () => {
  const policy: SigningPolicy = { signerName: 'example.com/custom', ttlSeconds: 24 * HOUR, backdateSeconds: 0, shortSeconds: Infinity };
  const template = templateFromCsr(await request(), ['client auth'], policy, NOW);
  assert.equal([template.notBefore.getTime(), template.notAfter.getTime()], [NOW.getTime(), NOW.getTime() + 24 * HOUR * 1000]);
});

test('signCertificate signs a CSR template as the signer does, and refuses a CA key that is not the certificate\'s', async () => {
  const issuer = await ca();
  const csr = await request('rsa-2048');
  const template = templateFromCsr(csr, ['digital signature', 'key encipherment', 'client auth'], signingPolicy(SIGNER, undefined), NOW, issuer.certificate);
  const cert = await signCertificate(template, csr.publicKey, issuer);
  assert.equal([cert.keyUsages, cert.extendedKeyUsages, cert.isCA], [['digitalSignature', 'keyEncipherment'], ['clientAuth'], false]);
  assert.equal([cert.notBefore, cert.notAfter], [template.notBefore, template.notAfter]);
  assert.ok(cert.isIssuedBy(issuer.certificate));
  const wrongKey = (await fixtureKey('ecdsa-p256', undefined, 2)).privateKey;
  const failure = await failureOf(() => signCertificate(template, csr.publicKey, { certificate: issuer.certificate, privateKey: wrongKey }));
  assert.equal([failure.code, failure.field], ['ERR_KEY', 'issuer.privateKey']);
});

test('templates of different usages under one CA do not share their encoded extensions', async () => {
  const issuer = await ca();
  const csr = await request();
  const policy = signingPolicy(SIGNER, undefined);
  for (const [usages, ku, eku] of [
    [['digital signature', 'client auth'], ['digitalSignature'], ['clientAuth']],
    [['digital signature', 'server auth'], ['digitalSignature'], ['serverAuth']],
    [['client auth'], [], ['clientAuth']],
    [['digital signature', 'client auth'], ['digitalSignature'], ['clientAuth']],
  ] as const) {
    const cert = await signCertificate(templateFromCsr(csr, usages, policy, NOW, issuer.certificate), csr.publicKey, issuer);
    assert.equal([cert.keyUsages, cert.extendedKeyUsages], [ku, eku], usages.join());
  }
});

test.run();
