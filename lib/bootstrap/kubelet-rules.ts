import { sameMembersAndLength } from '../lists.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import type { KeyUsage } from './csr-object.js';

// docs/kubernetes-pki.md §9 (k/k:pkg/apis/certificates/helpers.go): the shapes the in-tree approver and
// signer accept for kubelet certificates. Usages are compared as sets.
const CLIENT_USAGE_SETS: readonly (readonly KeyUsage[])[] = [
  ['digital signature', 'key encipherment', 'client auth'],
  ['digital signature', 'client auth'],
];
const SERVING_USAGE_SETS: readonly (readonly KeyUsage[])[] = [
  ['digital signature', 'key encipherment', 'server auth'],
  ['digital signature', 'server auth'],
];

function subjectProblems(request: ParsedCsr): string[] {
  const problems: string[] = [];
  const organizations = request.subject.organizations ?? [];
  if (organizations.length !== 1 || organizations[0] !== 'system:nodes') problems.push(`O must be exactly [system:nodes], not [${organizations.join(', ')}]`);
  if (!request.subject.commonName.startsWith('system:node:') || request.subject.commonName === 'system:node:') problems.push(`CN must be system:node:<name>, not "${request.subject.commonName}"`);
  return problems;
}

/** Why a request is not a kubelet client certificate request, or [] when it is one. */
export function kubeletClientProblems(request: ParsedCsr, usages: readonly string[]): string[] {
  const problems = subjectProblems(request);
  const { sans } = request;
  if (sans.dns.length + sans.ips.length + sans.emails.length + sans.uris.length + sans.other.length > 0) problems.push('a kubelet client certificate may carry no SANs');
  if (!CLIENT_USAGE_SETS.some((set) => sameMembersAndLength(usages, set))) problems.push(`usages [${usages.join(', ')}] are not {digital signature, [key encipherment,] client auth}`);
  return problems;
}

/** Why a request is not a kubelet serving certificate request, or [] when it is one. */
export function kubeletServingProblems(request: ParsedCsr, usages: readonly string[]): string[] {
  const problems = subjectProblems(request);
  const { sans } = request;
  if (sans.emails.length + sans.uris.length + sans.other.length > 0) problems.push('a kubelet serving certificate may carry no email, URI or other SANs');
  if (sans.dns.length + sans.ips.length === 0) problems.push('a kubelet serving certificate needs at least one DNS or IP SAN');
  if (!SERVING_USAGE_SETS.some((set) => sameMembersAndLength(usages, set))) problems.push(`usages [${usages.join(', ')}] are not {digital signature, [key encipherment,] server auth}`);
  return problems;
}

/** kube-apiserver-client signer: only digital signature, key encipherment and client auth; client auth required. */
export function apiserverClientProblems(request: ParsedCsr, usages: readonly string[]): string[] {
  const allowed = ['digital signature', 'key encipherment', 'client auth'];
  const problems = usages.filter((u) => !allowed.includes(u)).map((u) => `usage "${u}" is not allowed for kube-apiserver-client`);
  if (!usages.includes('client auth')) problems.push('usage "client auth" is required');
  if (request.subject.commonName === '') problems.push('a client certificate needs a CN');
  return problems;
}
