import { PkiError } from '../errors.js';

/** One DER element: tag byte(s), the offset of its contents and where it ends. */
export interface DerElement {
  /** The identifier octets as a number (single-byte tags only, which is all X.509 uses). */
  readonly tag: number;
  readonly constructed: boolean;
  /** Offset of the first content byte in the buffer. */
  readonly start: number;
  /** Offset just past the last content byte. */
  readonly end: number;
  /** Offset of the first identifier byte. */
  readonly headerStart: number;
}

export interface DerLimits {
  /** Deepest nesting of constructed elements accepted. Default 32 (X.509 needs about 10). */
  maxDepth?: number;
  /** Most elements accepted in one structure. Default 20,000. */
  maxElements?: number;
  /** Largest input accepted, in bytes. Default 1 MiB (a certificate or CSR is a few KiB). */
  maxBytes?: number;
}

/** The limits for a revocation list, which lists one small entry per revoked certificate. */
export const CRL_LIMITS: DerLimits = { maxElements: 1_000_000, maxBytes: 16 * 1024 * 1024 };

const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_INTEGER = 0x02;

/** Reads the element that starts at `offset`; DER rules only (definite, minimal lengths). */
export function readElement(bytes: Uint8Array, offset: number, field: string): DerElement {
  readHeader(bytes, offset, field, HEADER);
  const { tag, start, end } = HEADER;
  return { tag, constructed: (tag & 0x20) !== 0, start, end, headerStart: offset };
}

/** An element's header as readHeader leaves it: one object reused, so that a walk allocates nothing. */
interface Header {
  tag: number;
  start: number;
  end: number;
}

const HEADER: Header = { tag: 0, start: 0, end: 0 };

function readHeader(bytes: Uint8Array, offset: number, field: string, out: Header): void {
  if (offset + 2 > bytes.length) throw derError('truncated element', offset, field);
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError('multi-byte tags are not used in X.509', offset, field);
  const first = bytes[offset + 1]!;
  let start = offset + 2;
  let length = first;
  if (first === 0x80) throw derError('indefinite length is not DER', offset, field);
  if (first > 0x80) {
    const count = first & 0x7f;
    if (count > 4) throw derError('length field too long', offset, field);
    if (start + count > bytes.length) throw derError('truncated length', offset, field);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    if (bytes[start] === 0 || length < 0x80) throw derError('length not minimally encoded', offset, field);
    start += count;
  }
  const end = start + length;
  if (end > bytes.length) throw derError('length runs past the end of the input', offset, field);
  out.tag = tag;
  out.start = start;
  out.end = end;
}

function derError(reason: string, offset: number, field: string): PkiError {
  return new PkiError('ERR_DER', `${reason} at byte ${offset}`, { field });
}

/** The direct children of a constructed element. */
export function children(bytes: Uint8Array, parent: DerElement, field: string): DerElement[] {
  const out: DerElement[] = [];
  for (let offset = parent.start; offset < parent.end; ) {
    const child = readElement(bytes, offset, field);
    if (child.end > parent.end) throw overrun(offset, field);
    out.push(child);
    offset = child.end;
  }
  return out;
}

function overrun(offset: number, field: string): PkiError {
  return new PkiError('ERR_DER', `element overruns its parent at byte ${offset}`, { field });
}

/**
 * Checks that `bytes` is exactly one well-formed DER element (no trailing bytes), walking every
 * constructed element within the depth and size limits. asn1js accepts BER; this runs first so that
 * indefinite lengths, non-minimal lengths and truncation are refused with a clear error.
 */
export function assertDer(bytes: Uint8Array, field: string, limits: DerLimits = {}): DerElement {
  const maxDepth = limits.maxDepth ?? 32;
  const maxElements = limits.maxElements ?? 20_000;
  const maxBytes = limits.maxBytes ?? 1024 * 1024;
  if (bytes.length > maxBytes) throw new PkiError('ERR_DER', `${bytes.length} bytes is over the limit of ${maxBytes}`, { field });
  const top = readElement(bytes, 0, field);
  if (top.end !== bytes.length) throw new PkiError('ERR_DER', `${bytes.length - top.end} trailing bytes after the structure`, { field });
  checkElement({ bytes, field, maxDepth, maxElements, elements: 0 }, top.tag, top.start, top.end, 0, 0);
  return top;
}

interface Walk {
  readonly bytes: Uint8Array;
  readonly field: string;
  readonly maxDepth: number;
  readonly maxElements: number;
  elements: number;
}

// The walk runs for every certificate and CSR parsed: it reads headers into one reused object instead
// of making an element object and a children array per element, and it is a module-level function,
// not a closure made per call (V8 optimises every new closure of a hot function again).
function checkElement(state: Walk, tag: number, start: number, end: number, headerStart: number, depth: number): void {
  const { bytes, field } = state;
  if (++state.elements > state.maxElements) throw new PkiError('ERR_DER', `more than ${state.maxElements} elements`, { field });
  const universal = (tag & 0xc0) === 0;
  const number = tag & 0x1f;
  if ((tag & 0x20) !== 0) {
    if (universal && (number === TAG_BIT_STRING || number === TAG_OCTET_STRING)) {
      throw new PkiError('ERR_DER', `constructed string at byte ${headerStart} is not DER`, { field });
    }
    if (depth >= state.maxDepth) throw new PkiError('ERR_DER', `nesting deeper than ${state.maxDepth}`, { field });
    for (let offset = start; offset < end; ) {
      readHeader(bytes, offset, field, HEADER);
      // Copied out: the recursion below reuses HEADER.
      const { tag: childTag, start: childStart, end: childEnd } = HEADER;
      if (childEnd > end) throw overrun(offset, field);
      checkElement(state, childTag, childStart, childEnd, offset, depth + 1);
      offset = childEnd;
    }
  } else if (universal && number === TAG_INTEGER) {
    assertMinimalInteger(bytes, start, end, headerStart, field);
  }
}

