// Name constraints (RFC 5280 4.2.1.10), read and applied as Go's crypto/x509 does: the extension is parsed
// as strictly as parseNameConstraintsExtension parses it (a malformed one makes the CA unusable), and
// every certificate below the CA is checked per name form as isValid checks it.
import { children, contentOf, readElement, type DerElement } from '../crypto/der.js';
import type { Certificate } from './certificate.js';
import { formatIp, parseIp } from './ip.js';
import { parseMailbox, reverseLabels, type Mailbox } from './mailbox.js';

export const NAME_CONSTRAINTS_OID = '2.5.29.30';

interface IpRange {
  readonly address: Uint8Array;
  readonly mask: Uint8Array;
}

interface Subtrees {
  readonly dns: string[];
  readonly ips: IpRange[];
  readonly emails: string[];
  readonly uris: string[];
}

export interface NameConstraints {
  readonly permitted: Subtrees;
  readonly excluded: Subtrees;
  /** A subtree of a form Go does not check (directoryName, otherName, ...): fatal when the extension is critical. */
  readonly unhandled: boolean;
}

/** Go's limit on the name-versus-constraint comparisons of one CA (VerifyOptions.MaxConstraintComparisions). */
const MAX_COMPARISONS = 250_000;

const TAG = { sequence: 0x30, permitted: 0xa0, excluded: 0xa1, email: 0x81, dns: 0x82, uri: 0x86, ip: 0x87 } as const;

const parsed = new WeakMap<Certificate, NameConstraints | string | undefined>();

/**
 * A certificate's name constraints, undefined when it has none, or the reason Go would refuse to parse
 * the certificate (a string). Read once per Certificate object.
 */
export function nameConstraintsOf(certificate: Certificate): NameConstraints | string | undefined {
  if (parsed.has(certificate)) return parsed.get(certificate);
  const ext = certificate.extension(NAME_CONSTRAINTS_OID);
  let result: NameConstraints | string | undefined;
  try {
    result = ext ? parseNameConstraints(ext.value) : undefined;
  } catch (error) {
    if (!(error instanceof MalformedConstraint)) throw error;
    result = error.message;
  }
  parsed.set(certificate, result);
  return result;
}

class MalformedConstraint extends Error {}

const malformed = (reason: string): never => {
  throw new MalformedConstraint(`has malformed name constraints: ${reason}`);
};

/** RFC 5280 4.2.1.10's NameConstraints, with the checks of Go's parseNameConstraintsExtension. */
function parseNameConstraints(value: Uint8Array): NameConstraints {
  let top: DerElement;
  let parts: DerElement[];
  try {
    top = readElement(value, 0, 'nameConstraints');
    parts = top.tag === TAG.sequence && top.end === value.length ? children(value, top, 'nameConstraints') : [];
  } catch {
    return malformed('not a DER SEQUENCE');
  }
  if (top.tag !== TAG.sequence || top.end !== value.length) malformed('not a single SEQUENCE');
  const [first, second, ...rest] = parts;
  const permittedPart = first?.tag === TAG.permitted ? first : undefined;
  const excludedPart = permittedPart ? second : first;
  const expectedCount = (permittedPart ? 1 : 0) + (excludedPart ? 1 : 0);
  if (rest.length || parts.length !== expectedCount || (excludedPart && excludedPart.tag !== TAG.excluded)) malformed('only [0] permittedSubtrees then [1] excludedSubtrees may appear');
  const size = (part: DerElement | undefined): number => (part ? part.end - part.start : 0);
  // RFC 5280: "either the permittedSubtrees field or the excludedSubtrees MUST be present" (and not empty).
  if (size(permittedPart) === 0 && size(excludedPart) === 0) malformed('neither permitted nor excluded subtrees');
  let unhandled = false;
  const read = (part: DerElement | undefined): Subtrees => {
    const out: Subtrees = { dns: [], ips: [], emails: [], uris: [] };
    if (!part) return out;
    for (const subtree of children(value, part, 'nameConstraints')) {
      const [base] = subtree.tag === TAG.sequence ? children(value, subtree, 'nameConstraints') : [];
      if (!base) return malformed('a subtree without a base name');
      const bytes = contentOf(value, base);
      if (base.tag === TAG.ip) out.ips.push(ipRange(bytes));
      else if (base.tag === TAG.dns) out.dns.push(domainConstraint(ia5(bytes), 'dNSName'));
      else if (base.tag === TAG.email) out.emails.push(emailConstraint(ia5(bytes)));
      else if (base.tag === TAG.uri) out.uris.push(uriConstraint(ia5(bytes)));
      else unhandled = true;
    }
    return out;
  };
  try {
    return { permitted: read(permittedPart), excluded: read(excludedPart), unhandled };
  } catch (error) {
    if (error instanceof MalformedConstraint) throw error;
    return malformed('a subtree is not DER');
  }
}

function ia5(bytes: Uint8Array): string {
  if (bytes.some((b) => b > 0x7f)) malformed('a name outside IA5String');
  return Buffer.from(bytes).toString('latin1');
}

/** A DNS (or URI host) constraint: a domain, which may start with "." to mean subdomains only. */
function domainConstraint(text: string, form: string): string {
  if (!reverseLabels(text.startsWith('.') ? text.slice(1) : text)) malformed(`the ${form} constraint "${text}" is not a domain`);
  return text;
}

function emailConstraint(text: string): string {
  if (text.includes('@')) {
    if (!parseMailbox(text)) malformed(`the rfc822Name constraint "${text}" is not a mailbox`);
    return text;
  }
  return domainConstraint(text, 'rfc822Name');
}

function uriConstraint(text: string): string {
  if (parseIp(text)) malformed(`the URI constraint "${text}" is an IP address`);
  return domainConstraint(text, 'URI');
}

