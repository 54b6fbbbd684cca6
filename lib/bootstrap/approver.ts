import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { decodeBasicConstraints, OID } from '../x509/extensions.js';
import { formatIp, parseIp } from '../x509/ip.js';
import { hasCondition, SIGNERS, validateCsr, type CertificateSigningRequestObject, type ValidatedCsr } from './csr-object.js';
import { kubeletClientProblems, kubeletServingProblems } from './kubelet-rules.js';
import { BOOTSTRAPPERS_GROUP } from './token.js';
import { firstServiceIp } from '../cluster/config.js';
import { isDnsName } from '../x509/names.js';

/**
 * The requester of a CSR, as the API server recorded it in `spec`.
 *
 * @category Run the CSR controllers
 */
export interface Requester {
  /** The requester's user name (spec.username), e.g. system:node:worker-1 or system:bootstrap:<token id>. */
  readonly username: string;
  /** The requester's groups (spec.groups), e.g. system:nodes. */
  readonly groups: readonly string[];
}

/**
 * Answers the SubjectAccessReview the csrapproving controller asks: may this requester `create`
 * `certificatesigningrequests/<subresource>`? Default: bootstrappers may ask for node client
 * certificates, nodes may renew their own (the RBAC bindings of docs/kubernetes-pki.md §7).
 *
 * @category Run the CSR controllers
 */
export type ApprovalAuthorizer = (requester: Requester, subresource: 'nodeclient' | 'selfnodeclient') => boolean | Promise<boolean>;

export const defaultApprovalAuthorizer: ApprovalAuthorizer = (requester, subresource) =>
  subresource === 'nodeclient' ? requester.groups.includes(BOOTSTRAPPERS_GROUP) : requester.groups.includes('system:nodes');

/**
 * The addresses a node really has (its Node object's status.addresses), or undefined when unknown.
 *
 * @category Run the CSR controllers
 */
export type NodeAddressLookup = (nodeName: string) =>
  | Promise<
      | {
          /** The node's DNS names (Hostname, InternalDNS and ExternalDNS addresses). */
          dns: readonly string[];
          /** The node's IP addresses, IPv4 or IPv6. */
          ips: readonly string[];
        }
      | undefined
    >
  | {
      /** The node's DNS names (Hostname, InternalDNS and ExternalDNS addresses). */
      dns: readonly string[];
      /** The node's IP addresses, IPv4 or IPv6. */
      ips: readonly string[];
    }
  | undefined;

/**
 * The cluster owner's policy for kubelet serving certificates. The addresses a node reports about itself
 * (Node.status.addresses) are written by its kubelet, so they prove nothing; this policy does not depend
 * on them. The cluster's reserved names are refused whatever the policy says.
 *
 * @category Run the CSR controllers
 */
export interface ServingPolicyOptions {
  /** IP SANs must lie inside one of these CIDRs (`10.0.0.0/8`, `fd00::/64`); default: any IP the node owns. */
  allowedCidrs?: readonly string[];
  /** DNS SANs must be the node name or lie under one of these suffixes (`nodes.example.com`); default: any name the node owns. */
  allowedDnsSuffixes?: readonly string[];
  /** The Service range (comma-separated for dual stack); default 10.96.0.0/12. No IP inside is approved; the first is the kubernetes Service IP. */
  serviceCidr?: string;
  /** The cluster domain; default cluster.local. kubernetes.default.svc.<dnsDomain> and every name under it are refused. */
  dnsDomain?: string;
  /** The API server's endpoint hosts (IPs or DNS names: the control-plane endpoint, the advertise address), always refused. */
  apiServerHosts?: readonly string[];
}

/**
 * Options of decideApproval and startApprover: who may ask for node client certificates, and the serving policy.
 *
 * @category Run the CSR controllers
 */
