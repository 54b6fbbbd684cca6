import type { KeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import { parseCsr, parseVerifiedCsr, type CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import type { CryptoOptions } from '../crypto/provider.js';

/** certificates.k8s.io/v1 usages (api:certificates/v1/types.go). */
export const KNOWN_USAGES = [
  'signing',
  'digital signature',
  'content commitment',
  'key encipherment',
  'key agreement',
  'data encipherment',
  'cert sign',
  'crl sign',
  'encipher only',
  'decipher only',
  'any',
  'server auth',
  'client auth',
  'code signing',
  'email protection',
  's/mime',
  'ipsec end system',
  'ipsec tunnel',
  'ipsec user',
  'timestamping',
  'ocsp signing',
  'microsoft sgc',
  'netscape sgc',
] as const;
/**
 * A usage of certificates.k8s.io/v1 as a CSR object lists it, e.g. 'digital signature' or 'client auth'.
 *
 * @category Run the CSR controllers
 * @useDeclaredType
 */
export type KeyUsage = (typeof KNOWN_USAGES)[number];

export const SIGNERS = {
  kubeApiserverClient: 'kubernetes.io/kube-apiserver-client',
  kubeApiserverClientKubelet: 'kubernetes.io/kube-apiserver-client-kubelet',
  kubeletServing: 'kubernetes.io/kubelet-serving',
  legacyUnknown: 'kubernetes.io/legacy-unknown',
} as const;

/**
 * The type of a CSR condition: Approved or Denied (by an approver, mutually exclusive), or Failed (by a signer).
 *
 * @category Run the CSR controllers
 */
export type ConditionType = 'Approved' | 'Denied' | 'Failed';

/**
 * One condition of a CSR object's status: its approval, denial or the signer's failure.
 *
 * @category Run the CSR controllers
 */
export interface CertificateSigningRequestCondition {
  /** Approved, Denied or Failed. */
  type: ConditionType;
  /** Always 'True': kubepki writes no other condition status. */
  status: 'True';
  /** A CamelCase reason, e.g. AutoApproved or SignerValidationFailure. */
  reason?: string;
  /** A human-readable explanation. */
  message?: string;
  /** When the condition was last written, RFC 3339. */
  lastUpdateTime?: string;
  /** When the condition's status last changed, RFC 3339. */
  lastTransitionTime?: string;
}

/**
 * The certificates.k8s.io/v1 CertificateSigningRequest, as the API serves it.
 *
 * @category Run the CSR controllers
 */
export interface CertificateSigningRequestObject {
  /** Always certificates.k8s.io/v1 (the only CSR API version Kubernetes serves since 1.22). */
  apiVersion: 'certificates.k8s.io/v1';
  /** Always CertificateSigningRequest. */
  kind: 'CertificateSigningRequest';
  /** The object's name, identity and labels. */
  metadata: {
    /** The object's name: unique among CSRs (they are cluster-scoped). */
    name: string;
    /** The server-assigned identity of this object; a new object of the same name has another. */
    uid?: string;
    /** The server's version of the object, sent back on an update so that a concurrent change is refused (409). */
    resourceVersion?: string;
    /** When the server created the object, RFC 3339. */
    creationTimestamp?: string;
    /** A prefix from which the server makes a unique name when `name` is empty on create. */
    generateName?: string;
    /** Labels, e.g. to select the CSRs of one node. */
    labels?: Record<string, string>;
    /** Annotations; free-form. */
    annotations?: Record<string, string>;
  };
  /** What was requested, and by whom: set on create, immutable after. */
  spec: {
    /** Base64 of the PEM `CERTIFICATE REQUEST` block. */
    request: string;
    /** The signer asked to sign, e.g. kubernetes.io/kube-apiserver-client-kubelet; each signer only signs its own. */
    signerName: string;
    /** The requested lifetime in seconds (at least 600); a signer may issue for less, never more than its own limit. */
    expirationSeconds?: number;
    /** The requested key and extended key usages; the signer's rules decide which are allowed. */
    usages: KeyUsage[];
    /** Set by the server from the authenticated requester; immutable. */
    username?: string;
    /** The requester's UID, set by the server; immutable. */
    uid?: string;
    /** The requester's groups, set by the server, e.g. system:bootstrappers; immutable. */
    groups?: string[];
    /** The requester's extra authentication attributes, set by the server; immutable. */
    extra?: Record<string, string[]>;
  };
  /** What happened: the approval conditions and, once signed, the certificate. */
  status?: {
    /** Approved or Denied (one or the other, set by an approver) and Failed (set by a signer). */
    conditions?: CertificateSigningRequestCondition[];
    /** Base64 of PEM `CERTIFICATE` blocks (the in-tree signer writes the leaf only). */
    certificate?: string;
  };
}

/** A value from an untrusted object, printable without calling its own toString. */
const shown = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value.slice(0, 64)) : `of type ${value === null ? 'null' : typeof value}`);

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** signerName: exactly one `/`, a DNS-1123 domain of 2+ labels, a path of DNS-1123 subdomains; not legacy-unknown in v1. */
export function signerNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'is required';
  if (name.length > 571) return 'must be at most 571 characters';
  const parts = name.split('/');
  if (parts.length !== 2) return 'must be a fully qualified domain and path of the form "example.com/signer-name"';
  const [domain, path] = parts as [string, string];
  const labels = domain.split('.');
  if (domain.length > 253 || labels.length < 2 || !labels.every((l) => l.length <= 63 && DNS1123_LABEL.test(l))) return 'the domain must be a DNS-1123 subdomain with at least two labels';
  if (path === '' || !path.split('.').every((l) => l.length <= 63 && DNS1123_LABEL.test(l))) return 'the path must be DNS-1123 subdomains separated by "."';
  if (name === SIGNERS.legacyUnknown) return 'kubernetes.io/legacy-unknown is not allowed in certificates.k8s.io/v1';
  return undefined;
}

