// The hostile-input corpus: what each kind of input is fed to, and how its refusal is read. Shared by the
// generator (which checks each new entry once) and the corpus test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  authenticateBootstrapToken,
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
  readPemBlock,
  signCsrObject,
  validateCsrObject,
  type CertificateAuthority,
  type PemLabel,
  type SecretObject,
} from '../../lib/index.js';

export type Kind = 'pem' | 'der' | 'csr' | 'csr-profile' | 'csr-approval' | 'csr-signer' | 'key' | 'key-mismatch' | 'token' | 'kubeconfig' | 'csr-object' | 'http';

export interface Entry {
  readonly file: string;
  readonly kind: Kind;
  /** A PkiError code; `DENY:<reason>` for an approver denial; `FAILED` for a signer failure; `HTTP:<status>` for the endpoint. */
  readonly expect: string;
  readonly note: string;
  /** pem: the labels asked for (default CERTIFICATE). */
  readonly labels?: readonly PemLabel[];
  /** csr-profile: the profile key. */
  readonly profile?: keyof typeof PROFILES;
  /** The file's content repeated until it is at least this many bytes (the huge inputs). */
  readonly repeatTo?: number;
  /** key-mismatch: the certificate file the key is paired with. */
  readonly certificate?: string;
  /** kubeconfig: confine file references to the corpus folder. */
  readonly filesWithin?: boolean;
}

export const CORPUS_DIR = new URL('.', import.meta.url).pathname;

export function contentOf(entry: Entry): Buffer {
  const bytes = readFileSync(join(CORPUS_DIR, entry.file));
  if (!entry.repeatTo) return bytes;
  return Buffer.concat(Array.from({ length: Math.ceil(entry.repeatTo / bytes.length) }, () => bytes));
}

/** What the library did with one input: `ok` (accepted: a corpus failure), or the refusal as the manifest spells it. */
export interface Outcome {
  readonly got: string;
  readonly error?: unknown;
}

const refusal = (error: unknown): Outcome => (error instanceof PkiError ? { got: error.code, error } : { got: `non-PkiError ${String(error)}`, error });

/** Runs one non-HTTP entry. `ca` issues in the CA-step and signer kinds; `signed` counts certificates made. */
export async function runEntry(entry: Entry, ca: CertificateAuthority, signed: { count: number }): Promise<Outcome> {
  const input = contentOf(entry);
  const text = input.toString('utf8');
  try {
    switch (entry.kind) {
      case 'pem':
        readPemBlock(text, entry.labels ?? ['CERTIFICATE']);
        return { got: 'ok' };
      case 'der':
        Certificate.from(Uint8Array.from(input));
        return { got: 'ok' };
      case 'csr':
        await parseCsr(text);
        return { got: 'ok' };
      case 'csr-profile': {
        const [outcome] = await issueCertificates([{ csr: text, profile: PROFILES[entry.profile!] }], { issuer: ca, workers: 0 });
        if (outcome!.error) return refusal(outcome!.error);
        signed.count++;
        return { got: 'ok' };
      }
      case 'csr-approval': {
        const decision = await decideApproval(JSON.parse(text), { nodeAddresses: (name) => ({ dns: [name], ips: ['10.0.0.1'] }) });
        return { got: decision.decision === 'deny' ? `DENY:${decision.reason}` : decision.decision };
      }
      case 'csr-signer': {
        const outcome = await signCsrObject(JSON.parse(text), { signerName: JSON.parse(text).spec.signerName, ca });
        if (outcome.outcome === 'issued') signed.count++;
        return { got: outcome.outcome === 'failed' ? 'FAILED' : outcome.outcome };
      }
      case 'key':
        await importPrivateKeyPem(text);
        return { got: 'ok' };
      case 'key-mismatch': {
        const key = await importPrivateKeyPem(text);
        const certificate = readFileSync(join(CORPUS_DIR, entry.certificate!), 'utf8');
        await issueCertificate({ issuer: { certificate, privateKey: key.privateKey }, profile: PROFILES.kubeletClient, subject: { commonName: 'system:node:x', organizations: ['system:nodes'] }, publicKey: key.publicKey });
        signed.count++;
        return { got: 'ok' };
      }
      case 'token': {
        const spec = JSON.parse(text) as { token: unknown; secret?: SecretObject; now?: string };
        if (spec.secret === undefined) parseBootstrapToken(spec.token as string);
        else await authenticateBootstrapToken(spec.token as string, memoryTokenStore([spec.secret]), spec.now ? new Date(spec.now) : new Date());
        return { got: 'ok' };
      }
      case 'kubeconfig':
        parseKubeconfig(text, 'kubeconfig', entry.filesWithin ? { filesWithin: join(CORPUS_DIR, 'kubeconfig') } : {});
        return { got: 'ok' };
      case 'csr-object':
        await validateCsrObject(JSON.parse(text));
        return { got: 'ok' };
      case 'http':
        throw new Error('HTTP entries run against a server');
    }
  } catch (error) {
    return refusal(error);
  }
}