export interface ApproverOptions extends CryptoOptions, ServingPolicyOptions {
  /** Who may ask for which node client certificate. Default: system:bootstrappers may ask for nodeclient, system:nodes for selfnodeclient. */
  authorize?: ApprovalAuthorizer;
  /** Needed to approve kubelet serving certificates; without it they are denied. */
  nodeAddresses?: NodeAddressLookup;
}

/**
 * A parsed CIDR range of the serving policy.
 *
 * @category Run the CSR controllers
 */
export interface Cidr {
  /** The range as text, normalised, e.g. 10.96.0.0/12. */
  readonly text: string;
  /** The network address's bytes: 4 for IPv4, 16 for IPv6. */
  readonly bytes: Uint8Array;
  /** The prefix length in bits. */
  readonly prefix: number;
}

/**
 * The serving policy with defaults applied and every value checked.
 *
 * @category Run the CSR controllers
 */
export interface ServingPolicy {
  /** The parsed `allowedCidrs`: IP SANs must lie in one; undefined when not restricted. */
  readonly allowedCidrs?: readonly Cidr[];
  /** `allowedDnsSuffixes`, lowercase without a trailing dot; undefined when not restricted. */
  readonly allowedDnsSuffixes?: readonly string[];
  /** The Service ranges of `serviceCidr`: no IP inside is approved. */
  readonly serviceRanges: readonly Cidr[];
  /** The kubernetes Service IP of each range (its first address). */
  readonly serviceIps: readonly string[];
  /** The cluster domain, lowercase without a trailing dot (default cluster.local). */
  readonly dnsDomain: string;
  /** DNS names never approved: kubernetes, kubernetes.default[.svc[.<dnsDomain>]] and the API server's DNS hosts. */
  readonly reservedNames: ReadonlySet<string>;
  /** IPs never approved (the Service IPs and the API server's IP hosts), as hex of their bytes. */
  readonly reservedIps: ReadonlySet<string>;
}

function parseCidr(text: string, field: string): Cidr {
  const [address, bits, ...rest] = text.trim().split('/');
  const bytes = parseIp(address ?? '');
  const prefix = Number(bits);
  if (!bytes || rest.length > 0 || !/^\d{1,3}$/.test(bits ?? '') || prefix > bytes.length * 8) throw new PkiError('ERR_ARGUMENT', `${JSON.stringify(text)} is not a CIDR range like 10.0.0.0/8`, { field });
  return { text: `${formatIp(bytes)}/${prefix}`, bytes, prefix };
}

function inCidr(ip: Uint8Array, cidr: Cidr): boolean {
  if (ip.length !== cidr.bytes.length) return false;
  for (let bit = 0; bit < cidr.prefix; bit++) {
    const mask = 0x80 >> bit % 8;
    if ((ip[bit >> 3]! & mask) !== (cidr.bytes[bit >> 3]! & mask)) return false;
  }
  return true;
}

const dnsKey = (name: string): string => name.toLowerCase().replace(/\.+$/, '');
const ipKey = (ip: string): string | undefined => {
  const bytes = parseIp(ip);
  return bytes ? Buffer.from(bytes).toString('hex') : undefined;
};

const policies = new WeakMap<ServingPolicyOptions, ServingPolicy>();

