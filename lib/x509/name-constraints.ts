import { children, contentOf, readElement } from '../crypto/der.js';
import type { Certificate } from './certificate.js';
import { formatIp, parseIp } from './ip.js';

const NAME_CONSTRAINTS = '2.5.29.30';

interface Subtrees {
  dns: string[];
  ips: { address: Uint8Array; mask: Uint8Array }[];
  emails: string[];
  uris: string[];
  unsupported: boolean;
}

function readSubtrees(der: Uint8Array, start: number, end: number): Subtrees {
  const out: Subtrees = { dns: [], ips: [], emails: [], uris: [], unsupported: false };
  for (let offset = start; offset < end; ) {
    const subtree = readElement(der, offset, 'nameConstraints');
    const [base] = children(der, subtree, 'nameConstraints');
    offset = subtree.end;
    if (!base) continue;
    const value = contentOf(der, base);
    const text = Buffer.from(value).toString('latin1');
    if (base.tag === 0x82) out.dns.push(text.toLowerCase());
    else if (base.tag === 0x81) out.emails.push(text.toLowerCase());
    else if (base.tag === 0x86) out.uris.push(text.toLowerCase());
    else if (base.tag === 0x87 && (value.length === 8 || value.length === 32)) out.ips.push({ address: value.subarray(0, value.length / 2), mask: value.subarray(value.length / 2) });
    else out.unsupported = true;
  }
  return out;
}

/** RFC 5280 DNS matching as Go does it: "example.com" covers itself and its subdomains; ".example.com" only subdomains. */
function dnsWithin(name: string, constraint: string): boolean {
  const n = name.toLowerCase();
  if (constraint === '') return true;
  if (constraint.startsWith('.')) return n.endsWith(constraint);
  return n === constraint || n.endsWith(`.${constraint}`);
}

function ipWithin(ip: Uint8Array, range: { address: Uint8Array; mask: Uint8Array }): boolean {
  if (ip.length !== range.address.length) return false;
  return ip.every((byte, i) => (byte & range.mask[i]!) === (range.address[i]! & range.mask[i]!));
}

/**
 * Checks the certificates below `ca` in `chain` (leaf first) against `ca`'s name constraints (permitted and
 * excluded DNS and IP subtrees), as RFC 5280 6.1.3(b)(c) says: every certificate of the path that is not
 * self-issued, and the leaf always. Constraints apply per name form: a form the CA does not constrain is
 * free (4.2.1.10). Returns a reason when a name falls outside.
 */
export function checkNameConstraints(ca: Certificate, chain: readonly Certificate[]): string | undefined {
  const ext = ca.extension(NAME_CONSTRAINTS);
  if (!ext) return undefined;
  const top = readElement(ext.value, 0, 'nameConstraints');
  let permitted: Subtrees | undefined;
  let excluded: Subtrees | undefined;
  for (const part of children(ext.value, top, 'nameConstraints')) {
    if (part.tag === 0xa0) permitted = readSubtrees(ext.value, part.start, part.end);
    if (part.tag === 0xa1) excluded = readSubtrees(ext.value, part.start, part.end);
  }
  if ((permitted?.unsupported || excluded?.unsupported) && ext.critical) return `CA CN=${ca.subject.commonName} has name constraints of a kind kubepki does not check`;
  const of = `the name constraints of CA CN=${ca.subject.commonName}`;
  for (const [i, certificate] of chain.entries()) {
    // A self-issued CA certificate below (a key rollover) is not held to them; the leaf always is.
    if (i > 0 && certificate.isSelfIssued) continue;
    const holder = i === 0 ? '' : ` (in CA CN=${certificate.subject.commonName})`;
    for (const name of certificate.sans.dns) {
      if (excluded?.dns.some((c) => dnsWithin(name, c))) return `${name}${holder} is excluded by ${of}`;
      if (permitted?.dns.length && !permitted.dns.some((c) => dnsWithin(name, c))) return `${name}${holder} is not permitted by ${of}`;
    }
    for (const text of certificate.sans.ips) {
      const ip = parseIp(text)!;
      if (excluded?.ips.some((r) => ipWithin(ip, r))) return `${formatIp(ip)}${holder} is excluded by ${of}`;
      if (permitted?.ips.length && !permitted.ips.some((r) => ipWithin(ip, r))) return `${formatIp(ip)}${holder} is not permitted by ${of}`;
    }
  }
  return undefined;
}
