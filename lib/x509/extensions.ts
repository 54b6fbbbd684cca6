import { PkiError } from '../errors.js';
import { children, concatBytes, contentOf, decodeOid, encodeBoolean, readElement, encodeElement, encodeOctetString, encodeOid, encodeSequence, encodeSmallInteger, type DerElement, TAG } from '../crypto/der.js';
import type { ExtendedKeyUsageName, KeyUsageName } from './profile.js';
import { EXTENDED_KEY_USAGE_OIDS, KEY_USAGES } from './profile.js';

/** Extension OIDs kubepki writes or reads. */
export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  extKeyUsage: '2.5.29.37',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

/** An extension ready to be placed in a TBSCertificate: OID, criticality and DER value. */
export interface ExtensionValue {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** basicConstraints, critical as Go writes it; an empty SEQUENCE for leaves. */
export function basicConstraints(isCA: boolean, pathLength?: number): ExtensionValue {
  const parts = isCA ? [encodeBoolean(true), ...(pathLength === undefined ? [] : [encodeSmallInteger(pathLength)])] : [];
  return { oid: OID.basicConstraints, critical: true, value: encodeSequence(...parts) };
}

/** keyUsage as a minimal named-bit BIT STRING, critical. */
export function keyUsage(usages: readonly KeyUsageName[]): ExtensionValue {
  let bits = 0;
  for (const usage of usages) bits |= 1 << KEY_USAGES.indexOf(usage);
  const highest = 31 - Math.clz32(bits);
  const byteCount = Math.floor(highest / 8) + 1;
  const bytes = new Uint8Array(byteCount);
  for (let bit = 0; bit <= highest; bit++) {
    if (bits & (1 << bit)) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  }
  const unused = byteCount * 8 - 1 - highest;
  return { oid: OID.keyUsage, critical: true, value: encodeElement(TAG.BIT_STRING, concatBytes([Uint8Array.of(unused), bytes])) };
}

export function extendedKeyUsage(usages: readonly ExtendedKeyUsageName[]): ExtensionValue {
  return { oid: OID.extKeyUsage, critical: false, value: encodeSequence(...usages.map((u) => encodeOid(EXTENDED_KEY_USAGE_OIDS[u]))) };
}

export function subjectKeyIdentifier(keyId: Uint8Array): ExtensionValue {
  return { oid: OID.subjectKeyIdentifier, critical: false, value: encodeOctetString(keyId) };
}

export function authorityKeyIdentifier(keyId: Uint8Array): ExtensionValue {
  return { oid: OID.authorityKeyIdentifier, critical: false, value: encodeSequence(encodeElement(0x80, keyId)) };
}

/** subjectAltName; critical only when the subject is empty (RFC 5280 4.2.1.6), which kubepki never issues. */
export function subjectAltName(generalNames: Uint8Array): ExtensionValue {
  return { oid: OID.subjectAltName, critical: false, value: generalNames };
}

/** One Extension element: `SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`. */
export function encodeExtension(extension: ExtensionValue): Uint8Array {
  const parts = [encodeOid(extension.oid), ...(extension.critical ? [encodeBoolean(true)] : []), encodeOctetString(extension.value)];
  return encodeSequence(...parts);
}

/** Reads `Extensions ::= SEQUENCE OF Extension` (the element is the SEQUENCE). */
export function decodeExtensions(bytes: Uint8Array, sequence: DerElement, field: string): ExtensionValue[] {
  if (sequence.tag !== TAG.SEQUENCE) throw new PkiError('ERR_DER', 'extensions are a SEQUENCE', { field });
  const extensions: ExtensionValue[] = [];
  for (const element of children(bytes, sequence, field)) extensions.push(decodeExtension(bytes, element, field));
  return extensions;
}

// Hot parsing helpers are module-level functions, not closures made per call: V8 optimises every new
// closure of a hot function again (measured: a dozen TurboFan compiles of one arrow per isolate).
function decodeExtension(bytes: Uint8Array, element: DerElement, field: string): ExtensionValue {
  const parts = element.tag === TAG.SEQUENCE ? children(bytes, element, field) : [];
  const [id, second, third] = parts;
  const flag = second?.tag === TAG.BOOLEAN ? second : undefined;
  const value = flag ? third : second;
  if (!id || id.tag !== TAG.OID || !value || value.tag !== TAG.OCTET_STRING || parts.length !== (flag ? 3 : 2)) {
    throw new PkiError('ERR_DER', 'an extension is a SEQUENCE of OID, optional BOOLEAN and OCTET STRING', { field });
  }
  if (flag && flag.end - flag.start !== 1) throw new PkiError('ERR_DER', 'malformed BOOLEAN in an extension', { field });
  return { oid: decodeOid(contentOf(bytes, id), field), critical: flag ? bytes[flag.start] !== 0 : false, value: contentOf(bytes, value) };
}

/** The usages set in a keyUsage BIT STRING. */
export function decodeKeyUsage(value: Uint8Array, field = 'keyUsage'): KeyUsageName[] {
  const bits = single(value, TAG.BIT_STRING, field);
  if (bits.length === 0 || bits[0]! > 7) throw new PkiError('ERR_DER', 'malformed keyUsage BIT STRING', { field });
  return KEY_USAGES.filter((_, bit) => ((bits[1 + (bit >> 3)] ?? 0) & (0x80 >> (bit & 7))) !== 0);
}

/** The OIDs of an extKeyUsage extension, in order. */
export function decodeExtendedKeyUsage(value: Uint8Array, field = 'extKeyUsage'): string[] {
  const top = readElement(value, 0, field);
  if (top.tag !== TAG.SEQUENCE || top.end !== value.length) throw new PkiError('ERR_DER', 'extKeyUsage is a SEQUENCE of OIDs', { field });
  return children(value, top, field).map((oid) => {
    if (oid.tag !== TAG.OID) throw new PkiError('ERR_DER', 'extKeyUsage is a SEQUENCE of OIDs', { field });
    return decodeOid(contentOf(value, oid), field);
  });
}

export function decodeSubjectKeyIdentifier(value: Uint8Array, field = 'subjectKeyIdentifier'): Uint8Array {
  return single(value, TAG.OCTET_STRING, field);
}

/** The keyIdentifier [0] of an authorityKeyIdentifier, when present. */
export function decodeAuthorityKeyIdentifier(value: Uint8Array, field = 'authorityKeyIdentifier'): Uint8Array | undefined {
  const top = readElement(value, 0, field);
  if (top.tag !== TAG.SEQUENCE || top.end !== value.length) throw new PkiError('ERR_DER', 'authorityKeyIdentifier is a SEQUENCE', { field });
  const keyId = children(value, top, field).find((part) => part.tag === 0x80);
  return keyId ? contentOf(value, keyId) : undefined;
}

function single(value: Uint8Array, tag: number, field: string): Uint8Array {
  const element = readElement(value, 0, field);
  if (element.tag !== tag || element.end !== value.length) throw new PkiError('ERR_DER', `expected a single element of tag 0x${tag.toString(16)}`, { field });
  return contentOf(value, element);
}

/** Reads a basicConstraints extension value: cA (DEFAULT FALSE) and the optional path length. */
export function decodeBasicConstraints(value: Uint8Array, field = 'basicConstraints'): { isCA: boolean; pathLength?: number } {
  const top = readElement(value, 0, field);
  if (top.tag !== TAG.SEQUENCE || top.end !== value.length) throw new PkiError('ERR_DER', 'basicConstraints is a SEQUENCE', { field });
  const parts = children(value, top, field);
  const first = parts[0];
  const isCA = first?.tag === TAG.BOOLEAN && value[first.start] !== 0;
  const length = parts.find((p) => p.tag === TAG.INTEGER);
  return length ? { isCA, pathLength: value.subarray(length.start, length.end).reduce((n, b) => n * 256 + b, 0) } : { isCA };
}
