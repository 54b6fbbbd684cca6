import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CA_LIFETIME_SECONDS, expectedKeyUsages, LEAF_LIFETIME_SECONDS, PROFILE_LIST, PROFILES, profileByName } from '../lib/index.js';
import { codeOf } from './helpers/fixtures.js';

test('every profile has a unique name and file base, and its issuer exists', () => {
  const names = PROFILE_LIST.map((p) => p.name);
  assert.is(new Set(names).size, names.length);
  assert.is(new Set(PROFILE_LIST.map((p) => p.fileBase)).size, names.length);
  for (const profile of PROFILE_LIST) {
    if (profile.issuer !== 'self') assert.ok(profileByName(profile.issuer).isCA, `${profile.name} is signed by a CA profile`);
    assert.ok(profile.isCA || profile.extendedKeyUsages.length > 0, `${profile.name}: a leaf has at least one EKU, as kubeadm requires`);
  }
});

test('the kubelet rows follow the in-tree rules (kubernetes-pki.md §9)', () => {
  const { kubeletClient, kubeletServing } = PROFILES;
  assert.equal(kubeletClient.subject, { commonNamePrefix: 'system:node:', organizationsExact: ['system:nodes'] });
  assert.equal(kubeletClient.sans.allowed, []);
  assert.equal(kubeletClient.extendedKeyUsages, ['clientAuth']);
  assert.equal(kubeletServing.sans, { allowed: ['dns', 'ip'], requireDnsOrIp: true });
  assert.equal(kubeletServing.extendedKeyUsages, ['serverAuth']);
  assert.equal(expectedKeyUsages(kubeletServing, 'ecdsa-p256'), ['digitalSignature']);
  assert.equal(expectedKeyUsages(kubeletServing, 'rsa-2048'), ['digitalSignature', 'keyEncipherment']);
});

test('CAs last 10 years and leaves 1 year, as kubeadm', () => {
  assert.is(PROFILES.clusterCa.lifetimeSeconds, CA_LIFETIME_SECONDS);
  assert.is(CA_LIFETIME_SECONDS, 87_600 * 3600);
  assert.is(PROFILES.kubeletClient.lifetimeSeconds, LEAF_LIFETIME_SECONDS);
  assert.is(LEAF_LIFETIME_SECONDS, 8760 * 3600);
  assert.equal(expectedKeyUsages(PROFILES.clusterCa, 'ecdsa-p384'), ['digitalSignature', 'keyCertSign', 'cRLSign']);
});

test('keyEncipherment by key type: RSA leaves only; never EC, Ed25519 or a CA (RFC 8813 section 3, RFC 3279 2.3.1)', () => {
  for (const profile of Object.values(PROFILES)) {
    for (const spec of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa-2048', 'rsa-4096'] as const) {
      const want = profile.isCA ? ['digitalSignature', 'keyCertSign', 'cRLSign'] : spec.startsWith('rsa-') ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'];
      assert.equal(expectedKeyUsages(profile, spec), want, `${profile.name} ${spec}`);
    }
  }
});

test('the table is frozen', () => {
  assert.throws(() => {
    (PROFILES.kubeletClient.extendedKeyUsages as unknown as string[]).push('serverAuth');
  });
  assert.throws(() => {
    (PROFILES.kubeletClient as { isCA: boolean }).isCA = true;
  });
});

test('profileByName finds rows and refuses unknown names', async () => {
  assert.is(profileByName('kubelet-serving'), PROFILES.kubeletServing);
  assert.is(await codeOf(() => profileByName('nope')), 'ERR_PROFILE');
});

test.run();
