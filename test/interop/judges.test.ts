// The judges themselves, on a small PKI made by the openssl command line (not by kubepki): each must
// accept what is right and refuse what is wrong, or the interop tests built on them prove nothing.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EKU_CLIENT_AUTH,
  EKU_SERVER_AUTH,
  gnutlsLoadKey,
  gnutlsVerify,
  goJudge,
  opensslCsrVerify,
  opensslGenerateKey,
  opensslLoadKey,
  opensslLoadPublicKey,
  opensslMakeCsr,
  opensslVerify,
  type GoCase,
  type KeyFormat,
  type KeyKind,
} from './judges.js';

const execFileAsync = promisify(execFile);

const X509_CONFIG = `
[req]
distinguished_name = dn
[dn]
[root]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:node1.example,IP:10.0.0.5
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

interface Issued {
  cert: string;
  key: string;
}

interface Pki {
  root: string;
  unrelated: string;
  server: Issued;
  client: Issued;
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  await execFileAsync('openssl', args, { cwd, timeout: 60_000 });
}

const genP256 = (dir: string, file: string): Promise<void> => openssl(dir, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);

/** A self-signed ECDSA P-256 CA named `name`; its key stays in `dir` as name.key. */
async function makeRoot(dir: string, name: string): Promise<string> {
  await genP256(dir, `${name}.key`);
  await openssl(dir, 'req', '-x509', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-days', '2', '-config', 'x509.cnf', '-extensions', 'root', '-out', `${name}.pem`);
  return readFile(join(dir, `${name}.pem`), 'utf8');
}

/** A leaf signed by root.pem with the extensions of config section `profile`. */
async function makeLeaf(dir: string, profile: 'server' | 'client', subject: string, serial: number): Promise<Issued> {
  await genP256(dir, `${profile}.key`);
  await openssl(dir, 'req', '-new', '-key', `${profile}.key`, '-subj', subject, '-config', 'x509.cnf', '-out', `${profile}.csr`);
  await openssl(dir, 'x509', '-req', '-in', `${profile}.csr`, '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', String(serial), '-days', '1', '-extfile', 'x509.cnf', '-extensions', profile, '-out', `${profile}.pem`);
  return { cert: await readFile(join(dir, `${profile}.pem`), 'utf8'), key: await readFile(join(dir, `${profile}.key`), 'utf8') };
}

async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-judges-test-'));
  try {
    await writeFile(join(dir, 'x509.cnf'), X509_CONFIG);
    const root = await makeRoot(dir, 'root');
    const unrelated = await makeRoot(dir, 'unrelated');
    const server = await makeLeaf(dir, 'server', '/CN=node1.example', 2);
    const client = await makeLeaf(dir, 'client', '/CN=system:node:node1/O=system:nodes', 3);
    return { root, unrelated, server, client };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Flips one bit of the last DER byte, which lies inside the signature value, and re-encodes the PEM. */
function tamperPem(pem: string): string {
  const match = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (!match) throw new Error('no PEM block');
  const [, label, body] = match;
  const der = Buffer.from(body ?? '', 'base64');
  der[der.length - 1]! ^= 0x01;
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

async function publicKeyOf(keyPem: string): Promise<string> {
  const pending = execFileAsync('openssl', ['pkey', '-pubout'], { timeout: 60_000 });
  pending.child.stdin?.end(keyPem);
  return (await pending).stdout;
}

const GARBAGE_KEY = '-----BEGIN EC PRIVATE KEY-----\nMAMCAQU=\n-----END EC PRIVATE KEY-----\n';
const GARBAGE_PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----\nMAMCAQU=\n-----END PUBLIC KEY-----\n';

/** One verification question, asked of all three verifiers. */
interface Situation {
  label: string;
  leaf: string;
  root: string;
  purpose: 'server' | 'client';
  name?: string;
  expect: boolean;
}

let pki: Pki;
let situations: Situation[];

test.before(async () => {
  pki = await makePki();
  const server = { leaf: pki.server.cert, root: pki.root, purpose: 'server' as const };
  const client = { leaf: pki.client.cert, root: pki.root, purpose: 'client' as const };
  situations = [
    { ...server, label: 'server leaf as node1.example', name: 'node1.example', expect: true },
    { ...server, label: 'server leaf as 10.0.0.5', name: '10.0.0.5', expect: true },
    { ...server, label: 'server leaf as other.example', name: 'other.example', expect: false },
    { ...server, label: 'server leaf as 10.0.0.6', name: '10.0.0.6', expect: false },
    { ...server, label: 'server leaf for client auth', purpose: 'client', expect: false },
    { ...server, label: 'server leaf under an unrelated root', root: pki.unrelated, name: 'node1.example', expect: false },
    { ...client, label: 'client leaf for client auth', expect: true },
    { ...client, label: 'client leaf for server auth', purpose: 'server', expect: false },
    { ...client, label: 'client leaf under an unrelated root', root: pki.unrelated, expect: false },
  ];
});

const isIp = (name: string): boolean => /^[0-9.]+$/.test(name) || name.includes(':');

test('Go crypto/x509 Verify accepts and refuses as expected', async () => {
  const results = await goJudge(situations.map((s) => ({ op: 'verify', leaf: s.leaf, roots: [s.root], name: s.name ?? '', eku: s.purpose })));
  situations.forEach((s, i) => assert.is(results[i]!.ok, s.expect, `${s.label}: ${results[i]!.error || 'ok'}`));
});

test('openssl verify accepts and refuses as expected', async () => {
  for (const s of situations) {
    const name = s.name && (isIp(s.name) ? { ip: s.name } : { hostname: s.name });
    const { ok, output } = await opensslVerify({ roots: [s.root], leaf: s.leaf, purpose: s.purpose === 'server' ? 'sslserver' : 'sslclient', ...name });
    assert.is(ok, s.expect, `${s.label}: ${output}`);
  }
});

test('certtool --verify accepts and refuses as expected', async () => {
  for (const s of situations) {
    const purposeOid = s.purpose === 'server' ? EKU_SERVER_AUTH : EKU_CLIENT_AUTH;
    const { ok, output } = await gnutlsVerify({ roots: [s.root], chain: [s.leaf], purposeOid, hostname: s.name });
    assert.is(ok, s.expect, `${s.label}: ${output}`);
  }
});

test('Go and openssl judge validity time', async () => {
  const later = new Date(Date.now() + 30 * 86_400_000);
  const [now, then] = await goJudge([
    { op: 'verify', leaf: pki.server.cert, roots: [pki.root], name: 'node1.example', eku: 'server', time: new Date().toISOString() },
    { op: 'verify', leaf: pki.server.cert, roots: [pki.root], name: 'node1.example', eku: 'server', time: later.toISOString() },
  ]);
  assert.ok(now!.ok, now!.error);
  assert.match(then!.error, /expired/);
  const expired = await opensslVerify({ roots: [pki.root], leaf: pki.server.cert, purpose: 'sslserver', attime: later });
  assert.not.ok(expired.ok, expired.output);
});

test('a malformed Go case fails alone, without failing its batch', async () => {
  const bogus = [{ op: 'sign' }, { op: 'verify', leaf: 'junk', roots: [], eku: 'server' }, { op: 'verify', leaf: pki.client.cert, roots: [pki.root], eku: 'sideways' }] as unknown as GoCase[];
  const results = await goJudge([...bogus, { op: 'verify', leaf: pki.client.cert, roots: [pki.root], eku: 'any' }]);
  assert.equal(results.map((r) => r.ok), [false, false, false, true], results.map((r) => r.error).join(' | '));
  assert.ok(results.slice(0, 3).every((r) => r.error !== ''));
});

for (const kind of ['ecdsa-p256', 'rsa-2048', 'ed25519'] as const) {
  test(`a ${kind} CSR made by openssl passes Go and openssl; a tampered copy fails both`, async () => {
    const csr = await opensslMakeCsr(await opensslGenerateKey(kind, 'pkcs8'), '/CN=system:node:n1/O=system:nodes', ['DNS:n1', 'IP:10.0.0.1']);
    const tampered = tamperPem(csr);
    const [good, bad] = await goJudge([
      { op: 'csr', csr },
      { op: 'csr', csr: tampered },
    ]);
    assert.ok(good!.ok, good!.error);
    assert.not.ok(bad!.ok);
    assert.match(bad!.error, /verification/, 'the tampered CSR parses and fails on its signature');
    assert.ok(await opensslCsrVerify(csr));
    assert.not.ok(await opensslCsrVerify(tampered));
  });
}

const KEY_KINDS: readonly KeyKind[] = ['rsa-2048', 'ecdsa-p256', 'ecdsa-p384', 'ed25519'];
const KEY_FORMATS: readonly KeyFormat[] = ['pkcs8', 'sec1', 'pkcs1'];
const PEM_LABEL: Record<KeyFormat, string> = { pkcs8: 'PRIVATE KEY', sec1: 'EC PRIVATE KEY', pkcs1: 'RSA PRIVATE KEY' };
const hasFormat = (kind: KeyKind, format: KeyFormat): boolean => format === 'pkcs8' || (format === 'sec1' ? kind.startsWith('ecdsa') : kind === 'rsa-2048');

for (const kind of KEY_KINDS) {
  for (const format of KEY_FORMATS.filter((f) => hasFormat(kind, f))) {
    test(`a ${kind} key as ${format} loads in Go, openssl and certtool; its public key in Go and openssl`, async () => {
      const key = await opensslGenerateKey(kind, format);
      assert.ok(key.startsWith(`-----BEGIN ${PEM_LABEL[format]}-----\n`), key);
      const publicKey = await publicKeyOf(key);
      const [go, goPublic] = await goJudge([
        { op: 'key', key },
        { op: 'pubkey', key: publicKey },
      ]);
      assert.ok(go!.ok, go!.error);
      assert.ok(goPublic!.ok, goPublic!.error);
      assert.ok(await opensslLoadKey(key));
      assert.ok(await gnutlsLoadKey(key));
      assert.ok(await opensslLoadPublicKey(publicKey));
    });
  }
}

test('opensslGenerateKey refuses encodings a key type does not have', async () => {
  for (const kind of KEY_KINDS) {
    for (const format of KEY_FORMATS.filter((f) => !hasFormat(kind, f))) {
      const refused = await opensslGenerateKey(kind, format).then(() => false, () => true);
      assert.ok(refused, `${kind} as ${format}`);
    }
  }
});

test('a garbage key fails every judge', async () => {
  const [go, goPublic] = await goJudge([
    { op: 'key', key: GARBAGE_KEY },
    { op: 'pubkey', key: GARBAGE_PUBLIC_KEY },
  ]);
  assert.not.ok(go!.ok);
  assert.not.ok(goPublic!.ok);
  assert.not.ok(await opensslLoadKey(GARBAGE_KEY));
  assert.not.ok(await gnutlsLoadKey(GARBAGE_KEY));
  assert.not.ok(await opensslLoadPublicKey(GARBAGE_PUBLIC_KEY));
});

test('Go pairs a certificate with its own key only', async () => {
  const [match, mismatch] = await goJudge([
    { op: 'keypair', cert: pki.server.cert, key: pki.server.key },
    { op: 'keypair', cert: pki.server.cert, key: pki.client.key },
  ]);
  assert.ok(match!.ok, match!.error);
  assert.match(mismatch!.error, /does not match/);
});

test.run();
