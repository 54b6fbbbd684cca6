import { PkiError, type PkiErrorData } from '../errors.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { createWorkerPool, defaultWorkerCount, type WorkerPool } from '../workers/pool.js';
import { Certificate } from './certificate.js';
import { parseCsr } from './csr.js';
import { decodeBasicConstraints, OID } from './extensions.js';
import { issueCertificate, type IssueRequest, type Issuer } from './issue.js';
import type { CertificateProfile } from './profile.js';
import type { ValidityOptions } from './validity.js';
import { signsNatively } from './signature.js';

/**
 * One certificate of a batch: an issue request whose CA is the batch's.
 *
 * @category Certificates, keys and CSRs
 */
export type BatchIssueRequest = Omit<IssueRequest, 'issuer' | 'crypto' | 'selfSigningKey' | 'randomBytes'>;

/**
 * One certificate of a batch for a PKCS#10 CSR (the CA step): the CSR is parsed and its signature
 * verified, then its subject (byte for byte) and SANs are certified if `profile` allows them.
 *
 * @category Certificates, keys and CSRs
 */
export interface BatchCsrRequest {
  /** The PKCS#10 request, PEM or DER; ERR_CSR when malformed, ERR_CSR_SIGNATURE when its self-signature fails. */
  readonly csr: string | Uint8Array;
  /** The profile the CSR's subject and SANs are checked against and the certificate is issued under. */
  readonly profile: CertificateProfile;
  /** NotBefore and NotAfter; default: backdated 5 minutes, for the profile's lifetime. */
  readonly validity?: ValidityOptions;
  /** The issuing time. Default: now. */
  readonly now?: Date;
}

/**
 * One request of a batch: a public key with its subject and SANs (BatchIssueRequest), or a CSR (BatchCsrRequest).
 *
 * @category Certificates, keys and CSRs
 */
export type BatchRequest = BatchIssueRequest | BatchCsrRequest;

/**
 * Each request's outcome, in request order: the certificate (its DER, and the parsed Certificate on first
 * use, so that a batch that only writes files never parses what the workers made), or the refusal.
 *
 * @category Certificates, keys and CSRs
 */
export type BatchOutcome =
  | {
      /** The issued certificate as DER. */
      readonly der: Uint8Array;
      /** The issued certificate, parsed on first read. */
      readonly certificate: Certificate;
      /** Absent: the request was issued. */
      readonly error?: undefined;
    }
  | {
      /** Absent: the request was refused. */
      readonly der?: undefined;
      /** Absent: the request was refused. */
      readonly certificate?: undefined;
      /** Why the request was refused, e.g. ERR_PROFILE for a subject or SAN the profile does not allow. */
      readonly error: PkiError;
    };

/**
 * Options of issueCertificates: the signing CA and how the work is split over worker threads.
 *
 * @category Certificates, keys and CSRs
 */
export interface BatchOptions extends CryptoOptions {
  /** The CA that signs every certificate of the batch. */
  readonly issuer: Issuer;
  /** Worker threads; default one per core. 0 issues in this thread. */
  readonly workers?: number;
  /** A running pool to use (and leave running) instead of starting one for this batch: a long-lived signer's. */
  readonly pool?: WorkerPool;
  /** Requests per message to a worker. Default: about 32 messages per worker, from 16 to 256 requests each. */
  readonly chunkSize?: number;
  /** Called after each chunk with the number of requests done so far. */
  readonly onProgress?: (done: number, total: number) => void;
}

/**
 * Issues many certificates with one CA, spread over worker threads. A refused request (bad names, a
 * profile violation) is reported in its slot and the others go on; nothing is issued for it. A CA key
 * held by an injected provider (an HSM) cannot leave this thread, so such batches run here.
 *
 * @category Certificates, keys and CSRs
 */
