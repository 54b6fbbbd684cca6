import { generateKeyPairSync } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createCertificateAuthority,
  createIntermediateAuthority,
  issueCertificate,
  nodeSubject,
  PROFILES,
  type CertificateProfile,
  type SanInput,
  type Subject,
} from '../../lib/index.js';
import { expectedKeyUsages } from '../../lib/x509/profile.js';
import { keyIdentifier } from '../../lib/x509/certificate.js';
import { ALL_KEY_SPECS, codeOf, failureOf, fixtureAuthorities, fixtureKey, PROVIDERS } from '../helpers/fixtures.js';

const NOW = new Date();
const MINUTE = 60_000;
const LEAVES: [CertificateProfile, Subject, SanInput | undefined][] = [
  [PROFILES.kubeletClient, nodeSubject('node-1'), undefined],
  [PROFILES.kubeletServing, nodeSubject('node-1'), { dns: ['node-1'], ips: ['10.0.0.11', 'fd00::11'] }],
  [PROFILES.server, { commonName: 'etcd' }, { dns: ['etcd.kube-system.svc'], ips: ['127.0.0.1'] }],
  [PROFILES.client, { commonName: 'kube-apiserver-etcd-client', organizations: ['a', 'b'] }, undefined],
];
const buf = (bytes: Uint8Array | undefined): Buffer => Buffer.from(bytes ?? []);

// The issuance tests run once per WebCrypto provider: Node's native one and @peculiar/webcrypto.
for (const { name: provider, crypto } of PROVIDERS) {
  for (const spec of ALL_KEY_SPECS) {
    test(`${provider}/${spec}: every profile issues under a root and an intermediate as kubeadm would`, async () => {
      const { root, intermediate } = await fixtureAuthorities(spec, crypto);
      assert.ok(root.certificate.isSelfIssued);
      assert.is(root.certificate.authorityKeyId, undefined, 'a root carries no AKID, as Go writes it');
      assert.equal(root.certificate.sans.dns, [`root-${spec}`]);
      assert.equal(intermediate.certificate.basicConstraints, { isCA: true, pathLength: 0, critical: true });
      const key = await fixtureKey(spec, crypto, 1);
      for (const issuer of [root, intermediate]) {
        for (const [profile, subject, sans] of LEAVES) {
          const cert = await issueCertificate({ crypto, profile, subject, sans, publicKey: key.publicKey, issuer, now: NOW });
          const ca = issuer.certificate;
          assert.ok(buf(cert.issuerDer).equals(ca.subjectDer), 'issuer bytes equal the CA subject bytes');
          assert.ok(buf(cert.authorityKeyId).equals(buf(ca.subjectKeyId)), 'AKID is the CA SKID');
          assert.ok(buf(cert.subjectKeyId).equals(keyIdentifier(cert.spki)), 'SKID is the SHA-1 key id');
          assert.equal(cert.basicConstraints, { isCA: false, pathLength: undefined, critical: true });
          assert.equal(cert.keyUsages, expectedKeyUsages(profile, spec));
          assert.equal(cert.extendedKeyUsages, [...profile.extendedKeyUsages]);
          assert.equal(cert.subject, { commonName: subject.commonName, organizations: [...(subject.organizations ?? [])] });
          assert.is(cert.keySpec, spec);
          assert.ok(cert.notAfter <= ca.notAfter);
        }
      }
    });
  }

  test(`${provider}: a CA certifies a key of another type`, async () => {
    const { root } = await fixtureAuthorities('rsa-2048', crypto);
    const key = await fixtureKey('ed25519', crypto, 1);
    const cert = await issueCertificate({ crypto, profile: PROFILES.client, subject: { commonName: 'x' }, publicKey: key.publicKey, issuer: root });
    assert.is(cert.keySpec, 'ed25519');
    assert.is(cert.signatureAlgorithmOid, '1.2.840.113549.1.1.11');
  });
}

