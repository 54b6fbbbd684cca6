import { children, concatBytes, contentOf, encodeElement, readElement, TAG } from '../crypto/der.js';
import { PkiError } from '../errors.js';
import { formatIp, parseIp } from './ip.js';
import { isDnsName, isWildcardDnsName } from './names.js';

/**
 * Subject alternative names as a caller gives them.
 *
 * @category Certificates, keys and CSRs
 */
export interface SanInput {
  /** RFC 1123 subdomains (lowercase) or wildcards `*.example.com`. */
  dns?: readonly string[];
  /** IPv4 or IPv6 addresses in any standard text form; stored normalised. */
  ips?: readonly string[];
  /** rfc822Name entries (e-mail addresses). */
  emails?: readonly string[];
  /** uniformResourceIdentifier entries (absolute URIs, e.g. SPIFFE IDs). */
  uris?: readonly string[];
}

/**
 * A kind of subject alternative name: DNS name, IP address, rfc822Name (e-mail) or URI.
 *
 * @category Certificates, keys and CSRs
 */
export type SanKind = 'dns' | 'ip' | 'email' | 'uri';

/**
 * Normalised, de-duplicated subject alternative names.
 *
 * @category Certificates, keys and CSRs
 */
export interface SubjectAltNames {
  /** dNSName entries. */
  readonly dns: readonly string[];
  /** iPAddress entries, in normalised text form. */
  readonly ips: readonly string[];
  /** rfc822Name entries. */
  readonly emails: readonly string[];
  /** uniformResourceIdentifier entries. */
  readonly uris: readonly string[];
  /** Context tags of GeneralName forms kubepki does not model (otherName, directoryName, ...), from parsed input only. */
  readonly other: readonly number[];
}

export const NO_SANS: SubjectAltNames = Object.freeze({ dns: [], ips: [], emails: [], uris: [], other: [] });

const EMAIL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@([^@]+)$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/;

/** Validates and normalises SANs (IPs to canonical text), removing duplicates and keeping order. */
export function normalizeSans(input: SanInput | undefined, field = 'sans'): SubjectAltNames {
  if (input === undefined) return NO_SANS;
  return {
    dns: normalizedList(input, 'dns', checkDns, field),
    ips: normalizedList(input, 'ips', checkIp, field),
    emails: normalizedList(input, 'emails', checkEmail, field),
    uris: normalizedList(input, 'uris', checkUri, field),
    other: [],
  };
}

// Module-level, not a closure made per call: V8 optimises every new closure of a hot function again.
function normalizedList(input: SanInput, kind: keyof SanInput, check: (value: string, at: string) => string, field: string): string[] {
  const values = input[kind] ?? [];
  if (!Array.isArray(values)) throw new PkiError('ERR_NAME', 'must be a list of strings', { field: `${field}.${kind}` });
  const seen = new Set<string>();
  for (let i = 0; i < values.length; i++) {
    const value: unknown = values[i];
    const at = `${field}.${kind}[${i}]`;
    if (typeof value !== 'string') throw new PkiError('ERR_NAME', 'must be a string', { field: at });
    seen.add(check(value, at));
  }
  return [...seen];
}

/**
 * SANs from host strings as kubeadm's certSANs reads them: an IP address becomes an IP SAN, an RFC 1123
 * subdomain or wildcard a DNS SAN, anything else is an error.
 */
export function sansFromHosts(hosts: readonly string[], field = 'hosts'): SubjectAltNames {
  const dns: string[] = [];
  const ips: string[] = [];
  hosts.forEach((host, i) => {
    if (parseIp(host)) ips.push(host);
    else if (isDnsName(host) || isWildcardDnsName(host)) dns.push(host);
    else throw new PkiError('ERR_NAME', `"${host}" is neither an IP address nor an RFC 1123 DNS name`, { field: `${field}[${i}]` });
  });
  return normalizeSans({ dns, ips }, field);
}

