import { children, concatBytes, contentOf, decodeOid, encodeElement, encodeOid, encodeSequence, readElement, TAG } from '../crypto/der.js';
import { PkiError } from '../errors.js';

/** A certificate subject as Kubernetes reads it: the CN is the user name, every O is a group. */
export interface Subject {
  readonly commonName: string;
  readonly organizations?: readonly string[];
}

export const OID_COMMON_NAME = '2.5.4.3';
export const OID_ORGANIZATION = '2.5.4.10';

const MAX_ATTRIBUTE_LENGTH = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks a subject: a non-empty CN (an empty CN does not authenticate, kubernetes-pki.md §0 rule 1), sane O values. */
export function validateSubject(subject: Subject, field = 'subject'): Subject {
  if (typeof subject?.commonName !== 'string' || subject.commonName.length === 0) {
    throw new PkiError('ERR_NAME', 'a non-empty common name is required', { field: `${field}.commonName` });
  }
  checkAttribute(subject.commonName, `${field}.commonName`);
  const organizations = subject.organizations ?? [];
  if (!Array.isArray(organizations)) throw new PkiError('ERR_NAME', 'must be a list of strings', { field: `${field}.organizations` });
  organizations.forEach((organization, i) => {
    if (typeof organization !== 'string' || organization.length === 0) {
      throw new PkiError('ERR_NAME', 'must be a non-empty string', { field: `${field}.organizations[${i}]` });
    }
    checkAttribute(organization, `${field}.organizations[${i}]`);
  });
  return { commonName: subject.commonName, organizations: [...organizations] };
}

function checkAttribute(value: string, field: string): void {
  if (value.length > MAX_ATTRIBUTE_LENGTH) throw new PkiError('ERR_NAME', `longer than ${MAX_ATTRIBUTE_LENGTH} characters`, { field });
  if (CONTROL.test(value)) throw new PkiError('ERR_NAME', 'contains control characters', { field });
}

/**
 * DER Name for a subject: one RDN per O value, then the CN (Go's attribute order). Values are
 * PrintableString when every character allows it, else UTF8String, as Go's encoder picks.
 */
export function encodeName(subject: Subject): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const organization of subject.organizations ?? []) rdns.push(encodeRdn(OID_ORGANIZATION, organization));
  rdns.push(encodeRdn(OID_COMMON_NAME, subject.commonName));
  return encodeElement(TAG.SEQUENCE, concatBytes(rdns));
}

function encodeRdn(oid: string, value: string): Uint8Array {
  return encodeElement(TAG.SET, encodeSequence(encodeOid(oid), encodeDirectoryString(value)));
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function encodeDirectoryString(value: string): Uint8Array {
  const tag = PRINTABLE.test(value) ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING;
  return encodeElement(tag, new TextEncoder().encode(value));
}

/** True for an RFC 1123 subdomain as Kubernetes validates it: lowercase labels, at most 253 characters. */
export function isDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => label.length <= 63 && DNS_LABEL.test(label));
}

/** True for `*.` followed by an RFC 1123 subdomain. */
export function isWildcardDnsName(name: string): boolean {
  return name.startsWith('*.') && isDnsName(name.slice(2));
}

/** `system:node:<nodeName>` / `system:nodes`: the identity of a kubelet (kubernetes-pki.md §0 rules 2 and 3). */
export function nodeSubject(nodeName: string): Subject {
  if (!isDnsName(nodeName)) {
    throw new PkiError('ERR_NAME', `"${nodeName}" is not a valid node name (an RFC 1123 subdomain)`, { field: 'nodeName' });
  }
  return { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] };
}

// The string types Go reads an attribute value as (encoding/asn1 into interface{}); other types are not strings.
const TAG_NUMERIC_STRING = 0x12;
const TAG_T61_STRING = 0x14;
const TAG_BMP_STRING = 0x1e;

function decodeDirectoryString(tag: number, content: Uint8Array): string | undefined {
  switch (tag) {
    case TAG.UTF8_STRING:
      return new TextDecoder('utf-8', { fatal: false }).decode(content);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG_NUMERIC_STRING:
    case TAG_T61_STRING:
      return Buffer.from(content).toString('latin1');
    case TAG_BMP_STRING:
      return content.length % 2 === 0 ? Buffer.from(content).swap16().toString('utf16le') : undefined;
    default:
      return undefined;
  }
}

/**
 * The CN and O values of a DER Name as Go's pkix.Name reads them (and so as Kubernetes authenticates a
 * client certificate): every O in order, and the LAST common name when there are several.
 */
export function decodeSubject(der: Uint8Array, field = 'subject'): Subject {
  const top = readElement(der, 0, field);
  if (top.tag !== TAG.SEQUENCE || top.end !== der.length) throw new PkiError('ERR_DER', 'a Name is a SEQUENCE of RDNs', { field });
  let commonName = '';
  const organizations: string[] = [];
  for (const rdn of children(der, top, field)) {
    if (rdn.tag !== TAG.SET) throw new PkiError('ERR_DER', 'a relative distinguished name is a SET', { field });
    for (const attribute of children(der, rdn, field)) {
      const [type, value, extra] = attribute.tag === TAG.SEQUENCE ? children(der, attribute, field) : [];
      if (!type || type.tag !== TAG.OID || !value || extra) throw new PkiError('ERR_DER', 'an attribute is a SEQUENCE of type and value', { field });
      const oid = decodeOid(contentOf(der, type), field);
      if (oid !== OID_COMMON_NAME && oid !== OID_ORGANIZATION) continue;
      const text = decodeDirectoryString(value.tag, contentOf(der, value));
      if (text === undefined) continue;
      if (oid === OID_COMMON_NAME) commonName = text;
      else organizations.push(text);
    }
  }
  return { commonName, organizations };
}