function assertMinimalInteger(bytes: Uint8Array, start: number, end: number, headerStart: number, field: string): void {
  const length = end - start;
  if (length === 0) throw new PkiError('ERR_DER', `empty INTEGER at byte ${headerStart}`, { field });
  if (length > 1) {
    const a = bytes[start]!;
    const b = bytes[start + 1]!;
    if ((a === 0x00 && b < 0x80) || (a === 0xff && b >= 0x80)) {
      throw new PkiError('ERR_DER', `INTEGER at byte ${headerStart} not minimally encoded`, { field });
    }
  }
}

/** Encodes one element with a DER length. */
export function encodeElement(tag: number, content: Uint8Array): Uint8Array {
  const length = content.length;
  const lengthBytes = length < 0x80 ? 0 : length < 0x100 ? 1 : length < 0x10000 ? 2 : length < 0x1000000 ? 3 : 4;
  const out = new Uint8Array(2 + lengthBytes + length);
  out[0] = tag;
  if (lengthBytes === 0) out[1] = length;
  else {
    out[1] = 0x80 | lengthBytes;
    for (let i = 0; i < lengthBytes; i++) out[2 + i] = (length >>> (8 * (lengthBytes - 1 - i))) & 0xff;
  }
  out.set(content, 2 + lengthBytes);
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The contents of an element as a view (no copy). */
export function contentOf(bytes: Uint8Array, element: DerElement): Uint8Array {
  return bytes.subarray(element.start, element.end);
}

/** The whole element, header included, as a view (no copy). */
export function elementBytes(bytes: Uint8Array, element: DerElement): Uint8Array {
  return bytes.subarray(element.headerStart, element.end);
}

// The same few dozen OIDs recur in every certificate; their dotted forms are kept.
const dottedOids = new Map<string, string>();
const encodedOids = new Map<string, Uint8Array>();

/** Decodes an OBJECT IDENTIFIER's contents to dotted form. */
export function decodeOid(content: Uint8Array, field: string): string {
  const id = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('latin1');
  let dotted = dottedOids.get(id);
  if (dotted === undefined) {
    dotted = decodeOidArcs(content, field);
    if (dottedOids.size < 4096) dottedOids.set(id, dotted);
  }
  return dotted;
}

function decodeOidArcs(content: Uint8Array, field: string): string {
  if (content.length === 0) throw new PkiError('ERR_DER', 'empty OBJECT IDENTIFIER', { field });
  const arcs: number[] = [];
  let value = 0;
  for (let i = 0; i < content.length; i++) {
    const byte = content[i]!;
    if (value === 0 && byte === 0x80) throw new PkiError('ERR_DER', 'OBJECT IDENTIFIER arc not minimally encoded', { field });
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new PkiError('ERR_DER', 'OBJECT IDENTIFIER arc too large', { field });
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    } else if (i === content.length - 1) {
      throw new PkiError('ERR_DER', 'truncated OBJECT IDENTIFIER', { field });
    }
  }
  const first = arcs.shift()!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...arcs].join('.');
}

/** Universal tags and the context-specific tags X.509 uses. */
export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

export function encodeSequence(...items: Uint8Array[]): Uint8Array {
  return encodeElement(TAG.SEQUENCE, concatBytes(items));
}

/** Encodes a dotted OBJECT IDENTIFIER. */
export function encodeOid(oid: string): Uint8Array {
  let encoded = encodedOids.get(oid);
  if (!encoded) {
    encoded = encodeOidArcs(oid);
    if (encodedOids.size < 4096) encodedOids.set(oid, encoded);
  }
  return encoded;
}

function encodeOidArcs(oid: string): Uint8Array {
  const arcs = oid.split('.').map(Number);
  const body: number[] = [];
  const push = (value: number): void => {
    const chunk = [value & 0x7f];
    for (let n = Math.floor(value / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    body.push(...chunk);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return encodeElement(TAG.OID, Uint8Array.from(body));
}

/** Encodes a non-negative INTEGER given as big-endian magnitude bytes (a leading zero is added when needed). */
export function encodeUnsignedInteger(magnitude: Uint8Array): Uint8Array {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const content = trimmed.length > 0 && (trimmed[0]! & 0x80) !== 0 ? concatBytes([Uint8Array.of(0), trimmed]) : trimmed.length ? trimmed : Uint8Array.of(0);
  return encodeElement(TAG.INTEGER, content);
}

export function encodeSmallInteger(value: number): Uint8Array {
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return encodeUnsignedInteger(Uint8Array.from(bytes));
}

export function encodeBoolean(value: boolean): Uint8Array {
  return encodeElement(TAG.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00));
}

export function encodeOctetString(content: Uint8Array): Uint8Array {
  return encodeElement(TAG.OCTET_STRING, content);
}
