// Judges: the real kubeadm 1.20.2's upload-certs and download-certs against kubepki's certificate key, on the real
// kube-apiserver and kube-controller-manager 1.20.2 (the bootstrapsigner signs cluster-info for the join token).
// kubeadm → kubepki: `kubeadm init phase upload-certs` encrypts kubepki's folder into kube-system/kubeadm-certs and
// `kubepki join --control-plane` restores it. kubepki → kubeadm: `kubepki certs upload` and `kubeadm join phase
// control-plane-prepare download-certs`, which writes into the certificatesDir of the cluster's kubeadm-config.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate } from '../../../lib/index.js';
import { kubeRequest, type KubeConnection } from '../../../lib/bootstrap/kube-client.js';
import { SHARED_CERTIFICATE_FILES } from '../../../lib/cluster/shared-certs.js';
import { runCli as cli } from '../../helpers/cli.js';
import { startJoinableCluster, type ControlPlane, type JoinableCluster } from './cluster.js';

let cluster: JoinableCluster;
let cp: ControlPlane;
let superAdmin: KubeConnection;
let pin: string;
let endpoint: string;
let adminConf: string;
/** Temp folders of this file (removed after). */
const temps: string[] = [];

const runKubeadm = (...args: string[]): Promise<string> => cluster.runKubeadm(...args);

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

test.before(async () => {
  cluster = await startJoinableCluster('kubepki-upload-certs-');
  ({ cp, superAdmin, pin, endpoint, adminConf } = cluster);
});

