// TLS servers and key pairs for the agent tests: each server answers with the client certificate it saw.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Certificate, exportPrivateKeyPem, generateKeyPair, issueCertificate, type CertificateProfile, type Issuer, type Subject } from '../../lib/index.js';
import { craft, EKU_OID, KU, LEAF } from './craft.js';

export interface Pair {
  cert: string;
  key: string;
}

/** A certificate and key of `profile` from `issuer`. */
export async function issuePair(issuer: Issuer, profile: CertificateProfile, subject: Subject, sans?: { dns?: string[]; ips?: string[] }): Promise<Pair> {
  const key = await generateKeyPair();
  const cert = await issueCertificate({ profile, subject, sans, publicKey: key.publicKey, issuer });
  return { cert: cert.pem, key: await exportPrivateKeyPem(key) };
}

/** A serving certificate from `issuer` that expired yesterday (issueCertificate would refuse to make one). */
export async function expiredServingPair(issuer: Issuer & { certificate: string }, sans: { dns?: string[]; ips?: string[] }): Promise<Pair> {
  const ca = Certificate.from(issuer.certificate);
  const signer = { certificate: ca, keyPair: { spec: ca.keySpec, privateKey: issuer.privateKey, publicKey: issuer.privateKey } };
  const day = 86_400_000;
  const made = await craft({ cn: 'expired', issuer: signer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], ...sans, notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) });
  return { cert: made.certificate.pem, key: await exportPrivateKeyPem(made.keyPair) };
}

/** An HTTPS server on 127.0.0.1 (port 0); with `clientCa` it demands a client certificate from that CA. */
export async function serveTls(pair: Pair, clientCa?: string): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: pair.cert, key: pair.key, ...(clientCa ? { ca: clientCa, requestCert: true, rejectUnauthorized: true } : {}) }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    res.end(JSON.stringify({ client: peer?.subject?.CN ?? null, serial: peer?.serialNumber ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port };
}
