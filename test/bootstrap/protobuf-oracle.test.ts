// lib/bootstrap/protobuf.ts encodes and decodes the CSR resource's messages with its own table; protobufjs
// (a devDependency, the oracle) parses the same messages from their .proto text. Every seed object must
// encode to the same bytes and decode to the same object; on mutated bodies the two may differ only where
// kubepki is stricter (a known field with another wire type, as Go's generated code refuses it).
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeProtobuf, encodeProtobuf, encodeProtobufWatchEvent, decodeProtobufWatchFrames } from '../../lib/bootstrap/protobuf.js';
import { getSeeds } from '../fuzz/seeds.js';

const protobuf = createRequire(import.meta.url)('protobufjs') as typeof Protobuf;
const root = protobuf.parse(
  `syntax = "proto2";
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
`,
  { keepCase: true },
).root;
const Unknown = root.lookupType('k8s.Unknown');
const Csr = root.lookupType('k8s.CertificateSigningRequest');
type Json = Record<string, unknown>;

/** The message inside a body, as protobufjs reads it (bytes as base64, int64 as numbers, absent fields absent). */
function oracleRead(body: Uint8Array): Json {
  const envelope = Unknown.toObject(Unknown.decode(body.subarray(4)), { defaults: false }) as { raw?: Uint8Array };
  return Csr.toObject(Csr.decode(envelope.raw ?? new Uint8Array()), { bytes: String, longs: Number, defaults: false }) as Json;
}

/** kubepki's reading of the same body, with its JSON-shape conversions undone (Time as seconds, extra as {items}). */
function oursRead(body: Uint8Array): Json {
  const object = decodeProtobuf(body, ['CertificateSigningRequest']);
  return JSON.parse(
    JSON.stringify(object, (key, value: unknown) =>
      ['creationTimestamp', 'deletionTimestamp', 'lastUpdateTime', 'lastTransitionTime'].includes(key) && typeof value === 'string' ? { seconds: Date.parse(value) / 1000 } : value,
    ),
  ) as Json;
}

/** Without the type fields, which only kubepki's reading carries. */
const withoutType = (object: Json): Json => Object.fromEntries(Object.entries(object).filter(([key]) => key !== 'apiVersion' && key !== 'kind'));

const normalize = (object: Json): Json => {
  const rest = withoutType(object);
  const spec = rest.spec as Json | undefined;
  if (spec?.extra) spec.extra = Object.fromEntries(Object.entries(spec.extra as Record<string, string[]>).map(([k, items]) => [k, items.length ? { items } : {}]));
  return rest;
};

test('every seed CSR object encodes to the bytes protobufjs writes, and both read them back alike', async () => {
  const { csrObjects } = await getSeeds();
  const objects = [
    ...csrObjects,
    { ...csrObjects[0]!, metadata: { name: 'x', labels: { a: 'b', __proto__: 'c' } as Json, annotations: {}, generation: 0, creationTimestamp: '2024-01-02T03:04:05Z' } },
  ] as unknown as Json[];
  for (const object of objects) {
    const ours = encodeProtobuf(object);
    const shaped = JSON.parse(JSON.stringify(withoutType(object)), (key, value: unknown) =>
      ['creationTimestamp', 'deletionTimestamp', 'lastUpdateTime', 'lastTransitionTime'].includes(key) && typeof value === 'string' ? { seconds: Date.parse(value) / 1000 } : value,
    ) as Json;
    const spec = shaped.spec as Json | undefined;
    if (spec?.extra) spec.extra = Object.fromEntries(Object.entries(spec.extra as Record<string, string[]>).map(([k, items]) => [k, { items }]));
    const raw = Csr.encode(Csr.fromObject(shaped)).finish();
    const envelope = Unknown.encode(Unknown.fromObject({ typeMeta: { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest' }, raw })).finish();
    assert.equal(Buffer.from(ours).subarray(4).toString('hex'), Buffer.from(envelope).toString('hex'), JSON.stringify(object).slice(0, 200));
    assert.equal(normalize(oursRead(ours)), normalize(oracleRead(ours)));
    assert.equal(decodeProtobufWatchFrames(encodeProtobufWatchEvent('ADDED', object)), [{ type: 'ADDED', object: decodeProtobuf(ours) }]);
  }
});

test('on 5,000 mutated bodies both accept or both refuse, unless kubepki refuses a field with the wrong wire type', async () => {
  const { csrObjects } = await getSeeds();
  const base = Buffer.from(encodeProtobuf(csrObjects[0] as unknown as Json));
  // Mutations inside the CSR message (the envelope's last field), not in its type.
  const rawStart = base.length - (Unknown.decode(base.subarray(4)) as unknown as { raw: Uint8Array }).raw.length;
  let seed = 19;
  const random = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const read = (f: () => Json): Json | Error => {
    try {
      return f();
    } catch (error) {
      return error as Error;
    }
  };
  for (let i = 0; i < 5000; i++) {
    const body = Buffer.from(base);
    for (let j = 0; j <= i % 3; j++) body[rawStart + random(body.length - rawStart)] = random(256);
    const ours = read(() => oursRead(body));
    const oracle = read(() => oracleRead(body));
    if (ours instanceof Error && oracle instanceof Error) continue;
    if (ours instanceof Error) {
      assert.match(String((ours as { cause?: unknown }).cause), /wire type|field number 0/, `${body.toString('hex')}: ${String(ours)}`);
      continue;
    }
    assert.ok(!(oracle instanceof Error), `kubepki read what protobufjs refuses: ${body.toString('hex')}`);
    // Strings with invalid UTF-8 are read differently (U+FFFD here): compare the rest.
    if (/\ufffd/.test(JSON.stringify(ours))) continue;
    assert.equal(normalize(ours), normalize(oracle), body.toString('hex'));
  }
});

test.run();
