import { PkiError } from '../errors.js';
import type { CertificateSigningRequestObject } from './csr-object.js';

/** Kubernetes' protobuf media type, the default of its components (a kubelet with rotation on sends it). */
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

// The messages of the CSR resource as kube-apiserver serializes them, written from upstream's
// k8s.io/api/certificates/v1/generated.proto, k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto and
// k8s.io/apimachinery/pkg/runtime/generated.proto (proto2; only the fields this resource uses: the
// decoder skips the others, as Go's generated code does). Each field: number, JSON name, type, and
// whether it is repeated or a map<string, type>.
type Scalar = 'string' | 'bytes' | 'int64' | 'int32';
type MessageName =
  | 'Time' | 'ObjectMeta' | 'ListMeta' | 'StatusCause' | 'StatusDetails' | 'Status' | 'TypeMeta' | 'Unknown' | 'RawExtension' | 'WatchEvent' | 'ExtraValue'
  | 'CertificateSigningRequestSpec' | 'CertificateSigningRequestCondition' | 'CertificateSigningRequestStatus' | 'CertificateSigningRequest' | 'CertificateSigningRequestList';
type FieldType = Scalar | MessageName;
type Field = readonly [number: number, name: string, type: FieldType, label?: 'repeated' | 'map'];

const SCHEMA: Readonly<Record<MessageName, readonly Field[]>> = {
  Time: [[1, 'seconds', 'int64'], [2, 'nanos', 'int32']],
  ObjectMeta: [
    [1, 'name', 'string'], [2, 'generateName', 'string'], [3, 'namespace', 'string'], [4, 'selfLink', 'string'],
    [5, 'uid', 'string'], [6, 'resourceVersion', 'string'], [7, 'generation', 'int64'],
    [8, 'creationTimestamp', 'Time'], [9, 'deletionTimestamp', 'Time'],
    [11, 'labels', 'string', 'map'], [12, 'annotations', 'string', 'map'], [14, 'finalizers', 'string', 'repeated'],
  ],
  ListMeta: [[1, 'selfLink', 'string'], [2, 'resourceVersion', 'string'], [3, 'continue', 'string'], [4, 'remainingItemCount', 'int64']],
  StatusCause: [[1, 'reason', 'string'], [2, 'message', 'string'], [3, 'field', 'string']],
  StatusDetails: [[1, 'name', 'string'], [2, 'group', 'string'], [3, 'kind', 'string'], [4, 'causes', 'StatusCause', 'repeated'], [5, 'retryAfterSeconds', 'int32'], [6, 'uid', 'string']],
  Status: [[1, 'metadata', 'ListMeta'], [2, 'status', 'string'], [3, 'message', 'string'], [4, 'reason', 'string'], [5, 'details', 'StatusDetails'], [6, 'code', 'int32']],
  TypeMeta: [[1, 'apiVersion', 'string'], [2, 'kind', 'string']],
  Unknown: [[1, 'typeMeta', 'TypeMeta'], [2, 'raw', 'bytes'], [3, 'contentEncoding', 'string'], [4, 'contentType', 'string']],
  RawExtension: [[1, 'raw', 'bytes']],
  WatchEvent: [[1, 'type', 'string'], [2, 'object', 'RawExtension']],
  ExtraValue: [[1, 'items', 'string', 'repeated']],
  CertificateSigningRequestSpec: [
    [1, 'request', 'bytes'], [2, 'username', 'string'], [3, 'uid', 'string'], [4, 'groups', 'string', 'repeated'],
    [5, 'usages', 'string', 'repeated'], [6, 'extra', 'ExtraValue', 'map'], [7, 'signerName', 'string'], [8, 'expirationSeconds', 'int32'],
  ],
  CertificateSigningRequestCondition: [
    [1, 'type', 'string'], [2, 'reason', 'string'], [3, 'message', 'string'],
    [4, 'lastUpdateTime', 'Time'], [5, 'lastTransitionTime', 'Time'], [6, 'status', 'string'],
  ],
  CertificateSigningRequestStatus: [[1, 'conditions', 'CertificateSigningRequestCondition', 'repeated'], [2, 'certificate', 'bytes']],
  CertificateSigningRequest: [[1, 'metadata', 'ObjectMeta'], [2, 'spec', 'CertificateSigningRequestSpec'], [3, 'status', 'CertificateSigningRequestStatus']],
  CertificateSigningRequestList: [[1, 'metadata', 'ListMeta'], [2, 'items', 'CertificateSigningRequest', 'repeated']],
};

const isScalar = (type: FieldType): type is Scalar => type === 'string' || type === 'bytes' || type === 'int64' || type === 'int32';
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;
const WIRE_FIXED32 = 5;

