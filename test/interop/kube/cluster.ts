// The real control plane the kube interop tests share: Debian's etcd and kube-apiserver 1.20.2 (built by
// build.sh) on 127.0.0.1 with the files `kubepki init` wrote, in a temp folder; kube-controller-manager on demand.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as assert from 'uvu/assert';
import {
  bootstrapRbacManifests,
  caPublicKeyPin,
  Certificate,
  clusterInfoConfigMap,
  clusterInfoRbacManifests,
  componentFlags,
  parseKubeconfig,
  planCluster,
  type ClusterPlan,
} from '../../../lib/index.js';
import { kubeRequest, type KubeConnection } from '../../../lib/bootstrap/kube-client.js';
import { CLUSTER_INFO_PATH, clusterInfoKubeconfig } from '../../../lib/bootstrap/token.js';
import { main } from '../../../lib/cli.js';
import { freePort, httpsGet, kubeBinaries, startDaemon, waitFor, type Daemon } from '../../helpers/processes.js';

const run = promisify(execFile);

export interface ControlPlane {
  readonly dir: string;
  readonly plan: ClusterPlan;
  /** The folder of the cached Kubernetes binaries. */
  readonly bin: string;
  readonly apiPort: number;
  readonly apiserverUrl: string;
  readonly etcdUrl: string;
  /** Every process started for this control plane (the controller-manager too); `stop` ends them by pid. */
  readonly daemons: Daemon[];
  file(path: string): Promise<string>;
  /** Stops every daemon and removes the folder. */
  stop(): Promise<void>;
}