/** Checks and resolves the serving policy of `options` (ERR_ARGUMENT naming the option at fault). */
export function resolveServingPolicy(options: ServingPolicyOptions = {}): ServingPolicy {
  const known = policies.get(options);
  if (known) return known;
  const dnsDomain = dnsKey(options.dnsDomain ?? 'cluster.local');
  if (!isDnsName(dnsDomain)) throw new PkiError('ERR_ARGUMENT', `${JSON.stringify(options.dnsDomain)} is not a DNS domain`, { field: 'dnsDomain' });
  const serviceRanges = (options.serviceCidr ?? '10.96.0.0/12').split(',').map((c) => parseCidr(c, 'serviceCidr'));
  const serviceIps = serviceRanges.map((range) => firstServiceIp(range.text) ?? range.text.split('/')[0]!);
  const reservedNames = new Set(['kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${dnsDomain}`]);
  const reservedIps = new Set(serviceIps.map((ip) => ipKey(ip)!));
  for (const host of options.apiServerHosts ?? []) {
    const key = ipKey(host.replace(/^\[|\]$/g, ''));
    if (key) reservedIps.add(key);
    else if (isDnsName(dnsKey(host))) reservedNames.add(dnsKey(host));
    else throw new PkiError('ERR_ARGUMENT', `${JSON.stringify(host)} is neither an IP address nor a DNS name`, { field: 'apiServerHosts' });
  }
  const suffixes = options.allowedDnsSuffixes?.map((suffix) => {
    const key = dnsKey(suffix.replace(/^\*?\./, ''));
    if (!isDnsName(key)) throw new PkiError('ERR_ARGUMENT', `${JSON.stringify(suffix)} is not a DNS suffix like nodes.example.com`, { field: 'allowedDnsSuffixes' });
    return key;
  });
  const policy: ServingPolicy = {
    ...(options.allowedCidrs ? { allowedCidrs: options.allowedCidrs.map((c) => parseCidr(c, 'allowedCidrs')) } : {}),
    ...(suffixes ? { allowedDnsSuffixes: suffixes } : {}),
    serviceRanges,
    serviceIps,
    dnsDomain,
    reservedNames,
    reservedIps,
  };
  policies.set(options, policy);
  return policy;
}

/** A SAN from a request, printable as it is when it holds only name and address characters, else quoted. */
const shownSan = (value: string): string => (/^[A-Za-z0-9.*:-]{1,253}$/.test(value) ? value : JSON.stringify(value));

/**
 * What the serving policy says of these SANs of node `nodeName`: [reason, message] per broken rule. The
 * cluster's reserved names first (never approved), then at least one IP SAN, then the allowed CIDRs and
 * DNS suffixes.
 */
export function servingPolicyProblems(nodeName: string, sans: { readonly dns: readonly string[]; readonly ips: readonly string[] }, policy: ServingPolicy): [string, string][] {
  const problems: [string, string][] = [];
  for (const name of sans.dns) {
    const key = dnsKey(name);
    if (policy.reservedNames.has(key)) problems.push(['ReservedSAN', `DNS SAN ${shownSan(name)} is a name of the API server, never approved`]);
    else if (key === policy.dnsDomain || key.endsWith(`.${policy.dnsDomain}`) || key.endsWith('.svc')) problems.push(['ReservedSAN', `DNS SAN ${shownSan(name)} is a cluster DNS name (under ${policy.dnsDomain} or .svc), never approved`]);
  }
  for (const ip of sans.ips) {
    const bytes = parseIp(ip);
    const key = ipKey(ip);
    const range = bytes && policy.serviceRanges.find((r) => inCidr(bytes, r));
    if (key && policy.serviceIps.some((s) => ipKey(s) === key)) problems.push(['ReservedSAN', `IP SAN ${shownSan(ip)} is the kubernetes Service IP, never approved`]);
    else if (key && policy.reservedIps.has(key)) problems.push(['ReservedSAN', `IP SAN ${shownSan(ip)} is the API server endpoint, never approved`]);
    else if (range) problems.push(['ReservedSAN', `IP SAN ${shownSan(ip)} is inside the Service range ${range.text}, never approved`]);
  }
  if (sans.ips.length === 0) problems.push(['NoIPSAN', 'a kubelet serving certificate needs at least one IP SAN']);
  if (policy.allowedCidrs) {
    for (const ip of sans.ips) {
      const bytes = parseIp(ip);
      if (!bytes || !policy.allowedCidrs.some((c) => inCidr(bytes, c))) problems.push(['IPNotAllowed', `IP SAN ${shownSan(ip)} is outside the allowed CIDRs ${policy.allowedCidrs.map((c) => c.text).join(', ')}`]);
    }
  }
  if (policy.allowedDnsSuffixes) {
    for (const name of sans.dns) {
      const key = dnsKey(name);
      if (key !== dnsKey(nodeName) && !policy.allowedDnsSuffixes.some((suffix) => key.endsWith(`.${suffix}`))) {
        problems.push(['DNSNotAllowed', `DNS SAN ${shownSan(name)} is neither the node name nor under an allowed suffix (${policy.allowedDnsSuffixes.join(', ') || 'none'})`]);
      }
    }
  }
  return problems;
}

/**
 * What the approver decided about one CSR: approve or deny (with the condition's reason and message), or leave it alone.
 *
 * @category Run the CSR controllers
 */
export type ApprovalDecision =
  | {
      /** Approve: the controller adds an Approved condition. */
      readonly decision: 'approve';
      /** The condition's reason, e.g. AutoApproved. */
      readonly reason: string;
      /** The condition's message, for humans. */
      readonly message: string;
    }
  | {
      /** Deny: the controller adds a Denied condition. */
      readonly decision: 'deny';
      /** The condition's reason, e.g. a policy's refusal. */
      readonly reason: string;
      /** Why the request was denied, for humans. */
      readonly message: string;
    }
  | {
      /** Leave the CSR alone: not one this approver decides (another signer's, or already decided). */
      readonly decision: 'ignore';
      /** Why it was left alone, for the log. */
      readonly message: string;
    };

const deny = (reason: string, message: string): ApprovalDecision => ({ decision: 'deny', reason, message });

/**
 * Decides one CSR: the csrapproving controller's node-client and self-node-client recognisers
 * (docs/kubernetes-pki.md §10) and a kubelet-serving policy that approves only SANs the node owns (§18). A CSR
 * that breaks a rule is denied with the reason; CSRs for other signers are left alone.
 *
 * @category Run the CSR controllers
 */
export async function decideApproval(csr: CertificateSigningRequestObject, options: ApproverOptions = {}): Promise<ApprovalDecision> {
  const ignored = notToDecide(csr);
  if (ignored) return ignored;
  let validated: ValidatedCsr;
  try {
    validated = await validateCsr(csr, options);
  } catch (error) {
    if (error instanceof PkiError) return deny('InvalidRequest', error.message);
    throw error;
  }
  return decide(validated, options);
}

/** decideApproval for a CSR validated where it entered (the registry): its request is not parsed again. */
export async function decideValidatedApproval(csr: ValidatedCsr, options: ApproverOptions = {}): Promise<ApprovalDecision> {
  return notToDecide(csr.object) ?? decide(csr, options);
}

function notToDecide(csr: CertificateSigningRequestObject): ApprovalDecision | undefined {
  if (csr.status?.certificate || hasCondition(csr, 'Approved') || hasCondition(csr, 'Denied')) return { decision: 'ignore', message: 'already decided' };
  const { signerName } = csr.spec;
  if (signerName !== SIGNERS.kubeApiserverClientKubelet && signerName !== SIGNERS.kubeletServing) return { decision: 'ignore', message: `not a kubelet signer (${signerName})` };
  return undefined;
}

async function decide({ object, request }: ValidatedCsr, options: ApproverOptions): Promise<ApprovalDecision> {
  const { signerName, usages, username, groups } = object.spec;
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

  const policy = resolveServingPolicy(options);
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
  // Every rule broken is named; the reason is the first: not the node's, then the serving policy's rules.
  const broken: [string, string][] = [
    ...(foreign.length ? [['SANsNotOwned', `node ${nodeName} does not own ${foreign.map(shownSan).join(', ')}`] as [string, string]] : []),
    ...servingPolicyProblems(nodeName, request.sans, policy),
  ];
  if (broken.length) return deny(broken[0]![0], broken.map(([, message]) => message).join('; '));
  return { decision: 'approve', reason: 'KubeletServingApproved', message: `every SAN belongs to node ${nodeName} and the serving policy allows it` };
}
