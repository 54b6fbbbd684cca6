// The kubelet's side of the fleet benchmark, run in worker threads (plain JavaScript over dist/, so that
// the pool's compiled workers can import it): key generation and CSRs, and the file store.
import { createCsr, generateKeyPair, nodeCsrName, storeCertificatePair } from '../dist/index.js';

/** For each item, a fresh key and CSR: the CSR object's name, the CSR as PEM and the key pair (CryptoKeys clone across threads). */
export async function prepareRequests(items) {
  return Promise.all(
    items.map(async ({ subject, sans, usages }) => {
      const keyPair = await generateKeyPair();
      const csr = await createCsr({ keyPair, subject, sans });
      return { name: nodeCsrName(csr.publicKey.spki, subject, usages), csrPem: csr.pem, keyPair };
    }),
  );
}

/** Writes each issued certificate and its key to the node's file store. */
export async function storePairs(items) {
  await Promise.all(items.map(({ certDir, prefix, certificatePem, keyPair }) => storeCertificatePair({ certDir, prefix }, certificatePem, keyPair)));
}
