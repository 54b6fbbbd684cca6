import { isRsa, type KeySpec } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError, type PkiErrorData } from '../errors.js';
import { Certificate } from '../x509/certificate.js';
import { issueCertificate, type Issuer } from '../x509/issue.js';
import type { ExtendedKeyUsageName, KeyUsageName, CertificateProfile } from '../x509/profile.js';
import { hasCondition, SIGNERS, validateCsr, validatedInWorker, type CertificateSigningRequestObject, type KeyUsage, type ValidatedCsr } from './csr-object.js';
import { apiserverClientProblems, kubeletClientProblems, kubeletServingProblems } from './kubelet-rules.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';

// policies.go: CSR usage -> X.509 key usage or extended key usage.
const KEY_USAGE_OF: Partial<Record<KeyUsage, KeyUsageName>> = {
  signing: 'digitalSignature',
  'digital signature': 'digitalSignature',
  'content commitment': 'contentCommitment',
  'key encipherment': 'keyEncipherment',
  'key agreement': 'keyAgreement',
  'data encipherment': 'dataEncipherment',
  'cert sign': 'keyCertSign',
  'crl sign': 'cRLSign',
  'encipher only': 'encipherOnly',
  'decipher only': 'decipherOnly',
};
const EXTENDED_KEY_USAGE_OF: Partial<Record<KeyUsage, ExtendedKeyUsageName>> = {
  any: 'any',
  'server auth': 'serverAuth',
  'client auth': 'clientAuth',
  'code signing': 'codeSigning',
  'email protection': 'emailProtection',
  's/mime': 'emailProtection',
  timestamping: 'timeStamping',
  'ocsp signing': 'ocspSigning',
};

/** The signer-specific rules of the in-tree signers (kubernetes-pki.md §9, §11); custom signers may bring their own. */
export type SignerRules = (request: ParsedCsr, usages: readonly string[]) => string[];

export const IN_TREE_SIGNER_RULES: Readonly<Record<string, SignerRules>> = {
  [SIGNERS.kubeApiserverClientKubelet]: kubeletClientProblems,
  [SIGNERS.kubeletServing]: kubeletServingProblems,
  [SIGNERS.kubeApiserverClient]: apiserverClientProblems,
};

export interface SignerOptions extends CryptoOptions {
  /** The signerName this signer serves. */
  signerName: string;
  /** The signing CA (one certificate, no chain). */
  ca: Issuer;
  /** `--cluster-signing-duration`; default 365 days. */
  maxLifetimeSeconds?: number;
  /** Extra rules for this signer; default the in-tree rules for in-tree signers, none otherwise. */
  rules?: SignerRules;
  now?: Date;
}

export type SignOutcome =
  | { readonly outcome: 'issued'; readonly certificate: Certificate; readonly statusCertificate: string }
  | { readonly outcome: 'failed'; readonly reason: 'SignerValidationFailure'; readonly message: string }
  | { readonly outcome: 'skipped'; readonly message: string };

const EIGHT_HOURS = 8 * 3600;
/** The shortest certificate the signers give (the in-tree signer's floor): a CSR asking for less gets this. */
export const MIN_LIFETIME_SECONDS = 600;
const BACKDATE = 300;

/**
 * Signs one CSR as kube-controller-manager's csrsigning controller does (kubernetes-pki.md §11): only
 * Approved, not Failed, for this signer; the request must verify and meet the signer's rules, else the
 * outcome is a `Failed` condition with SignerValidationFailure; lifetime = expirationSeconds clamped to
 * [10 min, max]; NotBefore = now - 5 min; NotAfter = now + TTL (- 5 min when TTL >= 8 h), capped at the
 * CA's NotAfter; subject and SANs copied, requested extensions dropped, usages from spec.usages only; the
 * leaf alone goes to status.certificate. An expired CA signs nothing (ERR_VALIDITY).
 */
