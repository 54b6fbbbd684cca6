import type { KeySpec } from '../crypto/keys.js';
import { isRsa, KEY_SPECS } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import { sameMembersAndLength } from '../lists.js';
import type { Subject } from './names.js';
import type { SanKind, SubjectAltNames } from './sans.js';
import { sanKinds } from './sans.js';

/** X.509 key usage bits, in bit order. */
export const KEY_USAGES = [
  'digitalSignature',
  'contentCommitment',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
/**
 * A key usage bit (RFC 5280 4.2.1.3) by its RFC name, e.g. digitalSignature or keyCertSign.
 *
 * @category Certificates, keys and CSRs
 * @useDeclaredType
 */
export type KeyUsageName = (typeof KEY_USAGES)[number];

/** Extended key usages and their OIDs. */
export const EXTENDED_KEY_USAGE_OIDS = {
  any: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
} as const;
/**
 * An extended key usage by name, e.g. serverAuth or clientAuth.
 *
 * @category Certificates, keys and CSRs
 * @useDeclaredType
 */
export type ExtendedKeyUsageName = keyof typeof EXTENDED_KEY_USAGE_OIDS;

/**
 * What a subject of this kind must look like.
 *
 * @category Certificates, keys and CSRs
 */
export interface SubjectRule {
  /** The CN must equal this. */
  readonly commonNameExact?: string;
  /** The CN must start with this and have something after it (e.g. `system:node:`). */
  readonly commonNamePrefix?: string;
  /** The O values must be exactly this list (order ignored); undefined allows any. */
  readonly organizationsExact?: readonly string[];
  /** O values that are never allowed (e.g. `system:masters` for ordinary clients). */
  readonly organizationsForbidden?: readonly string[];
}

/**
 * Which subject alternative names a kind may or must carry.
 *
 * @category Certificates, keys and CSRs
 */
export interface SanRule {
  /** The SAN kinds a certificate of the profile may carry; any other kind is refused with `ERR_NAME`. */
  readonly allowed: readonly SanKind[];
  /** At least one DNS or IP SAN is required (serving certificates, docs/kubernetes-pki.md §9). */
  readonly requireDnsOrIp?: boolean;
}

/**
 * What a kind of certificate contains: the content half of a row of the kind table (lib/cluster/kinds.ts).
 *
 * @category Certificates, keys and CSRs
 */
export interface CertificateProfile {
  /** Kubernetes-style name, e.g. `kubelet-serving`. */
  readonly name: string;
  /** Name of the profile of the CA that signs it, or `self` for a root. */
  readonly issuer: string;
  /** Whether certificates of the profile are CAs (basicConstraints cA). */
  readonly isCA: boolean;
  /** For CAs: the basicConstraints path length to set; undefined leaves it unlimited. */
  readonly pathLength?: number;
  /** What the subject must look like (exact CN or CN prefix, exact O list). */
  readonly subject: SubjectRule;
  /** Which SAN kinds are allowed, and whether a DNS or IP SAN is required. */
  readonly sans: SanRule;
  /**
   * Key usages, adjusted to the key type (see `expectedKeyUsages`): EC and Ed25519 keys never carry
   * keyEncipherment; unless `exactKeyUsages`, RSA leaves add it and CAs never carry it.
   */
  readonly keyUsages: readonly KeyUsageName[];
  /**
   * Use `keyUsages` as given (the in-tree signer derives usages from the request alone), except that
   * keyEncipherment is still never certified for an EC or Ed25519 key.
   */
  readonly exactKeyUsages?: boolean;
  /** The extended key usages every certificate of the profile carries. */
  readonly extendedKeyUsages: readonly ExtendedKeyUsageName[];
  /** Default lifetime in seconds. */
  readonly lifetimeSeconds: number;
  /** Key types allowed for the certified key. Default: every KeySpec. */
  readonly keySpecs?: readonly KeySpec[];
  /** A one-line description for people (`kubepki certs` lists it). */
  readonly description: string;
}

/**
 * The exact key usages a certificate of `profile` carries for a key of `spec`. keyEncipherment follows
 * the key type: an EC or Ed25519 key is never certified for it (RFC 8813 section 3, RFC 3279 2.3.1,
 * RFC 8410 section 5). Unless the profile has `exactKeyUsages` (usages a requester chose, as the in-tree
 * signers take them), an RSA leaf carries it (RSA key transport) and a CA of any key type, which only
 * signs, never does.
 */
export function expectedKeyUsages(profile: Pick<CertificateProfile, 'keyUsages' | 'isCA' | 'exactKeyUsages'>, spec: KeySpec): KeyUsageName[] {
  const usages = new Set<KeyUsageName>(profile.keyUsages);
  if (!isRsa(spec)) usages.delete('keyEncipherment');
  else if (!profile.exactKeyUsages) {
    if (profile.isCA) usages.delete('keyEncipherment');
    else usages.add('keyEncipherment');
  }
  return KEY_USAGES.filter((usage) => usages.has(usage));
}

/**
 * Why a certificate of `profile` for a key of `spec` may not carry `usages`: keyEncipherment on a key
 * that cannot encipher (RFC 8813 section 3, RFC 3279 2.3.1, RFC 8410 section 5), or on a CA whose usages
 * kubepki chose (not `exactKeyUsages`).
 */
export function keyUsageProblems(usages: readonly KeyUsageName[], spec: KeySpec, profile: Pick<CertificateProfile, 'isCA' | 'exactKeyUsages'>): string[] {
  if (!usages.includes('keyEncipherment')) return [];
  if (!isRsa(spec)) return [`keyEncipherment is not allowed for ${spec} keys, which cannot encipher keys (RFC 8813 section 3, RFC 3279 2.3.1, RFC 8410 section 5)`];
  return profile.isCA && !profile.exactKeyUsages ? ['keyEncipherment is not allowed on a CA certificate, which only signs'] : [];
}

export function allowedKeySpecs(profile: Pick<CertificateProfile, 'keySpecs'>): readonly KeySpec[] {
  return profile.keySpecs ?? KEY_SPECS;
}

/** What is about to be certified, checked against a profile before anything is built. */
export interface ProfileRequest {
  readonly subject: Subject;
  readonly sans: SubjectAltNames;
  readonly keySpec: KeySpec;
}

/** Throws ERR_PROFILE naming the field when a request breaks its profile's subject, SAN or key rules. */
export function checkProfileRequest(profile: CertificateProfile, request: ProfileRequest): void {
  checkRequestRules(profile.name, profile, request);
}

/** The rules of a profile that a request is checked against. */
export type RequestRules = Pick<CertificateProfile, 'subject' | 'sans' | 'keySpecs'>;

/** checkProfileRequest for rules that are not a profile's (a signer's); `name` is for the message. */
export function checkRequestRules(name: string, rules: RequestRules, request: ProfileRequest): void {
  const fail = (field: string, reason: string): never => {
    throw new PkiError('ERR_PROFILE', `${reason} (profile ${name})`, { field });
  };
  for (const problem of subjectProblems(rules.subject, request.subject)) fail(problem.field, problem.reason);
  for (const problem of sanProblems(rules.sans, request.sans)) fail(problem.field, problem.reason);
  if (!allowedKeySpecs(rules).includes(request.keySpec)) fail('publicKey', `a ${request.keySpec} key is not allowed`);
}

export interface RuleProblem {
  readonly field: string;
  readonly reason: string;
}

export function subjectProblems(rule: SubjectRule, subject: Subject): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const cn = subject.commonName;
  const organizations = subject.organizations ?? [];
  if (rule.commonNameExact !== undefined && cn !== rule.commonNameExact) {
    problems.push({ field: 'subject.commonName', reason: `must be "${rule.commonNameExact}", not "${cn}"` });
  }
  if (rule.commonNamePrefix !== undefined && (!cn.startsWith(rule.commonNamePrefix) || cn.length === rule.commonNamePrefix.length)) {
    problems.push({ field: 'subject.commonName', reason: `must be "${rule.commonNamePrefix}<name>", not "${cn}"` });
  }
  if (rule.organizationsExact !== undefined && !sameMembersAndLength(organizations, rule.organizationsExact)) {
    problems.push({ field: 'subject.organizations', reason: `must be exactly [${rule.organizationsExact.join(', ')}], not [${organizations.join(', ')}]` });
  }
  for (const forbidden of rule.organizationsForbidden ?? []) {
    if (organizations.includes(forbidden)) problems.push({ field: 'subject.organizations', reason: `must not contain ${forbidden}` });
  }
  return problems;
}

export function sanProblems(rule: SanRule, sans: SubjectAltNames): RuleProblem[] {
  const problems: RuleProblem[] = [];
  for (const kind of sanKinds(sans)) {
    if (!rule.allowed.includes(kind)) problems.push({ field: `sans.${kind}`, reason: `${kind} SANs are not allowed` });
  }
  if (sans.other.length > 0) problems.push({ field: 'sans', reason: 'only DNS, IP, email and URI SANs are supported' });
  if (rule.requireDnsOrIp && sans.dns.length + sans.ips.length === 0) {
    problems.push({ field: 'sans', reason: 'at least one DNS or IP SAN is required' });
  }
  return problems;
}
