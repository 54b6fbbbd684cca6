// Judges: a real etcd (Debian's etcd-server) and a real kube-apiserver and kube-controller-manager
// (Kubernetes 1.20.2 built from Debian's source) run on 127.0.0.1 with the files initPkiDirectory wrote.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  componentFlags,
  createCertificateAuthority,
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  Certificate,
  planCluster,
  bootstrapRbacManifests,
  bootstrapTokenSecret,
  connectionFromKubeconfig,
  formatBootstrapToken,
  generateBootstrapToken,
  importPrivateKeyPem,
  kubernetesRegistry,
  parseKubeconfig,
  requestServingCertificate,
  startSigner,
  stringifyKubeconfig,
  writeFileAtomic,
  componentToApiserver,
  apiserverToEtcd,
  PROFILES,
} from '../../../lib/index.js';
import { csrObject } from '../../../lib/bootstrap/csr-object.js';
import { kubeRequest } from '../../../lib/bootstrap/kube-client.js';
import { main } from '../../../lib/cli.js';
import { request as undiciRequest } from 'undici';
import { freePort, httpsGet, startDaemon, waitFor, type Daemon } from '../../helpers/processes.js';
import { startControlPlane, startControllerManager, type ControlPlane } from './cluster.js';

let dir: string;
let bin: string;
let cp: ControlPlane;
let apiserverUrl: string;
let etcdUrl: string;
const file = (path: string): Promise<string> => readFile(join(dir, path), 'utf8');

test.before(async () => {
  cp = await startControlPlane('kubepki-cp-');
  ({ dir, bin, apiserverUrl, etcdUrl } = cp);
});

test.after(async () => {
  if (cp) await cp.stop();
});

test('etcd answers the apiserver-etcd-client certificate and refuses one from another CA', async () => {
  const ca = await file('pki/etcd/ca.crt');
  const good = await httpsGet(`${etcdUrl}/health`, { ca, cert: await file('pki/apiserver-etcd-client.crt'), key: await file('pki/apiserver-etcd-client.key') });
  assert.is(good.status, 200);
  assert.match(good.body, /"health":"true"/);
  const foreign = await createCertificateAuthority({ commonName: 'etcd-ca' });
  const key = await generateKeyPair();
  const cert = await issueCertificate({ profile: PROFILES.apiserverEtcdClient, subject: { commonName: 'kube-apiserver-etcd-client' }, publicKey: key.publicKey, issuer: foreign });
  const refused = await httpsGet(`${etcdUrl}/health`, { ca, cert: cert.pem, key: await exportPrivateKeyPem(key) }).then(
    (r) => `status ${r.status}`,
    (e: Error) => e.message,
  );
  assert.match(refused, /certificate|socket hang up|ECONNRESET|alert/i);
});

test('admin.conf lists namespaces once super-admin.conf has bound kubeadm:cluster-admins', async () => {
  const superAdmin = new k8s.KubeConfig();
  superAdmin.loadFromFile(join(dir, 'super-admin.conf'));
  await superAdmin.makeApiClient(k8s.RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: 'kubeadm:cluster-admins' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'kubeadm:cluster-admins' }],
    },
  });
  const admin = new k8s.KubeConfig();
  admin.loadFromFile(join(dir, 'admin.conf'));
  const list = async (): Promise<(string | undefined)[]> => (await admin.makeApiClient(k8s.CoreV1Api).listNamespace()).items.map((n) => n.metadata?.name);
  // The RBAC authorizer learns the new binding (403 until then), and kube-apiserver's bootstrap controller makes the
  // default namespace, a moment after; a refusal that lasts is the error of the last listing below.
  await waitFor('admin.conf listing the default namespace', async () => (await list()).includes('default'), 30).catch(() => undefined);
  const names = await list();
  assert.ok(names.includes('kube-system') && names.includes('default'), names.join(','));
});