// --- Encoding: a JSON-shaped object (bytes as base64 or bytes, int64 as a number or a decimal string) to
// the message's wire format. Absent (undefined or null) fields are not written; present ones always are,
// zero values included (proto2 presence). Fields are written in field-number order, as Go writes them.

class Writer {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  bytes(data: Uint8Array): void {
    this.chunks.push(data);
    this.length += data.length;
  }
  varint(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    while (v > 0x7fn) {
      out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    out.push(Number(v));
    this.bytes(Uint8Array.from(out));
  }
  tag(number: number, wire: number): void {
    this.varint(BigInt((number << 3) | wire));
  }
  delimited(number: number, data: Uint8Array): void {
    this.tag(number, WIRE_LENGTH);
    this.varint(BigInt(data.length));
    this.bytes(data);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }
}

const utf8 = new TextEncoder();
const typeError = (path: string, what: string): TypeError => new TypeError(`${path}: ${what} expected`);

function toBytes(value: unknown, path: string): Uint8Array {
  if (typeof value === 'string') return Uint8Array.from(Buffer.from(value, 'base64'));
  if (value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  throw typeError(path, 'bytes or base64');
}

function toInteger(value: unknown, bits: 32 | 64): bigint {
  if (typeof value === 'bigint') return BigInt.asIntN(bits, value);
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return BigInt.asIntN(bits, BigInt(value.trim()));
  const n = Math.trunc(Number(value));
  return Number.isFinite(n) ? BigInt.asIntN(bits, BigInt(n)) : 0n;
}

function writeValue(writer: Writer, number: number, type: FieldType, value: unknown, path: string): void {
  switch (type) {
    case 'string':
      return writer.delimited(number, utf8.encode(String(value)));
    case 'bytes':
      return writer.delimited(number, toBytes(value, path));
    case 'int32':
    case 'int64':
      writer.tag(number, WIRE_VARINT);
      return writer.varint(toInteger(value, type === 'int32' ? 32 : 64));
    default:
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw typeError(path, 'object');
      return writer.delimited(number, encodeMessage(type, value as Json, path));
  }
}

function encodeMessage(name: MessageName, object: Json, path: string = name): Uint8Array {
  const writer = new Writer();
  for (const [number, field, type, label] of SCHEMA[name]) {
    const value = object[field];
    if (value === undefined || value === null) continue;
    const at = `${path}.${field}`;
    if (label === 'repeated') {
      if (!Array.isArray(value)) throw typeError(at, 'array');
      value.forEach((item, i) => writeValue(writer, number, type, item, `${at}[${i}]`));
    } else if (label === 'map') {
      if (typeof value !== 'object' || Array.isArray(value)) throw typeError(at, 'object');
      for (const [key, item] of Object.entries(value as Json)) {
        // A map entry is a message of its own: key = 1, value = 2.
        const entry = new Writer();
        writeValue(entry, 1, 'string', key, at);
        writeValue(entry, 2, type, item ?? (isScalar(type) ? '' : {}), `${at}[${JSON.stringify(key)}]`);
        writer.delimited(number, entry.finish());
      }
    } else {
      writeValue(writer, number, type, value, at);
    }
  }
  return writer.finish();
}

// --- Decoding: the wire format to the JSON shape (bytes as base64, int64 as a number); fields absent from
// the wire are absent from the object, as are empty repeated fields and maps. Unknown fields are skipped;
// groups (wire types 3 and 4, which no Kubernetes message uses) and wire types 6 and 7 are refused, as is
// a field whose wire type is not its type's, a varint over 10 bytes and a length past the end.

class Reader {
  at = 0;
  constructor(private readonly data: Uint8Array) {}
  get done(): boolean {
    return this.at >= this.data.length;
  }
  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.at >= this.data.length) throw new RangeError('a varint runs past the end');
      const byte = this.data[this.at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, value);
    }
    throw new RangeError('a varint longer than 10 bytes');
  }
  skip(length: number): Uint8Array {
    if (length > this.data.length - this.at) throw new RangeError('a field runs past the end');
    const out = this.data.subarray(this.at, this.at + length);
    this.at += length;
    return out;
  }
  delimited(): Uint8Array {
    return this.skip(Number(this.varint()));
  }
}

const utf8Decoder = new TextDecoder('utf-8');

function readValue(reader: Reader, wire: number, type: FieldType, path: string): unknown {
  const expected = type === 'int32' || type === 'int64' ? WIRE_VARINT : WIRE_LENGTH;
  if (wire !== expected) throw new TypeError(`${path}: wire type ${wire}, not ${expected}`);
  switch (type) {
    case 'string':
      return utf8Decoder.decode(reader.delimited());
    case 'bytes':
      return Buffer.from(reader.delimited()).toString('base64');
    case 'int32':
      return Number(BigInt.asIntN(32, reader.varint()));
    case 'int64':
      return Number(BigInt.asIntN(64, reader.varint()));
    default:
      return decodeMessage(type, reader.delimited(), path);
  }
}

