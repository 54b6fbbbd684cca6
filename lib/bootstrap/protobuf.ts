import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import { PkiError } from '../errors.js';
import type { CertificateSigningRequestObject } from './csr-object.js';

/** Kubernetes' protobuf media type, the default of its components (a kubelet with rotation on sends it). */
export const PROTOBUF = 'application/vnd.kubernetes.protobuf';

// The messages of the CSR resource as kube-apiserver serializes them, written from upstream's
// k8s.io/api/certificates/v1/generated.proto, k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto and
// k8s.io/apimachinery/pkg/runtime/generated.proto (proto2; only the fields this resource uses: protobufjs
// skips the others, as Go's generated code does).
const SCHEMA = `
syntax = "proto2";
package k8s;
message Time { optional int64 seconds = 1; optional int32 nanos = 2; }
message ObjectMeta {
  optional string name = 1; optional string generateName = 2; optional string namespace = 3; optional string selfLink = 4;
  optional string uid = 5; optional string resourceVersion = 6; optional int64 generation = 7;
  optional Time creationTimestamp = 8; optional Time deletionTimestamp = 9;
  map<string, string> labels = 11; map<string, string> annotations = 12; repeated string finalizers = 14;
}
message ListMeta { optional string selfLink = 1; optional string resourceVersion = 2; optional string continue = 3; optional int64 remainingItemCount = 4; }
message StatusCause { optional string reason = 1; optional string message = 2; optional string field = 3; }
message StatusDetails { optional string name = 1; optional string group = 2; optional string kind = 3; repeated StatusCause causes = 4; optional int32 retryAfterSeconds = 5; optional string uid = 6; }
message Status { optional ListMeta metadata = 1; optional string status = 2; optional string message = 3; optional string reason = 4; optional StatusDetails details = 5; optional int32 code = 6; }
message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
message Unknown { optional TypeMeta typeMeta = 1; optional bytes raw = 2; optional string contentEncoding = 3; optional string contentType = 4; }
message RawExtension { optional bytes raw = 1; }
message WatchEvent { optional string type = 1; optional RawExtension object = 2; }
message ExtraValue { repeated string items = 1; }
message CertificateSigningRequestSpec {
  optional bytes request = 1; optional string username = 2; optional string uid = 3; repeated string groups = 4;
  repeated string usages = 5; map<string, ExtraValue> extra = 6; optional string signerName = 7; optional int32 expirationSeconds = 8;
}
message CertificateSigningRequestCondition {
  optional string type = 1; optional string reason = 2; optional string message = 3;
  optional Time lastUpdateTime = 4; optional Time lastTransitionTime = 5; optional string status = 6;
}
message CertificateSigningRequestStatus { repeated CertificateSigningRequestCondition conditions = 1; optional bytes certificate = 2; }
message CertificateSigningRequest { optional ObjectMeta metadata = 1; optional CertificateSigningRequestSpec spec = 2; optional CertificateSigningRequestStatus status = 3; }
message CertificateSigningRequestList { optional ListMeta metadata = 1; repeated CertificateSigningRequest items = 2; }
`;

// Every protobuf body starts with this magic, then a runtime.Unknown naming the type (protobuf.go in
// k8s.io/apimachinery/pkg/runtime/serializer/protobuf).
const MAGIC = Uint8Array.of(0x6b, 0x38, 0x73, 0x00);

interface Types {
  readonly unknown: Protobuf.Type;
  readonly watchEvent: Protobuf.Type;
  readonly byKind: Readonly<Record<Kind, Protobuf.Type>>;
}
export type ProtobufKind = 'CertificateSigningRequest' | 'CertificateSigningRequestList' | 'Status';
type Kind = ProtobufKind;
const API_VERSION: Record<Kind, string> = { CertificateSigningRequest: 'certificates.k8s.io/v1', CertificateSigningRequestList: 'certificates.k8s.io/v1', Status: 'v1' };

let types: Types | undefined;
// protobufjs is loaded on the first protobuf request: a library user who never serves one never pays for it.
function loaded(): Types {
  if (!types) {
    const protobuf = createRequire(import.meta.url)('protobufjs') as typeof Protobuf;
    const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
    const type = (name: string): Protobuf.Type => root.lookupType(`k8s.${name}`);
    types = {
      unknown: type('Unknown'),
      watchEvent: type('WatchEvent'),
      byKind: { CertificateSigningRequest: type('CertificateSigningRequest'), CertificateSigningRequestList: type('CertificateSigningRequestList'), Status: type('Status') },
    };
  }
  return types;
}

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
  const { unknown, byKind } = loaded();
  const kind = object.kind as Kind;
  const type = byKind[kind];
  if (!type) throw new PkiError('ERR_ARGUMENT', `no protobuf encoding for kind ${String(object.kind)}`, { field: 'kind' });
  const raw = type.encode(type.fromObject(kind === 'CertificateSigningRequestList' ? { ...object, items: (object.items as Json[]).map(toMessageShape) } : toMessageShape(object))).finish();
  const envelope = unknown.encode(unknown.fromObject({ typeMeta: { apiVersion: API_VERSION[kind], kind }, raw })).finish();
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
  const { unknown, byKind } = loaded();
  const bad = (why: string, cause?: unknown): PkiError => new PkiError('ERR_CSR_OBJECT', `the protobuf body ${why}`, { cause });
  if (body.length < MAGIC.length || !MAGIC.every((b, i) => body[i] === b)) throw bad('does not start with the Kubernetes protobuf magic "k8s\\0"');
  let envelope: Json;
  try {
    envelope = unknown.toObject(unknown.decode(body.subarray(MAGIC.length)), { defaults: false }) as Json;
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
  const type = byKind[kind];
  let message: Json;
  try {
    message = type.toObject(type.decode((envelope.raw as Uint8Array | undefined) ?? new Uint8Array()), { bytes: String, longs: Number, defaults: false }) as Json;
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
  const { watchEvent } = loaded();
  const event = watchEvent.encode(watchEvent.fromObject({ type, object: { raw: encodeProtobuf(object) } })).finish();
  const frame = new Uint8Array(4 + event.length);
  new DataView(frame.buffer).setUint32(0, event.length);
  frame.set(event, 4);
  return frame;
}

/** The events of a protobuf watch stream (whole frames only), in the JSON shape. */
export function decodeProtobufWatchFrames(stream: Uint8Array): { type: string; object: Record<string, unknown> }[] {
  const { watchEvent } = loaded();
  const events: { type: string; object: Record<string, unknown> }[] = [];
  const view = new DataView(stream.buffer, stream.byteOffset, stream.byteLength);
  for (let at = 0; at + 4 <= stream.length; ) {
    const length = view.getUint32(at);
    if (at + 4 + length > stream.length) break;
    const event = watchEvent.toObject(watchEvent.decode(stream.subarray(at + 4, at + 4 + length)), { defaults: false }) as { type?: string; object?: { raw?: Uint8Array } };
    events.push({ type: event.type ?? '', object: decodeProtobuf(event.object?.raw ?? new Uint8Array()) });
    at += 4 + length;
  }
  return events;
}
