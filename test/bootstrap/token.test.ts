import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapRbacManifests,
  bootstrapTokenSecret,
  caPublicKeyPin,
  clusterInfoConfigMap,
  formatBootstrapToken,
  generateBootstrapToken,
  memoryTokenStore,
  parseBootstrapToken,
  verifyClusterInfo,
  type SecretObject,
} from '../../lib/index.js';
import { authenticateBootstrapToken, detachedJws, verifyDetachedJws } from '../../lib/bootstrap/token.js';
import { codeOf, failureOf, fixtureAuthorities } from '../helpers/fixtures.js';
import { createHash } from 'node:crypto';

const NOW = new Date('2026-11-22T12:00:00Z');
const TOKEN = parseBootstrapToken('abcdef.0123456789abcdef');

test('generated tokens have the [a-z0-9]{6}.[a-z0-9]{16} form and are all different', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const text = formatBootstrapToken(generateBootstrapToken());
    assert.match(text, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    seen.add(text);
  }
  assert.is(seen.size, 200);
});

test('generation rejects biased bytes instead of folding them', () => {
  let call = 0;
  // 252..255 would make a..d likelier; they must be skipped.
  const token = generateBootstrapToken((n) => Uint8Array.from({ length: n }, (_, i) => (call++ === 0 && i % 2 === 0 ? 255 : 1)));
  assert.is(formatBootstrapToken(token), 'bbbbbb.bbbbbbbbbbbbbbbb');
});

for (const bad of ['abcdef0123456789abcdef', 'ABCDEF.0123456789abcdef', 'abcde.0123456789abcdefg', 'abcdef.0123456789abcde', ' abcdef.0123456789abcdef', 'abcdef.0123456789abcdef\n']) {
  test(`parseBootstrapToken refuses ${JSON.stringify(bad)} without echoing it`, async () => {
    const failure = await failureOf(() => parseBootstrapToken(bad));
    assert.is(failure.code, 'ERR_TOKEN');
    assert.not.ok(failure.message!.includes('0123456789'));
  });
}

const decode = (secret: SecretObject, key: string): string | undefined => (secret.data?.[key] ? Buffer.from(secret.data[key]!, 'base64').toString() : undefined);

test('the Secret manifest has kubeadm shape, and invalid extra groups are refused', async () => {
  const secret = bootstrapTokenSecret(TOKEN, { now: NOW, description: 'node joins' });
  assert.equal(secret.metadata, { name: 'bootstrap-token-abcdef', namespace: 'kube-system' });
  assert.is(secret.type, 'bootstrap.kubernetes.io/token');
  assert.is(decode(secret, 'expiration'), '2026-11-23T12:00:00Z');
  assert.is(decode(secret, 'usage-bootstrap-authentication'), 'true');
  assert.is(decode(secret, 'usage-bootstrap-signing'), 'true');
  assert.is(decode(secret, 'auth-extra-groups'), 'system:bootstrappers:kubeadm:default-node-token');
  const failure = await failureOf(() => bootstrapTokenSecret(TOKEN, { extraGroups: ['system:masters'] }));
  assert.equal([failure.code, failure.field], ['ERR_TOKEN', 'extraGroups[0]']);
});

