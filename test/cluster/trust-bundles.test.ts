import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { Certificate, initPkiDirectory, loadPkiDirectory } from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { buildCaBundle } from '../../lib/x509/bundle.js';
import { clusterBundles } from '../../lib/cluster/bundles.js';
import { decodeGoPem } from '../../lib/crypto/go-pem.js';
import {
  assertValidClusterTrustBundle,
  clusterTrustBundleProblems,
  MAX_TRUST_BUNDLE_SIZE,
  signerNameProblems,
  trustBundleNameProblems,
  trustBundleProblems,
  type ClusterTrustBundle,
} from '../../lib/cluster/cluster-trust-bundle.js';
import { buildClusterTrustBundles, normaliseTrustBundle, writeClusterTrustBundleFiles } from '../../lib/cluster/trust-bundles.js';
import { runCli } from '../helpers/cli.js';
import { CA, craft, LEAF } from '../helpers/craft.js';
import { withTempDir } from '../helpers/dirs.js';

const DAY = 86_400_000;
const older = await craft({ cn: 'older-ca', ca: CA, notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() + 100 * DAY) });
const newer = await craft({ cn: 'newer-ca', ca: CA, notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 100 * DAY) });
const leaf = await craft({ cn: 'leaf', issuer: older, ca: LEAF });
const noConstraints = await craft({ cn: 'no-basic-constraints', ca: undefined });
const pem = (c: { certificate: Certificate }): string => c.certificate.pem;
const withHeader = (text: string): string => text.replace('-----BEGIN CERTIFICATE-----\n', '-----BEGIN CERTIFICATE-----\nProc-Type: 4,NOTENCRYPTED\n\n');
const reasons = (text: string): string[] => trustBundleProblems(text).map((p) => p.reason);

test("Go's pem.Decode: text around blocks is skipped, a broken block is passed over, headers are read", () => {
  const text = `junk before\n${pem(older)}between\n-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n${withHeader(pem(newer))}-----BEGIN X-----\nAAAA\n-----END Y-----\ntrailer`;
  const blocks = decodeGoPem(text);
  assert.equal(blocks.map((b) => [b.type, b.headers.size]), [['CERTIFICATE', 0], ['CERTIFICATE', 1]]);
  assert.equal(Buffer.from(blocks[0]!.bytes), Buffer.from(older.certificate.der));
  assert.equal(decodeGoPem('-----BEGIN A-----\r\nAAAA\r\n-----END A-----').map((b) => [b.type, b.bytes.length]), [['A', 3]], 'CRLF and no final newline');
  assert.equal(decodeGoPem('no pem here'), []);
});

