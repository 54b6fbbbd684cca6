import { isRsa, type KeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import { validateSubject } from '../x509/names.js';
import { checkRequestRules, KEY_USAGES, type ExtendedKeyUsageName, type KeyUsageName } from '../x509/profile.js';
import { normalizeSans } from '../x509/sans.js';
import type { IssuanceTemplate, TemplateRules } from '../x509/template.js';
import { computeValidity, DEFAULT_BACKDATE_SECONDS } from '../x509/validity.js';
import type { KeyUsage } from './csr-object.js';

/** The shortest certificate the signers give (the in-tree signer's floor): a CSR asking for less gets this. */
export const MIN_LIFETIME_SECONDS = 600;
/** `--cluster-signing-duration`'s default: the longest lifetime, and the lifetime of a CSR that asks none. */
export const DEFAULT_MAX_LIFETIME_SECONDS = 365 * 24 * 3600;
/** Below this lifetime a certificate is short-lived and its NotAfter is not backdated. */
export const SHORT_LIFETIME_SECONDS = 8 * 3600;

/**
 * How the in-tree signer turns an approved CSR into certificate content: kube-controller-manager's
 * authority.PermissiveSigningPolicy (pkg/controller/certificates/authority/policies.go). NotBefore =
 * now - backdate; NotAfter = now + TTL, less the backdate unless the TTL is short; usages from the CSR's
 * spec.usages alone, requested extensions dropped, never a CA.
 *
 * @category Run the CSR controllers
 */
export interface SigningPolicy {
  /** The signer the policy is for (named in messages). */
  readonly signerName: string;
  /** The certificate's lifetime, already clamped (signingPolicy). */
  readonly ttlSeconds: number;
  /** How far NotBefore is set before the signing time, for clock skew: 300 s (5 minutes), as kube-controller-manager. */
  readonly backdateSeconds: number;
  /** A TTL below this keeps its full length at the end (NotAfter is not backdated). */
  readonly shortSeconds: number;
}

/**
 * The in-tree signer's policy for one CSR: the TTL is `expirationSeconds` clamped to
 * [MIN_LIFETIME_SECONDS, maxLifetimeSeconds], or maxLifetimeSeconds when the CSR names none; 5-minute
 * backdate (DEFAULT_BACKDATE_SECONDS); short below 8 hours.
 */
export function signingPolicy(signerName: string, expirationSeconds: number | undefined, maxLifetimeSeconds = DEFAULT_MAX_LIFETIME_SECONDS): SigningPolicy {
  const ttlSeconds = Math.max(MIN_LIFETIME_SECONDS, Math.min(expirationSeconds ?? maxLifetimeSeconds, maxLifetimeSeconds));
  return { signerName, ttlSeconds, backdateSeconds: DEFAULT_BACKDATE_SECONDS, shortSeconds: SHORT_LIFETIME_SECONDS };
}

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

/** The CSR usages that have no X.509 key usage or extended key usage (the signer fails such a CSR). */
export function unknownUsages(usages: readonly string[]): string[] {
  return usages.filter((u) => !KEY_USAGE_OF[u as KeyUsage] && !EXTENDED_KEY_USAGE_OF[u as KeyUsage]);
}

/**
 * The X.509 usages of CSR usages for a key of `spec`: key usages in bit order, extended key usages
 * sorted by name. keyEncipherment is an RSA usage (RFC 8813 3, RFC 3279 2.3.1): both request forms are
 * accepted, as the in-tree rules allow, but an EC or Ed25519 key is never certified for it.
 */
export function x509Usages(usages: readonly string[], spec: KeySpec): { keyUsages: KeyUsageName[]; extendedKeyUsages: ExtendedKeyUsageName[] } {
  const keyUsages = new Set(usages.flatMap((u) => KEY_USAGE_OF[u as KeyUsage] ?? []));
  if (!isRsa(spec)) keyUsages.delete('keyEncipherment');
  return {
    keyUsages: KEY_USAGES.filter((u) => keyUsages.has(u)),
    extendedKeyUsages: [...new Set(usages.flatMap((u) => EXTENDED_KEY_USAGE_OF[u as KeyUsage] ?? []))].sort(),
  };
}

// A signed certificate takes any subject and any of the SAN kinds kubepki writes; the signer's own rules
// (IN_TREE_SIGNER_RULES) have already judged the request.
const SIGNED_RULES: TemplateRules = { subject: {}, sans: { allowed: ['dns', 'ip', 'email', 'uri'] }, exactKeyUsages: true };

/**
 * The template of the certificate `policy` gives for `request` with CSR `usages`: the subject as read
 * (re-encoded as Go writes it), the SANs copied, the usages mapped (x509Usages), the validity of the
 * policy, NotAfter truncated to the issuer's as the in-tree signer does. Throws ERR_PROFILE for usages
 * with no X.509 equivalent or a SAN kubepki cannot write, ERR_NAME for names it cannot certify.
 */
export function templateFromCsr(request: ParsedCsr, usages: readonly string[], policy: SigningPolicy, now: Date, issuer?: Certificate): IssuanceTemplate {
  const unknown = unknownUsages(usages);
  if (unknown.length) throw new PkiError('ERR_PROFILE', `usages [${unknown.join(', ')}] have no X.509 equivalent`, { field: 'usages' });
  const subject = validateSubject(request.subject);
  const sans = normalizeSans(request.sans);
  const keySpec = request.publicKey.spec;
  checkRequestRules(policy.signerName, SIGNED_RULES, { subject, sans, keySpec });
  const { ttlSeconds: ttl, backdateSeconds: backdate } = policy;
  const notBefore = new Date(now.getTime() - backdate * 1000);
  const notAfter = new Date(now.getTime() + (ttl < policy.shortSeconds ? ttl : ttl - backdate) * 1000);
  return {
    name: policy.signerName,
    subject,
    subjectDer: request.certifiedSubjectDer,
    sans,
    keySpec,
    ...x509Usages(usages, keySpec),
    isCA: false,
    ...computeValidity(now, ttl, { notBefore, notAfter }, issuer),
    rules: SIGNED_RULES,
  };
}
