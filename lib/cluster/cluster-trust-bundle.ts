// The ClusterTrustBundle object (certificates.k8s.io v1alpha1, v1beta1, v1) and kube-apiserver's validation of it,
// ported from k8s.io/kubernetes pkg/apis/certificates/validation/validation.go (ValidateClusterTrustBundle,
// validateTrustBundle) and pkg/apis/core/validation (ValidateClusterTrustBundleName, ValidateSignerName,
// ValidateObjectMeta's name, namespace, label and annotation rules).
import { PkiError } from '../errors.js';
import { decodeGoPem } from '../crypto/go-pem.js';
import { Certificate } from '../x509/certificate.js';

export const CLUSTER_TRUST_BUNDLE_VERSIONS = ['v1', 'v1beta1', 'v1alpha1'] as const;
/**
 * A ClusterTrustBundle API version: v1, v1beta1 or v1alpha1.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type ClusterTrustBundleVersion = (typeof CLUSTER_TRUST_BUNDLE_VERSIONS)[number];

/**
 * A certificates.k8s.io ClusterTrustBundle: CA certificates published in the cluster, optionally linked to a signer.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ClusterTrustBundle {
  /** certificates.k8s.io/ and the version the server serves (v1, v1beta1 or v1alpha1). */
  apiVersion: `certificates.k8s.io/${ClusterTrustBundleVersion}`;
  /** Always ClusterTrustBundle. */
  kind: 'ClusterTrustBundle';
  /** The object's name, labels and version. */
  metadata: {
    /** The name: a signer-linked bundle's starts with the signer name, its `/` replaced by `:`. */
    name: string;
    /** Must be absent: ClusterTrustBundles are cluster-scoped. */
    namespace?: string;
    /** Labels; kubepki's bundles carry its own, so that publishing can prune them. */
    labels?: Record<string, string>;
    /** Annotations; free-form. */
    annotations?: Record<string, string>;
    /** The stored version, sent back on an update so that a concurrent change is refused (409). */
    resourceVersion?: string;
  };
  /** The bundle: its signer and certificates. */
  spec: {
    /** The signer whose trust anchors these are, e.g. kubernetes.io/kube-apiserver-client; absent for an unlinked bundle. */
    signerName?: string;
    /** The CA certificates, as concatenated `CERTIFICATE` PEM blocks. */
    trustBundle: string;
  };
}

/** certificates.MaxTrustBundleSize: the largest spec.trustBundle, in bytes (Go's len() of the string). */
export const MAX_TRUST_BUNDLE_SIZE = 1024 * 1024;

/**
 * One validation error, as a field.Error: the path and why.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ClusterTrustBundleProblem {
  /** The path of the field at fault, e.g. spec.signerName. */
  readonly field: string;
  /** Why, as kube-apiserver words it, e.g. `Required value`. */
  readonly reason: string;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
const utf8Length = (text: string): number => Buffer.byteLength(text, 'utf8');

function dns1123Label(value: string): string[] {
  const errors: string[] = [];
  if (utf8Length(value) > 63) errors.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(value)) errors.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character");
  return errors;
}

function dns1123Subdomain(value: string): string[] {
  const errors: string[] = [];
  if (utf8Length(value) > 253) errors.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(value)) errors.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
  return errors;
}

/** apimachinery NameIsDNSSubdomain with prefix=false (kubepki never uses generateName). */
const nameIsDnsSubdomain = (name: string): string[] => dns1123Subdomain(name);