test('a client certificate from a foreign CA gets 401; the cluster CA one gets through', async () => {
  const ca = await file('pki/ca.crt');
  const foreign = await createCertificateAuthority({ commonName: 'kubernetes' });
  const key = await generateKeyPair();
  const cert = await issueCertificate({ profile: PROFILES.superAdmin, subject: { commonName: 'kubernetes-super-admin', organizations: ['system:masters'] }, publicKey: key.publicKey, issuer: foreign });
  const refused = await httpsGet(`${apiserverUrl}/api/v1/namespaces`, { ca, cert: cert.pem, key: await exportPrivateKeyPem(key) });
  assert.is(refused.status, 401);
  const superAdmin = new k8s.KubeConfig();
  superAdmin.loadFromFile(join(dir, 'super-admin.conf'));
  const user = superAdmin.getCurrentUser()!;
  const allowed = await httpsGet(`${apiserverUrl}/api/v1/namespaces`, {
    ca,
    cert: Buffer.from(user.certData!, 'base64').toString(),
    key: Buffer.from(user.keyData!, 'base64').toString(),
  });
  assert.is(allowed.status, 200);
});

test('kube-controller-manager runs with controller-manager.conf and signs CSRs with the cluster CA', async () => {
  const kcm = await startControllerManager(cp, 'csrapproving,csrsigning,csrcleaner');

  const superAdmin = new k8s.KubeConfig();
  superAdmin.loadFromFile(join(dir, 'super-admin.conf'));
  const certificates = superAdmin.makeApiClient(k8s.CertificatesV1Api);
  const key = await generateKeyPair();
  const csr = await createCsr({ keyPair: key, subject: { commonName: 'jane', organizations: ['developers'] } });
  const name = 'kubepki-test-jane';
  await certificates.createCertificateSigningRequest({
    body: {
      metadata: { name },
      spec: { request: Buffer.from(csr.pem).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['digital signature', 'client auth'] },
    },
  });
  const pending = await certificates.readCertificateSigningRequest({ name });
  pending.status = { conditions: [{ type: 'Approved', status: 'True', reason: 'KubepkiTest', message: 'approved by the test' }] };
  await certificates.replaceCertificateSigningRequestApproval({ name, body: pending });
  let issued = '';
  await waitFor(
    'the signed CSR',
    async () => {
      const current = await certificates.readCertificateSigningRequest({ name });
      issued = current.status?.certificate ? Buffer.from(current.status.certificate, 'base64').toString() : '';
      return issued !== '';
    },
    60,
    kcm,
  );
  const leaf = Certificate.from(issued);
  assert.ok(leaf.isIssuedBy(Certificate.from(await file('pki/ca.crt'))), 'signed by the cluster CA from pki/ca.crt');
  assert.equal(leaf.subject, { commonName: 'jane', organizations: ['developers'] });
});

test('the verified agents of paths 3 and 7 work against the real kube-apiserver and etcd, and refuse the wrong CA', async () => {
  const admin = componentToApiserver(join(dir, 'admin.conf'));
  const undiciResponse = await undiciRequest(`${admin.url}/api`, { dispatcher: admin.undici });
  assert.is(undiciResponse.statusCode, 200);
  assert.match(await undiciResponse.body.text(), /"kind":"APIVersions"/);
  await admin.close();
  const etcd = apiserverToEtcd({ ca: await file('pki/etcd/ca.crt'), clientCertificate: await file('pki/apiserver-etcd-client.crt'), clientKey: await file('pki/apiserver-etcd-client.key'), serverHost: '127.0.0.1', port: Number(new URL(etcdUrl).port) });
  const health = await undiciRequest(`${etcd.url}/health`, { dispatcher: etcd.undici });
  assert.match(await health.body.text(), /"health":"true"/);
  await etcd.close();
  const wrongCa = apiserverToEtcd({ ca: await file('pki/ca.crt'), clientCertificate: await file('pki/apiserver-etcd-client.crt'), clientKey: await file('pki/apiserver-etcd-client.key'), serverHost: '127.0.0.1', port: Number(new URL(etcdUrl).port) });
  const refused = await undiciRequest(`${wrongCa.url}/health`, { dispatcher: wrongCa.undici }).then(
    () => 'ok',
    (e: { code?: string; cause?: { code?: string } }) => e.code ?? e.cause?.code,
  );
  assert.is(refused, 'ERR_UNKNOWN_AUTHORITY');
  await wrongCa.close();
});

