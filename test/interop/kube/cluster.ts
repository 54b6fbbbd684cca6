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
import { readRotation } from '../../../lib/cluster/rotation-state.js';
import { freePort, httpsGet, kubeBinaries, startDaemon, waitFor, type Daemon } from '../../helpers/processes.js';

const run = promisify(execFile);

/** The control-plane processes a test can restart. */
export type Component = 'etcd' | 'kube-apiserver' | 'kube-controller-manager';

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
  /**
   * The arguments `component` gets from the directory as it is now: componentFlags for the directory (which
   * follows a CA rotation in progress), plus this cluster's own (loopback ports, data and cert folders).
   */
  flagsFor(component: Component): Promise<string[]>;
  /** The arguments the running process of `component` was started with; undefined when it is not running. */
  runningFlags(component: Component): readonly string[] | undefined;
  /**
   * Stops `component`'s process by pid, starts it again with flagsFor(component) and waits until it is healthy
   * (kube-apiserver: /readyz, trusting admin.conf's CA data; etcd: /health with kube-apiserver's etcd client
   * files; kube-controller-manager: /healthz); resolves with the seconds from the stop to healthy.
   */
  restart(component: Component): Promise<number>;
  /** Stops every daemon and removes the folder. */
  stop(): Promise<void>;
}

/** What startControllerManager and restart share: the running process of each component and its arguments. */
interface Running {
  start(component: Component): Promise<Daemon>;
  readonly processes: Map<Component, { daemon: Daemon; args: readonly string[] }>;
  /** kube-controller-manager's --controllers, set by startControllerManager. */
  controllers?: string;
}
const running = new WeakMap<ControlPlane, Running>();

export interface ControlPlaneOptions {
  /** `kubepki init` issues the Konnectivity certificates and writes the EgressSelectorConfiguration. Default false. */
  readonly konnectivity?: boolean;
  /** Changes kube-apiserver's arguments at each start (called again on a restart, so it may change its answer). */
  readonly apiserverArgs?: (args: string[]) => string[];
}