export async function issueCertificates(requests: readonly BatchRequest[], options: BatchOptions): Promise<BatchOutcome[]> {
  const crypto = resolveCrypto(options);
  const issuer = Certificate.from(options.issuer.certificate, 'issuer.certificate');
  const wantedWorkers = options.pool?.size ?? options.workers ?? defaultWorkerCount();
  const chunkSize = Math.max(1, options.chunkSize ?? Math.min(256, Math.max(16, Math.ceil(requests.length / (Math.max(1, wantedWorkers) * 32)))));
  const chunks: BatchRequest[][] = [];
  for (let i = 0; i < requests.length; i += chunkSize) chunks.push(requests.slice(i, i + chunkSize));
  const workers = Math.min(wantedWorkers, chunks.length);
  const signingCrypto = options.issuer.crypto ?? crypto;
  const inThread = workers === 0 || !signsNatively(options.issuer.privateKey, signingCrypto);
  const pool: WorkerPool | undefined = inThread ? undefined : (options.pool ?? createWorkerPool(workers));
  let done = 0;
  const results: WireOutcome[][] = new Array(chunks.length);
  let next = 0;
  // Chunks are handed out as workers finish them, two in flight per worker (one being worked on, one
  // waiting): posted all at once, they were split evenly in advance, and a worker that fell behind left
  // the other idle at the end.
  const lane = async (): Promise<void> => {
    for (let i = next++; i < chunks.length; i = next++) {
      const args = [issuer.der, options.issuer.privateKey, chunks[i]!, i * chunkSize] as const;
      results[i] = pool ? await pool.call<WireOutcome[]>(new URL(import.meta.url), 'issueChunk', args) : await issueChunk(...args, signingCrypto, options.crypto);
      done += chunks[i]!.length;
      options.onProgress?.(done, requests.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: pool ? 2 * workers : 1 }, lane));
    return results.flat().map(fromWire);
  } finally {
    if (pool !== options.pool) await pool?.close();
  }
}

type WireOutcome = { der: Uint8Array } | { error: PkiErrorData };

/** Issues one chunk (in a worker, or here with the CA key's provider); exported for the worker pool. */
export async function issueChunk(caDer: Uint8Array, privateKey: CryptoKey, requests: readonly BatchRequest[], offset: number, signingCrypto?: Crypto, crypto?: Crypto): Promise<WireOutcome[]> {
  const issuer: Issuer = { certificate: Certificate.from(caDer, 'issuer.certificate'), privateKey, ...(signingCrypto ? { crypto: signingCrypto } : {}) };
  const outcomes: WireOutcome[] = [];
  for (const [i, request] of requests.entries()) {
    try {
      const issueRequest = 'csr' in request ? await fromCsr(request, `requests[${offset + i}].csr`) : request;
      outcomes.push({ der: (await issueCertificate({ ...issueRequest, issuer, ...(crypto ? { crypto } : {}) })).der });
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
      outcomes.push({ error: error.toData() });
    }
  }
  return outcomes;
}

async function fromCsr(request: BatchCsrRequest, field: string): Promise<BatchIssueRequest> {
  const csr = await parseCsr(request.csr, { field });
  if (csr.sans.other.length) throw new PkiError('ERR_PROFILE', 'asks for subject alternative names of a kind kubepki does not certify', { field: `${field}.subjectAltName` });
  // The profile decides the extensions, but a CSR asking a leaf profile for a CA certificate is refused, not quietly downgraded.
  if (!request.profile.isCA && csr.requestedExtensions.some((e) => e.oid === OID.basicConstraints && decodeBasicConstraints(e.value).isCA)) {
    throw new PkiError('ERR_PROFILE', `asks for a CA certificate (basicConstraints cA) from the end-entity profile ${request.profile.name}`, { field: `${field}.basicConstraints` });
  }
  const { dns, ips, emails, uris } = csr.sans;
  return {
    profile: request.profile,
    subject: { ...csr.subject, der: csr.certifiedSubjectDer },
    sans: { dns, ips, emails, uris },
    // The PublicKeyInfo parseCsr proved valid: issuing from it does not import the key a second time.
    publicKey: csr.publicKey,
    ...(request.validity ? { validity: request.validity } : {}),
    ...(request.now ? { now: request.now } : {}),
  };
}

function fromWire(outcome: WireOutcome): BatchOutcome {
  if (!('der' in outcome)) return { error: PkiError.fromData(outcome.error) };
  const { der } = outcome;
  let parsed: Certificate | undefined;
  return {
    der,
    get certificate(): Certificate {
      parsed ??= Certificate.from(der);
      return parsed;
    },
  };
}