// The TLS bootstrap against the real control plane (kube-controller-manager above is still running).
const CORE = { ca: '' };
async function asSuperAdmin(method: string, path: string, body?: unknown): Promise<unknown> {
  const superAdmin = parseKubeconfig(await file('super-admin.conf'));
  return kubeRequest({ server: apiserverUrl, ca: await file('pki/ca.crt'), cert: superAdmin.clientCertificatePem, key: superAdmin.clientKeyPem }, method, path, body);
}

/** Waits until a kubelet-serving CSR without a condition is there: requestServingCertificate has created it, and `kubepki approve` can decide it. */
async function pendingServingCsr(): Promise<void> {
  await waitFor('the pending serving CSR', async () => {
    const list = (await asSuperAdmin('GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests')) as { items: { spec: { signerName: string }; status?: { conditions?: unknown[] } }[] };
    return list.items.some((csr) => csr.spec.signerName === 'kubernetes.io/kubelet-serving' && !csr.status?.conditions?.length);
  }, 30);
}

test('kubepki kubelet-bootstrap gets a client certificate the real controllers approve and sign; it reads its own Node', async () => {
  CORE.ca = await file('pki/ca.crt');
  const token = generateBootstrapToken();
  await asSuperAdmin('POST', '/api/v1/namespaces/kube-system/secrets', bootstrapTokenSecret(token));
  for (const binding of bootstrapRbacManifests()) await asSuperAdmin('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding);
  await asSuperAdmin('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } });
  // The Node is modified right after creation (taints, defaults): retry the status update on a conflict.
  for (let attempt = 0; ; attempt++) {
    const node = (await asSuperAdmin('GET', '/api/v1/nodes/node-1')) as { status?: Record<string, unknown> };
    const addresses = [{ type: 'InternalIP', address: '10.0.0.21' }, { type: 'Hostname', address: 'node-1' }];
    const done = await asSuperAdmin('PUT', '/api/v1/nodes/node-1/status', { ...node, status: { ...node.status, addresses } }).then(
      () => true,
      (e: { code: string }) => (e.code === 'ERR_CONFLICT' && attempt < 10 ? false : Promise.reject(e)),
    );
    if (done) break;
  }
  const nodeDir = join(dir, 'node-1');
  await writeFileAtomic({ path: join(nodeDir, 'bootstrap-kubelet.conf'), content: stringifyKubeconfig({ clusterName: 'kubernetes', server: apiserverUrl, caPem: CORE.ca, userName: 'tls-bootstrap-token-user', token: formatBootstrapToken(token) }), mode: 0o600 });
  const out: string[] = [];
  const code = await main(
    ['kubelet-bootstrap', '--bootstrap-kubeconfig', join(nodeDir, 'bootstrap-kubelet.conf'), '--kubeconfig', join(nodeDir, 'kubelet.conf'), '--cert-dir', join(nodeDir, 'pki'), '--node-name', 'node-1', '--timeout', '60s', '--json'],
    { out: (l) => out.push(l), err: (l) => out.push(l) },
  );
  assert.is(code, 0, out.join('\n'));
  const kubelet = await connectionFromKubeconfig(parseKubeconfig(await readFile(join(nodeDir, 'kubelet.conf'), 'utf8')), join(nodeDir, 'kubelet.conf'));
  const self = (await kubeRequest(kubelet, 'GET', '/api/v1/nodes/node-1')) as { metadata: { name: string } };
  assert.is(self.metadata.name, 'node-1');
  const other = await kubeRequest(kubelet, 'GET', '/api/v1/namespaces/kube-system/secrets').then(() => 'allowed', (e: { code: string }) => e.code);
  assert.is(other, 'ERR_FORBIDDEN', 'the node authorizer limits the node');
});

test('kubepki approve approves a serving CSR whose SANs the node owns (the real signer issues it) and denies a foreign address', async () => {
  const nodeDir = join(dir, 'node-1');
  const approve = () => main(['approve', '--kubeconfig', join(dir, 'super-admin.conf')], { out: () => undefined, err: () => undefined });
  const owned = requestServingCertificate({ kubeconfig: join(nodeDir, 'kubelet.conf'), certDir: join(nodeDir, 'pki'), nodeName: 'node-1', addresses: ['10.0.0.21', 'node-1'], timeoutMs: 60_000 }).then(
    (certificate) => certificate,
    (error: Error) => error,
  );
  await pendingServingCsr();
  assert.is(await approve(), 0);
  const serving = await owned;
  if (serving instanceof Error) throw serving;
  assert.ok(serving.isIssuedBy(Certificate.from(CORE.ca)));
  assert.equal([serving.sans.dns, serving.sans.ips], [['node-1'], ['10.0.0.21']]);
  const foreign = requestServingCertificate({ kubeconfig: join(nodeDir, 'kubelet.conf'), certDir: join(nodeDir, 'pki'), nodeName: 'node-1', addresses: ['10.0.0.21', '10.0.0.99'], timeoutMs: 60_000 }).then(
    () => 'issued',
    (e: { code: string; message: string }) => `${e.code} ${e.message}`,
  );
  await pendingServingCsr();
  assert.is(await approve(), 0);
  assert.match(await foreign, /^ERR_DENIED .*10\.0\.0\.99/);
});

/** A kubeconfig whose user is an exec credential plugin printing an ExecCredential with this client certificate. */
async function execKubeconfig(name: string, cert: string, key: string): Promise<string> {
  const plugin = join(dir, `${name}.sh`);
  const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { clientCertificateData: cert, clientKeyData: key } };
  await writeFileAtomic({ path: plugin, content: `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify(credential)}\nEOF\n`, mode: 0o700 });
  const path = join(dir, `${name}.conf`);
  const user = `exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${plugin}\n      interactiveMode: Never`;
  const ca = Buffer.from(CORE.ca).toString('base64');
  const text = `apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: ${apiserverUrl}\n    certificate-authority-data: ${ca}\nusers:\n- name: ${name}\n  user:\n    ${user}\ncontexts:\n- name: k\n  context: {cluster: k, user: ${name}}\ncurrent-context: k\n`;
  await writeFileAtomic({ path, content: text, mode: 0o600 });
  return path;
}

test('kubepki approve through a kubeconfig whose exec credential plugin prints a client certificate; a foreign one gets 401', async () => {
  const superAdmin = parseKubeconfig(await file('super-admin.conf'));
  const kubeconfig = await execKubeconfig('exec-admin', superAdmin.clientCertificatePem!, superAdmin.clientKeyPem!);
  const nodeDir = join(dir, 'node-1');
  const pending = requestServingCertificate({ kubeconfig: join(nodeDir, 'kubelet.conf'), certDir: join(nodeDir, 'pki'), nodeName: 'node-1', addresses: ['10.0.0.21', 'node-1'], timeoutMs: 60_000 }).then(
    (certificate) => certificate,
    (error: Error) => error,
  );
  await pendingServingCsr();
  const out: string[] = [];
  assert.is(await main(['approve', '--kubeconfig', kubeconfig], { out: (l) => out.push(l), err: (l) => out.push(l) }), 0, out.join('\n'));
  assert.match(out.join('\n'), /: approved: /, out.join('\n'));
  const serving = await pending;
  if (serving instanceof Error) throw serving;
  assert.equal([serving.sans.dns, serving.sans.ips], [['node-1'], ['10.0.0.21']]);

  const foreign = await createCertificateAuthority({ commonName: 'kubernetes' });
  const keyPair = await generateKeyPair();
  const stranger = await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'kubernetes-super-admin', organizations: ['system:masters'] }, publicKey: keyPair.publicKey, issuer: foreign });
  const refused = await execKubeconfig('exec-foreign', stranger.pem, await exportPrivateKeyPem(keyPair));
  const err: string[] = [];
  assert.is(await main(['approve', '--kubeconfig', refused], { out: () => undefined, err: (l) => err.push(l) }), 1);
  assert.match(err.join('\n'), /401/);
});

