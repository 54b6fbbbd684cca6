// Judges: Go's crypto/x509 (the verifier kube-apiserver, the kubelet and etcd use), OpenSSL and GnuTLS.
// For every key type and profile, each accepts the certificate for its purpose and rejects it for the
// other purpose, a serving certificate verifies for each of its SANs and fails for another name, and a
// certificate from an unrelated CA fails.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createCertificateAuthority,
  exportPrivateKeyPem,
  issueCertificate,
  nodeSubject,
  PROFILES,
  type Certificate,
  type CertificateAuthority,
  type CertificateProfile,
  type SanInput,
  type Subject,
} from '../../lib/index.js';
import { ALL_KEY_SPECS, fixtureAuthorities, fixtureKey } from '../helpers/fixtures.js';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, gnutlsVerify, goJudge, opensslVerify, type GoCase } from './judges.js';

type Purpose = 'server' | 'client';
const LEAVES: [CertificateProfile, Subject, SanInput | undefined, Purpose][] = [
  [PROFILES.kubeletClient, nodeSubject('node-1'), undefined, 'client'],
  [PROFILES.kubeletServing, nodeSubject('node-1'), { dns: ['node-1.example'], ips: ['10.0.0.11', 'fd00::11'] }, 'server'],
  [PROFILES.server, { commonName: 'kube-apiserver' }, { dns: ['kubernetes.default.svc'], ips: ['10.96.0.1'] }, 'server'],
  [PROFILES.client, { commonName: 'kubernetes-admin', organizations: ['kubeadm:cluster-admins'] }, undefined, 'client'],
];
const other = (purpose: Purpose): Purpose => (purpose === 'server' ? 'client' : 'server');
const OID = { server: EKU_SERVER_AUTH, client: EKU_CLIENT_AUTH };
const OPENSSL_PURPOSE = { server: 'sslserver', client: 'sslclient' } as const;

/** One judged situation: a leaf, its chain, a purpose, a name, and whether it must verify. */
interface Situation {
  label: string;
  leaf: Certificate;
  roots: Certificate[];
  intermediates: Certificate[];
  purpose: Purpose;
  name?: string;
  expect: boolean;
}

const situations: Situation[] = [];
let unrelated: CertificateAuthority;

test.before(async () => {
  unrelated = await createCertificateAuthority({ keyPair: await fixtureKey('ecdsa-p256', undefined, 50), commonName: 'unrelated' });
  for (const spec of ALL_KEY_SPECS) {
    const { root, intermediate } = await fixtureAuthorities(spec);
    const key = await fixtureKey(spec, undefined, 1);
    for (const [issuerName, issuer, intermediates] of [['root', root, []], ['intermediate', intermediate, [intermediate.certificate]]] as const) {
      for (const [profile, subject, sans, purpose] of LEAVES) {
        const leaf = await issueCertificate({ profile, subject, sans, publicKey: key.publicKey, issuer });
        const base = { leaf, roots: [root.certificate], intermediates: [...intermediates] };
        const label = `${spec} ${profile.name} via ${issuerName}`;
        const names = [...(sans?.dns ?? []), ...(sans?.ips ?? [])];
        if (names.length === 0) {
          situations.push({ ...base, label: `${label} for ${purpose}`, purpose, expect: true });
        }
        for (const name of names) situations.push({ ...base, label: `${label} for ${purpose} as ${name}`, purpose, name, expect: true });
        situations.push({ ...base, label: `${label} for ${other(purpose)}`, purpose: other(purpose), name: names[0], expect: false });
        if (purpose === 'server') situations.push({ ...base, label: `${label} as another name`, purpose, name: 'other.example', expect: false });
        if (purpose === 'server') situations.push({ ...base, label: `${label} as another IP`, purpose, name: '10.9.9.9', expect: false });
        situations.push({ ...base, label: `${label} under an unrelated root`, roots: [unrelated.certificate], purpose, name: names[0], expect: false });
        if (issuerName === 'intermediate') situations.push({ ...base, label: `${label} without its intermediate`, intermediates: [], purpose, name: names[0], expect: false });
      }
    }
  }
});