/** The certificates.k8s.io/v1 CSR collection, as the API serves it. */
export const CSR_API_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

/** The API path of one CSR, or of its approval or status subresource (the name is escaped). */
export function csrApiPath(name: string, subresource?: 'approval' | 'status'): string {
  return `${CSR_API_PATH}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

// CSR names are path segments, not DNS names: the kubelet's `node-csr-<base64url>` has capitals and
// '_'. Anything that could leave a folder or a URL path ('/', '%', '..') is refused.
export const CSR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,252}$/;
const CSR_NAME_RULE = "must be a path segment of letters, digits, '-', '_', '.' and ':'";

declare const VALIDATED: unique symbol;

/**
 * A CSR object that passed validateCsrObject, with its parsed request: made only where objects enter (the
 * registry on create, a controller for objects from a real API server), then handed on, never validated again.
 *
 * @category Run the CSR controllers
 */
export interface ValidatedCsr {
  /** The CSR object as validated. */
  readonly object: CertificateSigningRequestObject;
  /** Its spec.request, parsed, with the self-signature verified. */
  readonly request: ParsedCsr;
  /** A brand only validateCsr sets: a ValidatedCsr cannot be made by hand. */
  readonly [VALIDATED]: true;
}

/** Validates `object` (validateCsrObject) and keeps its parsed request with it. */
export async function validateCsr(object: unknown, options: CryptoOptions = {}): Promise<ValidatedCsr> {
  const request = await validateCsrObject(object, options);
  return { object: object as CertificateSigningRequestObject, request } as ValidatedCsr;
}

/**
 * A later state of a validated CSR: `object` must be the same CSR with only its status changed (spec is
 * immutable once created), as the registry's writes and a worker's message guarantee; never for input from outside.
 */
export function revalidated(object: CertificateSigningRequestObject, request: ParsedCsr): ValidatedCsr {
  return { object, request } as ValidatedCsr;
}

/**
 * A validated CSR rebuilt in another thread from what the validating thread sent: the request's DER and
 * the key type it verified. The request is parsed, not verified again; never for input from outside.
 */
export function validatedInWorker(object: CertificateSigningRequestObject, requestDer: Uint8Array, spec: KeySpec): ValidatedCsr {
  return revalidated(object, parseVerifiedCsr(requestDer, spec, 'spec.request'));
}

/**
 * Validates a CSR object as the API server does on create (docs/kubernetes-pki.md §8): known usages without
 * duplicates, a valid signerName, expirationSeconds >= 600, a request that parses and whose signature
 * verifies, and condition rules. Returns the parsed request. Every breach is ERR_CSR_OBJECT naming the field.
 */
export async function validateCsrObject(object: unknown, options: CryptoOptions = {}): Promise<ParsedCsr> {
  const fail = (field: string, reason: string): never => {
    throw new PkiError('ERR_CSR_OBJECT', reason, { field });
  };
  const csr = object as CertificateSigningRequestObject;
  if (!csr || typeof csr !== 'object') fail('', 'must be an object');
  if (csr.apiVersion !== 'certificates.k8s.io/v1') fail('apiVersion', 'must be certificates.k8s.io/v1');
  if (csr.kind !== 'CertificateSigningRequest') fail('kind', 'must be CertificateSigningRequest');
  const name = csr.metadata?.name;
  const generateName = csr.metadata?.generateName;
  // Without a name, a generateName prefix lets the server pick one (client-go's certificate manager sends "csr-").
  const generated = (name === undefined || name === '') && typeof generateName === 'string' && generateName !== '';
  if (generated) {
    if (!CSR_NAME.test(generateName)) fail('metadata.generateName', CSR_NAME_RULE);
  } else if (typeof name !== 'string' || !CSR_NAME.test(name)) fail('metadata.name', CSR_NAME_RULE);
  const spec = csr.spec;
  if (!spec || typeof spec !== 'object') fail('spec', 'is required');
  const signerProblem = signerNameProblem(spec.signerName);
  if (signerProblem) fail('spec.signerName', signerProblem);
  if (!Array.isArray(spec.usages) || spec.usages.length === 0) fail('spec.usages', 'at least one usage is required');
  const seen = new Set<string>();
  spec.usages.forEach((usage, i) => {
    if (!(KNOWN_USAGES as readonly string[]).includes(usage)) fail(`spec.usages[${i}]`, `unknown usage ${shown(usage)}`);
    if (seen.has(usage)) fail(`spec.usages[${i}]`, `duplicate usage "${usage}"`);
    seen.add(usage);
  });
  if (spec.expirationSeconds !== undefined) {
    if (!Number.isInteger(spec.expirationSeconds)) fail('spec.expirationSeconds', 'must be an integer');
    if (spec.expirationSeconds < 600) fail('spec.expirationSeconds', 'may not specify a duration less than 600 seconds (10 minutes)');
  }
  const status: unknown = csr.status;
  if (status !== undefined && (typeof status !== 'object' || status === null || Array.isArray(status))) fail('status', 'must be an object');
  validateConditions(csr.status?.conditions ?? []);
  if (typeof spec.request !== 'string' || spec.request === '') fail('spec.request', 'is required');
  const pem = Buffer.from(spec.request, 'base64').toString('utf8');
  try {
    return await parseCsr(pem, { ...options, field: 'spec.request' });
  } catch (error) {
    if (error instanceof PkiError) throw new PkiError(error.code === 'ERR_CSR_SIGNATURE' ? 'ERR_CSR_SIGNATURE' : 'ERR_CSR_OBJECT', error.message, { field: 'spec.request', cause: error });
    throw error;
  }
}

/** Conditions: status True only, no duplicate types, Approved and Denied exclusive. */
export function validateConditions(conditions: readonly CertificateSigningRequestCondition[]): void {
  const types = new Set<string>();
  if (!Array.isArray(conditions)) throw new PkiError('ERR_CSR_OBJECT', 'must be a list', { field: 'status.conditions' });
  conditions.forEach((condition, i) => {
    const field = `status.conditions[${i}]`;
    if (!['Approved', 'Denied', 'Failed'].includes(condition?.type)) throw new PkiError('ERR_CSR_OBJECT', `unknown condition type ${shown(condition?.type)}`, { field: `${field}.type` });
    if (condition.status !== 'True') throw new PkiError('ERR_CSR_OBJECT', 'status may only be "True"', { field: `${field}.status` });
    if (types.has(condition.type)) throw new PkiError('ERR_CSR_OBJECT', `duplicate ${condition.type} condition`, { field });
    types.add(condition.type);
  });
  if (types.has('Approved') && types.has('Denied')) throw new PkiError('ERR_CSR_OBJECT', 'Approved and Denied conditions are mutually exclusive', { field: 'status.conditions' });
}

/** Whether a CSR carries a condition. */
export function hasCondition(csr: CertificateSigningRequestObject, type: ConditionType): boolean {
  return (csr.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
}

/** Builds a v1 CSR object for a PEM request. */
export function csrObject(name: string, requestPem: string, signerName: string, usages: KeyUsage[], expirationSeconds?: number): CertificateSigningRequestObject {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(requestPem).toString('base64'), signerName, usages, ...(expirationSeconds === undefined ? {} : { expirationSeconds }) },
  };
}
