// The kubelet's side of the fleet benchmark, run in worker threads (plain JavaScript over dist/, so that
// the pool's compiled workers can import it): key generation and CSRs, and the file store. As on a real
// node, a kubelet's private key never leaves it: each worker keeps its kubelets' keys until it stores them.
import { createCsr, generateKeyPair, storeCertificatePair } from '../dist/index.js';
import { nodeCsrName } from '../dist/bootstrap/node.js';

const keys = new Map();

/** For each item, a fresh key (kept here under the CSR object's name) and CSR: the name and the CSR as PEM. */
export async function prepareRequests(items) {
  return Promise.all(
    items.map(async ({ subject, sans, usages }) => {
      const keyPair = await generateKeyPair();
      const csr = await createCsr({ keyPair, subject, sans });
      const name = nodeCsrName(csr.publicKey.spki, subject, usages);
      keys.set(name, keyPair);
      return { name, csrPem: csr.pem };
    }),
  );
}

/** Writes each issued certificate with the key kept for its CSR to the node's file store. */
export async function storePairs(items) {
  await Promise.all(
    items.map(async ({ certDir, prefix, certificatePem, name }) => {
      const keyPair = keys.get(name);
      if (!keyPair) throw new Error(`no key kept for ${name}`);
      keys.delete(name);
      await storeCertificatePair({ certDir, prefix }, certificatePem, keyPair);
    }),
  );
}