/** `kubepki init` in a new temp folder (named `prefix…`), then etcd and kube-apiserver on free 127.0.0.1 ports, ready. */
export async function startControlPlane(prefix: string, options: ControlPlaneOptions = {}): Promise<ControlPlane> {
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
    const code = await main(['init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '127.0.0.1', '--apiserver-bind-port', String(apiPort), ...(options.konnectivity ? [] : ['--no-konnectivity'])], quiet);
    assert.is(code, 0);
    const plan = planCluster({ nodeName: 'cp-1', advertiseAddress: '127.0.0.1', apiServerPort: apiPort, konnectivity: options.konnectivity === true });
    const etcdUrl = `https://127.0.0.1:${etcdPort}`;
    const apiserverUrl = `https://127.0.0.1:${apiPort}`;
    const processes: Running['processes'] = new Map();
    const state: Running = { processes, start: (component) => start(component) };
    const flagsFor = async (component: Component): Promise<string[]> => {
      const flags = componentFlags(plan, { dir, etcdClientPort: etcdPort, etcdPeerPort: peerPort, rotation: await readRotation(dir) });
      if (component === 'etcd') return [...flags.etcd.map((f) => (f.startsWith('--listen-client-urls=') ? `--listen-client-urls=${etcdUrl}` : f)), `--data-dir=${join(dir, 'etcd-data')}`, '--log-level=warn'];
      if (component === 'kube-apiserver') {
        const args = [...flags.kubeApiserver, '--bind-address=127.0.0.1', '--insecure-port=0', `--cert-dir=${join(dir, 'apiserver-certs')}`];
        return options.apiserverArgs ? options.apiserverArgs(args) : args;
      }
      // The port is chosen at each start (see start); --controllers after the plan's (pflag appends a repeated list flag).
      return [...flags.kubeControllerManager, '--bind-address=127.0.0.1', '--port=0', '--leader-elect=false', `--cert-dir=${join(dir, 'kcm-certs')}`, ...(state.controllers ? [`--controllers=${state.controllers}`] : [])];
    };
    const flagValue = (flags: readonly string[], name: string): string => flags.find((f) => f.startsWith(`--${name}=`))!.slice(name.length + 3);
    const start = async (component: Component): Promise<Daemon> => {
      const args = await flagsFor(component);
      if (component === 'etcd') {
        const etcd = startDaemon('etcd', args);
        processes.set(component, { daemon: etcd, args });
        daemons.push(etcd);
        const api = await flagsFor('kube-apiserver');
        const read = (name: string): Promise<string> => readFile(flagValue(api, name), 'utf8');
        await waitFor('etcd', async () => (await httpsGet(`${etcdUrl}/health`, { ca: await read('etcd-cafile'), cert: await read('etcd-certfile'), key: await read('etcd-keyfile') })).status === 200, 30, etcd);
        return etcd;
      }
      if (component === 'kube-apiserver') {
        const apiserver = startDaemon(join(bin, 'kube-apiserver'), args);
        processes.set(component, { daemon: apiserver, args });
        daemons.push(apiserver);
        await waitFor('kube-apiserver', async () => (await httpsGet(`${apiserverUrl}/readyz`, { ca: parseKubeconfig(await file('admin.conf')).caPem! })).status === 200, 90, apiserver);
        return apiserver;
      }
      const port = await freePort();
      const kcmArgs = [...args, `--secure-port=${port}`];
      const certDir = join(dir, 'kcm-certs');
      const kcm = startDaemon(join(bin, 'kube-controller-manager'), kcmArgs);
      processes.set(component, { daemon: kcm, args: kcmArgs });
      daemons.push(kcm);
      await waitFor('kube-controller-manager serving certificate', async () => (await readFile(join(certDir, 'kube-controller-manager.crt'))).length > 0, 60, kcm);
      const kcmCa = await readFile(join(certDir, 'kube-controller-manager.crt'), 'utf8');
      await waitFor('kube-controller-manager', async () => (await httpsGet(`https://127.0.0.1:${port}/healthz`, { ca: kcmCa })).status === 200, 60, kcm);
      return kcm;
    };
    const restart = async (component: Component): Promise<number> => {
      const started = performance.now();
      const current = processes.get(component);
      if (current) {
        processes.delete(component);
        await current.daemon.stop();
        daemons.splice(daemons.indexOf(current.daemon), 1);
      }
      await start(component);
      return (performance.now() - started) / 1000;
    };
    const cp: ControlPlane = {
      dir,
      plan,
      bin,
      apiPort,
      apiserverUrl,
      etcdUrl,
      daemons,
      file,
      flagsFor,
      runningFlags: (component) => processes.get(component)?.args,
      restart,
      stop,
    };
    running.set(cp, state);
    await start('etcd');
    await start('kube-apiserver');
    return cp;
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
  const state = running.get(cp)!;
  state.controllers = controllers;
  return state.start('kube-controller-manager');
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
  // The RBAC authorizer learns these bindings a moment after they are written (403 until then): the cluster is ready
  // once admin.conf's group acts as cluster-admin and an anonymous client may GET cluster-info.
  const admin = parseKubeconfig(await cp.file('admin.conf'));
  const adminConnection: KubeConnection = { server: cp.apiserverUrl, ca, cert: admin.clientCertificatePem, key: admin.clientKeyPem };
  await waitFor("admin.conf's group bound to cluster-admin", async () => Boolean(await kubeRequest(adminConnection, 'GET', '/api/v1/namespaces/kube-system/secrets')), 30);
  await waitFor('cluster-info readable by system:anonymous', async () => (await httpsGet(`${cp.apiserverUrl}${CLUSTER_INFO_PATH}`, { ca })).status === 200, 30);
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
