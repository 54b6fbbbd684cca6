// Judge: the rotation of the cluster CA, the front-proxy CA and the etcd CA (`kubepki rotate-ca --ca cluster|
// front-proxy|etcd --phase add|reissue|finish`, one CA after the other) on a running etcd + kube-apiserver +
// kube-controller-manager (1.20.2, built from Debian's source). After each phase, each component whose flags or
// flag-named files changed is restarted (stopped by pid) with the flags componentFlags gives for the directory as the
// phase left it (following its rotation.json), and what rotate-ca printed (flag changes, components to restart) must
// match what the judge sees change. Five clients keep requesting, every ~150 ms, on a new TLS connection each time:
//   admin       admin.conf, GET /api/v1/namespaces;
//   node        a node client certificate the controller-manager signed (CSR, signer kube-apiserver-client-kubelet,
//               approved by the operator), GET its own Node;
//   sa-token    a ServiceAccount token (TokenRequest API) trusting only the kube-root-ca.crt ConfigMap of its
//               namespace, GET that ConfigMap;
//   front-proxy kube-apiserver's front-proxy client certificate with X-Remote-User/X-Remote-Group (system:masters),
//               GET /api/v1/namespaces;
//   etcd        kube-apiserver's etcd client files (the ones its flags name), GET etcd's /health.
// When each client reads its trust and credentials again (what an operator or the kubelet would do):
//   admin       re-reads admin.conf whenever its content changes (one file, replaced atomically by the phase);
//   node        its kubeconfig's CA data is what rotate-ca's node steps say to push, at the end of the phase and
//               before the restarts: at the cluster CA's add bundles/client-ca-file.crt (old and new), at its finish
//               pki/ca.crt (new); its client certificate is renewed through a CSR once, after the cluster CA's
//               reissue phase and its restarts (the kubelet's rotation the node steps ask for before finish);
//   sa-token    trusts what a projected volume would hold: the kube-root-ca.crt ConfigMap's ca.crt, refreshed every
//               second (a kubelet's sync, shortened); after each cluster CA phase's restarts the operator waits (at
//               most 30 s) until that copy is the bundle kube-controller-manager's --root-ca-file names;
//   front-proxy reads the files kube-apiserver's --proxy-client-cert-file/--proxy-client-key-file name and trusts
//               admin.conf's CA data, at the end of each phase (as a restarted kube-apiserver reads them);
//   etcd        reads the files kube-apiserver's --etcd-cafile/--etcd-certfile/--etcd-keyfile name at the end of
//               each phase (the files the restarted kube-apiserver reads).
// A restart window runs from the stop of a component until it and kube-apiserver answer healthy again. A failed
// request overlapping the window of a component the client depends on (etcd: etcd; the others: etcd and
// kube-apiserver) is the restart's downtime and counted apart; every other failure fails the test. At the end the
// old CAs are in no file of the directory but `*-old.crt` (bundles, kubeconfigs, every flag-named file) and in no
// client's trust, and kube-root-ca.crt held old + new cluster CA after add and reissue and the new one alone after finish.
import { readdir, readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join, relative } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, createCsr, exportPrivateKeyPem, generateKeyPair, kubernetesRegistry, parseKubeconfig } from '../../../lib/index.js';
import { csrObject, SIGNERS } from '../../../lib/bootstrap/csr-object.js';
import { kubeRequest, type KubeConnection } from '../../../lib/bootstrap/kube-client.js';
import { runCli } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/processes.js';
import { startControlPlane, startControllerManager, type Component, type ControlPlane } from './cluster.js';

