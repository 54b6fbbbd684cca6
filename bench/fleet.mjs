// A fleet of N kubelets bootstrapping through the embedded registry, measured in a process of its own
// (plain JavaScript over dist/, so that its peak RSS is the fleet's alone):
//   node bench/fleet.mjs 5000 [--workers 2] [--dir DIR]   -> one line of JSON
//   node bench/fleet.mjs 5000 --store-only [--dir DIR]    -> the file stores alone: the disk's share
// Each node makes a client key and CSR (as a bootstrapper), then a serving key and CSR (as itself); the
// approver and the two signers handle them; every pair lands in the node's file store, which makes the
// node's folder as the kubelet's does. The nodes' own work (keys, CSRs, file store) and the signers share
// one worker pool; the registry and the approver run in the main thread.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  createCertificateAuthority,
  generateKeyPair,
  issueCertificate,
  memoryRegistry,
  nodeSubject,
  PROFILES,
  startApprover,
  startSigner,
  storeCertificatePair,
} from '../dist/index.js';
import { createWorkerPool } from '../dist/workers/pool.js';
import { csrObject, SIGNERS } from '../dist/bootstrap/csr-object.js';

const CLIENT_USAGES = ['digital signature', 'client auth'];
const SERVING_USAGES = ['digital signature', 'key encipherment', 'server auth'];
const NODE_SIDE = new URL('./fleet-node.mjs', import.meta.url);
const address = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** Bootstraps `nodes` kubelets with `ca` into `dir`; resolves to { nodes, certificates, ms, peakRssMb }. */
export async function bootstrapFleet(ca, nodes, dir, { workers = 2, nodesPerBatch = 32, batchesInFlight = 8, onProgress } = {}) {
  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const started = performance.now();
  // One bootstrap token for the whole fleet: no cap on its pending CSRs.
  const registry = await memoryRegistry({ maxPendingPerRequester: Infinity });
  const pool = createWorkerPool(workers);
  // One watch resolves every node's wait: thousands of per-node watches would each see every event.
  const waiting = new Map();
  const stopWatch = await registry.watch(({ object }) => {
    const waiter = waiting.get(object.metadata.name);
    if (!waiter) return;
    const failed = object.status?.conditions?.find((c) => c.type === 'Denied' || c.type === 'Failed');
    if (failed) waiter.reject(new Error(`${object.metadata.name}: ${failed.type} ${failed.message ?? ''}`));
    else if (object.status?.certificate) waiter.resolve(Buffer.from(object.status.certificate, 'base64').toString());
    if (failed || object.status?.certificate) waiting.delete(object.metadata.name);
  });
  const signing = { issuer: ca, pool, onError: (error) => console.error(error) };
  const controllers = [
    await startApprover(registry, { nodeAddresses: (name) => ({ dns: [name], ips: [address(Number(name.slice(5)))] }) }),
    await startSigner(registry, { ...signing, signerName: SIGNERS.kubeApiserverClientKubelet }),
    await startSigner(registry, { ...signing, signerName: SIGNERS.kubeletServing }),
  ];
  const submit = (prepared, signerName, usages, requester) =>
    Promise.all(
      prepared.map(async ({ name, csrPem }, i) => {
        const issued = new Promise((resolve, reject) => waiting.set(name, { resolve, reject }));
        await registry.create(csrObject(name, csrPem, signerName, usages), requester(i));
        return issued;
      }),
    );
  let next = 0;
  let done = 0;
  try {
    await Promise.all(
      Array.from({ length: batchesInFlight }, async (_, lane) => {
        // A batch's kubelets live in one worker, which keeps their keys between the calls.
        const inWorker = { worker: lane % workers };
        for (let first = next; first < nodes; first = next) {
          next += nodesPerBatch;
          const indexes = Array.from({ length: Math.min(nodesPerBatch, nodes - first) }, (_, k) => first + k);
          const names = indexes.map((i) => `node-${i}`);
          const certDirs = names.map((name) => join(dir, name));
          const subjects = names.map((name) => nodeSubject(name));
          const bootstrapper = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
          const clients = await pool.call(NODE_SIDE, 'prepareRequests', [subjects.map((subject) => ({ subject, sans: {}, usages: CLIENT_USAGES }))], inWorker);
          const clientPems = await submit(clients, SIGNERS.kubeApiserverClientKubelet, CLIENT_USAGES, () => bootstrapper);
          const store = (prefix, prepared, pems) =>
            pool.call(NODE_SIDE, 'storePairs', [prepared.map((p, k) => ({ certDir: certDirs[k], prefix, certificatePem: pems[k], name: p.name }))], inWorker);
          const [servings] = await Promise.all([
            pool.call(NODE_SIDE, 'prepareRequests', [subjects.map((subject, k) => ({ subject, sans: { dns: [names[k]], ips: [address(indexes[k])] }, usages: SERVING_USAGES }))], inWorker),
            store('kubelet-client', clients, clientPems),
          ]);
          const servingPems = await submit(servings, SIGNERS.kubeletServing, SERVING_USAGES, (k) => ({ username: subjects[k].commonName, groups: ['system:nodes', 'system:authenticated'] }));
          await store('kubelet-server', servings, servingPems);
          done += indexes.length;
          onProgress?.(done);
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
  return { nodes, certificates: 2 * nodes, ms, peakRssMb: Math.max(peakRss, process.memoryUsage.rss()) / 1048576 };
}

/**
 * The floor the disk sets: the fleet's 2 x `nodes` pairs written to the same kind of node folders by
 * storeCertificatePair (each write flushed, then its folder), 64 at a time, with no crypto beside them.
 */
export async function storeFloor(ca, nodes, dir) {
  const keyPair = await generateKeyPair();
  const { pem } = await issueCertificate({ issuer: ca, profile: PROFILES.kubeletClient, subject: nodeSubject('node-0'), publicKey: keyPair.publicKey });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let i = next++; i < 2 * nodes; i = next++) {
        const certDir = join(dir, `node-${i >> 1}`);
        await storeCertificatePair({ certDir, prefix: i & 1 ? 'kubelet-server' : 'kubelet-client' }, pem, keyPair);
      }
    }),
  );
  return { nodes, certificates: 2 * nodes, ms: performance.now() - started };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { workers: { type: 'string' }, dir: { type: 'string' }, 'store-only': { type: 'boolean' } } });
  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'kubepki-fleet-')));
  try {
    const ca = await createCertificateAuthority();
    const nodes = Number(positionals[0] ?? 1000);
    const result = values['store-only'] ? await storeFloor(ca, nodes, dir) : await bootstrapFleet(ca, nodes, dir, { workers: Number(values.workers ?? 2) });
    // maxRSS covers every thread of this process, sampled or not.
    console.log(JSON.stringify({ ...result, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
  } finally {
    if (!values.dir) await rm(dir, { recursive: true, force: true });
  }
}