/** `kubepki init` in a new temp folder (named `prefix…`), then etcd and kube-apiserver on free 127.0.0.1 ports, ready. */
export async function startControlPlane(prefix: string): Promise<ControlPlane> {
  const bin = await kubeBinaries();
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const daemons: Daemon[] = [];
  const file = (path: string): Promise<string> => readFile(join(dir, path), 'utf8');
  const stop = async (): Promise<void> => {
    await Promise.all(daemons.map((d) => d.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [apiPort, etcdPort, peerPort] = [await freePort(), await freePort(), await freePort()];
    // The files are the ones the `kubepki init` command writes.
    const quiet = { out: () => undefined, err: () => undefined };
    const code = await main(['init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '127.0.0.1', '--apiserver-bind-port', String(apiPort), '--no-konnectivity'], quiet);
    assert.is(code, 0);
    const plan = planCluster({ nodeName: 'cp-1', advertiseAddress: '127.0.0.1', apiServerPort: apiPort, konnectivity: false });
    const flags = componentFlags(plan, { dir, etcdClientPort: etcdPort, etcdPeerPort: peerPort });
    const etcdUrl = `https://127.0.0.1:${etcdPort}`;
    const etcdFlags = flags.etcd.map((f) => (f.startsWith('--listen-client-urls=') ? `--listen-client-urls=${etcdUrl}` : f));
    const etcd = startDaemon('etcd', [...etcdFlags, `--data-dir=${join(dir, 'etcd-data')}`, '--log-level=warn']);
    daemons.push(etcd);
    const client = { ca: await file('pki/etcd/ca.crt'), cert: await file('pki/apiserver-etcd-client.crt'), key: await file('pki/apiserver-etcd-client.key') };
    await waitFor('etcd', async () => (await httpsGet(`${etcdUrl}/health`, client)).status === 200, 30, etcd);
    const apiserver = startDaemon(join(bin, 'kube-apiserver'), [...flags.kubeApiserver, '--bind-address=127.0.0.1', '--insecure-port=0', `--cert-dir=${join(dir, 'apiserver-certs')}`]);
    daemons.push(apiserver);
    const apiserverUrl = `https://127.0.0.1:${apiPort}`;
    const ca = await file('pki/ca.crt');
    await waitFor('kube-apiserver', async () => (await httpsGet(`${apiserverUrl}/readyz`, { ca })).status === 200, 90, apiserver);
    return { dir, plan, bin, apiPort, apiserverUrl, etcdUrl, daemons, file, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * kube-controller-manager with controller-manager.conf and the plan's flags, on a free 127.0.0.1 port, the given
 * `--controllers` after the plan's (pflag appends a repeated list flag); resolves once /healthz answers. The daemon joins `cp.daemons`.
 */
export async function startControllerManager(cp: ControlPlane, controllers: string): Promise<Daemon> {
  const port = await freePort();
  const flags = componentFlags(cp.plan, { dir: cp.dir });
  const certDir = join(cp.dir, 'kcm-certs');
  const kcm = startDaemon(join(cp.bin, 'kube-controller-manager'), [
    ...flags.kubeControllerManager,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    '--port=0',
    '--leader-elect=false',
    `--cert-dir=${certDir}`,
    `--controllers=${controllers}`,
  ]);
  cp.daemons.push(kcm);
  await waitFor('kube-controller-manager serving certificate', async () => (await readFile(join(certDir, 'kube-controller-manager.crt'))).length > 0, 60, kcm);
  const kcmCa = await readFile(join(certDir, 'kube-controller-manager.crt'), 'utf8');
  await waitFor('kube-controller-manager', async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, { ca: kcmCa })).status === 200, 60, kcm);
  return kcm;
}

/** A control plane as kubeadm init leaves it for joining nodes, and the handles the join tests use. */
export interface JoinableCluster {
  readonly cp: ControlPlane;
  /** super-admin.conf's credentials (system:masters). */
  readonly superAdmin: KubeConnection;
  readonly kcm: Daemon;
  /** The cluster CA's pin, `sha256:…`. */
  readonly pin: string;
  /** `127.0.0.1:PORT` of kube-apiserver. */
  readonly endpoint: string;
  readonly adminConf: string;
  /** kubeadm 1.20.2 from the cache with these arguments; its stdout, or the failure with its output. */
  runKubeadm(...args: string[]): Promise<string>;
  /** Waits until the bootstrapsigner has signed cluster-info for token `id`; resolves with the seconds it took. */
  signedFor(id: string): Promise<number>;
}

/**
 * A control plane with the parts of kubeadm init a joining node meets: admin.conf's group bound to cluster-admin,
 * the TLS bootstrap RBAC, and, as kubeadm's bootstrap-token phase (clusterinfo.go) makes them, cluster-info with
 * the CA-only kubeconfig and no signature plus the Role letting system:anonymous GET it; then
 * kube-controller-manager with every default controller plus bootstrapsigner and tokencleaner, as kubeadm runs it.
 */
export async function startJoinableCluster(prefix: string): Promise<JoinableCluster> {
  const cp = await startControlPlane(prefix);
  const ca = await cp.file('pki/ca.crt');
  const sa = parseKubeconfig(await cp.file('super-admin.conf'));
  const superAdmin: KubeConnection = { server: cp.apiserverUrl, ca, cert: sa.clientCertificatePem, key: sa.clientKeyPem };
  const post = (path: string, body: unknown): Promise<unknown> => kubeRequest(superAdmin, 'POST', path, body);
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name: 'kubeadm:cluster-admins' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'kubeadm:cluster-admins' }],
  });
  for (const binding of bootstrapRbacManifests()) await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding);
  // kube-apiserver makes the kube-public namespace a moment after it starts serving.
  await waitFor('the kube-public namespace', async () => Boolean(await kubeRequest(superAdmin, 'GET', '/api/v1/namespaces/kube-public')), 30);
  await post('/api/v1/namespaces/kube-public/configmaps', clusterInfoConfigMap(clusterInfoKubeconfig(cp.apiserverUrl, ca), []));
  const [role, roleBinding] = clusterInfoRbacManifests();
  await post('/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/roles', role);
  await post('/apis/rbac.authorization.k8s.io/v1/namespaces/kube-public/rolebindings', roleBinding);
  const kcm = await startControllerManager(cp, '*,bootstrapsigner,tokencleaner');
  const kubeadm = join(cp.bin, 'kubeadm');
  return {
    cp,
    superAdmin,
    kcm,
    pin: caPublicKeyPin(Certificate.from(ca)),
    endpoint: `127.0.0.1:${cp.apiPort}`,
    adminConf: join(cp.dir, 'admin.conf'),
    runKubeadm: async (...args) => {
      try {
        return (await run(kubeadm, args, { timeout: 60_000, maxBuffer: 16 << 20, env: { ...process.env, KUBECONFIG: '' } })).stdout;
      } catch (error) {
        const e = error as { stdout?: string; stderr?: string; message: string };
        throw new Error(`kubeadm ${args.join(' ')}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, { cause: error });
      }
    },
    signedFor: async (id) => {
      const started = performance.now();
      await waitFor(
        `the bootstrapsigner's jws-kubeconfig-${id} in cluster-info`,
        async () => Boolean(((await kubeRequest(superAdmin, 'GET', CLUSTER_INFO_PATH)) as { data?: Record<string, string> }).data?.[`jws-kubeconfig-${id}`]),
        60,
        kcm,
      );
      return (performance.now() - started) / 1000;
    },
  };
}
