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
import { fakeApi } from '../helpers/fake-api.js';
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
    assert.is(report.paths.find((p) => p.path === 6)!.status, 'not-configured');
    assert.match(report.paths.find((p) => p.path === 6)!.reason, /no --egress-selector-config-file: it dials nodes, pods and services directly; the directory's Konnectivity certificates are unused/);
    assert.is(report.paths.find((p) => p.path === 8)!.status, 'not-configured');
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
    assert.equal(report.paths.map((p) => [p.path, p.status]), [[1, 'verified'], [2, 'verified'], [3, 'verified'], [4, 'verified'], [5, 'advisory'], [6, 'verified'], [7, 'verified'], [8, 'not-configured']]);
    assert.equal(report.findings, []);
    assert.ok(report.ok);
    const flagsFile = join(dir, 'apiserver.flags');
    await writeFile(flagsFile, flags);
    const cli = await runCli('audit', '--dir', dir, '--apiserver-flags', flagsFile);
    assert.is(cli.code, 0, cli.out);
    assert.match(cli.out, /^4 +apiserver -> kubelet +ADVISORY: --kubelet-certificate-authority names a bundle holding the kubelet serving signer, but no kubelet serving certificate was checked/m);
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
    assert.is(passing.paths.find((p) => p.path === 4)!.status, 'advisory', 'a kubelet that will request a serving certificate is not one that was checked');
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

test('a --kubelet-certificate-authority bundle without the CA that signs kubelet serving CSRs is broken, whatever certificate is given', async () => {
  await withTempDir(async (dir) => {
    const { flags } = await setup(dir);
    const report = await auditSetup(dir, { apiserverFlags: flags.replace(/--kubelet-certificate-authority=\S+/, `--kubelet-certificate-authority=${join(dir, 'pki/front-proxy-ca.crt')}`) });
    const kubelet = report.paths.find((p) => p.path === 4)!;
    assert.is(kubelet.status, 'broken');
    assert.match(kubelet.reason, /^ERR_UNKNOWN_AUTHORITY: \S+front-proxy-ca\.crt does not hold CN=kubernetes, the CA that signs kubelet serving CSRs/);
  });
});

test('SSH tunnel flags are the deprecated path, with Konnectivity as the replacement', async () => {
  await withTempDir(async (dir) => {
    const { flags } = await setup(dir);
    const report = await auditSetup(dir, { apiserverFlags: `${flags}\n--ssh-user=kube\n--ssh-keyfile=/etc/kubernetes/ssh.key` });
    const ssh = report.paths.find((p) => p.path === 8)!;
    assert.is(ssh.status, 'unverified');
    assert.match(ssh.reason, /--ssh-user=kube --ssh-keyfile=\/etc\/kubernetes\/ssh\.key tunnels to the nodes over SSH, a deprecated path: it accepts any host key/);
    assert.match(ssh.fix!, /replace the tunnels with Konnectivity: --egress-selector-config-file=\S+egress-selector-configuration\.yaml/);
    assert.not.ok(report.ok);
  });
});

test('Konnectivity is judged by the egress selector configuration kube-apiserver is started with', async () => {
  await withTempDir(async (dir) => {
    const { flags } = await setup(dir);
    const file = join(dir, 'egress-selector-configuration.yaml');
    const written = await readFile(file, 'utf8');
    const path6 = async (content: string) => {
      await writeFile(file, content);
      return (await auditSetup(dir, { apiserverFlags: flags })).paths.find((p) => p.path === 6)!;
    };
    const good = await path6(written);
    assert.is(good.status, 'verified');
    assert.match(good.reason, /cluster traffic goes HTTPConnect to the proxy-server at https:\/\/10\.0\.0\.10:8131 over mutual TLS: .* clientCert CN=kube-apiserver-konnectivity-client chains to the cluster CA/);
    const wrongClient = await path6(written.replaceAll('pki/konnectivity-client.', 'pki/front-proxy-client.'));
    assert.is(wrongClient.status, 'broken');
    assert.match(wrongClient.reason.replace(/\s+/g, " "), /^ERR_UNKNOWN_AUTHORITY: clientCert \S+front-proxy-client\.crt \(CN=front-proxy-client\) is not accepted by the proxy-server/);
    const wrongCa = await path6(written.replace(/caBundle: \S+/, `caBundle: ${join(dir, 'pki/etcd/ca.crt')}`));
    assert.is(wrongCa.status, 'broken');
    assert.match(wrongCa.reason, /^ERR_UNKNOWN_AUTHORITY: the proxy-server certificate \(pki\/konnectivity-server\) against caBundle/);
    const otherHost = await path6(written.replace('https://10.0.0.10:8131', 'https://proxy.example:8131'));
    assert.is(otherHost.status, 'broken');
    assert.match(otherHost.reason, /^ERR_NAME_MISMATCH: .*for proxy\.example/);
    const clear = await path6(written.replace('https://', 'http://'));
    assert.is(clear.status, 'unverified');
    assert.match(clear.reason, /in the clear/);
    const systemRoots = await path6(written.replace(/ *caBundle: \S+\n/, ''));
    assert.is(systemRoots.status, 'unverified');
    assert.match(systemRoots.reason, /no caBundle/);
    const direct = await path6('apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n- name: cluster\n  connection:\n    proxyProtocol: Direct\n');
    assert.is(direct.status, 'not-configured');
    const uds = await path6('apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n- name: Cluster\n  connection:\n    proxyProtocol: GRPC\n    transport:\n      uds:\n        udsName: /etc/kubernetes/konnectivity-server/konnectivity-server.socket\n');
    assert.is(uds.status, 'verified');
    assert.match(uds.reason, /over the Unix socket/);
  });
});

test('with a live cluster, path 4 reads the Nodes and serving CSRs and checks the address --kubelet-preferred-address-types picks', async () => {
  await withTempDir(async (dir) => {
    const { ca, flags } = await setup(dir);
    const serving = await servingFrom(ca, ['10.0.0.21']);
    const nodes = { items: [{ metadata: { name: 'node-1' }, status: { addresses: [{ type: 'Hostname', address: 'node-1.internal' }, { type: 'InternalIP', address: '10.0.0.21' }], daemonEndpoints: { kubeletEndpoint: { Port: 10250 } } } }] };
    const csrs = { items: [{ metadata: { name: 'csr-abc' }, spec: { signerName: 'kubernetes.io/kubelet-serving', username: 'system:node:node-1' }, status: { certificate: Buffer.from(serving).toString('base64') } }] };
    const api = await fakeApi({ '/api/v1/nodes': nodes, '/apis/certificates.k8s.io/v1/certificatesigningrequests': csrs });
    try {
      const internal = await auditSetup(dir, { apiserverFlags: flags, cluster: api.connection });
      const ok = internal.paths.find((p) => p.path === 4)!;
      assert.is(ok.status, 'verified', ok.reason);
      assert.match(ok.reason, /node node-1 \(CSR csr-abc\) at InternalIP 10\.0\.0\.21/);
      const hostnameFirst = await auditSetup(dir, { apiserverFlags: flags.replace(/--kubelet-preferred-address-types=\S+/, '--kubelet-preferred-address-types=Hostname,InternalIP'), cluster: api.connection });
      const broken = hostnameFirst.paths.find((p) => p.path === 4)!;
      assert.is(broken.status, 'broken');
      assert.match(broken.reason, /^ERR_NAME_MISMATCH: node node-1 \(CSR csr-abc\), dialled at Hostname node-1\.internal: /);
      const defaultTypes = await auditSetup(dir, { apiserverFlags: flags.replace(/--kubelet-preferred-address-types=\S+/, ''), cluster: api.connection });
      assert.is(defaultTypes.paths.find((p) => p.path === 4)!.status, 'broken', "kube-apiserver's own default puts Hostname first");
      const unseen = await fakeApi({ '/api/v1/nodes': nodes, '/apis/certificates.k8s.io/v1/certificatesigningrequests': { items: [] } });
      try {
        const report = await auditSetup(dir, { apiserverFlags: flags, cluster: unseen.connection });
        const path4 = report.paths.find((p) => p.path === 4)!;
        assert.is(path4.status, 'unverified');
        assert.match(path4.reason, /node\(s\) node-1 have no issued kubelet-serving CSR/);
      } finally {
        await unseen.close();
      }
    } finally {
      await api.close();
    }
  });
});

test.run();