const COMPONENTS: readonly Component[] = ['etcd', 'kube-apiserver', 'kube-controller-manager'];
/** The components' names in rotate-ca's output (componentFlags' keys). */
const CAMEL: Record<Component, string> = { etcd: 'etcd', 'kube-apiserver': 'kubeApiserver', 'kube-controller-manager': 'kubeControllerManager' };
const PHASES = ['add', 'reissue', 'finish'] as const;
/** The CAs rotated, by their `rotate-ca --ca` name, and the file that holds each (the old one before, the new one after). */
const CAS = [
  { name: 'cluster', file: 'pki/ca.crt' },
  { name: 'front-proxy', file: 'pki/front-proxy-ca.crt' },
  { name: 'etcd', file: 'pki/etcd/ca.crt' },
] as const;
type CaName = (typeof CAS)[number]['name'];
const INTERVAL_MS = 150;
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------------------
// Requests and the client loops

interface Tls {
  ca: string;
  cert?: string;
  key?: string;
}

/** A GET on a new connection (so each request verifies the server's certificate again); rejects unless 200. */
function get(url: string, tls: Tls, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, headers, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${res.statusCode}: ${body.replace(/\s+/g, ' ').slice(0, 200)}`))));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface Failure {
  readonly start: number;
  readonly end: number;
  readonly error: string;
  readonly phase: string;
}

class ClientLoop {
  requests = 0;
  readonly failures: Failure[] = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  constructor(
    readonly name: string,
    /** The components whose restart makes this client's requests fail: their windows excuse its failures, no other. */
    readonly dependsOn: readonly Component[],
    private readonly attempt: () => Promise<unknown>,
    private readonly phase: () => string,
  ) {}
  /** Waits until a request succeeds once: the authorizers' caches (RBAC, the Node graph) learn the new bindings after a delay. */
  async ready(): Promise<void> {
    await waitFor(`the ${this.name} client's first successful request`, async () => (await this.attempt(), true), 30);
  }
  start(): void {
    this.done = (async () => {
      while (!this.stopped) {
        const start = now();
        const phase = this.phase();
        try {
          await this.attempt();
        } catch (error) {
          this.failures.push({ start, end: now(), error: (error as Error).message, phase });
        }
        this.requests++;
        await sleep(INTERVAL_MS);
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

interface Window {
  readonly ca: CaName;
  readonly phase: string;
  readonly component: Component;
  readonly start: number;
  end: number;
}

// ---------------------------------------------------------------------------------------------------------------
// The directory: flag-named files, certificates in files, the old CAs nowhere

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** The DER (base64, no whitespace) of each certificate in a text: PEM blocks, and PEM inside base64 `*-data:` fields (kubeconfigs). */
function certificatesIn(text: string): string[] {
  const pems = [...(text.match(PEM_BLOCK) ?? [])];
  for (const m of text.matchAll(/[a-z-]+-data:\s*([A-Za-z0-9+/=]{40,})/g)) pems.push(...(Buffer.from(m[1]!, 'base64').toString().match(PEM_BLOCK) ?? []));
  return pems.map(derOf);
}
const derOf = (pem: string): string => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');

async function walk(root: string, skip: ReadonlySet<string>): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const path = join(root, entry.name);
    if (skip.has(entry.name)) continue;
    if (entry.isDirectory()) out.push(...(await walk(path, skip)));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** The files a component's arguments name (`--flag=/path` inside the directory), with their content. */
async function namedFiles(cp: ControlPlane, args: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const arg of args) {
    const value = arg.slice(arg.indexOf('=') + 1);
    if (!value.startsWith(cp.dir)) continue;
    const content = await readFile(value, 'utf8').catch(() => undefined); // a folder (--data-dir, --cert-dir) is no file
    if (content !== undefined) out.set(value, content);
  }
  return out;
}

const flagValue = (args: readonly string[], name: string): string => {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  if (!found) throw new Error(`no --${name} in ${args.join(' ')}`);
  return found.slice(name.length + 3);
};

/** The flags whose value differs between two argument lists, as `--flag=value-after` (empty: dropped), sorted. */
function flagDiff(before: readonly string[], after: readonly string[]): string[] {
  const map = (args: readonly string[]): Map<string, string> => new Map(args.map((a) => [a.split('=', 1)[0]!, a.slice(a.indexOf('=') + 1)]));
  const [was, now] = [map(before), map(after)];
  return [...new Set([...was.keys(), ...now.keys()])].filter((f) => was.get(f) !== now.get(f)).map((f) => `${f}=${now.get(f) ?? ''}`).sort();
}

/** A component's arguments and the content of the files they name: when it changes, the component is restarted. */
async function snapshot(cp: ControlPlane, component: Component): Promise<string> {
  const args = await cp.flagsFor(component);
  return JSON.stringify([args, [...(await namedFiles(cp, args))]]);
}

// ---------------------------------------------------------------------------------------------------------------

let cp: ControlPlane | undefined;

test('rotating the cluster, front-proxy and etcd CAs on the running control plane: no client fails outside the restarts, and the old CAs are gone', async () => {
  const began = now();
  cp = await startControlPlane('kubepki-rotation-');
  const { dir, apiserverUrl, etcdUrl } = cp;
  const file = (path: string): Promise<string> => readFile(join(dir, path), 'utf8');
  const problems: string[] = [];
  let phaseLabel = 'before';

  // --- Setup: admin.conf's group is cluster-admin; a Node, a ServiceAccount with a token; the controller-manager.
  const superAdminConf = parseKubeconfig(await file('super-admin.conf'));
  const superAdmin: KubeConnection = { server: apiserverUrl, ca: superAdminConf.caPem!, cert: superAdminConf.clientCertificatePem, key: superAdminConf.clientKeyPem };
  await kubeRequest(superAdmin, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'kubeadm:cluster-admins' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'kubeadm:cluster-admins' }],
  });
  /** admin.conf as it is now (setup and the operator's own calls). */
  const admin = async (): Promise<KubeConnection> => {
    const k = parseKubeconfig(await file('admin.conf'));
    return { server: apiserverUrl, ca: k.caPem!, cert: k.clientCertificatePem, key: k.clientKeyPem };
  };
  await waitFor('the default namespace', async () => Boolean(await kubeRequest(await admin(), 'GET', '/api/v1/namespaces/default')), 30);
  await kubeRequest(await admin(), 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1' } });
  await kubeRequest(await admin(), 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'rotator' } });
  await kubeRequest(await admin(), 'POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings', {
    metadata: { name: 'rotator-view' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
    subjects: [{ kind: 'ServiceAccount', name: 'rotator', namespace: 'default' }],
  });
  const tokenRequest = (await kubeRequest(await admin(), 'POST', '/api/v1/namespaces/default/serviceaccounts/rotator/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  })) as { status: { token: string } };
  const saToken = tokenRequest.status.token;
  const kcm = await startControllerManager(cp, 'csrsigning,root-ca-cert-publisher,serviceaccount-token');

  /** A node client certificate: the CSR created and approved by the operator (admin.conf), signed by the controller-manager. */
  let csrCount = 0;
  const nodeCertificate = async (): Promise<{ cert: string; key: string }> => {
    const keyPair = await generateKeyPair();
    const csr = await createCsr({ keyPair, subject: { commonName: 'system:node:node-1', organizations: ['system:nodes'] } });
    const name = `node-1-client-${++csrCount}`;
    const registry = kubernetesRegistry(await admin());
    await registry.create(csrObject(name, csr.pem, SIGNERS.kubeApiserverClientKubelet, ['digital signature', 'key encipherment', 'client auth']), { username: '', groups: [] });
    await registry.setApproval(name, { type: 'Approved', status: 'True', reason: 'KubepkiRotationTest', message: 'the node client certificate' });
    let issued: string | undefined;
    await waitFor(`the controller-manager's signature on ${name}`, async () => Boolean((issued = (await registry.get(name))?.status?.certificate)), 60, kcm);
    return { cert: Buffer.from(issued!, 'base64').toString(), key: await exportPrivateKeyPem(keyPair) };
  };

  // --- The clients' state, and when they re-read it (see the header).
  let adminText = '';
  let adminTls: Tls = { ca: '' };
  const node: Tls = { ca: await file('pki/ca.crt'), ...(await nodeCertificate()) };
  let rootCa = '';
  const frontProxy: Tls = { ca: '' };
  const etcdClient: Tls = { ca: '' };
  const atPhaseEnd = async (): Promise<void> => {
    // The node steps rotate-ca prints: at the cluster CA's add, the kubelet's kubeconfig gets bundles/client-ca-file.crt
    // (old and new CA); at its finish, pki/ca.crt (the new CA alone).
    if (phaseLabel === 'cluster/add') node.ca = await file('bundles/client-ca-file.crt');
    if (phaseLabel === 'cluster/finish') node.ca = await file('pki/ca.crt');
    const api = await cp!.flagsFor('kube-apiserver');
    const read = (flag: string): Promise<string> => readFile(flagValue(api, flag), 'utf8');
    // Every file is read before any client's state changes: the loops, which copy the state between these
    // awaits, must never take a new certificate with the old key (OpenSSL: key values mismatch).
    const [adminConf, proxyCert, proxyKey, etcdCa, etcdCert, etcdKey] = await Promise.all([
      file('admin.conf'),
      read('proxy-client-cert-file'),
      read('proxy-client-key-file'),
      read('etcd-cafile'),
      read('etcd-certfile'),
      read('etcd-keyfile'),
    ]);
    Object.assign(frontProxy, { ca: parseKubeconfig(adminConf).caPem!, cert: proxyCert, key: proxyKey });
    Object.assign(etcdClient, { ca: etcdCa, cert: etcdCert, key: etcdKey });
  };
  await atPhaseEnd();
  const readRootCa = async (): Promise<string> => {
    const cm = (await kubeRequest(await admin(), 'GET', '/api/v1/namespaces/default/configmaps/kube-root-ca.crt')) as { data?: Record<string, string> };
    return cm.data?.['ca.crt'] ?? '';
  };
  await waitFor('kube-root-ca.crt in default', async () => (rootCa = await readRootCa()) !== '', 30, kcm);

  const phase = (): string => phaseLabel;
  const API: readonly Component[] = ['etcd', 'kube-apiserver'];
  const loops = [
    new ClientLoop('admin', API, async () => {
      const text = await file('admin.conf');
      if (text !== adminText) {
        const k = parseKubeconfig(text);
        adminTls = { ca: k.caPem!, cert: k.clientCertificatePem, key: k.clientKeyPem };
        adminText = text;
      }
      return get(`${apiserverUrl}/api/v1/namespaces`, adminTls);
    }, phase),
    new ClientLoop('node', API, () => get(`${apiserverUrl}/api/v1/nodes/node-1`, { ...node }), phase),
    new ClientLoop('sa-token', API, () => get(`${apiserverUrl}/api/v1/namespaces/default/configmaps/kube-root-ca.crt`, { ca: rootCa }, { authorization: `Bearer ${saToken}` }), phase),
    new ClientLoop('front-proxy', API, () => get(`${apiserverUrl}/api/v1/namespaces`, { ...frontProxy }, { 'X-Remote-User': 'front-proxy-tester', 'X-Remote-Group': 'system:masters' }), phase),
    new ClientLoop('etcd', ['etcd'], () => get(`${etcdUrl}/health`, { ...etcdClient }), phase),
  ];
  // The projected volume: kube-root-ca.crt's content every second (a failed read keeps the last content).
  /** Every content kube-root-ca.crt had while the cluster CA's reissue phase ran (its certificates' DER, sorted). */
  const reissueRootCas = new Set<string>();
  let refreshing = true;
  const refresher = (async () => {
    while (refreshing) {
      rootCa = await readRootCa().catch(() => rootCa);
      if (phaseLabel === 'cluster/reissue') reissueRootCas.add(JSON.stringify(certificatesIn(rootCa).sort()));
      await sleep(1000);
    }
  })();

  const windows: Window[] = [];
  const figures: string[] = [];
  const rotated: { ca: CaName; oldDer: string; newDer: string }[] = [];
  /** kube-root-ca.crt's CAs as the sa-token client held them, sampled after each of the cluster CA's phases. */
  const rootCaSamples: { phase: string; ders: string[] }[] = [];
  const apiserverReady = async (): Promise<boolean> => {
    await get(`${apiserverUrl}/readyz`, { ca: parseKubeconfig(await file('admin.conf')).caPem! });
    return true;
  };
  /** Waits until the sa-token client's copy of kube-root-ca.crt is the bundle --root-ca-file names. */
  const rootCaPropagated = async (label: string): Promise<void> => {
    const wanted = await readFile(flagValue(await cp!.flagsFor('kube-controller-manager'), 'root-ca-file'), 'utf8');
    const same = (): boolean => JSON.stringify(certificatesIn(rootCa).sort()) === JSON.stringify(certificatesIn(wanted).sort());
    await waitFor(`kube-root-ca.crt after ${label}`, async () => same(), 30).catch(() =>
      problems.push(`${label}: kube-root-ca.crt never became the --root-ca-file bundle (${certificatesIn(wanted).length} CA(s)) within 30 s; it holds ${certificatesIn(rootCa).length}`),
    );
  };

  try {
    await Promise.all(loops.map((loop) => loop.ready()));
    for (const loop of loops) loop.start();
    await sleep(1000); // every client has requested before the first phase
    for (const ca of CAS) {
      const oldPem = await file(ca.file);
      // The search for the old CA below finds it where it is: in the kubeconfigs before the cluster CA's rotation.
      if (ca.name === 'cluster') assert.ok(certificatesIn(await file('admin.conf')).includes(derOf(oldPem)), 'admin.conf embeds the cluster CA before the rotation');
      for (const phaseName of PHASES) {
        phaseLabel = `${ca.name}/${phaseName}`;
        const before = new Map<Component, string>();
        for (const c of COMPONENTS) before.set(c, await snapshot(cp, c));
        const rotatedAt = now();
        const out = await runCli('rotate-ca', '--dir', dir, '--ca', ca.name, '--phase', phaseName, '--json');
        assert.is(out.code, 0, `rotate-ca --ca ${ca.name} --phase ${phaseName}: ${out.err}`);
        const printed = JSON.parse(out.out) as { changed: string[]; restart: string[]; flagChanges: { component: string; flag: string; after?: string }[]; nodeActions: string[] };
        const changed = printed.changed.map((p) => relative(dir, p));
        // The node client is pushed what the printed node steps name (see the header).
        const push = ca.name === 'cluster' ? { add: 'bundles/client-ca-file.crt', reissue: undefined, finish: 'pki/ca.crt' }[phaseName] : undefined;
        if (push && !printed.nodeActions.some((step) => step.includes(`certificate-authority-data`) && step.includes(join(dir, push)))) problems.push(`${phaseLabel}: the printed node steps do not say to set the kubelet kubeconfig's certificate-authority-data to ${push}: ${printed.nodeActions.join(' | ')}`);
        const phaseSeconds = (now() - rotatedAt) / 1000;
        await atPhaseEnd();
        const restarted: string[] = [];
        const flagsBefore = new Map<Component, string[]>();
        for (const c of COMPONENTS) flagsBefore.set(c, JSON.parse(before.get(c)!)[0] as string[]);
        for (const c of COMPONENTS) {
          // What rotate-ca printed for this component (its flags' names are camelCase) against what the judge sees change.
          const flagsNow = await cp.flagsFor(c);
          const seen = flagDiff(flagsBefore.get(c)!, flagsNow);
          const said = printed.flagChanges.filter((f) => f.component === CAMEL[c]).map((f) => `${f.flag}=${f.after ?? ''}`).sort();
          if (JSON.stringify(seen) !== JSON.stringify(said)) problems.push(`${phaseLabel}: rotate-ca printed ${c} flag changes [${said.join(' ')}], the flags changed by [${seen.join(' ')}]`);
          const mustRestart = (await snapshot(cp, c)) !== before.get(c);
          if (printed.restart.includes(CAMEL[c]) !== mustRestart) problems.push(`${phaseLabel}: rotate-ca ${mustRestart ? 'did not print' : 'printed'} ${c} among the components to restart, though its flags and flag-named files ${mustRestart ? 'changed' : 'did not change'}`);
          if (!mustRestart) continue;
          const window: Window = { ca: ca.name, phase: phaseName, component: c, start: now(), end: Infinity };
          windows.push(window);
          let seconds: number;
          try {
            seconds = await cp.restart(c);
          } catch (error) {
            // A component refusing the phase's flags or files is the finding; the rest cannot go on.
            throw new Error(`${phaseLabel}: ${c} did not come back with the phase's flags ${(await cp.flagsFor(c)).join(' ')}\n${(error as Error).message}`, { cause: error });
          }
          await waitFor('kube-apiserver after the restart', apiserverReady, 60);
          window.end = now();
          restarted.push(`${c} ${seconds.toFixed(1)}s (down ${((window.end - window.start) / 1000).toFixed(1)}s)`);
          const args = cp.runningFlags(c)!;
          assert.equal(c === 'kube-controller-manager' ? args.slice(0, -1) : args, await cp.flagsFor(c), `${c} runs the phase's flags`);
        }
        if (ca.name === 'cluster' && phaseName === 'reissue') {
          // The kubelet's certificate rotation, before the old CA goes: the controller-manager now signs with the new CA.
          const renewed = await nodeCertificate().catch((error: Error) => error);
          if (renewed instanceof Error) problems.push(`cluster/reissue: the node's client certificate renewal (a CSR through admin.conf) failed: ${renewed.message.split('\n')[0]}`);
          else {
            Object.assign(node, renewed);
            if (Certificate.from(renewed.cert).isIssuedBy(Certificate.from(oldPem))) problems.push('cluster/reissue: the controller-manager still signs node client certificates with the old cluster CA (--cluster-signing-cert-file)');
          }
        }
        if (ca.name === 'cluster') {
          await rootCaPropagated(phaseLabel);
          rootCaSamples.push({ phase: phaseName, ders: certificatesIn(rootCa) });
        }
        console.log(`  ${phaseLabel} done at ${((now() - began) / 1000).toFixed(0)}s`);
        figures.push(`${phaseLabel}: rotate-ca ${phaseSeconds.toFixed(1)}s, ${changed.length} file(s) changed, printed restart: ${printed.restart.join(', ') || 'nothing'}; restarted: ${restarted.join(', ') || 'none'}`);
        await sleep(1000); // the clients request against the phase's result before the next one
      }
      const newPem = await file(ca.file);
      assert.is.not(derOf(newPem), derOf(oldPem), `${ca.name}: ${ca.file} is a new CA after finish`);
      rotated.push({ ca: ca.name, oldDer: derOf(oldPem), newDer: derOf(newPem) });
    }
    phaseLabel = 'after';
    await sleep(1000);
  } finally {
    refreshing = false;
    await Promise.all(loops.map((l) => l.stop()));
    await refresher;
  }

  // --- The figures.
  const duringRestart = (loop: ClientLoop, f: Failure): Window | undefined => windows.find((w) => loop.dependsOn.includes(w.component) && f.start <= w.end && f.end >= w.start);
  console.log(`\nCA rotation on the running control plane (rotate-ca --ca cluster, front-proxy, etcd), ${((now() - began) / 1000).toFixed(0)}s in all`);
  for (const line of figures) console.log(`  ${line}`);
  const byPhase = new Map<string, number>();
  for (const w of windows) byPhase.set(`${w.ca}/${w.phase}`, (byPhase.get(`${w.ca}/${w.phase}`) ?? 0) + (w.end - w.start) / 1000);
  console.log(`  restart downtime per phase: ${[...byPhase].map(([p, s]) => `${p} ${s.toFixed(1)}s`).join(', ') || 'none'}`);
  console.log('  client        requests  failures  during-restarts  outside-restarts');
  for (const loop of loops) {
    const outside = loop.failures.filter((f) => !duringRestart(loop, f));
    console.log(`  ${loop.name.padEnd(12)} ${String(loop.requests).padStart(9)} ${String(loop.failures.length).padStart(9)} ${String(loop.failures.length - outside.length).padStart(16)} ${String(outside.length).padStart(17)}`);
    if (outside.length) {
      const firsts = new Map<string, Failure>();
      for (const f of outside) if (!firsts.has(f.phase)) firsts.set(f.phase, f);
      const count = (phase: string): number => outside.filter((f) => f.phase === phase).length;
      problems.push(`${loop.name}: ${outside.length} failure(s) outside the restarts: ${[...firsts.values()].map((f) => `${count(f.phase)} in ${f.phase}, first: ${f.error}`).join('; ')}`);
    }
  }

  // --- kube-root-ca.crt held both cluster CAs between add and finish, and only the new one after finish.
  const cluster = rotated.find((r) => r.ca === 'cluster');
  if (cluster) {
    const both = JSON.stringify([cluster.oldDer, cluster.newDer].sort());
    if (reissueRootCas.size === 0) problems.push('kube-root-ca.crt was never read during cluster/reissue');
    for (const content of reissueRootCas) if (content !== both) problems.push(`kube-root-ca.crt during cluster/reissue held ${(JSON.parse(content) as string[]).length} certificate(s), not the old and the new cluster CA`);
    for (const sample of rootCaSamples) {
      const want = sample.phase === 'finish' ? [cluster.newDer] : [cluster.oldDer, cluster.newDer];
      if (JSON.stringify([...sample.ders].sort()) !== JSON.stringify([...want].sort())) {
        const name = (d: string): string => (d === cluster.oldDer ? 'old' : d === cluster.newDer ? 'new' : 'other');
        problems.push(`kube-root-ca.crt after cluster/${sample.phase}: held [${sample.ders.map(name).join(', ')}], expected [${want.map(name).join(', ')}]`);
      }
    }
  }

  // --- The old CAs are in no bundle, kubeconfig or flag-named file (only in *-old.crt), nor in what the clients trust.
  const files = await walk(dir, new Set(['etcd-data', 'apiserver-certs', 'kcm-certs']));
  const flagNamed = new Set<string>();
  for (const c of COMPONENTS) for (const path of (await namedFiles(cp, cp.runningFlags(c) ?? [])).keys()) flagNamed.add(path);
  for (const path of flagNamed) if (!files.includes(path)) files.push(path);
  const clientTrust: [string, string][] = [['node CA data', node.ca], ['sa-token kube-root-ca.crt', rootCa], ['front-proxy CA', frontProxy.ca], ['etcd client CA', etcdClient.ca]];
  for (const { ca, oldDer } of rotated) {
    const holding: string[] = [];
    for (const path of files) {
      if (path.endsWith('-old.crt')) continue;
      if (certificatesIn(await readFile(path, 'utf8')).includes(oldDer)) holding.push(relative(dir, path));
    }
    for (const [what, pem] of clientTrust) if (certificatesIn(pem).includes(oldDer)) holding.push(what);
    if (holding.length) problems.push(`the old ${ca} CA is still in ${holding.join(', ')}`);
    for (const c of COMPONENTS) for (const arg of cp.runningFlags(c) ?? []) if (/-old\.(crt|key)$/.test(arg)) problems.push(`${c} still names ${arg}`);
  }
  for (const p of problems) console.log(`  PROBLEM ${p}`);
  assert.equal(problems, [], problems.join('\n'));
});

test.after(async () => {
  if (cp) await cp.stop();
});

test.run();