test.after(async () => {
  if (cp) await cp.stop();
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A signing bootstrap token in kubeadm's node group (kubepki token create's default), once cluster-info is signed for it. */
async function signedToken(): Promise<string> {
  const created = await cli('token', 'create', '--kubeconfig', adminConf, '--json');
  assert.is(created.code, 0, created.err);
  const token = (JSON.parse(created.out) as { token: string }).token;
  await cluster.signedFor(token.slice(0, 6));
  return token;
}

async function certificateKey(): Promise<string> {
  const made = await cli('certs', 'certificate-key');
  assert.is(made.code, 0, made.err);
  assert.match(made.out, /^[0-9a-f]{64}$/);
  return made.out;
}

/**
 * kubeadm's v1beta2 InitConfiguration and ClusterConfiguration of cp-1, with the given certificatesDir (and the
 * certificate key: kubeadm refuses --certificate-key with --config). kubeadm replaces a loopback advertiseAddress with
 * a host interface's address and fails ("unable to select an IP from lo network interface"), so the kubeadm files name
 * TEST-NET-1 addresses: kubeadm only parses them, nothing listens on or dials them.
 */
function initConfiguration(certificatesDir: string, certificateKey = ''): string {
  return `apiVersion: kubeadm.k8s.io/v1beta2
kind: InitConfiguration
certificateKey: "${certificateKey}"
localAPIEndpoint:
  advertiseAddress: 192.0.2.101
  bindPort: ${cp.apiPort}
nodeRegistration:
  name: cp-1
  criSocket: /var/run/dockershim.sock
---
apiVersion: kubeadm.k8s.io/v1beta2
kind: ClusterConfiguration
kubernetesVersion: v1.20.2
controlPlaneEndpoint: ${endpoint}
certificatesDir: ${certificatesDir}
`;
}

/** Every shared file of `from` has the same bytes in `to` (both under kubeadm names below their pki folders). */
async function assertSameSharedFiles(fromPki: string, toPki: string): Promise<void> {
  for (const file of SHARED_CERTIFICATE_FILES) {
    const [a, b] = [await readFile(join(fromPki, file.name)), await readFile(join(toPki, file.name))];
    assert.ok(a.length > 0, `${file.name} is not empty`);
    assert.ok(a.equals(b), `${file.name} byte-identical`);
  }
}

test('kubeadm init phase upload-certs encrypts kubepki\'s folder; kubepki join --control-plane restores it byte-identical and issues the node from its CA', async () => {
  const key = await certificateKey();
  const work = await tempDir('kubepki-upload-certs-a-');
  const config = join(work, 'kubeadm.yaml');
  await writeFile(config, initConfiguration(join(cp.dir, 'pki'), key));
  const uploaded = await runKubeadm('init', 'phase', 'upload-certs', '--upload-certs', '--kubeconfig', adminConf, '--config', config);
  assert.match(uploaded, /Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace/);
  const secret = (await kubeRequest(superAdmin, 'GET', '/api/v1/namespaces/kube-system/secrets/kubeadm-certs')) as { metadata: { ownerReferences?: { kind: string; name: string }[] }; data: Record<string, string> };
  assert.equal(Object.keys(secret.data).sort(), SHARED_CERTIFICATE_FILES.map((f) => f.dataKey).sort());
  assert.match(secret.metadata.ownerReferences?.[0]?.name ?? '', /^bootstrap-token-[a-z0-9]{6}$/, 'owned by its token Secret');

  const token = await signedToken();
  const nodeDir = join(work, 'cp-2');
  const joined = await cli('join', endpoint, '--control-plane', '--certificate-key', key, '--token', token, '--discovery-token-ca-cert-hash', pin, '--dir', nodeDir, '--node-name', 'cp-2', '--advertise-address', '127.0.0.2', '--control-plane-endpoint', endpoint, '--apiserver-bind-port', String(cp.apiPort), '--json');
  assert.is(joined.code, 0, joined.err);
  const summary = JSON.parse(joined.out) as { restored: string[]; unchanged: string[] };
  assert.equal([...summary.restored].sort(), SHARED_CERTIFICATE_FILES.map((f) => join(nodeDir, f.path)).sort());
  assert.equal(summary.unchanged, []);
  await assertSameSharedFiles(join(cp.dir, 'pki'), join(nodeDir, 'pki'));
  const apiserver = Certificate.from(await readFile(join(nodeDir, 'pki/apiserver.crt'), 'utf8'));
  assert.ok(apiserver.isIssuedBy(Certificate.from(await cp.file('pki/ca.crt'))), "cp-2's apiserver certificate is issued by cp-1's CA");
  assert.ok(apiserver.sans.ips.includes('127.0.0.2'), `names its advertise address: ${apiserver.sans.ips.join(', ')}`);
});

test('kubepki certs upload encrypts the folder; kubeadm join phase control-plane-prepare download-certs writes it byte-identical', async () => {
  const key = await certificateKey();
  const uploaded = await cli('certs', 'upload', '--dir', cp.dir, '--certificate-key', key, '--kubeconfig', adminConf);
  assert.is(uploaded.code, 0, uploaded.err);
  const work = await tempDir('kubepki-upload-certs-b-');
  const target = join(work, 'pki');
  // kubeadm join reads certificatesDir from the cluster's kubeadm-config and the component configs from their
  // ConfigMaps: kubeadm's own upload-config phases make them (with their RBAC for the node token), cp-1's
  // ClusterConfiguration with certificatesDir the empty temp folder. The kubelet phase ends by annotating cp-1's Node
  // object with its CRI socket once it has its hostname label, so the Node is made first (no kubelet runs here).
  const initConfig = join(work, 'init.yaml');
  await writeFile(initConfig, initConfiguration(target));
  await kubeRequest(superAdmin, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'cp-1', labels: { 'kubernetes.io/hostname': 'cp-1' } } });
  await runKubeadm('init', 'phase', 'upload-config', 'kubeadm', '--kubeconfig', adminConf, '--config', initConfig);
  await runKubeadm('init', 'phase', 'upload-config', 'kubelet', '--kubeconfig', adminConf, '--config', initConfig);
  const token = await signedToken();
  const joinConfig = join(work, 'join.yaml');
  await writeFile(
    joinConfig,
    `apiVersion: kubeadm.k8s.io/v1beta2
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: ${endpoint}
    token: ${token}
    caCertHashes: [${pin}]
nodeRegistration:
  name: cp-3
  criSocket: /var/run/dockershim.sock
controlPlane:
  localAPIEndpoint:
    advertiseAddress: 192.0.2.103
    bindPort: ${cp.apiPort}
  certificateKey: ${key}
`,
  );
  const downloaded = await runKubeadm('join', 'phase', 'control-plane-prepare', 'download-certs', '--config', joinConfig);
  assert.match(downloaded, /Downloading the certificates in Secret "kubeadm-certs"/);
  await assertSameSharedFiles(join(cp.dir, 'pki'), target);
  const written = (await readdir(target, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(target.length + 1));
  assert.equal(written.sort(), SHARED_CERTIFICATE_FILES.map((f) => f.name).sort(), 'kubeadm wrote the shared files and nothing else');
});

test.run();
