// The hostile-input corpus (test/corpus/manifest.json, written by generate.ts): every input is refused
// with its code, nothing is signed, nothing is written, and nothing the library says or throws while
// refusing them carries key material or a token secret.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  createCertificateAuthority,
  createCsr,
  csrObject,
  exportPrivateKeyPem,
  formatBootstrapToken,
  generateBootstrapToken,
  generateKeyPair,
  memoryTokenStore,
  nodeSubject,
  PkiError,
  startEmbeddedBootstrap,
  type CertificateAuthority,
  type EmbeddedBootstrap,
} from '../../lib/index.js';
import { contentOf, CORPUS_DIR, runEntry, type Entry } from './entries.js';

const manifest = JSON.parse(readFileSync(join(CORPUS_DIR, 'manifest.json'), 'utf8')) as Entry[];
const said: string[] = [];
const remember = (error: unknown): void => {
  for (let e = error; e; e = (e as { cause?: unknown }).cause) {
    said.push(e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e));
    if (e instanceof PkiError) said.push(JSON.stringify(e.toData()));
  }
};

// Everything written to stdout and stderr while the corpus runs (warnings, logs) is scanned too.
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    said.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

test('the manifest lists every corpus file once, at least 300 hostile inputs', () => {
  const listed = new Set(manifest.map((e) => e.file));
  assert.is(listed.size, manifest.length, 'no file listed twice');
  const onDisk = readdirSync(CORPUS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(join(CORPUS_DIR, d.name)).map((f) => `${d.name}/${f}`));
  assert.equal(onDisk.filter((f) => !listed.has(f)), [], 'every file is in the manifest');
  assert.ok(manifest.filter((e) => e.expect !== 'ok').length >= 300, `${manifest.length} entries`);
  for (const entry of manifest) assert.ok(entry.note.length > 2 && entry.expect, entry.file);
});

let ca: CertificateAuthority;
let caKeyPem: string;
const signed = { count: 0 };

test('every input is refused with its code and nothing is signed or written', async () => {
  ca = await createCertificateAuthority({ commonName: 'corpus-test-ca' });
  caKeyPem = await exportPrivateKeyPem(await generateKeyPair('ecdsa-p256'));
  const cwd = process.cwd();
  const scratch = mkdtempSync(join(tmpdir(), 'kubepki-corpus-'));
  const wrong: string[] = [];
  process.chdir(scratch);
  try {
    for (const entry of manifest) {
      if (entry.kind === 'http' || entry.expect === 'ok') continue;
      const { got, error } = await runEntry(entry, ca, signed);
      remember(error);
      const matches = entry.expect === 'ANY_PKI_ERROR' ? error instanceof PkiError : got === entry.expect;
      if (!matches) wrong.push(`${entry.file}: expected ${entry.expect}, got ${got}`);
    }
  } finally {
    process.chdir(cwd);
  }
  assert.equal(wrong, []);
  assert.is(signed.count, 0, 'no certificate was signed');
  assert.equal(readdirSync(scratch), [], 'no file was written');
  rmSync(scratch, { recursive: true });
});

let endpoint: EmbeddedBootstrap;
const tokens = { token: generateBootstrapToken(), other: generateBootstrapToken(), expired: generateBootstrapToken() };

test('every request to the bootstrap endpoint is refused with its status; nothing is created or signed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubepki-corpus-http-'));
  let issued = 0;
  endpoint = await startEmbeddedBootstrap({
    ca: { certificate: ca.certificate.pem, privateKey: ca.privateKey },
    tokens: memoryTokenStore([bootstrapTokenSecret(tokens.token), bootstrapTokenSecret(tokens.other), bootstrapTokenSecret(tokens.expired, { expiration: new Date(Date.now() - 60_000) })]),
    registryDir: join(dir, 'csrs'),
    onOutcome: (_, outcome) => void (outcome.outcome === 'issued' && issued++),
  });
  try {
    const csr = await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('existing') });
    await endpoint.registry.create(csrObject('existing', csr.pem, 'example.com/corpus', ['digital signature', 'client auth']), { username: `system:bootstrap:${tokens.token.id}`, groups: ['system:bootstrappers', 'system:authenticated'] });
    const before = readdirSync(join(dir, 'csrs')).sort();
    const wrong: string[] = [];
    const requests = manifest.filter((e) => e.kind === 'http');
    assert.ok(requests.length >= 30, `${requests.length} requests`);
    for (const entry of requests) {
      const spec = JSON.parse(contentOf(entry).toString('utf8')) as HttpSpec;
      const { status, body } = await send(endpoint.server.port, spec);
      said.push(body);
      if (`HTTP:${status}` !== entry.expect) wrong.push(`${entry.file}: expected ${entry.expect}, got HTTP:${status} ${body.slice(0, 200)}`);
      if (status >= 400 && !/"kind":"Status"/.test(body)) wrong.push(`${entry.file}: the refusal is not a Status object`);
    }
    assert.equal(wrong, []);
    assert.equal(readdirSync(join(dir, 'csrs')).sort(), before, 'the registry holds only what it held before');
    assert.equal((await endpoint.registry.list()).map((o) => o.metadata.name), ['existing']);
    assert.is(issued, 0, 'nothing was signed');
  } finally {
    await endpoint.close();
    rmSync(dir, { recursive: true });
  }
});

