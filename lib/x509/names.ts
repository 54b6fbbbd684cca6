import { children, concatBytes, contentOf, decodeOid, encodeElement, encodeOid, encodeSequence, readElement, TAG } from '../crypto/der.js';
import { PkiError } from '../errors.js';

/**
 * A certificate subject as Kubernetes reads it: the CN is the user name, every O is a group.
 *
 * @category Certificates, keys and CSRs
 */
export interface Subject {
  /** The CN: for a client certificate, the Kubernetes user name. Must not be empty. */
  readonly commonName: string;
  /** The O values: for a client certificate, the Kubernetes groups. */
  readonly organizations?: readonly string[];
}

export const OID_COMMON_NAME = '2.5.4.3';
export const OID_ORGANIZATION = '2.5.4.10';

const MAX_ATTRIBUTE_LENGTH = 1024;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Checks a subject: a non-empty CN (an empty CN does not authenticate, docs/kubernetes-pki.md §0 rule 1), sane O values. */
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

/**
 * `system:node:<nodeName>` / `system:nodes`: the identity of a kubelet (docs/kubernetes-pki.md §0 rules 2 and 3).
 *
 * @category Certificates, keys and CSRs
 */
export function nodeSubject(nodeName: string): Subject {
  if (!isDnsName(nodeName)) {
    throw new PkiError('ERR_NAME', `"${nodeName}" is not a valid node name (an RFC 1123 subdomain)`, { field: 'nodeName' });
  }
  return { commonName: `system:node:${nodeName}`, organizations: ['system:nodes'] };
}

// The string types Go's crypto/x509 reads an attribute value as (parser.go parseASN1String); any other
// type, or a value that breaks its type's alphabet, makes Go refuse the whole certificate.
const TAG_NUMERIC_STRING = 0x12;
const TAG_T61_STRING = 0x14;
const TAG_BMP_STRING = 0x1e;
// Go's isPrintable: PrintableString's alphabet plus '*' and '&', which real certificates carry.
const GO_PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?*&]*$/;

function decodeDirectoryString(tag: number, content: Uint8Array): string | undefined {
  const bytes = Buffer.from(content);
  switch (tag) {
    case TAG.UTF8_STRING: {
      const text = bytes.toString('utf8');
      return Buffer.from(text, 'utf8').equals(bytes) ? text : undefined;
    }
    case TAG.PRINTABLE_STRING:
      return GO_PRINTABLE.test(bytes.toString('latin1')) ? bytes.toString('latin1') : undefined;
    case TAG.IA5_STRING:
      return bytes.every((b) => b < 0x80) ? bytes.toString('latin1') : undefined;
    case TAG_NUMERIC_STRING:
      return /^[0-9 ]*$/.test(bytes.toString('latin1')) ? bytes.toString('latin1') : undefined;
    case TAG_T61_STRING:
      // Go 1.20 and later read T.61 as Latin-1 (1.19 kept the raw bytes); either way CSRs may not use it for CN or O.
      return bytes.toString('latin1');
    case TAG_BMP_STRING: {
      if (bytes.length % 2 !== 0) return undefined;
      const units = bytes.length >= 2 && bytes[bytes.length - 1] === 0 && bytes[bytes.length - 2] === 0 ? bytes.subarray(0, -2) : bytes;
      // UTF-16 as Go's utf16.Decode reads it: an unpaired surrogate becomes U+FFFD.
      return Buffer.from(units).swap16().toString('utf16le').replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
    }
    default:
      return undefined;
  }
}

/** One attribute of a Name: its type, the tag of its value, the value as Go reads it, and which RDN holds it. */
export interface NameAttribute {
  readonly oid: string;
  readonly tag: number;
  readonly value: string;
  readonly rdn: number;
}

/**
 * Every attribute of a DER Name, read as Go's crypto/x509 reads a certificate's names: each value must be
 * one of the string types Go knows, valid for its alphabet, or the Name is refused (ERR_NAME), as Go
 * refuses the certificate. OpenSSL reads more types (a UniversalString, say); kubepki never reads a name
 * Go would not.
 */
export function readNameAttributes(der: Uint8Array, field = 'subject'): NameAttribute[] {
  const top = readElement(der, 0, field);
  if (top.tag !== TAG.SEQUENCE || top.end !== der.length) throw new PkiError('ERR_DER', 'a Name is a SEQUENCE of RDNs', { field });
  const attributes: NameAttribute[] = [];
  children(der, top, field).forEach((rdn, index) => {
    if (rdn.tag !== TAG.SET) throw new PkiError('ERR_DER', 'a relative distinguished name is a SET', { field });
    for (const attribute of children(der, rdn, field)) {
      const [type, value, extra] = attribute.tag === TAG.SEQUENCE ? children(der, attribute, field) : [];
      if (!type || type.tag !== TAG.OID || !value || extra) throw new PkiError('ERR_DER', 'an attribute is a SEQUENCE of type and value', { field });
      const oid = decodeOid(contentOf(der, type), field);
      const text = decodeDirectoryString(value.tag, contentOf(der, value));
      if (text === undefined) {
        const why = decodable(value.tag) ? `an invalid ${tagName(value.tag)}` : `a ${tagName(value.tag)}, which Go's crypto/x509 does not read`;
        throw new PkiError('ERR_NAME', `attribute ${oid} is ${why}`, { field });
      }
      attributes.push({ oid, tag: value.tag, value: text, rdn: index });
    }
  });
  return attributes;
}

