import { createCertificateAuthority, generateKeyPair, issueCertificates, PROFILES, nodeSubject } from '../dist/index.js';
const ca = await createCertificateAuthority({ keySpec: 'ecdsa-p256' });
const keys = await Promise.all(Array.from({ length: 64 }, () => generateKeyPair()));
const spkis = await Promise.all(keys.map(async (k) => new Uint8Array(await crypto.subtle.exportKey('spki', k.publicKey))));
const reqs = Array.from({ length: 20000 }, (_, i) => ({ profile: PROFILES.kubeletClient, subject: nodeSubject(`n${i}`), publicKey: spkis[i % 64]! }));
for (const workers of [0, 2]) {
  const s = performance.now();
  const out = await issueCertificates(reqs, { issuer: ca, workers, chunkSize: 256 });
  const ms = performance.now() - s;
  console.log(`workers=${workers}`, (reqs.length / ms * 1000).toFixed(0), '/s', out.filter((o) => o.certificate).length);
}
