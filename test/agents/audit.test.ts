import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  auditSetup,
  componentFlags,
  createCertificateAuthority,
  generateKeyPair,
  importPrivateKeyPem,
  initPkiDirectory,
  issueCertificate,
  nodeSubject,
  planCluster,
  PROFILES,
  type ClusterConfig,
  type Issuer,
} from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' };

async function servingFrom(issuer: Issuer, ips: string[]): Promise<string> {
  const key = await generateKeyPair();
  return (await issueCertificate({ profile: PROFILES.kubeletServing, subject: nodeSubject('node-1'), sans: { dns: ['node-1'], ips }, publicKey: key.publicKey, issuer })).pem;
}

async function setup(dir: string) {
  await initPkiDirectory(dir, CONFIG);
  const read = (p: string) => readFile(join(dir, p), 'utf8');
  const ca = { certificate: await read('pki/ca.crt'), privateKey: (await importPrivateKeyPem(await read('pki/ca.key'))).privateKey };
  const flags = componentFlags(planCluster(CONFIG), { dir }).kubeApiserver.join('\n');
  return { ca, flags };
}

test("kubeadm's default setup is flagged: no --kubelet-certificate-authority, self-signed kubelet serving certificates", async () => {
  await withTempDir(async (dir) => {
    await setup(dir);
    const kubeadmFlags = '--client-ca-file=/etc/kubernetes/pki/ca.crt\n--tls-cert-file=/etc/kubernetes/pki/apiserver.crt';
    const report = await auditSetup(dir, { apiserverFlags: kubeadmFlags });
    const kubelet = report.paths.find((p) => p.path === 4)!;
    assert.is(kubelet.status, 'unverified');
    assert.match(kubelet.reason, /man in the middle/);
    assert.match(kubelet.fix!, /--kubelet-certificate-authority/);
    assert.not.ok(report.ok);
    const selfSigned = await createCertificateAuthority({ commonName: 'node-1-ca@1700000000' });
    const withFlag = await auditSetup(dir, { apiserverFlags: `--kubelet-certificate-authority=${join(dir, 'pki/ca.crt')}`, kubeletServing: [{ certificate: await servingFrom(selfSigned, ['10.0.0.21']), address: '10.0.0.21' }] });
    const broken = withFlag.paths.find((p) => p.path === 4)!;
    assert.is(broken.status, 'broken');
    assert.match(broken.reason, /ERR_UNKNOWN_AUTHORITY/);
  });
});

test("a setup made with kubepki's flags and approved serving certificates passes", async () => {
  await withTempDir(async (dir) => {
    const { ca, flags } = await setup(dir);
    const report = await auditSetup(dir, { apiserverFlags: flags, kubeletServing: [{ certificate: await servingFrom(ca, ['10.0.0.21']), address: '10.0.0.21' }] });
    assert.equal(report.paths.map((p) => [p.path, p.status]), [[1, 'verified'], [2, 'verified'], [3, 'verified'], [4, 'verified'], [5, 'advisory'], [6, 'verified'], [7, 'verified']]);
    assert.equal(report.findings, []);
    assert.ok(report.ok);
    const flagsFile = join(dir, 'apiserver.flags');
    await writeFile(flagsFile, flags);
    const cli = await runCli('audit', '--dir', dir, '--apiserver-flags', flagsFile);
    assert.is(cli.code, 0, cli.out);
    assert.is((await runCli('audit', '--dir', dir)).code, 1, 'without flags the kubeadm default is assumed and flagged');
  });
});

test('a kubelet serving certificate without the IP the apiserver dials is broken', async () => {
  await withTempDir(async (dir) => {
    const { ca, flags } = await setup(dir);
    const report = await auditSetup(dir, { apiserverFlags: flags, kubeletServing: [{ certificate: await servingFrom(ca, ['10.0.0.99']), address: '10.0.0.21' }] });
    const kubelet = report.paths.find((p) => p.path === 4)!;
    assert.is(kubelet.status, 'broken');
    assert.match(kubelet.reason, /ERR_NAME_MISMATCH/);
  });
});

test('CA keys readable by others and certificates expiring within 30 days are findings', async () => {
  await withTempDir(async (dir) => {
    const { flags } = await setup(dir);
    await chmod(join(dir, 'pki/etcd/ca.key'), 0o644);
    const report = await auditSetup(dir, { apiserverFlags: flags, now: new Date(Date.now() + 340 * 86_400_000) });
    assert.ok(report.findings.some((f) => f.severity === 'error' && /etcd\/ca\.key is readable/.test(f.message)));
    assert.ok(report.findings.some((f) => f.severity === 'warning' && /apiserver expires in \d+ days/.test(f.message)));
    assert.not.ok(report.ok);
  });
});

test("a kubelet that serves a self-signed certificate, trusts no client CA and does not rotate is reported", async () => {
  await withTempDir(async (dir) => {
    const { flags } = await setup(dir);
    const kubeadmKubelet = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n';
    const report = await auditSetup(dir, { apiserverFlags: flags, kubeletConfig: kubeadmKubelet });
    const kubelet = report.paths.find((p) => p.path === 4)!;
    assert.is(kubelet.status, 'broken');
    assert.match(kubelet.reason, /self-signed/);
    assert.ok(report.findings.some((f) => /clientCAFile/.test(f.message)));
    assert.ok(report.findings.some((f) => f.severity === 'warning' && /rotateCertificates/.test(f.message)));
    const good = 'kind: KubeletConfiguration\nserverTLSBootstrap: true\nrotateCertificates: true\nauthentication:\n  x509:\n    clientCAFile: /etc/kubernetes/pki/ca.crt\n';
    const passing = await auditSetup(dir, { apiserverFlags: flags, kubeletConfig: good });
    assert.is(passing.paths.find((p) => p.path === 4)!.status, 'verified');
    assert.equal(passing.findings, []);
  });
});

test('during a CA rotation, a new CA missing from the bundles is a finding', async () => {
  await withTempDir(async (dir) => {
    const { flags } = await setup(dir);
    const next = await createCertificateAuthority({ commonName: 'kubernetes-2' });
    const report = await auditSetup(dir, { apiserverFlags: flags, rotatingTo: [next.certificate] });
    assert.ok(report.findings.some((f) => /new CA CN=kubernetes-2 is missing from the bundles/.test(f.message)));
  });
});

test.run();