export async function signCsrObject(csr: CertificateSigningRequestObject, options: SignerOptions): Promise<SignOutcome> {
  const skipped = notToSign(csr, options.signerName);
  if (skipped) return skipped;
  const now = options.now ?? new Date();
  checkCa(options, now);
  let validated: ValidatedCsr;
  try {
    validated = await validateCsr(csr, options);
  } catch (error) {
    if (error instanceof PkiError) return failed(error.message);
    throw error;
  }
  return sign(validated, options, now);
}

/** signCsrObject for a CSR validated where it entered (the registry): its request is not parsed again. */
export async function signValidatedCsr(csr: ValidatedCsr, options: SignerOptions): Promise<SignOutcome> {
  const skipped = notToSign(csr.object, options.signerName);
  if (skipped) return skipped;
  const now = options.now ?? new Date();
  checkCa(options, now);
  return sign(csr, options, now);
}

function notToSign(csr: CertificateSigningRequestObject, signerName: string): SignOutcome | undefined {
  if (csr.spec.signerName !== signerName) return { outcome: 'skipped', message: `signer ${csr.spec.signerName} is not ${signerName}` };
  if (!hasCondition(csr, 'Approved') || hasCondition(csr, 'Failed') || hasCondition(csr, 'Denied')) return { outcome: 'skipped', message: 'not approved' };
  if (csr.status?.certificate) return { outcome: 'skipped', message: 'already issued' };
  return undefined;
}

function checkCa(options: SignerOptions, now: Date): void {
  const ca = Certificate.from(options.ca.certificate, 'ca.certificate');
  if (ca.notAfter <= now) throw new PkiError('ERR_VALIDITY', `the CA expired at ${ca.notAfter.toISOString()}`, { field: 'ca.certificate' });
}

const failed = (message: string): SignOutcome => ({ outcome: 'failed', reason: 'SignerValidationFailure', message });

async function sign({ object: csr, request }: ValidatedCsr, options: SignerOptions, now: Date): Promise<SignOutcome> {
  const usages = csr.spec.usages;
  const rules = options.rules ?? IN_TREE_SIGNER_RULES[options.signerName];
  const problems = rules ? rules(request, usages) : [];
  const unknown = usages.filter((u) => !KEY_USAGE_OF[u] && !EXTENDED_KEY_USAGE_OF[u]);
  if (unknown.length) problems.push(`usages [${unknown.join(', ')}] have no X.509 equivalent`);
  if (problems.length) return failed(problems.join('; '));

  const max = options.maxLifetimeSeconds ?? 365 * 24 * 3600;
  const ttl = Math.max(MIN_LIFETIME_SECONDS, Math.min(csr.spec.expirationSeconds ?? max, max));
  const notBefore = new Date(now.getTime() - BACKDATE * 1000);
  const notAfter = new Date(now.getTime() + (ttl >= EIGHT_HOURS ? ttl - BACKDATE : ttl) * 1000);
  // keyEncipherment is an RSA usage (RFC 8813 3, RFC 3279 2.3.1): both request forms are accepted, as the
  // in-tree rules allow, but an EC or Ed25519 key is never certified for it.
  const keyUsages = [...new Set(usages.flatMap((u) => KEY_USAGE_OF[u] ?? []))].filter((u) => u !== 'keyEncipherment' || isRsa(request.publicKey.spec));
  const extendedKeyUsages = [...new Set(usages.flatMap((u) => EXTENDED_KEY_USAGE_OF[u] ?? []))].sort();
  const profile = signerProfile(options.signerName, keyUsages, extendedKeyUsages, ttl);
  let certificate: Certificate;
  try {
    certificate = await issueCertificate({
    ...(options.crypto ? { crypto: options.crypto } : {}),
    profile,
    subject: { ...request.subject, der: request.certifiedSubjectDer },
    sans: request.sans,
    publicKey: request.publicKey,
    issuer: options.ca,
    validity: { notBefore, notAfter },
    now,
    });
  } catch (error) {
    // A request whose names or key cannot be certified is the requester's fault: the CSR fails.
    const requesterFault = error instanceof PkiError && (['ERR_NAME', 'ERR_PROFILE'].includes(error.code) || (error.code === 'ERR_KEY' && error.field === 'publicKey'));
    if (requesterFault) return failed(error.message);
    throw error;
  }
  return { outcome: 'issued', certificate, statusCertificate: Buffer.from(certificate.pem).toString('base64') };
}

