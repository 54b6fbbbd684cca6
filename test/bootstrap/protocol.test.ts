// The API contract the kubelet's client-go is written against, on the embedded endpoint: protobuf bodies
// both ways, metadata.generateName, resourceVersion on objects and lists, watches that resume from a
// resourceVersion (410 when too old), end after timeoutSeconds and carry bookmarks.
import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  createCsr,
  formatBootstrapToken,
  generateBootstrapToken,
  generateKeyPair,
  initPkiDirectory,
  memoryRegistry,
  memoryTokenStore,
  nodeSubject,
  startBootstrapServer,
  type BootstrapServer,
  type CertificateSigningRequestObject,
  type RequestLogEntry,
} from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { decodeProtobuf, decodeProtobufWatchFrames, encodeProtobuf, PROTOBUF } from '../../lib/bootstrap/protobuf.js';
import { suiteTempDir } from '../helpers/dirs.js';

const PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const token = formatBootstrapToken(generateBootstrapToken());
let server: BootstrapServer;
let caPem: string;
let removeDir: (() => Promise<void>) | undefined;
const requests: RequestLogEntry[] = [];

test.before(async () => {
  const held = await suiteTempDir();
  removeDir = held.remove;
  await initPkiDirectory(held.dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
  caPem = await readFile(join(held.dir, 'pki/ca.crt'), 'utf8');
  server = await startBootstrapServer({
    registry: await memoryRegistry({ watchHistory: 3 }),
    tokens: memoryTokenStore([bootstrapTokenSecret({ id: token.slice(0, 6), secret: token.slice(7) })]),
    tls: { cert: await readFile(join(held.dir, 'pki/apiserver.crt'), 'utf8'), key: await readFile(join(held.dir, 'pki/apiserver.key'), 'utf8'), clientCa: caPem },
    bookmarkIntervalMs: 200,
    onRequest: (entry) => requests.push(entry),
  });
});

test.after(async () => {
  await server?.close();
  await removeDir?.();
});

interface Answer {
  status: number;
  type: string;
  bytes: Buffer;
}

/** One request; `until` ends a streaming answer early once what was read satisfies it. */
function call(method: string, path: string, options: { body?: Uint8Array | string; contentType?: string; accept?: string; until?: (bytes: Buffer) => boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method,
        path,
        ca: caPem,
        headers: {
          authorization: `Bearer ${token}`,
          ...(options.accept ? { accept: options.accept } : {}),
          ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json', 'content-length': Buffer.byteLength(options.body) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        const done = (): void => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), bytes: Buffer.concat(chunks) });
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          if (options.until?.(Buffer.concat(chunks))) {
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const json = (answer: Answer): Record<string, unknown> => JSON.parse(answer.bytes.toString()) as Record<string, unknown>;
const jsonLines = (bytes: Buffer): { type: string; object: CertificateSigningRequestObject }[] =>
  bytes.toString().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { type: string; object: CertificateSigningRequestObject });

async function newCsr(metadata: { name?: string; generateName?: string }): Promise<CertificateSigningRequestObject> {
  const csr = await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('n1') });
  const object = csrObject('x', csr.pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth']);
  return { ...object, metadata: metadata as CertificateSigningRequestObject['metadata'] };
}

test('generateName: the server names the CSR <prefix><5 characters> and answers with the name', async () => {
  const created = await call('POST', PREFIX, { body: JSON.stringify(await newCsr({ generateName: 'csr-' })) });
  assert.is(created.status, 201, created.bytes.toString());
  const name = (json(created).metadata as { name: string }).name;
  assert.match(name, /^csr-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.is((await call('GET', `${PREFIX}/${name}`)).status, 200);
  const second = await call('POST', PREFIX, { body: JSON.stringify(await newCsr({ generateName: 'csr-' })) });
  assert.is.not((json(second).metadata as { name: string }).name, name);
  const noName = await call('POST', PREFIX, { body: JSON.stringify(await newCsr({})) });
  assert.is(noName.status, 422, 'neither a name nor a generateName');
});

test('protobuf both ways: a protobuf CSR is created, read back in protobuf or JSON as the Accept header asks', async () => {
  const body = encodeProtobuf((await newCsr({ generateName: 'pb-' })) as unknown as Record<string, unknown>);
  const created = await call('POST', PREFIX, { body, contentType: PROTOBUF, accept: `${PROTOBUF}, application/json` });
  assert.is(created.status, 201, created.bytes.toString());
  assert.is(created.type, PROTOBUF);
  assert.equal([...created.bytes.subarray(0, 4)], [0x6b, 0x38, 0x73, 0x00], 'the k8s\\0 magic');
  const object = decodeProtobuf(created.bytes) as unknown as CertificateSigningRequestObject;
  assert.match(object.metadata.name, /^pb-/);
  assert.is(object.spec.username, 'system:bootstrap:' + token.slice(0, 6));
  assert.ok(object.metadata.resourceVersion && object.metadata.uid && object.metadata.creationTimestamp);
  const asJson = await call('GET', `${PREFIX}/${object.metadata.name}`, { accept: 'application/json' });
  assert.is(asJson.type, 'application/json');
  assert.equal(json(asJson).spec, object.spec, 'the same object in both encodings');
  const list = await call('GET', PREFIX, { accept: PROTOBUF });
  const items = decodeProtobuf(list.bytes) as { kind: string; metadata: { resourceVersion?: string }; items: CertificateSigningRequestObject[] };
  assert.is(items.kind, 'CertificateSigningRequestList');
  assert.ok(items.metadata.resourceVersion, 'a list carries its resourceVersion');
  assert.ok(items.items.some((i) => i.metadata.name === object.metadata.name));
  const refused = await call('POST', PREFIX, { body: Uint8Array.of(1, 2, 3), contentType: PROTOBUF, accept: PROTOBUF });
  assert.is(refused.status, 400);
  assert.equal((decodeProtobuf(refused.bytes) as { kind: string; code: number }).code, 400, 'a protobuf Status');
});

test('a watch from a list\'s resourceVersion gets only what came after; from "0" everything; a too old one a 410 ERROR event', async () => {
  const listed = json(await call('GET', PREFIX));
  const from = (listed.metadata as { resourceVersion: string }).resourceVersion;
  const created = json(await call('POST', PREFIX, { body: JSON.stringify(await newCsr({ generateName: 'after-' })) }));
  const name = (created.metadata as { name: string }).name;
  const resumed = await call('GET', `${PREFIX}?watch=true&resourceVersion=${from}`, { until: (b) => b.toString().includes('\n') });
  const events = jsonLines(resumed.bytes);
  assert.equal(events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', name]]);
  const all = await call('GET', `${PREFIX}?watch=true&resourceVersion=0`, { until: (b) => b.toString().split('\n').length > (listed.items as unknown[]).length + 1 });
  assert.ok(jsonLines(all.bytes).length >= (listed.items as unknown[]).length + 1);
  // The registry keeps 3 changes: the version of the first list is too old after 4 more.
  for (let i = 0; i < 4; i++) await call('POST', PREFIX, { body: JSON.stringify(await newCsr({ generateName: 'more-' })) });
  const gone = await call('GET', `${PREFIX}?watch=true&resourceVersion=${from}`);
  const [error] = jsonLines(gone.bytes) as unknown as { type: string; object: { code: number; reason: string } }[];
  assert.equal([gone.status, error?.type, error?.object.code, error?.object.reason], [200, 'ERROR', 410, 'Expired']);
});

test('timeoutSeconds ends a watch; allowWatchBookmarks brings BOOKMARK events; a protobuf watch is length-prefixed frames', async () => {
  const started = Date.now();
  const ended = await call('GET', `${PREFIX}?watch=true&resourceVersion=0&timeoutSeconds=1`);
  assert.ok(Date.now() - started >= 900 && Date.now() - started < 5000, `${Date.now() - started} ms`);
  assert.is(ended.status, 200);
  const rv = (json(await call('GET', PREFIX)).metadata as { resourceVersion: string }).resourceVersion;
  const marked = await call('GET', `${PREFIX}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`, { until: (b) => b.toString().includes('BOOKMARK') });
  const [bookmark] = jsonLines(marked.bytes);
  assert.equal([bookmark?.type, bookmark?.object.metadata.resourceVersion], ['BOOKMARK', rv]);
  const framed = await call('GET', `${PREFIX}?watch=true&resourceVersion=0`, { accept: PROTOBUF, until: (b) => decodeProtobufWatchFrames(b).length >= 2 });
  assert.is(framed.type, `${PROTOBUF};stream=watch`);
  const frames = decodeProtobufWatchFrames(framed.bytes);
  assert.ok(frames.length >= 2 && frames.every((f) => f.type === 'ADDED' && f.object.kind === 'CertificateSigningRequest'), JSON.stringify(frames.map((f) => f.type)));
});

test('a watch from a resourceVersion this server never gave is refused with a Status, not an empty stream', async () => {
  const refused = await call('GET', `${PREFIX}?watch=true&resourceVersion=not-a-version`);
  assert.is(refused.status, 422, refused.bytes.toString());
  assert.equal([json(refused).kind, json(refused).code], ['Status', 422]);
  assert.match(String(json(refused).message), /resourceVersion/);
});

test('a watch with nothing to report yet answers its headers at once (client-go waits for them)', async () => {
  const rv = (json(await call('GET', PREFIX)).metadata as { resourceVersion: string }).resourceVersion;
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: `${PREFIX}?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dnothing-here`, ca: caPem, headers: { authorization: `Bearer ${token}` } }, (res) => {
      resolve(res.statusCode ?? 0);
      res.destroy();
    });
    req.on('error', (error) => (String(error).includes('socket hang up') ? undefined : reject(error)));
    setTimeout(() => {
      resolve(-1);
      req.destroy();
    }, 2000);
    req.end();
  });
  assert.is(status, 200, 'no headers within 2 s');
});

test('every request is logged with its method, path, content types and status, and no credential', async () => {
  // A watch its client ended is logged once the server sees the connection close.
  for (let i = 0; i < 100 && !requests.some((r) => r.path.includes('watch=true') && r.responseType.endsWith('stream=watch')); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(requests.some((r) => r.method === 'POST' && r.contentType === PROTOBUF && r.responseType === PROTOBUF && r.status === 201), JSON.stringify(requests));
  assert.ok(requests.some((r) => r.method === 'POST' && r.status === 400), JSON.stringify(requests));
  assert.ok(requests.some((r) => r.path.includes('watch=true') && r.responseType === `${PROTOBUF};stream=watch`), 'a watch ended by its client is logged too');
  assert.not.ok(JSON.stringify(requests).includes(token.slice(7)), 'no token secret in the log');
});

test.run();