const isIp = (name: string): boolean => /^[0-9.]+$/.test(name) || name.includes(':');

test('Go crypto/x509 Verify agrees with every expectation', async () => {
  const cases: GoCase[] = situations.map((s) => ({
    op: 'verify',
    leaf: s.leaf.pem,
    roots: s.roots.map((c) => c.pem),
    intermediates: s.intermediates.map((c) => c.pem),
    name: s.name ?? '',
    eku: s.purpose,
  }));
  const results = await goJudge(cases);
  const wrong = situations.flatMap((s, i) => (results[i]!.ok === s.expect ? [] : [`${s.label}: expected ${s.expect}, Go said ${results[i]!.error || 'ok'}`]));
  const refusals = situations.filter((s) => !s.expect).length;
  assert.ok(situations.length > 200 && refusals > 100 && situations.length - refusals > 60, `${situations.length} situations, ${refusals} refusals`);
  assert.equal(wrong, []);
});

test('openssl verify agrees with every expectation', async () => {
  const wrong: string[] = [];
  for (const s of situations) {
    const result = await opensslVerify({
      roots: s.roots.map((c) => c.pem),
      intermediates: s.intermediates.map((c) => c.pem),
      leaf: s.leaf.pem,
      purpose: OPENSSL_PURPOSE[s.purpose],
      ...(s.name === undefined ? {} : isIp(s.name) ? { ip: s.name } : { hostname: s.name }),
    });
    if (result.ok !== s.expect) wrong.push(`${s.label}: expected ${s.expect}, openssl said ${result.output.trim()}`);
  }
  assert.equal(wrong, []);
});

test('GnuTLS certtool agrees with every expectation', async () => {
  const wrong: string[] = [];
  for (const s of situations) {
    const result = await gnutlsVerify({
      roots: s.roots.map((c) => c.pem),
      chain: [s.leaf.pem, ...s.intermediates.map((c) => c.pem)],
      purposeOid: OID[s.purpose],
      ...(s.name === undefined ? {} : { hostname: s.name }),
    });
    if (result.ok !== s.expect) wrong.push(`${s.label}: expected ${s.expect}, certtool said ${result.output.trim().split('\n').slice(-2).join(' ')}`);
  }
  assert.equal(wrong, []);
});

test('Go loads every leaf with its key through tls.X509KeyPair, and refuses a wrong key', async () => {
  const cases: GoCase[] = [];
  const expected: boolean[] = [];
  for (const spec of ALL_KEY_SPECS) {
    const { root } = await fixtureAuthorities(spec);
    const key = await fixtureKey(spec, undefined, 1);
    const leaf = await issueCertificate({ profile: PROFILES.kubeletServing, subject: nodeSubject('n'), sans: { ips: ['10.0.0.1'] }, publicKey: key.publicKey, issuer: root });
    cases.push({ op: 'keypair', cert: leaf.pem, key: await exportPrivateKeyPem(key) });
    expected.push(true);
    cases.push({ op: 'keypair', cert: leaf.pem, key: await exportPrivateKeyPem(await fixtureKey(spec, undefined, 2)) });
    expected.push(false);
    cases.push({ op: 'keypair', cert: root.certificate.pem, key: await exportPrivateKeyPem(root.keyPair) });
    expected.push(true);
  }
  const results = await goJudge(cases);
  assert.equal(results.map((r) => r.ok), expected, results.map((r) => r.error).join(' | '));
});

test('Go accepts the CAs themselves: the root as anchor, the intermediate under it', async () => {
  const cases: GoCase[] = [];
  for (const spec of ALL_KEY_SPECS) {
    const { root, intermediate } = await fixtureAuthorities(spec);
    cases.push({ op: 'verify', leaf: root.certificate.pem, roots: [root.certificate.pem], intermediates: [], name: '', eku: 'any' });
    cases.push({ op: 'verify', leaf: intermediate.certificate.pem, roots: [root.certificate.pem], intermediates: [], name: '', eku: 'any' });
  }
  const results = await goJudge(cases);
  assert.ok(results.every((r) => r.ok), results.map((r) => r.error).join(' | '));
});

test.run();
