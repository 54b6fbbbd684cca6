import type { KeySpec } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError, type PkiErrorData } from '../errors.js';
import { Certificate } from '../x509/certificate.js';
import { signCertificate, type Issuer } from '../x509/issue.js';
import { hasCondition, SIGNERS, validateCsr, validatedInWorker, type CertificateSigningRequestObject, type ValidatedCsr } from './csr-object.js';
import { apiserverClientProblems, kubeletClientProblems, kubeletServingProblems } from './kubelet-rules.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import { signingPolicy, templateFromCsr, unknownUsages } from './signing-policy.js';

export { MIN_LIFETIME_SECONDS } from './signing-policy.js';

/**
 * The signer-specific rules of the in-tree signers (docs/kubernetes-pki.md §9, §11); custom signers may bring their own.
 *
 * @category Run the CSR controllers
 */
export type SignerRules = (request: ParsedCsr, usages: readonly string[]) => string[];

export const IN_TREE_SIGNER_RULES: Readonly<Record<string, SignerRules>> = {
  [SIGNERS.kubeApiserverClientKubelet]: kubeletClientProblems,
  [SIGNERS.kubeletServing]: kubeletServingProblems,
  [SIGNERS.kubeApiserverClient]: apiserverClientProblems,
};

/**
 * Options of signCsrObject: the signer's name and CA, the longest lifetime it gives, its rules and the signing time.
 *
 * @category Run the CSR controllers
 */
export interface SignerOptions extends CryptoOptions {
  /** The signerName this signer serves. */
  signerName: string;
  /** The signing CA (one certificate, no chain). */
  issuer: Issuer;
  /** `--cluster-signing-duration`; default 365 days (DEFAULT_MAX_LIFETIME_SECONDS). */
  maxLifetimeSeconds?: number;
  /** Extra rules for this signer; default the in-tree rules for in-tree signers, none otherwise. */
  rules?: SignerRules;
  /** The signing time: NotBefore is 5 minutes before it. Default: now. */
  now?: Date;
}

/**
 * What the signer did with one CSR object: issued a certificate, failed it (breaks the signer's rules), or skipped it.
 *
 * @category Run the CSR controllers
 */
export type SignOutcome =
  | {
      /** The CSR was signed. */
      readonly outcome: 'issued';
      /** The issued certificate. */
      readonly certificate: Certificate;
      /** What goes into status.certificate: base64 of the certificate's PEM. */
      readonly statusCertificate: string;
    }
  | {
      /** The CSR breaks the signer's rules: the controller adds a Failed condition. */
      readonly outcome: 'failed';
      /** The Failed condition's reason, as kube-controller-manager writes it. */
      readonly reason: 'SignerValidationFailure';
      /** What rule the CSR breaks, for the condition's message. */
      readonly message: string;
    }
  | {
      /** Not for this signer to sign now: another signer's, not approved, or already issued, denied or failed. */
      readonly outcome: 'skipped';
      /** Why it was skipped, for the log. */
      readonly message: string;
    };

/**
 * Signs one CSR as kube-controller-manager's csrsigning controller does (docs/kubernetes-pki.md §11): only
 * Approved, not Failed, for this signer; the request must verify and meet the signer's rules, else the
 * outcome is a `Failed` condition with SignerValidationFailure; lifetime = expirationSeconds clamped to
 * [10 min, max]; NotBefore = now - 5 min; NotAfter = now + TTL (- 5 min when TTL >= 8 h), capped at the
 * CA's NotAfter; subject and SANs copied, requested extensions dropped, usages from spec.usages only; the
 * leaf alone goes to status.certificate. An expired CA signs nothing (ERR_VALIDITY).
 *
 * @category Run the CSR controllers
 */
export async function signCsrObject(csr: CertificateSigningRequestObject, options: SignerOptions): Promise<SignOutcome> {
  const skipped = notToSign(csr, options.signerName);
  if (skipped) return skipped;
  const now = options.now ?? new Date();
  const ca = checkCa(options, now);
  let validated: ValidatedCsr;
  try {
    validated = await validateCsr(csr, options);
  } catch (error) {
    if (error instanceof PkiError) return failed(error.message);
    throw error;
  }
  return sign(validated, options, now, ca);
}

/** signCsrObject for a CSR validated where it entered (the registry): its request is not parsed again. */
export async function signValidatedCsr(csr: ValidatedCsr, options: SignerOptions): Promise<SignOutcome> {
  const skipped = notToSign(csr.object, options.signerName);
  if (skipped) return skipped;
  const now = options.now ?? new Date();
  return sign(csr, options, now, checkCa(options, now));
}

function notToSign(csr: CertificateSigningRequestObject, signerName: string): SignOutcome | undefined {
  if (csr.spec.signerName !== signerName) return { outcome: 'skipped', message: `signer ${csr.spec.signerName} is not ${signerName}` };
  if (!hasCondition(csr, 'Approved') || hasCondition(csr, 'Failed') || hasCondition(csr, 'Denied')) return { outcome: 'skipped', message: 'not approved' };
  if (csr.status?.certificate) return { outcome: 'skipped', message: 'already issued' };
  return undefined;
}

function checkCa(options: SignerOptions, now: Date): Certificate {
  const ca = Certificate.from(options.issuer.certificate, 'issuer.certificate');
  if (ca.notAfter <= now) throw new PkiError('ERR_VALIDITY', `the CA expired at ${ca.notAfter.toISOString()}`, { field: 'issuer.certificate' });
  return ca;
}

const failed = (message: string): SignOutcome => ({ outcome: 'failed', reason: 'SignerValidationFailure', message });

async function sign({ object: csr, request }: ValidatedCsr, options: SignerOptions, now: Date, ca: Certificate): Promise<SignOutcome> {
  const usages = csr.spec.usages;
  const rules = options.rules ?? IN_TREE_SIGNER_RULES[options.signerName];
  const problems = rules ? rules(request, usages) : [];
  const unknown = unknownUsages(usages);
  if (unknown.length) problems.push(`usages [${unknown.join(', ')}] have no X.509 equivalent`);
  if (problems.length) return failed(problems.join('; '));

  const policy = signingPolicy(options.signerName, csr.spec.expirationSeconds, options.maxLifetimeSeconds);
  let certificate: Certificate;
  try {
    const template = templateFromCsr(request, usages, policy, now, ca);
    certificate = await signCertificate(template, request.publicKey, options.issuer, options.crypto ? { crypto: options.crypto } : {});
  } catch (error) {
    // A request whose names or key cannot be certified is the requester's fault: the CSR fails.
    const requesterFault = error instanceof PkiError && (['ERR_NAME', 'ERR_PROFILE'].includes(error.code) || (error.code === 'ERR_KEY' && error.field === 'publicKey'));
    if (requesterFault) return failed(error.message);
    throw error;
  }
  return { outcome: 'issued', certificate, statusCertificate: Buffer.from(certificate.pem).toString('base64') };
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
    issuer: { certificate: Certificate.from(options.caDer, 'issuer.certificate'), privateKey: options.privateKey },
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