function ipRange(bytes: Uint8Array): IpRange {
  if (bytes.length !== 8 && bytes.length !== 32) malformed(`an IP constraint of ${bytes.length} bytes (8 or 32 expected)`);
  const address = bytes.subarray(0, bytes.length / 2);
  const mask = bytes.subarray(bytes.length / 2);
  // A mask is ones, then zeros.
  let seenZero = false;
  for (const b of mask) {
    if (seenZero ? b !== 0 : ![0x00, 0x80, 0xc0, 0xe0, 0xf0, 0xf8, 0xfc, 0xfe, 0xff].includes(b)) malformed(`the IP constraint mask ${Buffer.from(mask).toString('hex')} is not a prefix`);
    if (b !== 0xff) seenZero = true;
  }
  return { address, mask };
}

/** Go's matchDomainConstraint: label by label, case-insensitive; "" matches everything; ".d" only subdomains of d. */
function domainWithin(domain: string, constraint: string): boolean {
  if (constraint === '') return true;
  const labels = reverseLabels(domain);
  if (!labels) throw new NameError(`cannot parse the domain "${domain}"`);
  const subdomainsOnly = constraint.startsWith('.');
  const constraintLabels = reverseLabels(subdomainsOnly ? constraint.slice(1) : constraint)!;
  if (labels.length < constraintLabels.length || (subdomainsOnly && labels.length === constraintLabels.length)) return false;
  return constraintLabels.every((label, i) => label.toLowerCase() === labels[i]!.toLowerCase());
}

function mailboxWithin(mailbox: Mailbox, constraint: string): boolean {
  if (!constraint.includes('@')) return domainWithin(mailbox.domain, constraint);
  const exact = parseMailbox(constraint)!;
  return mailbox.local === exact.local && mailbox.domain.toLowerCase() === exact.domain.toLowerCase();
}

/** RFC 5280: a URI is constrained by its host, which must be a domain name (not empty, not an IP address). */
function uriWithin(uri: string, constraint: string): boolean {
  let host: string;
  try {
    host = new URL(uri).hostname;
  } catch {
    throw new NameError(`cannot parse the URI "${uri}"`);
  }
  if (host === '') throw new NameError(`the URI "${uri}" has no host to match against constraints`);
  if (parseIp(host) || host.startsWith('[')) throw new NameError(`the URI "${uri}" has an IP address for a host`);
  return domainWithin(host, constraint);
}

function ipWithin(ip: Uint8Array, range: IpRange): boolean {
  if (ip.length !== range.address.length) return false;
  return ip.every((byte, i) => (byte & range.mask[i]!) === (range.address[i]! & range.mask[i]!));
}

/** A name that cannot be compared with a constraint: the certificate holding it is refused. */
class NameError extends Error {}

/**
 * Checks the certificates below `ca` in `chain` (leaf first) against `ca`'s name constraints, as RFC 5280
 * 6.1.3(b)(c) says: every certificate of the path that is not self-issued, and the leaf always (Go also
 * holds a self-issued intermediate to them; kubepki follows the RFC). Constraints apply per name form: a
 * form the CA does not constrain is free. Under any constraint a DNS name, mailbox or URI that cannot be
 * parsed is refused, as Go refuses it. Returns a reason when a name falls outside.
 */
export function checkNameConstraints(ca: Certificate, chain: readonly Certificate[]): string | undefined {
  const constraints = nameConstraintsOf(ca);
  if (constraints === undefined || typeof constraints === 'string') return constraints;
  const { permitted, excluded } = constraints;
  const of = `the name constraints of CA CN=${ca.subject.commonName}`;
  let comparisons = 0;
  const against = <T, C>(kind: string, shown: string, name: T, allowed: readonly C[], denied: readonly C[], within: (name: T, constraint: C) => boolean): string | undefined => {
    comparisons += allowed.length + denied.length;
    if (comparisons > MAX_COMPARISONS) return `${of} need more than ${MAX_COMPARISONS} comparisons`;
    if (denied.some((c) => within(name, c))) return `${kind} ${shown} is excluded by ${of}`;
    if (allowed.length && !allowed.some((c) => within(name, c))) return `${kind} ${shown} is not permitted by ${of}`;
    return undefined;
  };
  for (const [i, certificate] of chain.entries()) {
    if (i > 0 && certificate.isSelfIssued) continue;
    const holder = i === 0 ? '' : ` (in CA CN=${certificate.subject.commonName})`;
    const { dns, ips, emails, uris } = certificate.sans;
    try {
      for (const name of dns) {
        if (!reverseLabels(name)) return `the DNS name "${name}"${holder} cannot be checked against ${of}`;
        const problem = against('DNS name', `${name}${holder}`, name, permitted.dns, excluded.dns, domainWithin);
        if (problem) return problem;
      }
      for (const address of emails) {
        const mailbox = parseMailbox(address);
        if (!mailbox) return `the email address "${address}"${holder} cannot be checked against ${of}`;
        const problem = against('email address', `${address}${holder}`, mailbox, permitted.emails, excluded.emails, mailboxWithin);
        if (problem) return problem;
      }
      for (const uri of uris) {
        const problem = against('URI', `${uri}${holder}`, uri, permitted.uris, excluded.uris, uriWithin);
        if (problem) return problem;
      }
      for (const text of ips) {
        const ip = parseIp(text)!;
        const problem = against('IP address', `${formatIp(ip)}${holder}`, ip, permitted.ips, excluded.ips, ipWithin);
        if (problem) return problem;
      }
    } catch (error) {
      if (error instanceof NameError) return `${error.message}${holder}, so it cannot be checked against ${of}`;
      throw error;
    }
  }
  return undefined;
}
