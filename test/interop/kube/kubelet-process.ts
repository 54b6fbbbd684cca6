// A real kubelet (1.20.2 from build.sh) as a node of the real control plane of cluster.ts, without a container
// runtime: its CRI socket is a stand-in (cri-standin/) that answers Version (runtime API v1alpha2) and
// UNIMPLEMENTED to every other call, so the kubelet gets past its runtime set-up, registers its Node, serves on 127.0.0.1 and requests
// its serving certificate, but never sees a ready runtime: it starts no container, and never reaches the
// runtime-dependent set-up (cgroups, kernel tunables) that a ready runtime would trigger.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from '../../helpers/processes.js';

export interface KubeletProcess {
  readonly folder: string;
  readonly port: number;
  readonly child: ChildProcess;
  log(): string;
  /** Stops the kubelet by its pid, closes the CRI stand-in and unmounts what the kubelet mounted under its root dir. */
  stop(): Promise<void>;
}

/** The CRI stand-in (cri-standin/main.go, built by its build.sh) on a Unix socket; its stdout lists the calls. */
async function runtimeStandIn(path: string): Promise<{ calls: () => string[]; close: () => Promise<void> }> {
  const { stdout: built } = await promisify(execFile)(fileURLToPath(new URL('./cri-standin/build.sh', import.meta.url)), [], { timeout: 10 * 60_000 });
  const child = spawn(built.trim().split('\n').pop()!, [path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-100_000)));
  child.stderr!.on('data', (chunk: Buffer) => (out = (out + chunk.toString()).slice(-100_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100 && !(await stat(path).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    calls: () => out.split('\n').filter(Boolean),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/**
 * The kubelet's flags that keep it off the machine: no swap check, no cgroups of its own, no iptables chains,
 * no device plugins, its OOM score left alone, its servers on 127.0.0.1 only (the read-only and healthz ports off).
 */
export const KUBELET_SANDBOX_FLAGS: readonly string[] = [
  '--fail-swap-on=false',
  '--cgroups-per-qos=false',
  '--enforce-node-allocatable=',
  '--make-iptables-util-chains=false',
  '--feature-gates=DevicePlugins=false',
  '--oom-score-adj=0',
  '--address=127.0.0.1',
  '--read-only-port=0',
  '--healthz-port=0',
  '--v=2',
];

/** Unmounts whatever the kubelet mounted under `root` (deepest first), as `umount` would by hand. */
export async function unmountUnder(root: string): Promise<string[]> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((point): point is string => point !== undefined && (point === root || point.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await new Promise<void>((resolve) => spawn('umount', [point], { stdio: 'ignore' }).once('exit', () => resolve()));
  return mounts;
}

export interface NodeKubeletOptions {
  /** The kubelet binary. */
  readonly kubelet: string;
  readonly folder: string;
  /** Its kubeconfig (a node client certificate for system:node:<nodeName>). */
  readonly kubeconfig: string;
  /** The CA of the clients it accepts (the apiserver-kubelet-client's). */
  readonly clientCaFile: string;
  readonly nodeName: string;
}

/**
 * The kubelet as a node: its kubeconfig, --rotate-server-certificates (a kubelet-serving CSR once its Node has an
 * address), its server on 127.0.0.1 on a free port, everything it writes under `folder`.
 */
export async function startNodeKubelet(options: NodeKubeletOptions): Promise<KubeletProcess> {
  const { folder } = options;
  await mkdir(join(folder, 'pki'), { recursive: true });
  const runtime = await runtimeStandIn(join(folder, 'cri.sock'));
  const port = await freePort();
  const args = [
    `--kubeconfig=${options.kubeconfig}`,
    `--cert-dir=${join(folder, 'pki')}`,
    `--root-dir=${join(folder, 'root')}`,
    `--volume-plugin-dir=${join(folder, 'volume-plugins')}`,
    `--hostname-override=${options.nodeName}`,
    `--client-ca-file=${options.clientCaFile}`,
    '--rotate-server-certificates',
    '--container-runtime=remote',
    `--container-runtime-endpoint=unix://${join(folder, 'cri.sock')}`,
    '--runtime-request-timeout=30s',
    ...KUBELET_SANDBOX_FLAGS,
    `--port=${port}`,
  ];
  const child = spawn(options.kubelet, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (chunk: Buffer): void => {
    if (log.length < 8 << 20) log += chunk.toString();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    folder,
    port,
    child,
    log: () => `${log}\n[cri calls] ${[...new Set(runtime.calls())].join(' ')}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
      await runtime.close();
      await unmountUnder(join(folder, 'root'));
    },
  };
}
