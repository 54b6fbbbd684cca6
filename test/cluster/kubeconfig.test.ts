import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kubeletKubeconfig, parseKubeconfig, stringifyKubeconfig } from '../../lib/index.js';
import { failureOf } from '../helpers/fixtures.js';

const CA = '-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n';

test('a kubeconfig round-trips in the shape kubeadm writes', () => {
  const text = stringifyKubeconfig({ clusterName: 'kubernetes', server: 'https://10.0.0.10:6443', caPem: CA, userName: 'kubernetes-admin', clientCertificatePem: 'CERT', clientKeyPem: 'KEY' });
  assert.match(text, /current-context: kubernetes-admin@kubernetes/);
  assert.match(text, /certificate-authority-data: /);
  const back = parseKubeconfig(text);
  assert.equal(
    [back.clusterName, back.server, back.caPem, back.userName, back.clientCertificatePem, back.clientKeyPem],
    ['kubernetes', 'https://10.0.0.10:6443', CA, 'kubernetes-admin', 'CERT', 'KEY'],
  );
});

test("a node's kubelet kubeconfig points at the rotating kubelet-client-current.pem", () => {
  const back = parseKubeconfig(kubeletKubeconfig({ server: 'https://api.example.com:6443', caPem: CA }));
  assert.is(back.clientCertificateFile, '/var/lib/kubelet/pki/kubelet-client-current.pem');
  assert.is(back.clientKeyFile, '/var/lib/kubelet/pki/kubelet-client-current.pem');
  assert.is(back.clientCertificatePem, undefined);
  assert.is(parseKubeconfig(kubeletKubeconfig({ server: 'https://a:6443', caPem: CA, certificateFile: '/pki/c.pem', keyFile: '/pki/k.pem' })).clientKeyFile, '/pki/k.pem');
});

const good = (): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Config',
  clusters: [{ name: 'c', cluster: { server: 'https://a:6443' } }],
  contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'x',
  users: [{ name: 'u', user: { token: 't' } }],
});
const BAD: [string, (doc: Record<string, unknown>) => unknown, string][] = [
  ['not YAML', () => '{: [', 'kubeconfig'],
  ['a list instead of a mapping', () => [1, 2], 'kubeconfig'],
  ['the wrong kind', (d) => ({ ...d, kind: 'Pod' }), 'kubeconfig.kind'],
  ['no current context', (d) => ({ ...d, 'current-context': undefined }), 'kubeconfig.current-context'],
  ['a context that does not exist', (d) => ({ ...d, 'current-context': 'nope' }), 'kubeconfig.contexts'],
  ['clusters that is not a list', (d) => ({ ...d, clusters: 'c' }), 'kubeconfig.clusters'],
  ['a server that is not https', (d) => ({ ...d, clusters: [{ name: 'c', cluster: { server: 'http://a:8080' } }] }), 'kubeconfig.clusters[c].cluster.server'],
  ['a server of the wrong type', (d) => ({ ...d, clusters: [{ name: 'c', cluster: { server: 42 } }] }), 'kubeconfig.clusters[c].cluster.server'],
  ['CA data that is not base64', (d) => ({ ...d, clusters: [{ name: 'c', cluster: { server: 'https://a', 'certificate-authority-data': '%%%' } }] }), 'kubeconfig.clusters[c].cluster.certificate-authority-data'],
  ['a user without a mapping', (d) => ({ ...d, users: [{ name: 'u', user: 'x' }] }), 'kubeconfig.users[u].user'],
  ['verification switched off', (d) => ({ ...d, clusters: [{ name: 'c', cluster: { server: 'https://a', 'insecure-skip-tls-verify': true } }] }), 'kubeconfig.clusters[c].cluster.insecure-skip-tls-verify'],
];
for (const [name, mutate, field] of BAD) {
  test(`parseKubeconfig refuses ${name}, naming the field`, async () => {
    const doc = mutate(good());
    const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
    const failure = await failureOf(() => parseKubeconfig(text));
    assert.equal([failure.code, failure.field], ['ERR_KUBECONFIG', field]);
  });
}

test('a kubeconfig that is not YAML is refused without quoting its lines (they may hold a token or key)', async () => {
  const text = 'apiVersion: v1\nusers:\n- name: u\n  user:\n    token: abcdef.0123456789abcdef\n  [broken\n';
  const failure = await failureOf(() => parseKubeconfig(text));
  assert.is(failure.code, 'ERR_KUBECONFIG');
  assert.match(failure.message!, /not valid YAML \(\w+ at line \d+, column \d+\)/);
  assert.not.match(failure.message!, /0123456789abcdef/);
});

test.run();
