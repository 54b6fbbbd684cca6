import { createCertificateAuthority, generateKeyPair, issueCertificate, PROFILES, createCsr, parseCsr, nodeSubject } from '../dist/index.js';
const ca = await createCertificateAuthority({ keySpec: 'ecdsa-p256' });
const csrs = await Promise.all(Array.from({length: 16}, async () => (await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('n1') })).pem));
const s = performance.now();
for (let i = 0; i < 20000; i++) { const c = await parseCsr(csrs[i % 16]!); const x = await issueCertificate({ profile: PROFILES.kubeletClient, subject: c.subject, publicKey: c.publicKey.spki, issuer: ca }); void x.pem; }
console.log((20000 / (performance.now() - s) * 1000).toFixed(0), '/s');
