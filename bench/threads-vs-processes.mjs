// Would a pool of child processes sign faster than the worker threads? Two loops of the one-thread CA step
// (parseCsr + issueCertificate + PEM, each CSR on a key of its own) run side by side, with no pool between
// them, once as two worker threads and once as two child processes, in turns:
//   npm run build && node bench/threads-vs-processes.mjs [CSRs per loop, default 3000] [pairs of turns, default 2]
// Prints the CSRs per second of each turn (plain JavaScript over dist/).
import { fork } from 'node:child_process';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { createCertificateAuthority, createCsr, exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem, issueCertificate, parseCsr, PROFILES } from '../dist/index.js';
import { Certificate } from '../dist/x509/certificate.js';

const AS_CHILD = process.argv[2] === '--child';

/** One loop's CA, from PEM (a CryptoKey does not cross a process boundary), and its round over `csrs`. */
async function loop({ csrs, caPem, keyPem }) {
  const issuer = { certificate: Certificate.from(caPem), privateKey: (await importPrivateKeyPem(keyPem)).privateKey };
  const round = async () => {
    for (const pem of csrs) {
      const csr = await parseCsr(pem);
      void (await issueCertificate({ profile: PROFILES.kubeletClient, subject: { ...csr.subject, der: csr.certifiedSubjectDer }, publicKey: csr.publicKey, issuer })).pem;
    }
  };
  await round(); // warm-up
  return round;
}

/** A loop's side: set up on its data, say so, then time one round per 'go'. */
async function serve(receive, send) {
  let round;
  receive(async (message) => {
    if (message.data) {
      round = await loop(message.data);
      send('ready');
    } else if (message === 'go') {
      const started = performance.now();
      await round();
      send(performance.now() - started);
    }
  });
}

if (AS_CHILD) {
  await serve((f) => process.on('message', f), (m) => process.send(m));
} else if (!isMainThread) {
  await serve((f) => parentPort.on('message', f), (m) => parentPort.postMessage(m));
} else {
  const count = Number(process.argv[2] ?? 3000);
  const pairs = Number(process.argv[3] ?? 2);
  const ca = await createCertificateAuthority();
  const keyPem = await exportPrivateKeyPem(ca.keyPair);
  const data = [];
  for (let l = 0; l < 2; l++) {
    const csrs = [];
    for (let i = 0; i < count; i++) csrs.push((await createCsr({ keyPair: await generateKeyPair(), subject: { commonName: `system:node:n${l}-${i}`, organizations: ['system:nodes'] } })).pem);
    data.push({ csrs, caPem: ca.certificate.pem, keyPem });
  }
  const self = new URL(import.meta.url);
  const start = (kind) => {
    const handle = kind === 'threads' ? new Worker(self) : fork(self, ['--child'], { serialization: 'advanced' });
    const post = (m) => (kind === 'threads' ? handle.postMessage(m) : handle.send(m));
    const next = () => new Promise((resolve) => handle.once('message', resolve));
    const stop = () => (kind === 'threads' ? handle.terminate() : handle.kill());
    return { post, next, stop };
  };
  for (let turn = 0; turn < 2 * pairs; turn++) {
    const kind = turn % 2 ? 'processes' : 'threads';
    const loops = data.map(() => start(kind));
    await Promise.all(loops.map((l, i) => (l.post({ data: data[i] }), l.next())));
    const started = performance.now();
    await Promise.all(loops.map((l) => (l.post('go'), l.next())));
    const ms = performance.now() - started;
    console.log(`two ${kind}: ${Math.round((2 * count) / (ms / 1000))} CSRs/s`);
    await Promise.all(loops.map((l) => l.stop()));
  }
}