test('nothing said or thrown while refusing the corpus carries a key or a token secret', () => {
  const secrets = secretsOfCorpus();
  assert.ok(secrets.length > 20, `${secrets.length} secrets to look for`);
  const text = said.join('\n');
  assert.ok(text.length > 10_000, 'the refusals were collected');
  assert.equal(findSecrets(text, secrets), []);
  // The scan itself finds what is planted.
  assert.equal(findSecrets(`oops ${caKeyPem.slice(-100, -40)} leaked`, secrets).length, 1);
  assert.equal(findSecrets(`token ${formatBootstrapToken(tokens.token)}`, secrets).length, 1);
});

/** Every private key and token secret the corpus run handled: base64 windows of keys, token secrets whole. */
function secretsOfCorpus(): string[] {
  const keys: string[] = [caKeyPem];
  const secrets: string[] = [tokens.token.secret, tokens.other.secret, tokens.expired.secret];
  for (const entry of manifest) {
    const text = contentOf(entry).subarray(0, 200_000).toString('utf8');
    for (const block of text.matchAll(/-----BEGIN [A-Z ]*PRIVATE KEY-----([\s\S]*?)-----END/g)) keys.push(block[1]!);
    if (entry.kind === 'token') {
      for (const m of text.matchAll(/[a-z0-9]{6}\.([a-z0-9]{16})/g)) secrets.push(m[1]!);
      const secretData = /"token-secret":\s*"([A-Za-z0-9+/=]+)"/.exec(text);
      if (secretData) secrets.push(Buffer.from(secretData[1]!, 'base64').toString());
    }
  }
  const windows = keys.flatMap((key) => {
    const body = key.replace(/-----[^-]+-----|Proc-Type:.*|DEK-Info:.*|\s/g, '');
    // Windows past the first 40 characters: the leading bytes of a key are its (public) structure.
    return Array.from({ length: Math.max(0, Math.floor((body.length - 40) / 24)) }, (_, i) => body.slice(40 + i * 24, 64 + i * 24));
  });
  return [...new Set([...windows, ...secrets])].filter((s) => s.length >= 16);
}

function findSecrets(text: string, secrets: readonly string[]): string[] {
  const plain = text.replace(/\s/g, '');
  return secrets.filter((secret) => plain.includes(secret));
}

interface HttpSpec {
  method: string;
  path: string;
  auth?: 'token' | 'other-token' | 'expired-token' | 'bad-token' | 'none';
  headers?: Record<string, string>;
  body?: string;
  bodyRepeat?: { text: string; times: number };
  truncateDeclared?: boolean;
}

function send(port: number, spec: HttpSpec): Promise<{ status: number; body: string }> {
  const bearer = { token: tokens.token, 'other-token': tokens.other, 'expired-token': tokens.expired, 'bad-token': { id: 'zzzzzz', secret: '0123456789abcdef' } }[spec.auth as 'token'];
  const payload = spec.bodyRepeat ? spec.bodyRepeat.text.repeat(spec.bodyRepeat.times) : spec.body;
  const headers: Record<string, string> = {
    ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
    ...(bearer ? { authorization: `Bearer ${formatBootstrapToken(bearer)}` } : {}),
    ...spec.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: spec.method, path: spec.path, headers, ca: ca.certificate.pem }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      // A watch that was (wrongly) accepted would stream forever: the status is enough.
      if (res.statusCode === 200) res.destroy();
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (error) => (spec.truncateDeclared ? resolve({ status: -1, body: String(error) }) : reject(error)));
    if (payload !== undefined && !spec.truncateDeclared) req.end(payload);
    else if (payload !== undefined) req.write(payload);
    else req.end();
  });
}

test.run();