test('kubepki as the signer of a custom signerName sets a certificate the apiserver accepts in /status', async () => {
  const ca = { certificate: CORE.ca, privateKey: (await importPrivateKeyPem(await file('pki/ca.key'))).privateKey };
  const superAdmin = parseKubeconfig(await file('super-admin.conf'));
  const connection = { server: apiserverUrl, ca: CORE.ca, cert: superAdmin.clientCertificatePem, key: superAdmin.clientKeyPem };
  const keyPair = await generateKeyPair();
  const request = await createCsr({ keyPair, subject: { commonName: 'custom-client' } });
  const registry = kubernetesRegistry(connection);
  await registry.create(csrObject('kubepki-custom', request.pem, 'example.com/kubepki', ['digital signature', 'client auth']), { username: '', groups: [] });
  await registry.setApproval('kubepki-custom', { type: 'Approved', status: 'True', reason: 'Test', message: 'approved' });
  const signer = await startSigner(registry, { signerName: 'example.com/kubepki', issuer: ca });
  let issued: string | undefined;
  await waitFor('the certificate in /status', async () => Boolean((issued = (await registry.get('kubepki-custom'))?.status?.certificate)), 30);
  signer.stop();
  const leaf = Certificate.from(Buffer.from(issued!, 'base64').toString());
  assert.is(leaf.subject.commonName, 'custom-client');
  assert.ok(leaf.isIssuedBy(Certificate.from(CORE.ca)));
});