test('a valid token authenticates as system:bootstrap:<id> with sorted groups', async () => {
  const store = memoryTokenStore([bootstrapTokenSecret(TOKEN, { now: NOW, extraGroups: ['system:bootstrappers:z', 'system:bootstrappers:a'] })]);
  const user = await authenticateBootstrapToken('abcdef.0123456789abcdef', store, NOW);
  assert.equal(user, { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:bootstrappers:a', 'system:bootstrappers:z'] });
});

const edit = (secret: SecretObject, patch: Record<string, string | undefined>): SecretObject => {
  const data = { ...secret.data };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete data[k];
    else data[k] = Buffer.from(v).toString('base64');
  }
  return { ...secret, data };
};
const REFUSALS: [string, (s: SecretObject) => SecretObject | undefined, string][] = [
  ['an unknown token', () => undefined, 'abcdef.0123456789abcdef'],
  ['a wrong secret', (s) => s, 'abcdef.0123456789abcdee'],
  ['an expired token', (s) => edit(s, { expiration: '2026-11-22T11:59:59Z' }), 'abcdef.0123456789abcdef'],
  ['an unparsable expiry', (s) => edit(s, { expiration: 'tomorrow' }), 'abcdef.0123456789abcdef'],
  ['no authentication usage', (s) => edit(s, { 'usage-bootstrap-authentication': undefined }), 'abcdef.0123456789abcdef'],
  ['an authentication usage that is not exactly "true"', (s) => edit(s, { 'usage-bootstrap-authentication': 'True' }), 'abcdef.0123456789abcdef'],
  ['an invalid extra group', (s) => edit(s, { 'auth-extra-groups': 'system:masters' }), 'abcdef.0123456789abcdef'],
  ['a Secret of another type', (s) => ({ ...s, type: 'Opaque' }), 'abcdef.0123456789abcdef'],
  ['a Secret being deleted', (s) => ({ ...s, metadata: { ...s.metadata, deletionTimestamp: '2026-11-22T00:00:00Z' } }), 'abcdef.0123456789abcdef'],
  ['a mismatched token id', (s) => edit(s, { 'token-id': 'zzzzzz' }), 'abcdef.0123456789abcdef'],
];
for (const [name, mutate, presented] of REFUSALS) {
  test(`authentication refuses ${name}`, async () => {
    const secret = mutate(bootstrapTokenSecret(TOKEN, { now: NOW }));
    assert.is(await codeOf(() => authenticateBootstrapToken(presented, memoryTokenStore(secret ? [secret] : []), NOW)), 'ERR_TOKEN');
  });
}

test('the RBAC manifests are the three kubeadm bindings', () => {
  assert.equal(
    bootstrapRbacManifests().map((b) => [b.metadata.name, b.roleRef.name, b.subjects[0]!.name]),
    [
      ['kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', 'system:bootstrappers:kubeadm:default-node-token'],
      ['kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', 'system:bootstrappers:kubeadm:default-node-token'],
      ['kubeadm:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:nodes'],
    ],
  );
});

test('cluster-info carries a detached HS256 JWS per token that verifies only with that token', () => {
  const kubeconfig = 'apiVersion: v1\nkind: Config\n';
  const map = clusterInfoConfigMap(kubeconfig, [TOKEN]);
  const jws = map.data['jws-kubeconfig-abcdef']!;
  assert.match(jws, /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
  assert.equal(JSON.parse(Buffer.from(jws.split('.')[0]!, 'base64url').toString()), { alg: 'HS256', kid: 'abcdef' });
  assert.ok(verifyDetachedJws(jws, kubeconfig, TOKEN));
  assert.not.ok(verifyDetachedJws(jws, kubeconfig + ' ', TOKEN));
  assert.not.ok(verifyDetachedJws(jws, kubeconfig, parseBootstrapToken('abcdef.0123456789abcdee')));
  assert.not.ok(verifyDetachedJws(detachedJws(kubeconfig, TOKEN).replace('..', '.x.'), kubeconfig, TOKEN));
});

test('the CA pin is sha256 over the SubjectPublicKeyInfo, as kubeadm join checks it', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  assert.is(caPublicKeyPin(root.certificate), `sha256:${createHash('sha256').update(root.certificate.spki).digest('hex')}`);
  assert.match(caPublicKeyPin(root.certificate), /^sha256:[0-9a-f]{64}$/);
});

test('join discovery trusts cluster-info only with a valid signature and a matching CA pin', async () => {
  const { root, intermediate } = await fixtureAuthorities('ecdsa-p256');
  const kubeconfig = 'apiVersion: v1\nkind: Config\n';
  const map = clusterInfoConfigMap(kubeconfig, [TOKEN]);
  assert.is(verifyClusterInfo(map, TOKEN, [root.certificate], [caPublicKeyPin(root.certificate)]), kubeconfig);
  assert.is(await codeOf(() => verifyClusterInfo(map, TOKEN, [root.certificate], [caPublicKeyPin(intermediate.certificate)])), 'ERR_CERTIFICATE');
  assert.is(await codeOf(() => verifyClusterInfo(map, TOKEN, [root.certificate], [])), 'ERR_ARGUMENT');
  assert.is(await codeOf(() => verifyClusterInfo({ data: { ...map.data, kubeconfig: kubeconfig + '#' } }, TOKEN, [root.certificate], [caPublicKeyPin(root.certificate)])), 'ERR_TOKEN');
  assert.is(await codeOf(() => verifyClusterInfo(map, parseBootstrapToken('zzzzzz.0123456789abcdef'), [root.certificate], [caPublicKeyPin(root.certificate)])), 'ERR_TOKEN');
});

test.run();