test('validateTrustBundle: each rule of the API server, in its words', () => {
  const table: [string, string, string[]][] = [
    ['one CA', pem(older), []],
    ['two CAs, text between them', `${pem(older)}comment\n${pem(newer)}`, []],
    ['empty', '', ['at least one trust anchor must be provided']],
    ['text only', 'hello', ['at least one trust anchor must be provided']],
    ['PEM headers', withHeader(pem(older)), ['entry 0 has PEM block headers']],
    ['a non-CERTIFICATE block', `${pem(older)}-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n`, ['entry 1 has bad block type: PUBLIC KEY']],
    ['not X.509', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', ['entry 0 does not parse as X.509']],
    ['a leaf', `${pem(older)}${pem(leaf)}`, ['entry 1 does not have the CA bit set']],
    ['no basic constraints', pem(noConstraints), ['entry 0 does not have the CA bit set']],
    ['a duplicate', `${pem(older)}${pem(newer)}${pem(older)}`, ['duplicate trust anchor (indices [0 2])']],
    ['a duplicate and a malformed block: only the block', `${pem(older)}${pem(older)}${pem(leaf)}`, ['entry 2 does not have the CA bit set']],
  ];
  for (const [name, text, expected] of table) assert.equal(reasons(text), expected, name);
  assert.equal(reasons(`${pem(older)}${' '.repeat(MAX_TRUST_BUNDLE_SIZE)}`), [`Too long: may not be more than ${MAX_TRUST_BUNDLE_SIZE} bytes`]);
  assert.equal(reasons(`${pem(older)}${' '.repeat(MAX_TRUST_BUNDLE_SIZE - pem(older).length)}`), [], 'exactly the limit');
});

test('ValidateSignerName and ValidateClusterTrustBundleName', () => {
  const signers: [string, boolean][] = [
    ['kubernetes.io/kube-apiserver-client', true],
    ['example.com/foo.bar', true],
    [`example.com/${'a'.repeat(253)}`, true],
    [`example.com/${'a'.repeat(254)}`, false],
    ['example.com/a/b', false],
    ['example/foo', false],
    ['Example.com/foo', false],
    ['example.com/', false],
    ['example.com/-foo', false],
    [`${'a'.repeat(64)}.com/foo`, false],
    [`${Array(4).fill('a'.repeat(63)).join('.')}/foo`, false],
    [`${'a.'.repeat(126)}io/${Array(5).fill('a'.repeat(63)).join('.')}`, false],
  ];
  for (const [name, ok] of signers) assert.is(signerNameProblems(name).length === 0, ok, name);
  assert.equal(signerNameProblems('').map((p) => p.reason), ['Required value']);
  const names: [string, string | undefined, boolean][] = [
    ['kubernetes.io:kube-apiserver-client:kubepki', 'kubernetes.io/kube-apiserver-client', true],
    ['kubernetes.io:kube-apiserver-client:a.b-c', 'kubernetes.io/kube-apiserver-client', true],
    ['kubernetes.io:kube-apiserver-client:', 'kubernetes.io/kube-apiserver-client', false],
    ['kubernetes.io:kube-apiserver-client:Upper', 'kubernetes.io/kube-apiserver-client', false],
    ['kubernetes.io:kubelet-serving:x', 'kubernetes.io/kube-apiserver-client', false],
    ['kubernetes.io/kube-apiserver-client:x', 'kubernetes.io/kube-apiserver-client', false],
    [`kubernetes.io:kube-apiserver-client:${'a'.repeat(253)}`, 'kubernetes.io/kube-apiserver-client', true],
    ['kubepki-cluster-ca', undefined, true],
    ['kubepki:cluster-ca', undefined, false],
    ['kubepki_cluster', undefined, false],
    [`${'a'.repeat(254)}`, undefined, false],
  ];
  for (const [name, signer, ok] of names) assert.is(trustBundleNameProblems(name, signer).length === 0, ok, `${name} / ${signer}`);
  assert.match(trustBundleNameProblems('kubepki:x', undefined)[0]!.reason, /must not have ":" in its name/);
  assert.match(trustBundleNameProblems('x', 'example.com/foo')[0]!.reason, /must be named with prefix example\.com:foo:/);
});

test('a whole object: metadata, signer and content rules together; assert names the field', () => {
  const good: ClusterTrustBundle = { apiVersion: 'certificates.k8s.io/v1beta1', kind: 'ClusterTrustBundle', metadata: { name: 'example.com:foo:x', labels: { 'app.kubernetes.io/managed-by': 'kubepki' } }, spec: { signerName: 'example.com/foo', trustBundle: pem(older) } };
  assert.equal(clusterTrustBundleProblems(good), []);
  const bad: ClusterTrustBundle = { ...good, metadata: { name: '', namespace: 'default', labels: { 'bad key!': 'x', ok: 'bad value!' } }, spec: { signerName: 'foo', trustBundle: '' } };
  assert.equal(
    clusterTrustBundleProblems(bad).map((p) => p.field),
    ['metadata.name', 'metadata.namespace', 'metadata.labels', 'metadata.labels', 'spec.signerName', 'spec.trustBundle'],
  );
  try {
    assertValidClusterTrustBundle({ ...good, spec: { ...good.spec, trustBundle: pem(leaf) } });
    assert.unreachable();
  } catch (error) {
    assert.equal([(error as { code: string }).code, (error as { field: string }).field], ['ERR_ARGUMENT', 'spec.trustBundle']);
  }
});

test('normalisation: certificates only, CAs only, once each, no headers, oldest first whatever the input order', () => {
  const key = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n';
  const one = normaliseTrustBundle([`${withHeader(pem(newer))}${key}${pem(leaf)}`, [older.certificate, newer.certificate], pem(older)]);
  assert.equal(one.certificates.map((c) => c.subject.commonName), ['older-ca', 'newer-ca']);
  assert.is(one.pem, `${pem(older)}${pem(newer)}`);
  assert.equal(one.dropped.map((d) => [d.input, d.block]), [[0, 1], [0, 2], [1, 1], [2, 0]]);
  assert.match(one.dropped[1]!.reason, /not a CA/);
  assert.equal(trustBundleProblems(one.pem), []);
  assert.is(normaliseTrustBundle([pem(older), pem(newer)]).pem, normaliseTrustBundle([pem(newer), pem(older)]).pem);
});

test("objects from a directory's bundles: the signers' names, the cluster CA unlinked, the separate kubelet-serving CA", async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', separateKubeletServingCa: true, konnectivity: false });
    const objects = buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)));
    const cn = (o: ClusterTrustBundle): string[] => Certificate.fromPemBundle(o.spec.trustBundle).map((c) => c.subject.commonName);
    assert.equal(
      objects.map((o) => [o.metadata.name, o.spec.signerName, cn(o)]),
      [
        ['kubernetes.io:kube-apiserver-client:kubepki', 'kubernetes.io/kube-apiserver-client', ['kubernetes']],
        ['kubernetes.io:kube-apiserver-client-kubelet:kubepki', 'kubernetes.io/kube-apiserver-client-kubelet', ['kubernetes']],
        ['kubernetes.io:kubelet-serving:kubepki', 'kubernetes.io/kubelet-serving', ['kubelet-serving-ca']],
        ['kubepki-cluster-ca', undefined, ['kubernetes']],
      ],
    );
    for (const o of objects) assert.equal([o.apiVersion, o.metadata.labels], ['certificates.k8s.io/v1beta1', { 'app.kubernetes.io/managed-by': 'kubepki' }]);
    assert.equal(buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)), { unlinked: false, version: 'v1', suffix: 'main' }).map((o) => `${o.apiVersion} ${o.metadata.name}`), [
      'certificates.k8s.io/v1 kubernetes.io:kube-apiserver-client:main',
      'certificates.k8s.io/v1 kubernetes.io:kube-apiserver-client-kubelet:main',
      'certificates.k8s.io/v1 kubernetes.io:kubelet-serving:main',
    ]);
    try {
      buildClusterTrustBundles({ 'client-ca-file': buildCaBundle([]) });
      assert.unreachable();
    } catch (error) {
      assert.is((error as { code: string }).code, 'ERR_DIRECTORY');
    }
  });
});