function skipField(reader: Reader, wire: number): void {
  if (wire === WIRE_VARINT) reader.varint();
  else if (wire === WIRE_FIXED64) reader.skip(8);
  else if (wire === WIRE_LENGTH) reader.delimited();
  else if (wire === WIRE_FIXED32) reader.skip(4);
  else throw new TypeError(`wire type ${wire} (a group, or no wire type)`);
}

function decodeMessage(name: MessageName, data: Uint8Array, path: string = name): Json {
  const reader = new Reader(data);
  const object: Json = {};
  while (!reader.done) {
    const tag = reader.varint();
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (number === 0) throw new TypeError(`${path}: field number 0`);
    const field = SCHEMA[name].find(([n]) => n === number);
    if (!field) {
      skipField(reader, wire);
      continue;
    }
    const [, key, type, label] = field;
    const at = `${path}.${key}`;
    if (label === 'repeated') {
      ((object[key] ??= []) as unknown[]).push(readValue(reader, wire, type, at));
    } else if (label === 'map') {
      if (wire !== WIRE_LENGTH) throw new TypeError(`${at}: wire type ${wire}, not ${WIRE_LENGTH}`);
      const entry = new Reader(reader.delimited());
      let entryKey = '';
      let entryValue: unknown;
      while (!entry.done) {
        const entryTag = entry.varint();
        const entryNumber = entryTag >> 3n;
        const entryWire = Number(entryTag & 7n);
        if (entryNumber === 1n) entryKey = readValue(entry, entryWire, 'string', at) as string;
        else if (entryNumber === 2n) entryValue = readValue(entry, entryWire, type, at);
        else skipField(entry, entryWire);
      }
      // An own property even for a key like "__proto__", which an assignment would take as the prototype.
      Object.defineProperty((object[key] ??= {}) as Json, entryKey, { value: entryValue ?? (isScalar(type) ? '' : {}), enumerable: true, writable: true, configurable: true });
    } else {
      object[key] = readValue(reader, wire, type, at);
    }
  }
  // In field-number order, whatever order the wire had.
  const ordered: Json = {};
  for (const [, key] of SCHEMA[name]) if (Object.hasOwn(object, key)) ordered[key] = object[key];
  return ordered;
}

export type ProtobufKind = 'CertificateSigningRequest' | 'CertificateSigningRequestList' | 'Status';
type Kind = ProtobufKind;
const API_VERSION: Record<Kind, string> = { CertificateSigningRequest: 'certificates.k8s.io/v1', CertificateSigningRequestList: 'certificates.k8s.io/v1', Status: 'v1' };

// Every protobuf body starts with this magic, then a runtime.Unknown naming the type (protobuf.go in
// k8s.io/apimachinery/pkg/runtime/serializer/protobuf).
const MAGIC = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

type Json = Record<string, unknown>;

// --- JSON shape <-> protobuf message: bytes are base64 in JSON (as Go's encoding/json writes []byte),
// meta/v1 Time is RFC 3339 in JSON and {seconds, nanos} in protobuf, ExtraValue is a bare list in JSON.
const toTime = (text: unknown): Json | undefined => {
  if (typeof text !== 'string') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : { seconds: Math.floor(ms / 1000) };
};
// meta/v1 Time runs from year 1 to 9999 (as RFC 3339 can write it); anything else is no time.
const MIN_SECONDS = -62135596800;
const MAX_SECONDS = 253402300799;
const fromTime = (time: unknown): string | undefined => {
  const seconds = (time as { seconds?: number } | undefined)?.seconds;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
};
const TIME_FIELDS = ['creationTimestamp', 'deletionTimestamp', 'lastUpdateTime', 'lastTransitionTime'];

/** Walks a JSON-shaped value, turning meta/v1 Time strings into messages (`toMessage`) or back. */
function mapTimes(value: unknown, convert: (v: unknown) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapTimes(v, convert));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, v]) => [key, TIME_FIELDS.includes(key) ? convert(v) : key === 'extra' || key === 'labels' || key === 'annotations' ? v : mapTimes(v, convert)]),
  );
}

function toMessageShape(object: Json): Json {
  const shaped = mapTimes(object, toTime) as Json;
  const spec = shaped.spec as Json | undefined;
  if (spec?.extra) spec.extra = Object.fromEntries(Object.entries(spec.extra as Record<string, string[]>).map(([k, items]) => [k, { items }]));
  delete shaped.apiVersion;
  delete shaped.kind;
  return shaped;
}

function fromMessageShape(message: Json, kind: Kind): Json {
  const shaped = mapTimes(message, fromTime) as Json;
  const spec = shaped.spec as Json | undefined;
  if (spec?.extra) spec.extra = Object.fromEntries(Object.entries(spec.extra as Record<string, { items?: string[] }>).map(([k, v]) => [k, v.items ?? []]));
  return { apiVersion: API_VERSION[kind], kind, ...shaped };
}

