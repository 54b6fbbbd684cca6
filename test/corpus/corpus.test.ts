// The hostile-input corpus (test/corpus/manifest.json, written by generate.ts): every input is refused
// with exactly its code, nothing is signed (every issuer's key signs through a provider that counts
// signatures), nothing is written, and nothing the library says or throws while refusing them carries
// a private key, a token secret or a PKCS#11 PIN.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  createCertificateAuthority,
  createCsr,
  exportPrivateKeyPem,
  formatBootstrapToken,
  generateBootstrapToken,
  generateKeyPair,
  issueCertificate,
  memoryTokenStore,
  nodeSubject,
  PkiError,
  PROFILES,
  startEmbeddedBootstrap,
  type CertificateAuthority,
  type EmbeddedBootstrap,
} from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { contentOf, CORPUS_DIR, refusedFor, runEntry, type Entry } from './entries.js';
import { decodeProtobuf } from '../../lib/bootstrap/protobuf.js';

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
  for (const entry of manifest) {
    assert.ok(entry.note.length > 2 && entry.expect, entry.file);
    assert.ok(entry.expect === 'ok' || entry.reason !== undefined, `${entry.file} names the reason it is refused for`);
    assert.ok(statSync(join(CORPUS_DIR, entry.file)).size < 64 * 1024, `${entry.file} is under 64 KiB (huge inputs repeat at test time)`);
  }
});

let ca: CertificateAuthority;
/** The test CA's own private key, and a second key, both looked for by the secrets scan. */
const caKeyPems: string[] = [];
const signed = { count: 0 };

// Every issuer in the corpus run signs through this provider: Node's WebCrypto behind a proxy that counts
// signatures (a provider that is not Node's own makes kubepki call its subtle.sign, never node:crypto).
const signatures = { count: 0 };
const realSubtle = globalThis.crypto.subtle;
const spiedCrypto = {
  subtle: new Proxy(realSubtle, {
    get(target, property) {
      if (property === 'sign') {
        return (...args: Parameters<SubtleCrypto['sign']>) => {
          signatures.count++;
          return target.sign(...args);
        };
      }
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }),
  getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto),
  randomUUID: globalThis.crypto.randomUUID.bind(globalThis.crypto),
} as unknown as Crypto;

test('the signature spy counts what an issuer signs through it', async () => {
  ca = await createCertificateAuthority({ commonName: 'corpus-test-ca' });
  caKeyPems.push(await exportPrivateKeyPem(ca.keyPair, 'pkcs8'), await exportPrivateKeyPem(await generateKeyPair('ecdsa-p256')));
  const node = await generateKeyPair();
  await issueCertificate({ issuer: { certificate: ca.certificate, privateKey: ca.privateKey, crypto: spiedCrypto }, profile: PROFILES.kubeletClient, subject: nodeSubject('spy'), publicKey: node.publicKey });
  assert.is(signatures.count, 1, 'one certificate, one signature');
  signatures.count = 0;
});

test('every input is refused with exactly its code and nothing is signed or written', async () => {
  const cwd = process.cwd();
  const scratch = mkdtempSync(join(tmpdir(), 'kubepki-corpus-'));
  const wrong: string[] = [];
  let run = 0;
  process.chdir(scratch);
  try {
    for (const entry of manifest) {
      if (entry.kind === 'http' || entry.expect === 'ok') continue;
      const before = signatures.count;
      const { got, message, error } = await runEntry(entry, ca, signed, scratch, spiedCrypto);
      if (signatures.count !== before) wrong.push(`${entry.file}: ${signatures.count - before} signature(s) made before the refusal`);
      run++;
      remember(error);
      said.push(message);
      if (got !== entry.expect) wrong.push(`${entry.file}: expected ${entry.expect}, got ${got} (${message})`);
      else if (!refusedFor(entry, message)) wrong.push(`${entry.file}: refused, but not because ${JSON.stringify(entry.reason)}: ${message}`);
    }
  } finally {
    process.chdir(cwd);
  }
  assert.equal(wrong, []);
  assert.is(run, manifest.filter((e) => e.kind !== 'http' && e.expect !== 'ok').length);
  assert.is(signed.count, 0, 'no certificate was returned');
  assert.is(signatures.count, 0, 'nothing was signed with an issuer key');
  assert.equal(readdirSync(scratch), [], 'no file was written');
  rmSync(scratch, { recursive: true });
});

let endpoint: EmbeddedBootstrap;
const tokens = { token: generateBootstrapToken(), other: generateBootstrapToken(), expired: generateBootstrapToken() };

