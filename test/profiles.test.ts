import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planCluster, PROFILES } from '../lib/index.js';
import { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT } from '../lib/cluster/layout.js';
import { CA_LIFETIME_SECONDS, LEAF_LIFETIME_SECONDS, PROFILE_LIST, profileByName } from '../lib/cluster/kinds.js';
import { expectedKeyUsages } from '../lib/x509/profile.js';
import { codeOf } from './helpers/fixtures.js';

test('every kind has a unique name and file, and its issuer exists', () => {
  const names = PROFILE_LIST.map((p) => p.name);
  assert.is(new Set(names).size, names.length);
  const files = PROFILE_LIST.flatMap((p) => (p.file ? [p.file] : []));
  assert.is(new Set(files).size, files.length);
  for (const profile of PROFILE_LIST) {
    if (profile.issuer !== 'self') assert.ok(profileByName(profile.issuer).isCA, `${profile.name} is signed by a CA profile`);
    assert.ok(profile.isCA || profile.extendedKeyUsages.length > 0, `${profile.name}: a leaf has at least one EKU, as kubeadm requires`);
  }
});

test('the layout, the optional set and the plan derive from the rows', () => {
  const inDirectory = PROFILE_LIST.filter((p) => p.file);
  assert.equal([...AUTHORITY_LAYOUT, ...CERTIFICATE_LAYOUT].map((e) => e.name).sort(), inDirectory.map((p) => p.name).sort());
  assert.equal(AUTHORITY_LAYOUT.map((e) => e.name), ['ca', 'front-proxy-ca', 'etcd-ca', 'kubelet-serving-ca']);
  assert.equal(CERTIFICATE_LAYOUT.filter((e) => e.kubeconfig).map((e) => e.path), ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf', 'kubelet.conf']);
  for (const entry of CERTIFICATE_LAYOUT) assert.ok(AUTHORITY_LAYOUT.some((ca) => ca.name === entry.ca), `${entry.name}'s CA is a CA of the directory`);
  const plain = planCluster({ clusterName: 'c', nodeName: 'n1', advertiseAddress: '10.0.0.10', konnectivity: false, separateKubeletServingCa: false, kubernetesVersion: '1.28' });
  const full = planCluster({ clusterName: 'c', nodeName: 'n1', advertiseAddress: '10.0.0.10', konnectivity: true, separateKubeletServingCa: true });
  const optional = [...full.authorities, ...full.certificates].map((e) => e.name).filter((name) => ![...plain.authorities, ...plain.certificates].some((e) => e.name === name));
  assert.equal(optional, PROFILE_LIST.filter((p) => p.file && p.when).map((p) => p.name));
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