/** A protobuf body: the magic, then a runtime.Unknown holding the type and the object's own encoding. */
export function encodeProtobuf(object: Json): Uint8Array {
  const kind = object.kind as Kind;
  if (!Object.hasOwn(API_VERSION, kind)) throw new PkiError('ERR_ARGUMENT', `no protobuf encoding for kind ${String(object.kind)}`, { field: 'kind' });
  const raw = encodeMessage(kind, kind === 'CertificateSigningRequestList' ? { ...object, items: (object.items as Json[]).map(toMessageShape) } : toMessageShape(object));
  const envelope = encodeMessage('Unknown', { typeMeta: { apiVersion: API_VERSION[kind], kind }, raw });
  const out = new Uint8Array(MAGIC.length + envelope.length);
  out.set(MAGIC);
  out.set(envelope, MAGIC.length);
  return out;
}

/**
 * Decodes a protobuf request body into the JSON shape the registry takes: only a certificates.k8s.io/v1
 * CertificateSigningRequest is accepted. Anything malformed is ERR_CSR_OBJECT, never stored.
 */
export function decodeProtobufCsr(body: Uint8Array): CertificateSigningRequestObject {
  return decodeProtobuf(body, ['CertificateSigningRequest']) as unknown as CertificateSigningRequestObject;
}

/** Decodes a protobuf body of one of `kinds` (a CSR, a CSR list, a Status) into its JSON shape. */
export function decodeProtobuf(body: Uint8Array, kinds: readonly Kind[] = ['CertificateSigningRequest', 'CertificateSigningRequestList', 'Status']): Record<string, unknown> {
  const bad = (why: string, cause?: unknown): PkiError => new PkiError('ERR_CSR_OBJECT', `the protobuf body ${why}`, { cause });
  if (body.length < MAGIC.length || !MAGIC.every((b, i) => body[i] === b)) throw bad('does not start with the Kubernetes protobuf magic "k8s\\0"');
  let envelope: Json;
  try {
    envelope = decodeMessage('Unknown', body.subarray(MAGIC.length));
  } catch (cause) {
    throw bad('is not a runtime.Unknown envelope', cause);
  }
  const typeMeta = (envelope.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const kind = kinds.find((k) => typeMeta.kind === k && typeMeta.apiVersion === API_VERSION[k]);
  if (!kind) {
    const wanted = kinds.map((k) => `${API_VERSION[k]} ${k}`).join(' or ');
    throw bad(`holds ${JSON.stringify(typeMeta.apiVersion ?? '')}/${JSON.stringify(typeMeta.kind ?? '')}, not ${wanted}`);
  }
  if ((envelope.contentEncoding ?? '') !== '' || ((envelope.contentType ?? '') !== '' && envelope.contentType !== PROTOBUF)) throw bad('uses an encoding or content type this server does not read');
  let message: Json;
  try {
    message = decodeMessage(kind, Buffer.from((envelope.raw as string | undefined) ?? '', 'base64'));
  } catch (cause) {
    throw bad(`is not a ${kind} message`, cause);
  }
  try {
    if (kind !== 'CertificateSigningRequestList') return fromMessageShape(message, kind);
    const items = ((message.items as Json[] | undefined) ?? []).map((item) => fromMessageShape(item, 'CertificateSigningRequest'));
    return { ...fromMessageShape({ ...message, items: [] }, kind), items };
  } catch (cause) {
    throw bad('holds a value this server cannot read', cause);
  }
}

/** One watch event as a protobuf watch stream frames it: a 4-byte big-endian length, then a meta/v1 WatchEvent. */
export function encodeProtobufWatchEvent(type: string, object: Json): Uint8Array {
  const event = encodeMessage('WatchEvent', { type, object: { raw: encodeProtobuf(object) } });
  const frame = new Uint8Array(4 + event.length);
  new DataView(frame.buffer).setUint32(0, event.length);
  frame.set(event, 4);
  return frame;
}

/** The events of a protobuf watch stream (whole frames only), in the JSON shape. */
export function decodeProtobufWatchFrames(stream: Uint8Array): { type: string; object: Record<string, unknown> }[] {
  const events: { type: string; object: Record<string, unknown> }[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let at = 0; at + 4 <= stream.length; ) {
    const length = view.getUint32(at);
    if (at + 4 + length > stream.length) break;
    const event = decodeMessage('WatchEvent', stream.subarray(at + 4, at + 4 + length)) as { type?: string; object?: { raw?: string } };
    events.push({ type: event.type ?? '', object: decodeProtobuf(Buffer.from(event.object?.raw ?? '', 'base64')) });
    at += 4 + length;
  }
  return events;
}
