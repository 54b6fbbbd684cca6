import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, generateKeyPair, nodeSubject, signCsrObject, type SignOutcome } from '../../lib/index.js';
import { readPemBlocks } from '../../lib/crypto/pem.js';
import { codeOf, fixtureAuthorities, fixtureKey } from '../helpers/fixtures.js';
import { approved, kubeletCsr } from './helpers.js';

const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const MIN = 60_000;
const issued = (outcome: SignOutcome) => {
  if (outcome.outcome !== 'issued') throw new Error(`expected a certificate, got ${outcome.outcome}: ${outcome.message}`);
  return outcome;
};

// A CA made an hour before NOW, so that NotBefore = NOW - 5 min lies inside its validity.
let caMadeEarlier: ReturnType<typeof createCertificateAuthority> | undefined;
const earlierCa = async () => (caMadeEarlier ??= createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 9), now: new Date(NOW.getTime() - 60 * MIN) }));

async function sign(options: Parameters<typeof kubeletCsr>[0], signer = options.signerName ?? 'kubernetes.io/kube-apiserver-client-kubelet', extra: Partial<Parameters<typeof signCsrObject>[1]> = {}) {
  return signCsrObject(approved(await kubeletCsr(options)), { signerName: signer, issuer: await earlierCa(), now: NOW, ...extra });
}

test('a kubelet client certificate: subject and key from the CSR, usages from spec.usages, leaf only', async () => {
  const outcome = issued(await sign({}));
  const cert = outcome.certificate;
  assert.equal(cert.subject, { commonName: 'system:node:node-1', organizations: ['system:nodes'] });
  assert.equal(cert.keyUsages, ['digitalSignature']);
  assert.equal(cert.extendedKeyUsages, ['clientAuth']);
  assert.not.ok(cert.isCA);
  const blocks = readPemBlocks(Buffer.from(outcome.statusCertificate, 'base64').toString());
  assert.equal(blocks.map((b) => b.label), ['CERTIFICATE']);
});

test('lifetime: default max with 5-minute backdate on both ends (8-hour rule)', async () => {
  const cert = issued(await sign({})).certificate;
  assert.is(cert.notBefore.getTime(), NOW.getTime() - 5 * MIN);
  assert.is(cert.notAfter.getTime(), NOW.getTime() + 365 * 24 * 60 * MIN - 5 * MIN);
});

test('lifetime: expirationSeconds under 8 hours is not shortened; under 10 minutes is raised to 10', async () => {
  const short = issued(await sign({ expirationSeconds: 3600 })).certificate;
  assert.is(short.notAfter.getTime(), NOW.getTime() + 60 * MIN);
  const eight = issued(await sign({ expirationSeconds: 8 * 3600 })).certificate;
  assert.is(eight.notAfter.getTime(), NOW.getTime() + 8 * 60 * MIN - 5 * MIN);
  const tooLong = issued(await sign({ expirationSeconds: 10 * 365 * 86_400 }, undefined, { maxLifetimeSeconds: 86_400 })).certificate;
  assert.is(tooLong.notAfter.getTime(), NOW.getTime() + 24 * 60 * MIN - 5 * MIN);
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const object = approved(await kubeletCsr({}));
  object.spec.expirationSeconds = 60; // below the API minimum: the clamp still gives 10 minutes
  const outcome = await signCsrObject(object, { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: root, now: NOW });
  assert.is(outcome.outcome, 'failed', 'validation refuses it first');
});

test("NotAfter is capped at the CA's, and an expired CA signs nothing", async () => {
  const shortCa = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 7), validity: { lifetimeSeconds: 3600 }, now: new Date(NOW.getTime() - 10 * MIN) });
  const cert = issued(await signCsrObject(approved(await kubeletCsr({})), { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: shortCa, now: NOW })).certificate;
  assert.is(cert.notAfter.getTime(), shortCa.certificate.notAfter.getTime());
  const expired = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 8), validity: { lifetimeSeconds: 3600 }, now: new Date('2020-01-01T00:00:00Z') });
  assert.is(await codeOf(async () => signCsrObject(approved(await kubeletCsr({})), { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: expired, now: NOW })), 'ERR_VALIDITY');
});

