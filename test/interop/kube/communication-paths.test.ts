// Judges: the real kube-apiserver 1.20.2 (cluster.ts) with a real kubelet 1.20.2 as its node (kubelet-process.ts),
// audited by `kubepki audit --kubeconfig` three times: with kubeadm's default flags (no
// --kubelet-certificate-authority, no egress selector), with kubepki's flags (the kubelet's serving certificate
// from its CSR verified, cluster traffic through a Konnectivity stand-in over mutual TLS, the
// --egress-selector-config-file `kubepki init` wrote), and with a client certificate the proxy-server refuses.
import { mkdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { egressSelectorConfiguration, exportPrivateKeyPem, generateKeyPair, issueCertificate, nodeSubject, parseKubeconfig, PROFILES, stringifyKubeconfig } from '../../../lib/index.js';
import { kubeRequest, type KubeConnection } from '../../../lib/bootstrap/kube-client.js';
import { EGRESS_SELECTOR_FILE } from '../../../lib/cluster/flags.js';
import { loadAuthority } from '../../../lib/cluster/material.js';
import { AUTHORITY_LAYOUT } from '../../../lib/cluster/layout.js';
import { runCli } from '../../helpers/cli.js';
import { httpsGet, kubeBinaries, waitFor, type Daemon } from '../../helpers/processes.js';
import { startControlPlane, startControllerManager, type ControlPlane } from './cluster.js';
import { startKonnectivityStandIn, type KonnectivityStandIn } from './konnectivity-standin.js';
import { startNodeKubelet, type KubeletProcess } from './kubelet-process.js';

const NODE = '127.0.0.1';
type Mode = 'kubeadm' | 'kubepki';

let mode: Mode = 'kubeadm';
let cp: ControlPlane;
let proxy: KonnectivityStandIn;
let kubelet: KubeletProcess;
let kcm: Daemon;
let admin: KubeConnection;
/** The kubelet makes /var/log/containers and /var/log/pods (empty: it runs no container); those it made are removed. */
const KUBELET_LOG_DIRS = ['/var/log/containers', '/var/log/pods'];
const madeByKubelet: string[] = [];
const printed: string[] = [];

/** kubeadm's kube-apiserver flags leave out --kubelet-certificate-authority and the egress selector; kubepki's have both. */
const apiserverArgs = (args: string[]): string[] => (mode === 'kubepki' ? args : args.filter((a) => !a.startsWith('--kubelet-certificate-authority=') && !a.startsWith('--egress-selector-config-file=')));

/** GET through kube-apiserver as super-admin: status and body. */
const get = async (path: string): Promise<{ status: number; body: string }> => httpsGet(`${cp.apiserverUrl}${path}`, { ca: admin.ca, cert: admin.cert, key: admin.key }, 15_000);

/** `kubepki audit` of the running kube-apiserver's flags and the live cluster; the output is kept for the closing print. */
async function audit(title: string): Promise<{ code: number; out: string; lines: Map<number, string> }> {
  const flagsFile = join(cp.dir, 'apiserver.flags');
  await writeFile(flagsFile, cp.runningFlags('kube-apiserver')!.join('\n'));
  const result = await runCli('audit', '--dir', cp.dir, '--apiserver-flags', flagsFile, '--kubeconfig', join(cp.dir, 'super-admin.conf'));
  printed.push(`--- kubepki audit, ${title} (exit ${result.code}) ---\n${result.out}${result.err ? `\nstderr: ${result.err}` : ''}`);
  const lines = new Map<number, string>();
  for (const line of result.out.split('\n')) {
    const match = /^(\d) /.exec(line);
    if (match) lines.set(Number(match[1]), line);
  }
  return { code: result.code, out: result.out, lines };
}

const status = (lines: Map<number, string>, path: number): string => / (VERIFIED|UNVERIFIED|BROKEN|NOT-CONFIGURED|ADVISORY): /.exec(lines.get(path) ?? '')?.[1] ?? `(no line for path ${path})`;

test.before(async () => {
  try {
    await setUp();
  } catch (error) {
    // uvu does not report a failing before hook.
    process.stderr.write(`set-up failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
    throw error;
  }
});

async function setUp(): Promise<void> {
  for (const folder of KUBELET_LOG_DIRS) if (!(await stat(folder).then(() => true, () => false))) madeByKubelet.push(folder);
  const bin = await kubeBinaries();
  // kube-apiserver starts with kubeadm's flags (no egress selector); the kubepki case restarts it with the file.
  cp = await startControlPlane('kubepki-paths-', { konnectivity: true, apiserverArgs });
  const tls = { cert: await cp.file('pki/konnectivity-server.crt'), key: await cp.file('pki/konnectivity-server.key'), ca: await cp.file('pki/ca.crt') };
  proxy = await startKonnectivityStandIn(tls);
  // kubepki init's file names the proxy-server's default port 8131; the stand-in has a free one, and only that differs.
  const written = await cp.file(EGRESS_SELECTOR_FILE);
  const forStandIn = egressSelectorConfiguration(cp.plan, { dir: cp.dir, konnectivityServerPort: proxy.port });
  assert.is(forStandIn, written.replace(':8131\n', `:${proxy.port}\n`));
  await writeFile(join(cp.dir, EGRESS_SELECTOR_FILE), forStandIn);
  const sa = parseKubeconfig(await cp.file('super-admin.conf'));
  admin = { server: cp.apiserverUrl, ca: await cp.file('pki/ca.crt'), cert: sa.clientCertificatePem, key: sa.clientKeyPem };
  kcm = await startControllerManager(cp, 'csrsigning');
  // The node's client certificate, as its TLS bootstrap would have left it.
  const authority = await loadAuthority(cp.dir, AUTHORITY_LAYOUT.find((e) => e.name === 'ca')!);
  const key = await generateKeyPair();
  const client = await issueCertificate({ profile: PROFILES.kubeletClient, subject: nodeSubject(NODE), publicKey: key.publicKey, issuer: { certificate: authority.certificate.pem, privateKey: authority.privateKey } });
  const folder = join(cp.dir, 'node');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'client.pem'), `${client.pem}${await exportPrivateKeyPem(key)}`, { mode: 0o600 });
  await writeFile(
    join(folder, 'kubelet.conf'),
    stringifyKubeconfig({ clusterName: 'kubernetes', server: cp.apiserverUrl, caPem: admin.ca, userName: 'default-auth', clientCertificateFile: join(folder, 'client.pem'), clientKeyFile: join(folder, 'client.pem') }),
    { mode: 0o600 },
  );
  kubelet = await startNodeKubelet({ kubelet: join(bin, 'kubelet'), folder, kubeconfig: join(folder, 'kubelet.conf'), clientCaFile: join(cp.dir, 'pki/ca.crt'), nodeName: NODE });
  const debug = (): string => `--- kubelet ---\n${kubelet.log().split('\n').filter((l) => /^[IWEF]\d{4} /.test(l) || l.startsWith('[cri')).slice(-60).join('\n')}`;
  try {
    await waitFor('the kubelet registers its Node', async () => Boolean(await kubeRequest(admin, 'GET', `/api/v1/nodes/${NODE}`)), 90);
    await waitFor(
      "the kubelet's serving CSR",
      async () => ((await kubeRequest<{ items: { spec: { signerName: string } }[] }>(admin, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests')).items ?? []).some((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving'),
      90,
    );
    // kubepki approve denies it (IP SAN 127.0.0.1 is the API server's endpoint, which no node may claim): here the
    // node and the apiserver share the loopback, so it is approved as an administrator would, by hand.
    const csrs = await kubeRequest<{ items: { metadata: { name: string }; spec: { signerName: string }; status?: { conditions?: unknown[] } }[] }>(admin, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests');
    for (const csr of csrs.items.filter((c) => c.spec.signerName === 'kubernetes.io/kubelet-serving' && !c.status?.conditions?.length)) {
      await kubeRequest(admin, 'PUT', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${csr.metadata.name}/approval`, {
        ...csr,
        apiVersion: 'certificates.k8s.io/v1',
        kind: 'CertificateSigningRequest',
        status: { conditions: [{ type: 'Approved', status: 'True', reason: 'KubepkiTest', message: 'the test node shares 127.0.0.1 with the apiserver' }] },
      });
    }
    await waitFor('the kubelet serves its certificate from the cluster CA', async () => (await readFile(join(folder, 'pki', 'kubelet-server-current.pem'))).length > 0, 60, kcm);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${debug()}`, { cause: error });
  }
}

test.after(async () => {
  try {
    await kubelet?.stop();
  } finally {
    await proxy?.close();
    if (process.env.KUBEPKI_TEST_PRINT !== '0') process.stdout.write(`\n${printed.join('\n\n')}\n--- Konnectivity stand-in tunnel log ---\n${proxy?.log.join('\n') ?? ''}\n`);
    await cp?.stop();
    for (const folder of madeByKubelet) await rmdir(folder).catch(() => undefined);
  }
});

test("kubeadm's default flags: the apiserver dials the kubelet directly and verifies nothing; the audit says so", async () => {
  mode = 'kubeadm';
  const healthz = await get(`/api/v1/nodes/${NODE}/proxy/healthz`);
  assert.equal(healthz, { status: 200, body: 'ok' });
  assert.is(proxy.tunnels(), 0, 'no egress selector: no tunnel');
  const { code, lines } = await audit("kubeadm's default kube-apiserver flags");
  assert.is(code, 1);
  assert.equal([1, 2, 3, 4, 5, 6, 7, 8].map((p) => status(lines, p)), ['VERIFIED', 'VERIFIED', 'VERIFIED', 'UNVERIFIED', 'ADVISORY', 'NOT-CONFIGURED', 'VERIFIED', 'NOT-CONFIGURED']);
  assert.match(lines.get(4)!, /no --kubelet-certificate-authority.*1 serving certificate\(s\) seen/);
  assert.match(lines.get(6)!, /no --egress-selector-config-file.*Konnectivity certificates are unused/);
});

test("kubepki's flags: the kubelet's serving certificate verifies and cluster traffic goes through the mTLS proxy", async () => {
  mode = 'kubepki';
  await cp.restart('kube-apiserver');
  const before = proxy.tunnels();
  for (const path of ['healthz', 'configz', 'logs/']) {
    const answer = await get(`/api/v1/nodes/${NODE}/proxy/${path}`);
    assert.is(answer.status, 200, `${path}: ${answer.body}`);
    if (path === 'healthz') assert.is(answer.body, 'ok');
    if (path === 'configz') assert.match(answer.body, /"kubeletconfig":\{.*"serverTLSBootstrap":true/);
  }
  // A Pod's logs: kube-apiserver asks the kubelet's /containerLogs through the same egress. The kubelet, which runs
  // nothing, answers 404 (it has no such pod); kube-apiserver passes that on, and the bytes went through the tunnel.
  await waitFor('the default ServiceAccount', async () => Boolean(await kubeRequest(admin, 'GET', '/api/v1/namespaces/default/serviceaccounts/default')), 60, kcm);
  await kubeRequest(admin, 'POST', '/api/v1/namespaces/default/pods', {
    metadata: { name: 'logs-probe' },
    spec: { nodeName: NODE, automountServiceAccountToken: false, containers: [{ name: 'c', image: 'none.invalid/none' }] },
  });
  const carried = proxy.bytes();
  const logs = await get('/api/v1/namespaces/default/pods/logs-probe/log?container=c');
  printed.push(`--- pods/logs-probe/log through the egress (${proxy.bytes() - carried} bytes through the tunnel): ${logs.status} ${logs.body.trim()}`);
  assert.is(logs.status, 404, logs.body);
  assert.ok(proxy.bytes() > carried, "the kubelet's answer came through the stand-in");
  assert.not.match(logs.body, /error dialing backend|error trying to reach service/);
  assert.ok(proxy.tunnels() > before, 'the requests went through the stand-in');
  assert.ok(proxy.log.some((line) => line === `CONNECT 127.0.0.1:${kubelet.port} from CN=kube-apiserver-konnectivity-client`), proxy.log.join('\n'));
  const { code, lines } = await audit("kubepki's kube-apiserver flags");
  assert.is(code, 0);
  assert.equal([1, 2, 3, 4, 5, 6, 7, 8].map((p) => status(lines, p)), ['VERIFIED', 'VERIFIED', 'VERIFIED', 'VERIFIED', 'ADVISORY', 'VERIFIED', 'VERIFIED', 'NOT-CONFIGURED']);
  assert.match(lines.get(4)!, new RegExp(`node 127\\.0\\.0\\.1 \\(CSR csr-\\w+\\) at InternalIP 127\\.0\\.0\\.1`));
  assert.match(lines.get(6)!, new RegExp(`https://127\\.0\\.0\\.1:${proxy.port} over mutual TLS`));
});

test("a client certificate the proxy-server refuses: the apiserver's egress fails and the audit says why", async () => {
  mode = 'kubepki';
  const file = join(cp.dir, EGRESS_SELECTOR_FILE);
  const good = await readFile(file, 'utf8');
  // The front proxy's client certificate is signed by the front-proxy CA, which the proxy-server does not trust.
  await writeFile(file, good.replaceAll('pki/konnectivity-client.', 'pki/front-proxy-client.'));
  try {
    await cp.restart('kube-apiserver');
    const refusedBefore = proxy.log.filter((l) => l.startsWith('refused')).length;
    const answer = await get(`/api/v1/nodes/${NODE}/proxy/healthz`);
    assert.is.not(answer.status, 200, answer.body);
    printed.push(`--- nodes/${NODE}/proxy/healthz with the wrong client certificate: ${answer.status} ${answer.body.trim()}`);
    assert.ok(proxy.log.filter((l) => l.startsWith('refused')).length > refusedBefore, proxy.log.join('\n'));
    const { code, lines } = await audit('a clientCert from the front-proxy CA');
    assert.is(code, 1);
    assert.is(status(lines, 6), 'BROKEN');
    assert.match(lines.get(6)!, /ERR_UNKNOWN_AUTHORITY: clientCert \S+front-proxy-client\.crt \(CN=front-proxy-client\) is not accepted by the proxy-server/);
  } finally {
    await writeFile(file, good);
    await cp.restart('kube-apiserver');
  }
});

test.run();