// One profile object per (signer, usages, lifetime): issueCertificate keeps its encoded TBS template per
// profile object, so the thousands of CSRs of one kind share one.
const signerProfiles = new Map<string, CertificateProfile>();

function signerProfile(signerName: string, keyUsages: KeyUsageName[], extendedKeyUsages: ExtendedKeyUsageName[], ttl: number): CertificateProfile {
  const id = JSON.stringify([signerName, keyUsages, extendedKeyUsages, ttl]);
  let profile = signerProfiles.get(id);
  if (!profile) {
    profile = {
      name: signerName,
      fileBase: 'signed',
      issuer: 'ca',
      isCA: false,
      subject: {},
      sans: { allowed: ['dns', 'ip', 'email', 'uri'] },
      keyUsages,
      exactKeyUsages: true,
      extendedKeyUsages,
      lifetimeSeconds: ttl,
      description: `certificate signed for ${signerName}`,
    };
    if (signerProfiles.size >= 256) signerProfiles.delete(signerProfiles.keys().next().value!);
    signerProfiles.set(id, profile);
  }
  return profile;
}

/** The clonable part of SignerOptions, for signing in a worker thread (in-tree rules only). */
export interface WorkerSignerOptions {
  readonly signerName: string;
  readonly caDer: Uint8Array;
  readonly privateKey: CryptoKey;
  readonly maxLifetimeSeconds?: number;
}

/** A SignOutcome as it crosses from a worker: an issued certificate travels as DER. */
export type WorkerSignOutcome =
  | { readonly outcome: 'issued'; readonly der: Uint8Array; readonly statusCertificate: string }
  | Exclude<SignOutcome, { outcome: 'issued' }>
  | { readonly outcome: 'error'; readonly error: PkiErrorData };

/**
 * One CSR for a worker. `validated`: the calling thread holds it validated (the registry did on create)
 * and sends the request's DER and the key type it verified, so the worker parses it without verifying;
 * without it the worker validates the object itself.
 */
export interface WorkerCsr {
  readonly object: CertificateSigningRequestObject;
  readonly validated?: { readonly requestDer: Uint8Array; readonly keySpec: KeySpec };
}

/** What a worker needs of a CSR (see WorkerCsr). */
export function workerCsr(object: CertificateSigningRequestObject, validated: ValidatedCsr | undefined): WorkerCsr {
  // A copy of its own: the DER may be a view into a shared buffer, which a message would copy whole.
  return validated ? { object, validated: { requestDer: validated.request.der.slice(), keySpec: validated.request.publicKey.spec } } : { object };
}

/** Signs a batch of CSRs (in a worker thread of the signer controller). */
export async function signCsrObjectBatch(csrs: readonly WorkerCsr[], options: WorkerSignerOptions): Promise<WorkerSignOutcome[]> {
  const signerOptions: SignerOptions = {
    signerName: options.signerName,
    ca: { certificate: Certificate.from(options.caDer, 'ca.certificate'), privateKey: options.privateKey },
    ...(options.maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds: options.maxLifetimeSeconds }),
  };
  const outcomes: WorkerSignOutcome[] = [];
  for (const { object, validated } of csrs) {
    try {
      const outcome = validated ? await signValidatedCsr(validatedInWorker(object, validated.requestDer, validated.keySpec), signerOptions) : await signCsrObject(object, signerOptions);
      outcomes.push(outcome.outcome === 'issued' ? { outcome: 'issued', der: outcome.certificate.der, statusCertificate: outcome.statusCertificate } : outcome);
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
      outcomes.push({ outcome: 'error', error: error.toData() });
    }
  }
  return outcomes;
}