test('requested extensions are dropped and usages come from spec.usages only (a custom signer)', async () => {
  const keyPair = await generateKeyPair('rsa-2048');
  const outcome = issued(
    await sign({ requestCa: true, keyPair, signerName: 'example.com/custom', subject: { commonName: 'svc', organizations: ['x'] }, usages: ['digital signature', 'server auth', 'client auth'] }, 'example.com/custom'),
  );
  assert.not.ok(outcome.certificate.isCA);
  assert.equal(outcome.certificate.keyUsages, ['digitalSignature'], 'no keyEncipherment added for RSA: only what was asked');
  assert.equal(outcome.certificate.extendedKeyUsages, ['clientAuth', 'serverAuth']);
});

test('keyEncipherment is certified for RSA keys only: an EC or Ed25519 key asking the RSA form gets digitalSignature alone', async () => {
  const form: Parameters<typeof kubeletCsr>[0]['usages'] = ['digital signature', 'key encipherment', 'client auth'];
  for (const spec of ['ecdsa-p256', 'ed25519'] as const) {
    const outcome = issued(await sign({ usages: form, keyPair: await fixtureKey(spec, undefined, 3) }));
    assert.equal(outcome.certificate.keyUsages, ['digitalSignature'], spec);
  }
  const rsa = issued(await sign({ usages: form, keyPair: await fixtureKey('rsa-2048', undefined, 3) }));
  assert.equal(rsa.certificate.keyUsages, ['digitalSignature', 'keyEncipherment']);
});

test("the subject is the CSR's, re-encoded as Go writes it (the same bytes for a kubelet), and the SANs are copied", async () => {
  const object = approved(await kubeletCsr({ signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'], sans: { dns: ['node-1'], ips: ['10.0.0.11'] } }));
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const outcome = issued(await signCsrObject(object, { signerName: 'kubernetes.io/kubelet-serving', issuer: root, now: NOW }));
  const { parseCsr } = await import('../../lib/index.js');
  const request = await parseCsr(Buffer.from(object.spec.request, 'base64').toString());
  assert.ok(Buffer.from(outcome.certificate.subjectDer).equals(request.subjectDer));
  assert.equal([outcome.certificate.sans.dns, outcome.certificate.sans.ips], [['node-1'], ['10.0.0.11']]);
});

const FAILURES: [string, Parameters<typeof kubeletCsr>[0]][] = [
  ['a kubelet client CSR with SANs', { sans: { dns: ['node-1'] } }],
  ['a kubelet client CSR with extra usages', { usages: ['digital signature', 'client auth', 'server auth'] }],
  ['a kubelet client CSR for system:masters', { subject: { commonName: 'system:node:node-1', organizations: ['system:masters'] } }],
  ['a serving CSR without SANs', { signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'], subject: nodeSubject('node-1') }],
  ['an apiserver client CSR without client auth', { signerName: 'kubernetes.io/kube-apiserver-client', usages: ['digital signature'], subject: { commonName: 'jane' } }],
];
for (const [name, options] of FAILURES) {
  test(`${name} fails with SignerValidationFailure`, async () => {
    const outcome = await sign(options);
    assert.is(outcome.outcome, 'failed');
    assert.is(outcome.outcome === 'failed' && outcome.reason, 'SignerValidationFailure');
  });
}

test('only approved CSRs of this signer are signed', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const pending = await kubeletCsr({});
  assert.is((await signCsrObject(pending, { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: root })).outcome, 'skipped');
  assert.is((await signCsrObject(approved(pending), { signerName: 'kubernetes.io/kubelet-serving', issuer: root })).outcome, 'skipped');
  const denied = { ...pending, status: { conditions: [{ type: 'Denied' as const, status: 'True' as const }] } };
  assert.is((await signCsrObject(denied, { signerName: 'kubernetes.io/kube-apiserver-client-kubelet', issuer: root })).outcome, 'skipped');
});

test.run();
