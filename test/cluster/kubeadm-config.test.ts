import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, clusterConfigFromKubeadm, generateKeyPair, createCertificateAuthority, issueCertificate, loadPkiDirectory, parseKubeconfig, planCluster, PROFILES, renewCertificates, type ClusterConfig } from '../../lib/index.js';
import { ignoredKubeadmFields } from '../../lib/cluster/kubeadm-config.js';
import { kindForSubject } from '../../lib/cluster/kinds.js';
import { OPTIONAL_ENTRIES } from '../../lib/cluster/layout.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';
import { failureOf } from '../helpers/fixtures.js';

const fixture = (name: string): Promise<string> => readFile(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const PARSED: [string, ClusterConfig, string, string | undefined, string[]][] = [
  [
    'kubeadm-v1beta2.yaml',
    {
      nodeName: 'cp-1',
      advertiseAddress: '192.168.10.11',
      apiServerPort: 6443,
      controlPlaneEndpoint: 'api.example.com:6443',
      serviceCidr: '10.96.0.0/12',
      dnsDomain: 'cluster.local',
      clusterName: 'kubernetes',
      apiServerCertSans: ['api.example.com', '10.10.10.10'],
      etcdServerCertSans: ['etcd.example.com'],
      etcdPeerCertSans: ['192.168.10.11'],
      kubernetesVersion: 'v1.20.15',
    },
    'kubeadm.k8s.io/v1beta2',
    '/etc/kubernetes/pki',
    ['KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1)'],
  ],
  [
    'kubeadm-v1beta3.yaml',
    {
      nodeName: 'cp-a',
      advertiseAddress: '10.0.0.10',
      apiServerPort: 8443,
      controlPlaneEndpoint: '[fd00::10]:443',
      serviceCidr: '10.112.0.0/12,fd00:10:96::/112',
      dnsDomain: 'corp.local',
      clusterName: 'prod-east',
      apiServerCertSans: ['*.apps.example.com', 'fd00::10'],
      keySpec: 'ecdsa-p256',
      kubernetesVersion: '1.28.4',
    },
    'kubeadm.k8s.io/v1beta3',
    undefined,
    ['KubeletConfiguration (kubelet.config.k8s.io/v1beta1)'],
  ],
  [
    'kubeadm-v1beta4.yaml',
    {
      nodeName: 'node-x',
      advertiseAddress: '172.16.0.5',
      apiServerCertSans: ['api.internal'],
      keySpec: 'ecdsa-p384',
      leafLifetimeSeconds: 2160 * 3600,
      caLifetimeSeconds: 43800 * 3600,
      kubernetesVersion: 'v1.31.2',
    },
    'kubeadm.k8s.io/v1beta4',
    '/var/lib/kubepki/pki',
    ['JoinConfiguration (kubeadm.k8s.io/v1beta4)'],
  ],
];

for (const [file, config, apiVersion, certificatesDir, skipped] of PARSED) {
  test(`${file} parses to its ClusterConfig`, async () => {
    const parsed = clusterConfigFromKubeadm(await fixture(file));
    assert.equal(parsed.config, config);
    assert.is(parsed.apiVersion, apiVersion);
    assert.is(parsed.certificatesDir, certificatesDir);
    assert.equal(parsed.skipped, skipped);
  });
}

/** A file of one version: `init` and `cluster` are YAML bodies (without apiVersion and kind). */
const file = (version: string, cluster: string, init = 'nodeRegistration: {name: cp-1}\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.10}'): string =>
  `apiVersion: kubeadm.k8s.io/${version}\nkind: InitConfiguration\n${init}\n---\napiVersion: kubeadm.k8s.io/${version}\nkind: ClusterConfiguration\n${cluster}\n`;

const REFUSED: [string, string, string][] = [
  ['a typo', file('v1beta3', 'apiServer: {certSAN: [a]}'), 'ClusterConfiguration.apiServer.certSAN'],
  ['a field of a later version', file('v1beta3', 'encryptionAlgorithm: RSA-2048'), 'ClusterConfiguration.encryptionAlgorithm'],
  ['a field of an earlier version', file('v1beta3', 'useHyperKubeImage: false'), 'ClusterConfiguration.useHyperKubeImage'],
  ['a field v1beta4 removed', file('v1beta4', 'apiServer: {timeoutForControlPlane: 4m0s}'), 'ClusterConfiguration.apiServer.timeoutForControlPlane'],
  ['dns.type after v1beta2', file('v1beta4', 'dns: {type: CoreDNS}'), 'ClusterConfiguration.dns.type'],
  ['an unknown InitConfiguration field', file('v1beta3', '', 'nodeRegistration: {name: cp-1, nme: x}\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.10}'), 'InitConfiguration.nodeRegistration.nme'],
  ['a SAN that is no name', file('v1beta3', 'apiServer: {certSANs: [a.example.com, 10.0.0.1, "not a name"]}'), 'ClusterConfiguration.apiServer.certSANs[2]'],
  ['an etcd SAN of the wrong type', file('v1beta3', 'etcd: {local: {serverCertSANs: [a, {b: c}]}}'), 'ClusterConfiguration.etcd.local.serverCertSANs[1]'],
  ['an etcd peer SAN that is no name', file('v1beta2', 'etcd: {local: {peerCertSANs: ["-x-"]}}'), 'ClusterConfiguration.etcd.local.peerCertSANs[0]'],
  ['an external etcd', file('v1beta4', 'etcd: {external: {endpoints: [https://e:2379], caFile: a, certFile: b, keyFile: c}}'), 'ClusterConfiguration.etcd.external'],
  ['an unknown algorithm', file('v1beta4', 'encryptionAlgorithm: ED25519'), 'ClusterConfiguration.encryptionAlgorithm'],
  ['a duration without unit', file('v1beta4', 'certificateValidityPeriod: "8760"'), 'ClusterConfiguration.certificateValidityPeriod'],
  ['a negative duration', file('v1beta4', 'caCertificateValidityPeriod: -1h'), 'ClusterConfiguration.caCertificateValidityPeriod'],
  ['a release label', file('v1beta3', 'kubernetesVersion: stable-1'), 'ClusterConfiguration.kubernetesVersion'],
  ['v1beta2 for 1.29', file('v1beta2', 'kubernetesVersion: v1.29.0'), 'ClusterConfiguration.kubernetesVersion'],
  ['v1beta4 for 1.28', file('v1beta4', 'kubernetesVersion: v1.28.0'), 'ClusterConfiguration.kubernetesVersion'],
  ['an advertise address that is no IP', file('v1beta3', '', 'nodeRegistration: {name: cp-1}\nlocalAPIEndpoint: {advertiseAddress: cp.example.com}'), 'InitConfiguration.localAPIEndpoint.advertiseAddress'],
  ['a port out of range', file('v1beta3', '', 'nodeRegistration: {name: cp-1}\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.10, bindPort: 70000}'), 'InitConfiguration.localAPIEndpoint.bindPort'],
  ['a node name that is no DNS name', file('v1beta3', '', 'nodeRegistration: {name: CP_1}\nlocalAPIEndpoint: {advertiseAddress: 10.0.0.10}'), 'InitConfiguration.nodeRegistration.name'],
  ['no node name', file('v1beta3', '', 'localAPIEndpoint: {advertiseAddress: 10.0.0.10}'), 'InitConfiguration.nodeRegistration.name'],
  ['a second service range that is no CIDR', file('v1beta3', 'networking: {serviceSubnet: "10.96.0.0/12,fd00::/300"}'), 'ClusterConfiguration.networking.serviceSubnet'],
  ['a DNS domain that is no name', file('v1beta3', 'networking: {dnsDomain: "corp..local"}'), 'ClusterConfiguration.networking.dnsDomain'],
  ['an endpoint with a bad port', file('v1beta3', 'controlPlaneEndpoint: "api.example.com:99999"'), 'ClusterConfiguration.controlPlaneEndpoint'],
  ['a relative certificatesDir', file('v1beta3', 'certificatesDir: pki'), 'ClusterConfiguration.certificatesDir'],
  ['a mapping where a string goes', file('v1beta3', 'clusterName: {a: b}'), 'ClusterConfiguration.clusterName'],
  ['a list where a mapping goes', file('v1beta3', 'networking: [a]'), 'ClusterConfiguration.networking'],
  ['an unsupported kubeadm version', file('v1beta1', ''), 'InitConfiguration.apiVersion'],
  ['two kubeadm versions no kubeadm reads together', `${file('v1beta2', '').split('---')[0]}---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n`, 'kubeadm config'],
  ['a second ClusterConfiguration', `${file('v1beta3', '')}---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n`, 'document 3'],
  ['a document without kind', `${file('v1beta3', '')}---\napiVersion: v1\n`, 'document 3'],
  ['no kubeadm document', 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n', 'kubeadm config'],
  ['YAML that does not parse', 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: [secret-token-abc\n', 'document 1'],
  ['a duplicate key', file('v1beta3', 'clusterName: a\nclusterName: b'), 'document 2'],
];

for (const [name, text, field] of REFUSED) {
  test(`refused, naming the field: ${name}`, async () => {
    const failure = await failureOf(() => clusterConfigFromKubeadm(text));
    assert.is(failure.code, 'ERR_ARGUMENT', failure.message);
    assert.is(failure.field, field, failure.message);
  });
}

test("the parser's message does not echo the file's content", async () => {
  const failure = await failureOf(() => clusterConfigFromKubeadm('kind: [secret-token-abc\n'));
  assert.not.match(failure.message ?? '', /secret-token/);
});

test('fields kubeadm knows and kubepki ignores are accepted, per version', () => {
  const v2 = ignoredKubeadmFields('kubeadm.k8s.io/v1beta2');
  const v4 = ignoredKubeadmFields('kubeadm.k8s.io/v1beta4');
  for (const field of ['ClusterConfiguration.imageRepository', 'ClusterConfiguration.networking.podSubnet', 'ClusterConfiguration.apiServer.extraArgs', 'InitConfiguration.bootstrapTokens']) {
    assert.ok(v2.includes(field) && v4.includes(field), field);
  }
  assert.ok(v2.includes('ClusterConfiguration.useHyperKubeImage') && !v4.includes('ClusterConfiguration.useHyperKubeImage'));
  assert.ok(v4.includes('ClusterConfiguration.apiServer.extraEnvs') && !v2.includes('ClusterConfiguration.apiServer.extraEnvs'));
  const parsed = clusterConfigFromKubeadm(file('v1beta4', 'imageRepository: r.example.com\nnetworking: {podSubnet: 10.244.0.0/16}\napiServer: {extraArgs: [{name: a, value: b}]}\nfeatureGates: {X: true}'));
  assert.equal(parsed.config, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' });
});

test('the node name and advertise address may come from the caller, only for a file that lacks them', async () => {
  const bare = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nclusterName: c\n';
  assert.equal(clusterConfigFromKubeadm(bare, { nodeName: 'cp-9', advertiseAddress: '10.1.1.1' }).config, { nodeName: 'cp-9', advertiseAddress: '10.1.1.1', clusterName: 'c' });
  assert.is((await failureOf(() => clusterConfigFromKubeadm(bare, { nodeName: 'cp-9', advertiseAddress: 'x' }))).field, 'advertiseAddress');
  assert.is((await failureOf(() => clusterConfigFromKubeadm(file('v1beta3', ''), { nodeName: 'cp-9' }))).field, 'nodeName');
});

test('v1beta2 without kubernetesVersion is read by kubeadm 1.26 at the latest: the pre-1.29 PKI', () => {
  assert.is(clusterConfigFromKubeadm(file('v1beta2', '')).config.kubernetesVersion, '1.26');
  assert.is(clusterConfigFromKubeadm(file('v1beta4', '')).config.kubernetesVersion, undefined);
});

const kubeconfigs = (config: ClusterConfig) =>
  planCluster(config)
    .certificates.filter((c) => c.kubeconfigFile)
    .map((c) => [c.path, c.subject.organizations]);

test('before 1.29 admin.conf and apiserver-kubelet-client are in system:masters and there is no super-admin.conf; from 1.29 and by default as kubeadm today', () => {
  const base = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' };
  const old = [
    ['admin.conf', ['system:masters']],
    ['controller-manager.conf', []],
    ['scheduler.conf', []],
    ['kubelet.conf', ['system:nodes']],
  ];
  const current = [
    ['admin.conf', ['kubeadm:cluster-admins']],
    ['super-admin.conf', ['system:masters']],
    ['controller-manager.conf', []],
    ['scheduler.conf', []],
    ['kubelet.conf', ['system:nodes']],
  ];
  assert.equal(kubeconfigs({ ...base, kubernetesVersion: 'v1.20.15' }), old);
  assert.equal(kubeconfigs({ ...base, kubernetesVersion: '1.28' }), old);
  assert.equal(kubeconfigs({ ...base, kubernetesVersion: 'v1.29.0-rc.1' }), current);
  assert.equal(kubeconfigs(base), current);
  assert.ok(OPTIONAL_ENTRIES.has('super-admin'));
  const kubeletClientGroups = (version: string) => planCluster({ ...base, kubernetesVersion: version }).certificates.find((c) => c.name === 'apiserver-kubelet-client')!.subject.organizations;
  assert.equal([kubeletClientGroups('1.20'), kubeletClientGroups('1.29')], [['system:masters'], ['kubeadm:cluster-admins']]);
});

test('an admin certificate of 1.28 is issued under the row of its version; the row itself keeps refusing system:masters', async () => {
  const ca = await createCertificateAuthority({ commonName: 'kubernetes' });
  const key = await generateKeyPair('ecdsa-p256');
  const subject = { commonName: 'kubernetes-admin', organizations: ['system:masters'] };
  assert.is((await failureOf(() => issueCertificate({ profile: PROFILES.admin, subject, publicKey: key.publicKey, issuer: ca }))).code, 'ERR_PROFILE');
  const planned = planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10', kubernetesVersion: '1.28' }).certificates.find((c) => c.name === 'admin')!;
  for (const profile of [planned.profile, kindForSubject(PROFILES.admin, subject)]) {
    const cert = await issueCertificate({ profile, subject, publicKey: key.publicKey, issuer: ca });
    assert.equal(cert.subject.organizations, ['system:masters']);
  }
  assert.is(kindForSubject(PROFILES.admin, { commonName: 'kubernetes-admin', organizations: ['system:masters', 'x'] }), PROFILES.admin);
  assert.is(kindForSubject(PROFILES.scheduler, { commonName: 'system:kube-scheduler' }), PROFILES.scheduler);
});

test('kubepki init --config of a 1.28 cluster writes no super-admin.conf, and the directory is complete', async () => {
  await withTempDir(async (dir) => {
    const config = join(dir, 'kubeadm.yaml');
    await writeFile(config, (await fixture('kubeadm-v1beta3.yaml')).replace('clusterName: prod-east', `clusterName: prod-east\ncertificatesDir: ${dir}/out/pki`));
    const result = await runCli('init', '--config', config, '--json');
    assert.is(result.code, 0, result.err);
    assert.match(result.err, /skipping KubeletConfiguration/);
    const out = join(dir, 'out');
    assert.is(await stat(join(out, 'super-admin.conf')).catch(() => 'absent'), 'absent');
    const admin = parseKubeconfig(await readFile(join(out, 'admin.conf'), 'utf8'));
    assert.equal(Certificate.from(admin.clientCertificatePem!).subject.organizations, ['system:masters']);
    assert.is(admin.server, 'https://[fd00::10]:443');
    const apiserver = Certificate.from(await readFile(join(out, 'pki/apiserver.crt'), 'utf8'));
    assert.is(apiserver.keySpec, 'ecdsa-p256');
    assert.ok(apiserver.sans.dns.includes('kubernetes.default.svc.corp.local'));
    const loaded = await loadPkiDirectory(out);
    assert.equal(loaded.missing, []);
    assert.equal(loaded.problems, []);
    assert.equal(await renewCertificates(out, ['apiserver', 'scheduler']), ['apiserver', 'scheduler']);
    const again = await runCli('init', '--config', config, '--json');
    assert.is(again.code, 0, again.err);
    assert.equal((JSON.parse(again.out) as { created: string[] }).created, []);
  });
});

test('kubepki init --config: flags the file sets are refused, --dir follows certificatesDir', async () => {
  await withTempDir(async (dir) => {
    const config = join(dir, 'kubeadm.yaml');
    await writeFile(config, file('v1beta4', `certificatesDir: ${dir}/etc`));
    const mixed = await runCli('init', '--config', config, '--dns-domain', 'x.local', '--dir', dir);
    assert.is(mixed.code, 2);
    assert.match(mixed.err, /--dns-domain/);
    const twice = await runCli('init', '--config', config, '--node-name', 'cp-2', '--dir', dir);
    assert.is(twice.code, 2);
    assert.match(twice.err, /nodeName.*InitConfiguration\.nodeRegistration\.name/);
    const noPki = await runCli('init', '--config', config, '--dry-run');
    assert.is(noPki.code, 2);
    assert.match(noPki.err, /ClusterConfiguration\.certificatesDir/);
    const withDir = await runCli('init', '--config', config, '--dir', join(dir, 'x'), '--dry-run');
    assert.is(withDir.code, 0, withDir.err);
    assert.match(withDir.err, /overrides the file's certificatesDir/);
    await writeFile(config, file('v1beta4', ''));
    const noDir = await runCli('init', '--config', config, '--dry-run');
    assert.is(noDir.code, 2);
    assert.match(noDir.err, /--dir/);
    const missing = await runCli('init', '--config', join(dir, 'nope.yaml'), '--dir', dir);
    assert.is(missing.code, 2);
    assert.match(missing.err, /--config/);
  });
});

test.run();
