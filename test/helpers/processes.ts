import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireJudge } from './judge-packages.js';

/** A free TCP port on 127.0.0.1 (asked of the kernel with port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A background server process whose output is kept for failure messages and which is killed by `stop`. */
export interface Daemon {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

export function startDaemon(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Daemon {
  requireJudge(file);
  const child = spawn(file, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let log = '';
  const keep = (chunk: Buffer): void => {
    log = (log + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  return {
    child,
    output: () => log,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

export interface TlsOptions {
  ca: string;
  cert?: string;
  key?: string;
}

/** GET over HTTPS with the given trust and identity; resolves with the status and body. */
export function httpsGet(url: string, tls: TlsOptions, timeout = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', ca: tls.ca, cert: tls.cert, key: tls.key, timeout }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Polls `check` until it returns true or `seconds` pass; the daemon's output is in the error. */
export async function waitFor(what: string, check: () => Promise<boolean>, seconds: number, daemon?: Daemon): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (daemon && daemon.child.exitCode !== null) throw new Error(`${what}: the process exited ${daemon.child.exitCode}\n${daemon.output()}`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not ready after ${seconds}s\n${daemon?.output() ?? ''}`);
}

/** The folder with kube-apiserver, kube-controller-manager, kubectl and the kubelet built from Debian's source (built once, cached). */
export async function kubeBinaries(): Promise<string> {
  const script = fileURLToPath(new URL('../interop/kube/build.sh', import.meta.url));
  const { stdout } = await promisify(execFile)(script, [], { timeout: 30 * 60_000, maxBuffer: 64 << 20 });
  return stdout.trim().split('\n').pop()!;
}