/** ValidateSignerName: `<domain>/<path>`, the domain 2+ DNS-1123 labels (<= 253), the path DNS-1123 subdomains joined by '.', <= 571 in all. */
export function signerNameProblems(signerName: string, field = 'spec.signerName'): ClusterTrustBundleProblem[] {
  if (signerName.length === 0) return [{ field, reason: 'Required value' }];
  const segments = signerName.split('/');
  if (segments.length !== 2) return [{ field, reason: "must be a fully qualified domain and path of the form 'example.com/signer-name'" }];
  const [domain, path] = segments as [string, string];
  const problems: ClusterTrustBundleProblem[] = [];
  if (utf8Length(domain) > 253) problems.push({ field, reason: 'Too long: may not be more than 253 bytes' });
  const domainLabels = domain.split('.');
  for (const label of domainLabels) {
    const errors = dns1123Label(label);
    if (errors.length === 0) continue;
    problems.push(...errors.map((e) => ({ field, reason: `validating label ${JSON.stringify(label)}: ${e}` })));
    break;
  }
  if (domainLabels.length < 2) problems.push({ field, reason: 'should be a domain with at least two segments separated by dots' });
  for (const label of path.split('.')) {
    const errors = dns1123Subdomain(label);
    if (errors.length === 0) continue;
    problems.push(...errors.map((e) => ({ field, reason: `validating label ${JSON.stringify(label)}: ${e}` })));
    break;
  }
  const max = 253 + (253 + 63 + 1) + 1;
  if (utf8Length(signerName) > max) problems.push({ field, reason: `Too long: may not be more than ${max} bytes` });
  return problems;
}

/** The name prefix a bundle linked to `signerName` must carry: the signer name with '/' as ':', then ':'. */
export function signerNamePrefix(signerName: string): string {
  return `${signerName.replaceAll('/', ':')}:`;
}

/** ValidateClusterTrustBundleName: unlinked, no ':' and a DNS subdomain; linked, the signer prefix then a DNS subdomain. */
export function trustBundleNameProblems(name: string, signerName: string | undefined, field = 'metadata.name'): ClusterTrustBundleProblem[] {
  if (!signerName) {
    if (name.includes(':')) return [{ field, reason: 'ClusterTrustBundle without signer name must not have ":" in its name' }];
    return nameIsDnsSubdomain(name).map((reason) => ({ field, reason }));
  }
  const prefix = signerNamePrefix(signerName);
  if (!name.startsWith(prefix)) return [{ field, reason: `ClusterTrustBundle for signerName ${signerName} must be named with prefix ${prefix}` }];
  return nameIsDnsSubdomain(name.slice(prefix.length)).map((reason) => ({ field, reason }));
}

function qualifiedNameProblems(key: string, field: string): ClusterTrustBundleProblem[] {
  const parts = key.split('/');
  let name: string;
  const problems: ClusterTrustBundleProblem[] = [];
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const [prefix, rest] = parts as [string, string];
    name = rest;
    if (prefix.length === 0) problems.push({ field, reason: 'prefix part must be non-empty' });
    else problems.push(...dns1123Subdomain(prefix).map((e) => ({ field, reason: `prefix part ${e}` })));
  } else {
    return [{ field, reason: "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, with an optional DNS subdomain prefix and '/'" }];
  }
  if (name.length === 0) problems.push({ field, reason: 'name part must be non-empty' });
  else if (utf8Length(name) > 63) problems.push({ field, reason: 'name part must be no more than 63 characters' });
  if (!QUALIFIED_NAME.test(name)) problems.push({ field, reason: "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character" });
  return problems;
}