test('key usages by key type: RSA leaves add keyEncipherment; EC and Ed25519 leaves and every CA never carry it', async () => {
  const { root: rsaRoot } = await fixtureAuthorities('rsa-2048');
  for (const spec of ALL_KEY_SPECS) {
    const { root, intermediate } = await fixtureAuthorities(spec);
    for (const ca of [root, intermediate]) assert.equal(ca.certificate.keyUsages, ['digitalSignature', 'keyCertSign', 'cRLSign'], `${spec} CA`);
    const key = await fixtureKey(spec, undefined, 1);
    for (const [profile, subject, sans] of LEAVES) {
      const cert = await issueCertificate({ profile, subject, sans, publicKey: key.publicKey, issuer: rsaRoot, now: NOW });
      assert.equal(cert.keyUsages, spec.startsWith('rsa-') ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'], `${spec} ${profile.name}`);
    }
  }
});

test('a profile that lists keyEncipherment gets it for RSA leaves only, never for EC or Ed25519 keys or CAs', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const leafProfile: CertificateProfile = { ...PROFILES.client, name: 'custom-client', keyUsages: ['digitalSignature', 'keyEncipherment'] };
  const caProfile: CertificateProfile = { ...PROFILES.intermediateCa, name: 'custom-ca', keyUsages: ['digitalSignature', 'keyEncipherment', 'keyCertSign', 'cRLSign'] };
  for (const spec of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048'] as const) {
    const key = await fixtureKey(spec, undefined, 1);
    const leaf = await issueCertificate({ profile: leafProfile, subject: { commonName: 'u' }, publicKey: key.publicKey, issuer: root, now: NOW });
    assert.equal(leaf.keyUsages, spec === 'rsa-2048' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'], spec);
    const ca = await issueCertificate({ profile: caProfile, subject: { commonName: `ca-${spec}` }, publicKey: key.publicKey, issuer: root, now: NOW });
    assert.equal(ca.keyUsages, ['digitalSignature', 'keyCertSign', 'cRLSign'], `${spec} CA`);
    // Usages a requester chose are taken as asked, except keyEncipherment for a key that cannot encipher.
    const asked = await issueCertificate({ profile: { ...leafProfile, exactKeyUsages: true }, subject: { commonName: 'u' }, publicKey: key.publicKey, issuer: root, now: NOW });
    assert.equal(asked.keyUsages, spec === 'rsa-2048' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'], `${spec} exactKeyUsages`);
  }
});

test('NotBefore is backdated 5 minutes and NotAfter is now + the profile lifetime, to whole seconds', async () => {
  const ca = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256'), now: new Date(NOW.getTime() - 60 * MINUTE) });
  const now = new Date(Math.floor(NOW.getTime() / 1000) * 1000 + 500);
  const cert = await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: (await fixtureKey('ecdsa-p256', undefined, 1)).publicKey, issuer: ca, now });
  assert.is(cert.notBefore.getTime(), Math.ceil((now.getTime() - 5 * MINUTE) / 1000) * 1000);
  assert.is(cert.notAfter.getTime(), Math.floor((now.getTime() + PROFILES.client.lifetimeSeconds * 1000) / 1000) * 1000);
});

test("NotAfter never passes the issuer's NotAfter", async () => {
  const ca = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256'), validity: { lifetimeSeconds: 86_400 } });
  const cert = await issueCertificate({ profile: PROFILES.kubeletClient, subject: nodeSubject('n'), publicKey: (await fixtureKey('ecdsa-p256', undefined, 1)).publicKey, issuer: ca });
  assert.is(cert.notAfter.getTime(), ca.certificate.notAfter.getTime());
});

test('an expired CA signs nothing', async () => {
  const ca = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256'), now: new Date('2020-01-01T00:00:00Z'), validity: { lifetimeSeconds: 86_400 } });
  const failure = await failureOf(() => issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: ca.keyPair.publicKey, issuer: ca }));
  assert.equal([failure.code, failure.field], ['ERR_VALIDITY', 'issuer.certificate']);
});

