import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { issueCertificate, nodeSubject, PROFILES, signCertificate, templateFromProfile } from '../../lib/index.js';
import { lintProblems } from '../../lib/x509/lint.js';
import { failureOf, fixtureAuthorities, fixtureKey, PROVIDERS } from '../helpers/fixtures.js';

const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
const fixed = (size: number) => new Uint8Array(size).fill(0x42);

test('a profile template holds the content only; signed, it is what issueCertificate makes', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const key = await fixtureKey('rsa-2048', undefined, 1);
  const request = { subject: nodeSubject('node-1'), sans: { dns: ['node-1'], ips: ['10.0.0.11'] }, now: NOW };
  const template = templateFromProfile(PROFILES.kubeletServing, { ...request, keySpec: 'rsa-2048', issuer: root.certificate });
  assert.equal([template.keyUsages, template.extendedKeyUsages, template.isCA, template.pathLength], [['digitalSignature', 'keyEncipherment'], ['serverAuth'], false, undefined]);
  // NotBefore is backdated 5 minutes, but not before the issuer's.
  assert.is(template.notBefore.getTime(), Math.max(NOW.getTime() - 300_000, root.certificate.notBefore.getTime()));
  const signed = await signCertificate(template, key.publicKey, root, { randomBytes: fixed });
  const issued = await issueCertificate({ ...request, profile: PROFILES.kubeletServing, publicKey: key.publicKey, issuer: root, randomBytes: fixed });
  assert.ok(Buffer.from(signed.tbsDer).equals(issued.tbsDer), 'the same TBSCertificate, byte for byte');
});

test('templateFromProfile checks the request, the issuer and the path length before anything is signed', async () => {
  const { root, intermediate } = await fixtureAuthorities('ecdsa-p256');
  const cases: [() => unknown, string, string][] = [
    [() => templateFromProfile(PROFILES.kubeletClient, { subject: { commonName: 'jane' }, keySpec: 'ecdsa-p256', issuer: root.certificate }), 'ERR_PROFILE', 'subject.commonName'],
    [() => templateFromProfile(PROFILES.client, { subject: { commonName: 'u' }, keySpec: 'ecdsa-p256' }), 'ERR_ARGUMENT', 'issuer'],
    [() => templateFromProfile(PROFILES.clusterCa, { subject: { commonName: 'kubernetes' }, keySpec: 'ecdsa-p256', issuer: root.certificate }), 'ERR_PROFILE', 'issuer'],
    [() => templateFromProfile(PROFILES.intermediateCa, { subject: { commonName: 'x' }, keySpec: 'ecdsa-p256', issuer: intermediate.certificate }), 'ERR_PROFILE', 'issuer.certificate'],
    [() => templateFromProfile(PROFILES.client, { subject: { commonName: 'u' }, keySpec: 'ecdsa-p256', issuer: root.certificate, pathLength: 0 }), 'ERR_ARGUMENT', 'pathLength'],
  ];
  for (const [make, code, field] of cases) {
    const failure = await failureOf(make);
    assert.equal([failure.code, failure.field], [code, field]);
  }
});

for (const { name, crypto } of PROVIDERS) {
  test(`${name}: signCertificate refuses a signing key that is not the issuer's, and a self-signing key that is not the certified key's`, async () => {
    const { root } = await fixtureAuthorities('ecdsa-p256', crypto);
    const leaf = await fixtureKey('ecdsa-p256', crypto, 1);
    const other = await fixtureKey('ecdsa-p256', crypto, 2);
    const template = templateFromProfile(PROFILES.client, { subject: { commonName: 'u' }, keySpec: 'ecdsa-p256', issuer: root.certificate, now: NOW });
    const wrongIssuer = await failureOf(() => signCertificate(template, leaf.publicKey, { certificate: root.certificate, privateKey: other.privateKey, crypto }, { crypto }));
    assert.equal([wrongIssuer.code, wrongIssuer.field], ['ERR_KEY', 'issuer.privateKey']);
    const rootTemplate = templateFromProfile(PROFILES.clusterCa, { subject: { commonName: 'kubernetes' }, sans: { dns: ['kubernetes'] }, keySpec: 'ecdsa-p256', now: NOW });
    const wrongSelf = await failureOf(() => signCertificate(rootTemplate, leaf.publicKey, { selfSigningKey: other.privateKey }, { crypto }));
    assert.equal([wrongSelf.code, wrongSelf.field], ['ERR_KEY', 'selfSigningKey']);
    const self = await signCertificate(rootTemplate, leaf.publicKey, { selfSigningKey: leaf.privateKey }, { crypto });
    assert.ok(self.isIssuedBy(self));
  });
}

test('the lint compares a certificate with the template it was signed from', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const key = await fixtureKey('ecdsa-p256', undefined, 1);
  const template = templateFromProfile(PROFILES.client, { subject: { commonName: 'u' }, keySpec: 'ecdsa-p256', issuer: root.certificate, now: NOW });
  const cert = await signCertificate(template, key.publicKey, root);
  assert.equal(lintProblems(cert, { template, issuer: root.certificate }), []);
  const other = { ...template, extendedKeyUsages: ['serverAuth' as const], subject: { commonName: 'v' } };
  assert.equal(lintProblems(cert, { template: other, issuer: root.certificate }), [
    'extended key usages are [clientAuth], profile wants [serverAuth]',
    'subject differs from the request',
  ]);
  const wrongSpec = await failureOf(() => signCertificate({ ...template, keySpec: 'ed25519' }, key.publicKey, root));
  assert.is(wrongSpec.code, 'ERR_LINT');
});

test.run();