function metadataProblems(metadata: ClusterTrustBundle['metadata'], signerName: string | undefined): ClusterTrustBundleProblem[] {
  const problems: ClusterTrustBundleProblem[] = [];
  if (!metadata.name) problems.push({ field: 'metadata.name', reason: 'Required value: name or generateName is required' });
  else problems.push(...trustBundleNameProblems(metadata.name, signerName));
  if (metadata.namespace) problems.push({ field: 'metadata.namespace', reason: 'Forbidden: not allowed on this type' });
  for (const [key, value] of Object.entries(metadata.labels ?? {})) {
    problems.push(...qualifiedNameProblems(key, 'metadata.labels'));
    if (utf8Length(value) > 63) problems.push({ field: 'metadata.labels', reason: `${JSON.stringify(value)}: must be no more than 63 characters` });
    if (!LABEL_VALUE.test(value)) problems.push({ field: 'metadata.labels', reason: `${JSON.stringify(value)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
  }
  let total = 0;
  for (const [key, value] of Object.entries(metadata.annotations ?? {})) {
    problems.push(...qualifiedNameProblems(key.toLowerCase(), 'metadata.annotations'));
    total += utf8Length(key) + utf8Length(value);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) problems.push({ field: 'metadata.annotations', reason: `Too long: must have at most ${TOTAL_ANNOTATION_SIZE_LIMIT} bytes` });
  return problems;
}

/**
 * validateTrustBundle: at most MAX_TRUST_BUNDLE_SIZE bytes; every PEM block (found as Go's pem.Decode finds them, text
 * between blocks ignored) a CERTIFICATE without headers that parses, with basic constraints CA=true; at least one; no
 * block twice. Blocks are numbered from 0 as the API numbers them. The CA bit is the API server's rule, not only kubepki's.
 */
export function trustBundleProblems(trustBundle: string, field = 'spec.trustBundle'): ClusterTrustBundleProblem[] {
  if (utf8Length(trustBundle) > MAX_TRUST_BUNDLE_SIZE) return [{ field, reason: `Too long: may not be more than ${MAX_TRUST_BUNDLE_SIZE} bytes` }];
  const problems: ClusterTrustBundleProblem[] = [];
  const seen = new Map<string, number[]>();
  decodeGoPem(trustBundle).forEach((block, i) => {
    if (block.type !== 'CERTIFICATE') return problems.push({ field, reason: `entry ${i} has bad block type: ${block.type}` });
    if (block.headers.size !== 0) return problems.push({ field, reason: `entry ${i} has PEM block headers` });
    let certificate: Certificate;
    try {
      certificate = Certificate.from(block.bytes, `${field}[${i}]`);
    } catch {
      return problems.push({ field, reason: `entry ${i} does not parse as X.509` });
    }
    if (!certificate.isCA) return problems.push({ field, reason: `entry ${i} does not have the CA bit set` });
    // Go's BasicConstraintsValid; unreachable once IsCA holds, kept as the API server has it.
    if (!certificate.basicConstraints) return problems.push({ field, reason: `entry ${i} has invalid basic constraints` });
    const key = Buffer.from(block.bytes).toString('base64');
    seen.set(key, [...(seen.get(key) ?? []), i]);
    return undefined;
  });
  // As the API server: after a malformed block, no errors about duplicates or a missing anchor.
  if (problems.length) return problems;
  if (seen.size === 0) problems.push({ field, reason: 'at least one trust anchor must be provided' });
  for (const indices of seen.values()) if (indices.length > 1) problems.push({ field, reason: `duplicate trust anchor (indices [${indices.join(' ')}])` });
  return problems;
}

/**
 * Every error kube-apiserver's create validation would return for `bundle` (empty when it would accept it).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function clusterTrustBundleProblems(bundle: ClusterTrustBundle): ClusterTrustBundleProblem[] {
  const signerName = bundle.spec.signerName ?? '';
  return [
    ...metadataProblems(bundle.metadata, signerName),
    ...(signerName !== '' ? signerNameProblems(signerName) : []),
    ...trustBundleProblems(bundle.spec.trustBundle),
  ];
}

/** Throws ERR_ARGUMENT naming the first field at fault (and every problem) unless the API server would accept `bundle`. */
export function assertValidClusterTrustBundle(bundle: ClusterTrustBundle): void {
  const problems = clusterTrustBundleProblems(bundle);
  if (problems.length === 0) return;
  throw new PkiError('ERR_ARGUMENT', `ClusterTrustBundle ${JSON.stringify(bundle.metadata.name)} would be refused: ${problems.map((p) => `${p.field}: ${p.reason}`).join('; ')}`, { field: problems[0]!.field });
}