const TAG_NAMES: Record<number, string> = {
  [TAG.UTF8_STRING]: 'UTF8String',
  [TAG.PRINTABLE_STRING]: 'PrintableString',
  [TAG.IA5_STRING]: 'IA5String',
  [TAG_NUMERIC_STRING]: 'NumericString',
  [TAG_T61_STRING]: 'T61String',
  [TAG_BMP_STRING]: 'BMPString',
  0x1c: 'UniversalString',
};
const decodable = (tag: number): boolean => tag in TAG_NAMES && tag !== 0x1c;
const tagName = (tag: number): string => TAG_NAMES[tag] ?? `value of tag 0x${tag.toString(16)}`;

/**
 * The CN and O values of a DER Name as Go's pkix.Name reads them (FillFromRDNSequence), and so as
 * Kubernetes authenticates a client certificate: every O in order, and the LAST common name when there
 * are several.
 */
export function decodeSubject(der: Uint8Array, field = 'subject'): Subject {
  return subjectOfAttributes(readNameAttributes(der, field));
}

/** CN (the last) and every O of a Name's attributes. */
export function subjectOfAttributes(attributes: readonly NameAttribute[]): Subject {
  let commonName = '';
  const organizations: string[] = [];
  for (const { oid, value } of attributes) {
    if (oid === OID_COMMON_NAME) commonName = value;
    else if (oid === OID_ORGANIZATION) organizations.push(value);
  }
  return { commonName, organizations };
}

/**
 * Refuses a requested subject that two readers could take for different identities (ERR_NAME): more than
 * one CN (Go takes the last, OpenSSL the first), a CN or O in a string type other than UTF8String or
 * PrintableString, or one attribute type twice in one RDN.
 */
export function checkUnambiguousSubject(der: Uint8Array, field = 'subject'): NameAttribute[] {
  const attributes = readNameAttributes(der, field);
  if (attributes.filter((a) => a.oid === OID_COMMON_NAME).length > 1) throw new PkiError('ERR_NAME', 'has more than one common name', { field });
  for (const { oid, tag } of attributes) {
    if ((oid === OID_COMMON_NAME || oid === OID_ORGANIZATION) && tag !== TAG.UTF8_STRING && tag !== TAG.PRINTABLE_STRING) {
      throw new PkiError('ERR_NAME', `${oid === OID_COMMON_NAME ? 'the common name' : 'an organization'} is a ${TAG_NAMES[tag] ?? 'string'}; only UTF8String and PrintableString are accepted`, { field });
    }
  }
  const seen = new Set<string>();
  for (const { oid, rdn } of attributes) {
    if (seen.has(`${rdn}/${oid}`)) throw new PkiError('ERR_NAME', `attribute ${oid} appears twice in one relative distinguished name`, { field });
    seen.add(`${rdn}/${oid}`);
  }
  return attributes;
}

// Go's pkix.Name.ToRDNSequence: the attributes it keeps, in the order it writes them, one RDN per type.
const GO_NAME_ORDER = ['2.5.4.6', OID_ORGANIZATION, '2.5.4.11', '2.5.4.7', '2.5.4.8', '2.5.4.9', '2.5.4.17', '2.5.4.5', OID_COMMON_NAME];

/**
 * The subject the in-tree signer writes for a request's Name: Go's CreateCertificate re-encodes the parsed
 * pkix.Name (country, organization, unit, locality, province, street, postal code, serial number, then the
 * common name; other attribute types dropped), so the certificate holds only what was read, re-encoded.
 */
export function reencodeSubject(attributes: readonly NameAttribute[], der?: Uint8Array): Uint8Array {
  if (der && inGoEncoding(attributes) && children(der, readElement(der, 0, 'subject'), 'subject').length === attributes.length) return der.slice();
  const subject = subjectOfAttributes(attributes);
  const rdns: Uint8Array[] = [];
  for (const oid of GO_NAME_ORDER) {
    const values = oid === OID_COMMON_NAME ? (subject.commonName ? [subject.commonName] : []) : attributes.filter((a) => a.oid === oid).map((a) => a.value);
    if (values.length === 0) continue;
    const set = values.map((value) => encodeSequence(encodeOid(oid), encodeDirectoryString(value)));
    rdns.push(encodeElement(TAG.SET, concatBytes(sortDer(set))));
  }
  return encodeElement(TAG.SEQUENCE, concatBytes(rdns));
}

// DER orders the members of a SET OF by their encodings.
/**
 * True when the Name those attributes were read from (as DER: minimal lengths) is already what Go would
 * write for it (with the caller's check that it has no empty RDN): one attribute per RDN, in Go's order, each type once, no empty CN, each value in the
 * string type Go picks (so its bytes are its UTF-8). Then the re-encoding is the input, byte for byte:
 * kubelets' CSRs, which Go writes, are all of this kind.
 */
function inGoEncoding(attributes: readonly NameAttribute[]): boolean {
  let last = -1;
  for (const [index, { oid, tag, value, rdn }] of attributes.entries()) {
    const order = GO_NAME_ORDER.indexOf(oid);
    if (rdn !== index || order <= last || (oid === OID_COMMON_NAME && !value)) return false;
    if (tag !== (PRINTABLE.test(value) ? TAG.PRINTABLE_STRING : TAG.UTF8_STRING)) return false;
    last = order;
  }
  return true;
}

const sortDer = (items: Uint8Array[]): Uint8Array[] => [...items].sort((a, b) => Buffer.compare(a, b));