/** The kinds of SAN present. */
export function sanKinds(sans: SubjectAltNames): SanKind[] {
  const kinds: SanKind[] = [];
  if (sans.dns.length) kinds.push('dns');
  if (sans.ips.length) kinds.push('ip');
  if (sans.emails.length) kinds.push('email');
  if (sans.uris.length) kinds.push('uri');
  return kinds;
}

export function hasSans(sans: SubjectAltNames): boolean {
  return sanKinds(sans).length > 0 || sans.other.length > 0;
}

function checkDns(value: string, field: string): string {
  if (isDnsName(value) || isWildcardDnsName(value)) return value;
  throw new PkiError('ERR_NAME', `"${value}" is not an RFC 1123 DNS name (lowercase letters, digits, '-' and '.') or wildcard`, { field });
}

function checkIp(value: string, field: string): string {
  const bytes = parseIp(value);
  if (!bytes) throw new PkiError('ERR_NAME', `"${value}" is not an IPv4 or IPv6 address`, { field });
  return formatIp(bytes);
}

function checkEmail(value: string, field: string): string {
  const match = EMAIL.exec(value);
  if (!match || !isDnsName(match[1]!.toLowerCase())) throw new PkiError('ERR_NAME', `"${value}" is not an email address`, { field });
  return value;
}

function checkUri(value: string, field: string): string {
  if (!URI.test(value)) throw new PkiError('ERR_NAME', `"${value}" is not an absolute URI`, { field });
  try {
    new URL(value);
  } catch {
    throw new PkiError('ERR_NAME', `"${value}" is not an absolute URI`, { field });
  }
  return value;
}

const GENERAL_NAME = { email: 0x81, dns: 0x82, uri: 0x86, ip: 0x87 } as const;

/** DER GeneralNames in Go's order: DNS names, emails, IPs, URIs. */
export function encodeGeneralNames(sans: SubjectAltNames): Uint8Array {
  const items: Uint8Array[] = [];
  for (const name of sans.dns) items.push(encodeElement(GENERAL_NAME.dns, ASCII.encode(name)));
  for (const name of sans.emails) items.push(encodeElement(GENERAL_NAME.email, ASCII.encode(name)));
  for (const address of sans.ips) items.push(encodeElement(GENERAL_NAME.ip, parseIp(address)!));
  for (const uri of sans.uris) items.push(encodeElement(GENERAL_NAME.uri, ASCII.encode(uri)));
  return encodeElement(TAG.SEQUENCE, concatBytes(items));
}

// Names are checked to be ASCII before they are encoded; UTF-8 then writes them byte for byte.
const ASCII = new TextEncoder();

/** Reads DER GeneralNames (a SAN extension's value) as it is, without normalising names. */
export function decodeGeneralNames(der: Uint8Array, field = 'subjectAltName'): SubjectAltNames {
  const top = readElement(der, 0, field);
  if (top.tag !== TAG.SEQUENCE || top.end !== der.length) throw new PkiError('ERR_DER', 'not a GeneralNames SEQUENCE', { field });
  const out = { dns: [] as string[], ips: [] as string[], emails: [] as string[], uris: [] as string[], other: [] as number[] };
  for (const name of children(der, top, field)) {
    const content = contentOf(der, name);
    switch (name.tag) {
      case GENERAL_NAME.dns:
        out.dns.push(ia5(content, field));
        break;
      case GENERAL_NAME.email:
        out.emails.push(ia5(content, field));
        break;
      case GENERAL_NAME.uri:
        out.uris.push(ia5(content, field));
        break;
      case GENERAL_NAME.ip:
        if (content.length !== 4 && content.length !== 16) throw new PkiError('ERR_DER', `IP address SAN of ${content.length} bytes`, { field });
        out.ips.push(formatIp(content));
        break;
      default:
        out.other.push(name.tag);
    }
  }
  return out;
}

function ia5(content: Uint8Array, field: string): string {
  if (content.some((byte) => byte > 0x7e || byte < 0x20)) throw new PkiError('ERR_NAME', 'SAN is not printable ASCII (IA5String)', { field });
  return Buffer.from(content).toString('latin1');
}