test('every request to the bootstrap endpoint is refused with its status; nothing is created or signed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubepki-corpus-http-'));
  let issued = 0;
  endpoint = await startEmbeddedBootstrap({
    issuer: { certificate: ca.certificate.pem, privateKey: ca.privateKey, crypto: spiedCrypto },
    tokens: memoryTokenStore([bootstrapTokenSecret(tokens.token), bootstrapTokenSecret(tokens.other), bootstrapTokenSecret(tokens.expired, { expiration: new Date(Date.now() - 60_000) })]),
    registryDir: join(dir, 'csrs'),
    onOutcome: (_, outcome) => void (outcome.outcome === 'issued' && issued++),
  });
  try {
    const csr = await createCsr({ keyPair: await generateKeyPair(), subject: nodeSubject('existing') });
    await endpoint.registry.create(csrObject('existing', csr.pem, 'example.com/corpus', ['digital signature', 'client auth']), { username: `system:bootstrap:${tokens.token.id}`, groups: ['system:bootstrappers', 'system:authenticated'] });
    const before = readdirSync(join(dir, 'csrs')).sort();
    // The endpoint's own serving certificate was signed at start; from here on nothing may be.
    signatures.count = 0;
    const wrong: string[] = [];
    const requests = manifest.filter((e) => e.kind === 'http');
    assert.ok(requests.length >= 30, `${requests.length} requests`);
    for (const entry of requests) {
      const spec = JSON.parse(contentOf(entry).toString('utf8')) as HttpSpec;
      const { status, body } = await send(endpoint.server.port, spec);
      said.push(body);
      if (`HTTP:${status}` !== entry.expect) wrong.push(`${entry.file}: expected ${entry.expect}, got HTTP:${status} ${body.slice(0, 200)}`);
      else if (!/"kind":"Status"/.test(body)) wrong.push(`${entry.file}: the refusal is not a Status object`);
      else if (!refusedFor(entry, (JSON.parse(body) as { message: string }).message)) wrong.push(`${entry.file}: refused, but not because ${JSON.stringify(entry.reason)}: ${body}`);
    }
    assert.equal(wrong, []);
    assert.equal(readdirSync(join(dir, 'csrs')).sort(), before, 'the registry holds only what it held before');
    assert.equal((await endpoint.registry.list()).map((o) => o.metadata.name), ['existing']);
    assert.is(issued, 0, 'nothing was issued');
    assert.is(signatures.count, 0, 'nothing was signed with the CA key');
  } finally {
    await endpoint.close();
    rmSync(dir, { recursive: true });
  }
});

test('nothing said or thrown while refusing the corpus carries a key, a token secret or a PIN', () => {
  const secrets = secretsOfCorpus();
  assert.ok(secrets.keys.length > 100, `${secrets.keys.length} key windows to look for`);
  assert.ok(secrets.tokens.length > 3, `${secrets.tokens.length} token secrets to look for`);
  assert.ok(secrets.pins.length > 0, `${secrets.pins.length} PINs to look for`);
  const text = said.join('\n');
  assert.ok(text.length > 10_000, 'the refusals were collected');
  assert.equal(findSecrets(text, secrets), []);
  // The scan itself finds what is planted: a PEM key block, a window of the CA's key, a token secret, a PIN.
  const plant = (leak: string): number => findSecrets(`refused: ${leak} (field x)`, secrets).length;
  assert.ok(plant('-----BEGIN EC PRIVATE KEY-----') > 0, 'a PEM private key block');
  const caBody = caKeyPems[0]!.replace(/-----[^-]+-----|\s/g, '');
  assert.ok(plant(caBody.slice(-60, -20)) > 0, "40 characters of the CA key's base64");
  assert.ok(plant(caKeyPems[0]!.split('\n').slice(1, 3).join('\n')) > 0, 'two PEM lines of the CA key');
  assert.ok(plant(`token ${formatBootstrapToken(tokens.token)}`) > 0, 'a bootstrap token');
  assert.ok(plant('user:\n    token: corpus.c0rpusc0rpusc0rp') > 0, 'the corpus token in a kubeconfig line');
  assert.ok(plant('pin 97315502') > 0, 'the PKCS#11 PIN of the corpus');
  assert.is(plant('a kubelet-client certificate for system:node:a'), 0, 'an innocent message');
});

interface Secrets {
  /** 24-character windows of the base64 of every private key the run handled (structure shared by keys left out). */
  readonly keys: string[];
  /** The 16-character secret part of every bootstrap token. */
  readonly tokens: string[];
  /** PKCS#11 PINs written into references. */
  readonly pins: string[];
}

