import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { decodeBasicConstraints, OID } from '../x509/extensions.js';
import { parseIp } from '../x509/ip.js';
import { hasCondition, SIGNERS, validateCsrObject, type CertificateSigningRequestObject } from './csr-object.js';
import { kubeletClientProblems, kubeletServingProblems } from './kubelet-rules.js';
import { BOOTSTRAPPERS_GROUP } from './token.js';

/** The requester of a CSR, as the API server recorded it in `spec`. */
export interface Requester {
  readonly username: string;
  readonly groups: readonly string[];
}

/**
 * Answers the SubjectAccessReview the csrapproving controller asks: may this requester `create`
 * `certificatesigningrequests/<subresource>`? Default: bootstrappers may ask for node client
 * certificates, nodes may renew their own (the RBAC bindings of kubernetes-pki.md §7).
 */
export type ApprovalAuthorizer = (requester: Requester, subresource: 'nodeclient' | 'selfnodeclient') => boolean | Promise<boolean>;

export const defaultApprovalAuthorizer: ApprovalAuthorizer = (requester, subresource) =>
  subresource === 'nodeclient' ? requester.groups.includes(BOOTSTRAPPERS_GROUP) : requester.groups.includes('system:nodes');

/** The addresses a node really has (its Node object's status.addresses), or undefined when unknown. */
export type NodeAddressLookup = (nodeName: string) => Promise<{ dns: readonly string[]; ips: readonly string[] } | undefined> | { dns: readonly string[]; ips: readonly string[] } | undefined;

export interface ApproverOptions extends CryptoOptions {
  authorize?: ApprovalAuthorizer;
  /** Needed to approve kubelet serving certificates; without it they are denied. */
  nodeAddresses?: NodeAddressLookup;
}

export type ApprovalDecision =
  | { readonly decision: 'approve'; readonly reason: string; readonly message: string }
  | { readonly decision: 'deny'; readonly reason: string; readonly message: string }
  | { readonly decision: 'ignore'; readonly message: string };

const deny = (reason: string, message: string): ApprovalDecision => ({ decision: 'deny', reason, message });

/**
 * Decides one CSR: the csrapproving controller's node-client and self-node-client recognisers
 * (kubernetes-pki.md §10) and a kubelet-serving policy that approves only SANs the node owns (§18). A CSR
 * that breaks a rule is denied with the reason; CSRs for other signers are left alone.
 */
export async function decideApproval(csr: CertificateSigningRequestObject, options: ApproverOptions = {}): Promise<ApprovalDecision> {
  if (csr.status?.certificate || hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied')) return { decision: 'ignore', message: 'already decided' };
  const { signerName, usages, username, groups } = csr.spec;
  if (signerName !== SIGNERS.kubeApiserverClientKubelet && signerName !== SIGNERS.kubeletServing) return { decision: 'ignore', message: `not a kubelet signer (${signerName})` };
  let request;
  try {
    request = await validateCsrObject(csr, options);
  } catch (error) {
    if (error instanceof PkiError) return deny('InvalidRequest', error.message);
    throw error;
  }
  let requestsCa: boolean;
  try {
    requestsCa = request.requestedExtensions.some((e) => e.oid === OID.basicConstraints && decodeBasicConstraints(e.value).isCA);
  } catch {
    requestsCa = true;
  }
  if (requestsCa) return deny('RequestsCA', 'the request asks for a CA certificate (basicConstraints cA)');
  const requester: Requester = { username: username ?? '', groups: groups ?? [] };
  const cn = request.subject.commonName;

  if (signerName === SIGNERS.kubeApiserverClientKubelet) {
    const problems = kubeletClientProblems(request, usages);
    if (problems.length) return deny('NotKubeletClient', problems.join('; '));
    const authorize = options.authorize ?? defaultApprovalAuthorizer;
    if (requester.username === cn && (await authorize(requester, 'selfnodeclient'))) {
      return { decision: 'approve', reason: 'AutoApproved', message: 'Auto approving self kubelet client certificate after SubjectAccessReview.' };
    }
    if (await authorize(requester, 'nodeclient')) {
      return { decision: 'approve', reason: 'AutoApproved', message: 'Auto approving kubelet client certificate after SubjectAccessReview.' };
    }
    return deny('Unauthorized', `${requester.username || 'the requester'} may not request a client certificate for ${cn}`);
  }

  const problems = kubeletServingProblems(request, usages);
  if (!requester.username.startsWith('system:node:')) problems.push(`the requester ${requester.username || '(unknown)'} is not a node`);
  else if (requester.username !== cn) problems.push(`the requester ${requester.username} asks for ${cn}`);
  if (problems.length) return deny('NotKubeletServing', problems.join('; '));
  const nodeName = cn.slice('system:node:'.length);
  const owned = await options.nodeAddresses?.(nodeName);
  if (!owned) return deny('UnknownNode', `the addresses of node ${nodeName} are not known`);
  const ownedIps = new Set(owned.ips.map((ip) => Buffer.from(parseIp(ip) ?? []).toString('hex')));
  const foreign = [
    ...request.sans.dns.filter((name) => !owned.dns.includes(name)),
    ...request.sans.ips.filter((ip) => !ownedIps.has(Buffer.from(parseIp(ip) ?? []).toString('hex'))),
  ];
  if (foreign.length) return deny('SANsNotOwned', `node ${nodeName} does not own ${foreign.join(', ')}`);
  return { decision: 'approve', reason: 'KubeletServingApproved', message: `every SAN belongs to node ${nodeName}` };
}
