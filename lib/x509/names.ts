import { concatBytes, encodeElement, encodeOid, encodeSequence, TAG } from '../crypto/der.js';
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
  const rdn = (oid: string, value: string): Uint8Array =>
    encodeElement(TAG.SET, encodeSequence(encodeOid(oid), encodeDirectoryString(value)));
  const rdns = [...(subject.organizations ?? []).map((o) => rdn(OID_ORGANIZATION, o)), rdn(OID_COMMON_NAME, subject.commonName)];
  return encodeElement(TAG.SEQUENCE, concatBytes(rdns));
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