test('during a CA rotation every object the cluster CA is in holds the old and the new CA, and after it the new one only', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const anchors = async (): Promise<Record<string, number>> => {
      const objects = buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)));
      return Object.fromEntries(objects.map((o) => [o.metadata.name, Certificate.fromPemBundle(o.spec.trustBundle).length]));
    };
    assert.equal(Object.values(await anchors()), [1, 1, 1, 1]);
    await rotateClusterCa(dir, 'add');
    assert.equal(Object.values(await anchors()), [2, 2, 2, 2]);
    await rotateClusterCa(dir, 'reissue');
    await rotateClusterCa(dir, 'finish');
    assert.equal(Object.values(await anchors()), [1, 1, 1, 1]);
    const newCa = Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'));
    const objects = buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)));
    assert.is(objects[0]!.spec.trustBundle, newCa.pem);
  });
});

test("the objects round-trip through @kubernetes/client-node's generated models, v1beta1 and v1alpha1", async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    for (const version of ['v1beta1', 'v1alpha1'] as const) {
      const type = `${version[0]!.toUpperCase()}${version.slice(1)}ClusterTrustBundle`;
      for (const object of buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)), { version })) {
        const plain = JSON.parse(JSON.stringify(object)) as unknown;
        const model = ObjectSerializer.deserialize(plain, type, '') as { spec: { trustBundle: string } };
        assert.is(model.spec.trustBundle, object.spec.trustBundle);
        assert.equal(JSON.parse(JSON.stringify(ObjectSerializer.serialize(model, type, ''))), plain, `${type} ${object.metadata.name}`);
      }
    }
  });
});

test('YAML files: one per object, parsed back equal; stale kubepki files removed, other files kept', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const objects = buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)));
    const folder = join(dir, 'out');
    const paths = await writeClusterTrustBundleFiles(folder, objects);
    assert.equal(paths.map((p) => p.slice(folder.length + 1)), ['kubernetes.io_kube-apiserver-client_kubepki.yaml', 'kubernetes.io_kube-apiserver-client-kubelet_kubepki.yaml', 'kubernetes.io_kubelet-serving_kubepki.yaml', 'kubepki-cluster-ca.yaml']);
    for (const [i, path] of paths.entries()) assert.equal(parse(await readFile(path, 'utf8')), objects[i]);
    await writeFile(join(folder, 'mine.yaml'), 'kind: ConfigMap\n');
    await writeClusterTrustBundleFiles(folder, objects.slice(0, 3));
    const left = (await import('node:fs/promises')).readdir(folder);
    assert.equal((await left).sort(), ['kubernetes.io_kube-apiserver-client-kubelet_kubepki.yaml', 'kubernetes.io_kube-apiserver-client_kubepki.yaml', 'kubernetes.io_kubelet-serving_kubepki.yaml', 'mine.yaml']);
  });
});

test('bundle --dir DIR --out FOLDER writes the files without a server; the trust-bundle options need --dir', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const result = await runCli('bundle', '--dir', dir, '--out', join(dir, 'ctb'), '--api-version', 'v1alpha1', '--no-unlinked');
    assert.is(result.code, 0, result.err);
    assert.is(result.out.split('\n').length, 3);
    const first = parse(await readFile(join(dir, 'ctb', 'kubernetes.io_kube-apiserver-client_kubepki.yaml'), 'utf8')) as ClusterTrustBundle;
    assert.is(first.apiVersion, 'certificates.k8s.io/v1alpha1');
    assert.is((await runCli('bundle', '--dir', dir, '--out', join(dir, 'ctb'), '--api-version', 'v2')).code, 2);
    assert.is((await runCli('bundle', '--kubeconfig', join(dir, 'admin.conf'))).code, 2);
  });
});

test.run();
