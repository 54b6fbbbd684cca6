// The real control plane the kube interop tests share: Debian's etcd and kube-apiserver 1.20.2 (built by
// build.sh) on 127.0.0.1 with the files `kubepki init` wrote, in a temp folder; kube-controller-manager on demand.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { componentFlags, planCluster, type ClusterPlan } from '../../../lib/index.js';
import { main } from '../../../lib/cli.js';
import { freePort, httpsGet, kubeBinaries, startDaemon, waitFor, type Daemon } from '../../helpers/processes.js';

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
