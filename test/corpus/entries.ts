// The hostile-input corpus: what each kind of input is fed to, and how its refusal is read. Shared by the
// generator (which checks each new entry once) and the corpus test.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Certificate,
  decideApproval,
  importPrivateKeyPem,
  issueCertificate,
  issueCertificates,
  memoryTokenStore,
  parseBootstrapToken,
  parseCsr,
  parseKubeconfig,
  PkiError,
  PROFILES,
  signCsrObject,
  storeCertificatePair,
  verifyClusterInfo,
  type CertificateAuthority,
  type PemLabel,
  type SecretObject,
} from '../../lib/index.js';
import { authenticateBootstrapToken } from '../../lib/bootstrap/token.js';
import { parsePkcs11Reference } from '../../lib/crypto/pkcs11.js';
import { readPemBlock } from '../../lib/crypto/pem.js';
import { validateCsrObject } from '../../lib/bootstrap/csr-object.js';

export type Kind = 'pem' | 'der' | 'csr' | 'csr-profile' | 'csr-approval' | 'csr-signer' | 'key' | 'key-mismatch' | 'pkcs11' | 'token' | 'cluster-info' | 'kubeconfig' | 'csr-object' | 'http';

export interface Entry {
  readonly file: string;
  readonly kind: Kind;
  /** A PkiError code; `DENY:<reason>` for an approver denial; `FAILED` for a signer failure; `HTTP:<status>` for the endpoint. */
  readonly expect: string;
  readonly note: string;
  /** Part of the refusal's message (or of a denial's or signer failure's message) that names the reason of the note. */
  readonly reason?: string | readonly string[];
  /** pem: the labels asked for (default CERTIFICATE). */
  readonly labels?: readonly PemLabel[];
  /** csr-profile: the profile key. */
  readonly profile?: keyof typeof PROFILES;
  /** The file's content repeated until it is at least this many bytes (the huge inputs). */
  readonly repeatTo?: number;
  /** key-mismatch: the certificate file the key is paired with. */
  readonly certificate?: string;
  /** key-mismatch: `store` pairs the key with the certificate in the kubelet's file store (a temp folder) instead of signing as that CA. */
  readonly via?: 'store';
  /** kubeconfig: confine file references to the corpus folder. */
  readonly filesWithin?: boolean;
}

export const CORPUS_DIR = new URL('.', import.meta.url).pathname;

/**
 * The corpus's clock: every token Secret is generated for it and every entry that reads a time is judged at
 * it, so the committed inputs are refused for their own reason whatever the day the test runs.
 */
export const CORPUS_CLOCK = new Date('2026-06-01T00:00:00Z');

export function contentOf(entry: Entry): Buffer {
  const bytes = readFileSync(join(CORPUS_DIR, entry.file));
  if (!entry.repeatTo) return bytes;
  return Buffer.concat(Array.from({ length: Math.ceil(entry.repeatTo / bytes.length) }, () => bytes));
}

/** True when `message` gives the entry's reason (one of them, for the random inputs). */
export function refusedFor(entry: Entry, message: string): boolean {
  if (entry.reason === undefined) return false;
  const reasons: readonly string[] = typeof entry.reason === 'string' ? [entry.reason] : entry.reason;
  return reasons.length > 0 && reasons.every((r) => r.length > 0) && reasons.some((r) => message.includes(r));
}

/** What the library did with one input: `ok` (accepted: a corpus failure), or the refusal as the manifest spells it. */
export interface Outcome {
  readonly got: string;
  /** The refusal's message, or what the library said besides an error; '' when it accepted. */
  readonly message: string;
  readonly error?: unknown;
}

const refusal = (error: unknown): Outcome => (error instanceof PkiError ? { got: error.code, message: error.message, error } : { got: `non-PkiError ${String(error)}`, message: String(error), error });

/**
 * Runs one non-HTTP entry. `ca` issues in the CA-step and signer kinds; `signed` counts certificates the
 * library returned. Every issuer gets `signingCrypto` as its key's provider (the test's is a spy that
 * counts each signature made); file-writing paths write under `scratch`.
 */