test('kube-apiserver starts on a PKI directory made with --key-type ed25519 (sa.key is ECDSA; an Ed25519 one stops it)', async () => {
  const edDir = await mkdtemp(join(tmpdir(), 'kubepki-cp-ed25519-'));
  const started: Daemon[] = [];
  try {
    const [apiPort, etcdPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    const quiet = { out: () => undefined, err: () => undefined };
    const code = await main(['init', '--dir', edDir, '--node-name', 'cp-1', '--advertise-address', '127.0.0.1', '--apiserver-bind-port', String(apiPort), '--no-konnectivity', '--key-type', 'ed25519'], quiet);
    assert.is(code, 0);
    const edPlan = planCluster({ nodeName: 'cp-1', advertiseAddress: '127.0.0.1', apiServerPort: apiPort, konnectivity: false, keySpec: 'ed25519' });
    const flags = componentFlags(edPlan, { dir: edDir, etcdClientPort: etcdPort, etcdPeerPort: peerPort });
    const edEtcd = `https://127.0.0.1:${etcdPort}`;
    const etcd = startDaemon('etcd', [...flags.etcd.map((f) => (f.startsWith('--listen-client-urls=') ? `--listen-client-urls=${edEtcd}` : f)), `--data-dir=${join(edDir, 'etcd-data')}`, '--log-level=warn']);
    started.push(etcd);
    const read = (path: string): Promise<string> => readFile(join(edDir, path), 'utf8');
    const client = { ca: await read('pki/etcd/ca.crt'), cert: await read('pki/apiserver-etcd-client.crt'), key: await read('pki/apiserver-etcd-client.key') };
    await waitFor('etcd (ed25519)', async () => (await httpsGet(`${edEtcd}/health`, client)).status === 200, 30, etcd);
    const apiserver = startDaemon(join(bin, 'kube-apiserver'), [...flags.kubeApiserver, '--bind-address=127.0.0.1', '--insecure-port=0', `--cert-dir=${join(edDir, 'apiserver-certs')}`]);
    started.push(apiserver);
    const ca = await read('pki/ca.crt');
    await waitFor('kube-apiserver (ed25519)', async () => (await httpsGet(`https://127.0.0.1:${apiPort}/readyz`, { ca })).status === 200, 90, apiserver);
  } finally {
    await Promise.all(started.map((d) => d.stop()));
    await rm(edDir, { recursive: true, force: true });
  }
});

test.run();