test('explicit validity is honoured and an empty one refused', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const key = (await fixtureKey('ecdsa-p256', undefined, 1)).publicKey;
  const notBefore = new Date(Math.ceil(NOW.getTime() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + 3_600_000);
  const cert = await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key, issuer: root, validity: { notBefore, notAfter } });
  assert.equal([cert.notBefore, cert.notAfter], [notBefore, notAfter]);
  const empty = await failureOf(() => issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key, issuer: root, validity: { notBefore: notAfter, notAfter: notBefore } }));
  assert.is(empty.code, 'ERR_VALIDITY');
  assert.is(await codeOf(() => issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key, issuer: root, validity: { lifetimeSeconds: -1 } })), 'ERR_VALIDITY');
});

test('serials are random, positive and 128 bits; a zero draw is drawn again', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const key = (await fixtureKey('ecdsa-p256', undefined, 1)).publicKey;
  const issue = (randomBytes?: (n: number) => Uint8Array) => issueCertificate({ profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: key, issuer: root, randomBytes });
  const high = await issue((n) => new Uint8Array(n).fill(0xff));
  assert.is(high.serialNumber, 'ff'.repeat(16));
  assert.is(high.serialBytes[0], 0, 'a leading zero keeps it positive');
  let calls = 0;
  const retried = await issue((n) => new Uint8Array(n).fill(calls++ === 0 ? 0 : 1));
  assert.is(retried.serialNumber, '01'.repeat(16));
  const leadingZero = await issue((n) => Uint8Array.from({ length: n }, (_, i) => (i === 0 ? 0 : 7)));
  assert.is(leadingZero.serialBytes.length, 15, 'minimal INTEGER encoding');
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) serials.add((await issue()).serialNumber);
  assert.is(serials.size, 20);
});

const VIOLATIONS: [string, () => Parameters<typeof issueCertificate>[0] | Promise<Parameters<typeof issueCertificate>[0]>, string, string][] = [
  ['a kubelet client certificate with a SAN', async () => ({ ...(await base()), profile: PROFILES.kubeletClient, subject: nodeSubject('n'), sans: { dns: ['n'] } }), 'ERR_PROFILE', 'sans.dns'],
  ['a kubelet client certificate with extra groups', async () => ({ ...(await base()), profile: PROFILES.kubeletClient, subject: { commonName: 'system:node:n', organizations: ['system:nodes', 'system:masters'] } }), 'ERR_PROFILE', 'subject.organizations'],
  ['a kubelet client certificate with a bare prefix CN', async () => ({ ...(await base()), profile: PROFILES.kubeletClient, subject: { commonName: 'system:node:', organizations: ['system:nodes'] } }), 'ERR_PROFILE', 'subject.commonName'],
  ['a kubelet serving certificate without SANs', async () => ({ ...(await base()), profile: PROFILES.kubeletServing, subject: nodeSubject('n') }), 'ERR_PROFILE', 'sans'],
  ['a kubelet serving certificate with an email SAN', async () => ({ ...(await base()), profile: PROFILES.kubeletServing, subject: nodeSubject('n'), sans: { ips: ['10.0.0.1'], emails: ['a@example.com'] } }), 'ERR_PROFILE', 'sans.email'],
  ['a server certificate with its name only in the CN', async () => ({ ...(await base()), profile: PROFILES.server, subject: { commonName: 'api.example.com' } }), 'ERR_PROFILE', 'sans'],
  ['a SAN that is not a name', async () => ({ ...(await base()), profile: PROFILES.server, subject: { commonName: 's' }, sans: { dns: ['exa mple.com'] } }), 'ERR_NAME', 'sans.dns[0]'],
  ['an IP SAN that is not an address', async () => ({ ...(await base()), profile: PROFILES.server, subject: { commonName: 's' }, sans: { ips: ['10.0.0.256'] } }), 'ERR_NAME', 'sans.ips[0]'],
  ['an empty CN', async () => ({ ...(await base()), subject: { commonName: '' } }), 'ERR_NAME', 'subject.commonName'],
  ['an issuer on a self-signed profile', async () => ({ ...(await base()), profile: PROFILES.clusterCa }), 'ERR_PROFILE', 'issuer'],
  ['a leaf without an issuer', async () => ({ ...(await base()), issuer: undefined }), 'ERR_ARGUMENT', 'issuer'],
  ['a path length on a leaf', async () => ({ ...(await base()), pathLength: 1 }), 'ERR_ARGUMENT', 'pathLength'],
  ['a leaf as issuer', async () => {
    const b = await base();
    const leaf = await issueCertificate(b);
    return { ...b, issuer: { certificate: leaf.pem, privateKey: (await fixtureKey('ecdsa-p256', undefined, 1)).privateKey } };
  }, 'ERR_CERTIFICATE', 'issuer.certificate'],
  ['a CA key that does not match the CA certificate', async () => {
    const b = await base();
    return { ...b, issuer: { certificate: b.issuer!.certificate, privateKey: (await fixtureKey('ecdsa-p256', undefined, 2)).privateKey } };
  }, 'ERR_KEY', 'issuer.privateKey'],
  ['a DSA public key', async () => ({ ...(await base()), publicKey: generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).publicKey }), 'ERR_KEY', 'publicKey'],
  ['a PEM certificate as public key', async () => ({ ...(await base()), publicKey: (await base()).issuer!.certificate as string }), 'ERR_PEM', 'publicKey'],
];