export async function runEntry(entry: Entry, ca: CertificateAuthority, signed: { count: number }, scratch = tmpdir(), signingCrypto?: Crypto): Promise<Outcome> {
  const withSpy = <T extends object>(issuer: T): T => (signingCrypto ? { ...issuer, crypto: signingCrypto } : issuer);
  const input = contentOf(entry);
  const text = input.toString('utf8');
  try {
    switch (entry.kind) {
      case 'pem':
        readPemBlock(text, entry.labels ?? ['CERTIFICATE']);
        return { got: 'ok', message: '' };
      case 'der':
        Certificate.from(Uint8Array.from(input));
        return { got: 'ok', message: '' };
      case 'csr':
        await parseCsr(text);
        return { got: 'ok', message: '' };
      case 'csr-profile': {
        const [outcome] = await issueCertificates([{ csr: text, profile: PROFILES[entry.profile!] }], { issuer: withSpy({ certificate: ca.certificate, privateKey: ca.privateKey }), workers: 0 });
        if (outcome!.error) return refusal(outcome!.error);
        signed.count++;
        return { got: 'ok', message: '' };
      }
      case 'csr-approval': {
        const decision = await decideApproval(JSON.parse(text), { nodeAddresses: (name) => ({ dns: [name], ips: ['10.0.0.1'] }) });
        return { got: decision.decision === 'deny' ? `DENY:${decision.reason}` : decision.decision, message: JSON.stringify(decision) };
      }
      case 'csr-signer': {
        const outcome = await signCsrObject(JSON.parse(text), { signerName: JSON.parse(text).spec.signerName, issuer: withSpy({ certificate: ca.certificate, privateKey: ca.privateKey }) });
        if (outcome.outcome === 'issued') signed.count++;
        return { got: outcome.outcome === 'failed' ? 'FAILED' : outcome.outcome, message: outcome.outcome === 'issued' ? '' : outcome.message };
      }
      case 'key':
        await importPrivateKeyPem(text);
        return { got: 'ok', message: '' };
      case 'key-mismatch': {
        const key = await importPrivateKeyPem(text);
        const certificate = readFileSync(join(CORPUS_DIR, entry.certificate!), 'utf8');
        if (entry.via === 'store') {
          await storeCertificatePair({ certDir: scratch, prefix: 'kubelet-client' }, certificate, text);
          return { got: 'ok', message: '' };
        }
        await issueCertificate({ issuer: withSpy({ certificate, privateKey: key.privateKey }), profile: PROFILES.kubeletClient, subject: { commonName: 'system:node:x', organizations: ['system:nodes'] }, publicKey: key.publicKey });
        signed.count++;
        return { got: 'ok', message: '' };
      }
      case 'pkcs11':
        parsePkcs11Reference(text);
        return { got: 'ok', message: '' };
      case 'token': {
        const spec = JSON.parse(text) as { token: unknown; secret?: SecretObject; now?: string };
        if (spec.secret === undefined) parseBootstrapToken(spec.token as string);
        else await authenticateBootstrapToken(spec.token as string, memoryTokenStore([spec.secret]), spec.now ? new Date(spec.now) : CORPUS_CLOCK);
        return { got: 'ok', message: '' };
      }
      case 'cluster-info': {
        const spec = JSON.parse(text) as { token: string; configMap: { data?: Record<string, string> }; pins: string[]; caPem: string };
        verifyClusterInfo(spec.configMap, parseBootstrapToken(spec.token), [Certificate.from(spec.caPem)], spec.pins);
        return { got: 'ok', message: '' };
      }
      case 'kubeconfig':
        parseKubeconfig(text, 'kubeconfig', entry.filesWithin ? { filesWithin: join(CORPUS_DIR, 'kubeconfig') } : {});
        return { got: 'ok', message: '' };
      case 'csr-object':
        await validateCsrObject(JSON.parse(text));
        return { got: 'ok', message: '' };
      case 'http':
        throw new Error('HTTP entries run against a server');
    }
  } catch (error) {
    return refusal(error);
  }
}
