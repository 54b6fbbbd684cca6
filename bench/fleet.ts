// A fleet of N kubelets bootstrapping through the embedded registry in one process. Each node makes a
// client key and CSR (as a bootstrapper), then a serving key and CSR (as itself); the approver and the two
// signers handle them; every pair lands in the node's file store. The nodes' own work (keys, CSRs, file
// store) and the signers' share one worker pool; the registry and the approver run in the main thread.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createWorkerPool,
  csrObject,
  memoryRegistry,
  nodeSubject,
  SIGNERS,
  startApprover,
  startSigner,
  type CertificateAuthority,
  type KeyPair,
  type KeyUsage,
} from '../dist/index.js';

export interface FleetResult {
  readonly nodes: number;
  readonly certificates: number;
  readonly ms: number;
  readonly peakRssMb: number;
}

const CLIENT_USAGES: KeyUsage[] = ['digital signature', 'client auth'];
const SERVING_USAGES: KeyUsage[] = ['digital signature', 'key encipherment', 'server auth'];
const NODE_SIDE = new URL('./fleet-node.mjs', import.meta.url);
const address = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

interface Prepared {
  name: string;
  csrPem: string;
  keyPair: KeyPair;
}

export async function bootstrapFleet(
  ca: CertificateAuthority,
  nodes: number,
  dir: string,
  options: { workers: number; nodesPerBatch?: number; batchesInFlight?: number; onProgress?: (done: number) => void },
): Promise<FleetResult> {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const started = performance.now();
  const registry = await memoryRegistry();
  const pool = createWorkerPool(options.workers);
  // One watch resolves every node's wait: thousands of per-node watches would each see every event.
  const waiting = new Map<string, { resolve(pem: string): void; reject(error: Error): void }>();
  const stopWatch = await registry.watch(({ object }) => {
    const waiter = waiting.get(object.metadata.name);
    if (!waiter) return;
    const failed = object.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
    if (failed) waiter.reject(new Error(`${object.metadata.name}: ${failed.type} ${failed.message ?? ''}`));
    else if (object.status?.certificate) waiter.resolve(Buffer.from(object.status.certificate, 'base64').toString());
    if (failed || object.status?.certificate) waiting.delete(object.metadata.name);
  });
  const signing = { ca, pool, onError: (error: unknown) => console.error(error) };
  const controllers = [
    await startApprover(registry, { nodeAddresses: (name) => ({ dns: [name], ips: [address(Number(name.slice(5)))] }) }),
    await startSigner(registry, { ...signing, signerName: SIGNERS.kubeApiserverClientKubelet }),
    await startSigner(registry, { ...signing, signerName: SIGNERS.kubeletServing }),
  ];
  const submit = async (prepared: Prepared[], signerName: string, usages: KeyUsage[], requester: (i: number) => { username: string; groups: string[] }): Promise<string[]> =>
    Promise.all(
      prepared.map(async ({ name, csrPem }, i) => {
        const issued = new Promise<string>((resolve, reject) => waiting.set(name, { resolve, reject }));
        await registry.create(csrObject(name, csrPem, signerName, usages), requester(i));
        return issued;
      }),
    );
  const batchSize = options.nodesPerBatch ?? 32;
  let next = 0;
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: options.batchesInFlight ?? 8 }, async () => {
        for (let first = next; first < nodes; first = next) {
          next += batchSize;
          const indexes = Array.from({ length: Math.min(batchSize, nodes - first) }, (_, k) => first + k);
          const names = indexes.map((i) => `node-${i}`);
          const certDirs = names.map((name) => join(dir, name));
          await Promise.all(certDirs.map((certDir) => mkdir(certDir, { recursive: true })));
          const subjects = names.map(nodeSubject);
          const bootstrapper = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
          const clients = await pool.call<Prepared[]>(NODE_SIDE, 'prepareRequests', [subjects.map((subject) => ({ subject, sans: {}, usages: CLIENT_USAGES }))]);
          const clientPems = await submit(clients, SIGNERS.kubeApiserverClientKubelet, CLIENT_USAGES, () => bootstrapper);
          const store = (prefix: string, prepared: Prepared[], pems: string[]): Promise<void> =>
            pool.call(NODE_SIDE, 'storePairs', [prepared.map((p, k) => ({ certDir: certDirs[k], prefix, certificatePem: pems[k], keyPair: p.keyPair }))]);
          const [servings] = await Promise.all([
            pool.call<Prepared[]>(NODE_SIDE, 'prepareRequests', [
              subjects.map((subject, k) => ({ subject, sans: { dns: [names[k]], ips: [address(indexes[k]!)] }, usages: SERVING_USAGES })),
            ]),
            store('kubelet-client', clients, clientPems),
          ]);
          const servingPems = await submit(servings, SIGNERS.kubeletServing, SERVING_USAGES, (k) => ({ username: subjects[k]!.commonName, groups: ['system:nodes', 'system:authenticated'] }));
          await store('kubelet-server', servings, servingPems);
          done += indexes.length;
          options.onProgress?.(done);
        }
      }),
    );
  } finally {
    for (const controller of controllers) controller.stop();
    stopWatch();
    await pool.close();
    clearInterval(sampler);
  }
  const ms = performance.now() - started;
  return { nodes, certificates: 2 * nodes, ms, peakRssMb: Math.max(peakRss, process.memoryUsage.rss()) / 1024 / 1024 };
}
