import { children, concatBytes, encodeBoolean, readElement, encodeElement, encodeOctetString, encodeOid, encodeSequence, encodeSmallInteger, TAG } from '../crypto/der.js';
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

/** Reads a basicConstraints extension value: cA (DEFAULT FALSE) and the optional path length. */
export function decodeBasicConstraints(value: Uint8Array, field = 'basicConstraints'): { isCA: boolean; pathLength?: number } {
  const top = readElement(value, 0, field);
  const parts = children(value, top, field);
  const first = parts[0];
  const isCA = first?.tag === TAG.BOOLEAN && value[first.start] !== 0;
  const length = parts.find((p) => p.tag === TAG.INTEGER);
  return length ? { isCA, pathLength: value.subarray(length.start, length.end).reduce((n, b) => n * 256 + b, 0) } : { isCA };
}