/** Every private key, token secret and PIN the corpus run handled. */
function secretsOfCorpus(): Secrets {
  const keys: string[] = [...caKeyPems];
  const tokenSecrets: string[] = [tokens.token.secret, tokens.other.secret, tokens.expired.secret];
  const pins: string[] = [];
  for (const entry of manifest) {
    const text = contentOf(entry).subarray(0, 200_000).toString('utf8');
    // Key data embedded in a kubeconfig is base64 of a PEM key: both the data and the key are secrets.
    const decoded = [...text.matchAll(/client-key-data:\s*"?([A-Za-z0-9+/=]{40,})/g)].map((m) => m[1]!);
    for (const data of decoded) keys.push(`-----BEGIN DATA-----${data}-----END`, Buffer.from(data, 'base64').toString('utf8'));
    for (const block of [text, ...decoded.map((d) => Buffer.from(d, 'base64').toString('utf8'))].flatMap((t) => [...t.matchAll(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----([\s\S]*?)-----END/g)])) keys.push(block[0]);
    for (const m of text.matchAll(/\b[a-z0-9]{6}\.([a-z0-9]{16})\b/g)) tokenSecrets.push(m[1]!);
    for (const m of text.matchAll(/"token-secret":\s*"([A-Za-z0-9+/=]+)"/g)) tokenSecrets.push(Buffer.from(m[1]!, 'base64').toString());
    if (entry.kind === 'pkcs11') for (const m of text.matchAll(/"pin":\s*"?(\d{4,})|"value":\s*"(\d{4,})|PIN=(\d{4,})/g)) pins.push((m[1] ?? m[2] ?? m[3])!);
  }
  // Windows every 4 characters (one base64 quantum) of each key body; a window found in two different
  // keys is format structure (algorithm identifiers, curve OIDs), not a secret.
  const owners = new Map<string, Set<number>>();
  keys.forEach((key, k) => {
    const body = key.replace(/-----[^-]+-----|Proc-Type:.*|DEK-Info:.*|\s/g, '');
    for (let i = 0; i + 24 <= body.length; i += 4) {
      const window = body.slice(i, i + 24);
      owners.set(window, (owners.get(window) ?? new Set()).add(k));
    }
  });
  const windows = [...owners].filter(([, of]) => of.size === 1).map(([window]) => window);
  return { keys: windows, tokens: [...new Set(tokenSecrets)].filter((t) => t.length === 16), pins: [...new Set(pins)] };
}

/** What of `secrets` occurs in `text` (whitespace ignored, so PEM lines joined again are found too). */
function findSecrets(text: string, secrets: Secrets): string[] {
  const plain = text.replace(/\s/g, '');
  const found: string[] = [];
  for (const block of text.matchAll(/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/g)) found.push(`a PEM block: ${block[0]}`);
  for (const window of secrets.keys) if (plain.includes(window)) found.push(`key material: ${window.slice(0, 6)}...`);
  for (const secret of secrets.tokens) if (plain.includes(secret)) found.push(`a token secret: ${secret.slice(0, 3)}...`);
  for (const pin of secrets.pins) if (new RegExp(`(^|\\D)${pin}($|\\D)`).test(text)) found.push('a PKCS#11 PIN');
  return found;
}

interface HttpSpec {
  method: string;
  path: string;
  auth?: 'token' | 'other-token' | 'expired-token' | 'bad-token' | 'none';
  headers?: Record<string, string>;
  body?: string;
  /** The whole body: `text` repeated. */
  bodyRepeat?: { text: string; times: number };
  /** In `body`, `marker` replaced by `text` repeated (a large field inside valid JSON). */
  bodyFill?: { marker: string; text: string; times: number };
  truncateDeclared?: boolean;
  /** A binary body (a protobuf one), base64; sent with `headers`' content type. */
  bodyBase64?: string;
}

function send(port: number, spec: HttpSpec): Promise<{ status: number; body: string }> {
  const bearer = { token: tokens.token, 'other-token': tokens.other, 'expired-token': tokens.expired, 'bad-token': { id: 'zzzzzz', secret: '0123456789abcdef' } }[spec.auth as 'token'];
  const fill = spec.bodyFill;
  const payload: string | Buffer | undefined = spec.bodyBase64 !== undefined ? Buffer.from(spec.bodyBase64, 'base64') : spec.bodyRepeat ? spec.bodyRepeat.text.repeat(spec.bodyRepeat.times) : fill && spec.body ? spec.body.replace(fill.marker, fill.text.repeat(fill.times)) : spec.body;
  const headers: Record<string, string> = {
    ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
    ...(bearer ? { authorization: `Bearer ${formatBootstrapToken(bearer)}` } : {}),
    ...spec.headers,
  };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: spec.method, path: spec.path, headers, ca: ca.certificate.pem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      // A protobuf Status is read back as JSON text, so that every refusal is checked the same way.
      const text = (): string => {
        const bytes = Buffer.concat(chunks);
        if (!/^application\/vnd\.kubernetes\.protobuf/.test(String(res.headers['content-type']))) return bytes.toString();
        try {
          return JSON.stringify(decodeProtobuf(bytes));
        } catch (error) {
          return `undecodable protobuf: ${String(error)}`;
        }
      };
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text() }));
      // A watch that was (wrongly) accepted would stream forever: the status is enough.
      if (res.statusCode === 200) res.destroy();
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body: text() }));
    });
    req.on('error', (error) => (spec.truncateDeclared ? resolve({ status: -1, body: String(error) }) : reject(error)));
    if (payload !== undefined && !spec.truncateDeclared) req.end(payload);
    else if (payload !== undefined) req.write(payload);
    else req.end();
  });
}

test.run();