async function base(): Promise<Parameters<typeof issueCertificate>[0]> {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  return { profile: PROFILES.client, subject: { commonName: 'u' }, publicKey: (await fixtureKey('ecdsa-p256', undefined, 1)).publicKey, issuer: { certificate: root.certificate.pem, privateKey: root.privateKey } };
}

for (const [name, request, code, field] of VIOLATIONS) {
  test(`issueCertificate refuses ${name}`, async () => {
    const failure = await failureOf(async () => issueCertificate(await request()));
    assert.equal([failure.code, failure.field], [code, field]);
  });
}

test('intermediates respect path lengths', async () => {
  const { root, intermediate } = await fixtureAuthorities('ecdsa-p256');
  const key = await fixtureKey('ecdsa-p256', undefined, 3);
  const failure = await failureOf(() => createIntermediateAuthority({ issuer: intermediate, keyPair: key }));
  assert.equal([failure.code, failure.field], ['ERR_PROFILE', 'issuer.certificate']);
  const mid = await createIntermediateAuthority({ issuer: root, keyPair: key, pathLength: 1, commonName: 'mid' });
  assert.is(mid.certificate.basicConstraints?.pathLength, 1);
  const tooLong = await failureOf(() => createIntermediateAuthority({ issuer: mid, keyPair: key, pathLength: 1 }));
  assert.equal([tooLong.code, tooLong.field], ['ERR_PROFILE', 'pathLength']);
  const low = await createIntermediateAuthority({ issuer: mid, keyPair: key, pathLength: 0, commonName: 'low' });
  assert.ok(Buffer.from(low.certificate.issuerDer).equals(mid.certificate.subjectDer));
  const unlimited = await createIntermediateAuthority({ issuer: root, keyPair: key, commonName: 'open', profile: { ...PROFILES.intermediateCa, pathLength: undefined } });
  assert.is(unlimited.certificate.basicConstraints?.pathLength, undefined);
});

test('a CA whose CN is not a DNS name carries no SAN', async () => {
  const ca = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256'), commonName: 'Example Cluster CA', organizations: ['Example'] });
  assert.equal(ca.certificate.sans.dns, []);
  assert.equal(ca.certificate.subject, { commonName: 'Example Cluster CA', organizations: ['Example'] });
});

test.run();
