// verifyCertificate's refusals as a table: the chain, the options, the code and the certificate it names.
// (test/interop/verify.test.ts has Go, OpenSSL and GnuTLS judge the same kinds of chains.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { verifyCertificate } from '../../lib/index.js';
import { concatBytes, encodeElement, encodeOid, encodeSequence } from '../../lib/crypto/der.js';
import { Certificate, generateKeyPair as generateKeyPairFor } from '../../lib/index.js';
import { attr, clientCertificateWithName, CN, nameDer, O, STRING } from '../helpers/names.js';
import * as x509 from '../../lib/x509/peculiar.js';
import { CA, CA_USAGE, craft, EKU_OID, KU, LEAF } from '../helpers/craft.js';
import { failureOf } from '../helpers/fixtures.js';

const unknownCritical = (): x509.Extension => new x509.Extension('1.3.6.1.4.1.55555.1', true, Uint8Array.of(0x05, 0x00) as Uint8Array<ArrayBuffer>);
const unknownPlain = (): x509.Extension => new x509.Extension('1.3.6.1.4.1.55555.1', false, Uint8Array.of(0x05, 0x00) as Uint8Array<ArrayBuffer>);
const policies = (): x509.Extension => new x509.Extension('2.5.29.32', true, Uint8Array.from([0x30, 0x06, 0x30, 0x04, 0x06, 0x02, 0x2a, 0x03]) as Uint8Array<ArrayBuffer>);

test('a critical extension kubepki does not process makes the leaf, an intermediate or the root unusable (ERR_CRITICAL_EXTENSION)', async () => {
  const root = await craft({ cn: 'root', ca: CA, keyUsage: CA_USAGE });
  const criticalRoot = await craft({ cn: 'critical-root', ca: CA, keyUsage: CA_USAGE, extensions: [unknownCritical()] });
  const criticalInter = await craft({ cn: 'critical-inter', issuer: root, ca: CA, keyUsage: CA_USAGE, extensions: [unknownCritical()] });
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>, extensions: x509.Extension[] = []) =>
    craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'], extensions });
  const rows: [string, Awaited<ReturnType<typeof leaf>>, { roots: unknown[]; intermediates?: unknown[] }, string | undefined, string | undefined][] = [
    ['unknown critical extension in the leaf', await leaf(root, [unknownCritical()]), { roots: [root.certificate] }, 'ERR_CRITICAL_EXTENSION', 'CN=server'],
    ['unknown critical extension in the intermediate', await leaf(criticalInter), { roots: [root.certificate], intermediates: [criticalInter.certificate] }, 'ERR_CRITICAL_EXTENSION', 'CN=critical-inter'],
    ['unknown critical extension in the root', await leaf(criticalRoot), { roots: [criticalRoot.certificate] }, 'ERR_CRITICAL_EXTENSION', 'CN=critical-root'],
    ['unknown extension, not critical', await leaf(root, [unknownPlain()]), { roots: [root.certificate] }, undefined, undefined],
    ['critical certificate policies (read, as Go reads them)', await leaf(root, [policies()]), { roots: [root.certificate] }, undefined, undefined],
  ];
  for (const [name, subject, chain, code, field] of rows) {
    const failure = await failureOf(() => verifyCertificate(subject.certificate, { ...(chain as Parameters<typeof verifyCertificate>[1]), purpose: 'server', name: 'api.example.com' }));
    assert.is(failure.code, code ?? 'no error', `${name}: ${failure.message ?? ''}`);
    if (field) assert.match(failure.field ?? '', field, name);
  }
});

test('name constraints hold for every certificate below the CA that is not self-issued, per name form (ERR_NAME_CONSTRAINTS)', async () => {
  const constraints = (permitted: Uint8Array[]): x509.Extension =>
    new x509.Extension('2.5.29.30', true, encodeSequence(encodeElement(0xa0, concatBytes(permitted.map((n) => encodeSequence(n))))) as Uint8Array<ArrayBuffer>);
  const dns = (name: string): Uint8Array => encodeElement(0x82, new TextEncoder().encode(name));
  const ip = (bytes: number[]): Uint8Array => encodeElement(0x87, Uint8Array.from(bytes));
  const dnsOnly = await craft({ cn: 'dns-only', ca: CA, keyUsage: CA_USAGE, nameConstraints: constraints([dns('example.com')]) });
  const ipOnly = await craft({ cn: 'ip-only', ca: CA, keyUsage: CA_USAGE, nameConstraints: constraints([ip([10, 0, 0, 0, 255, 0, 0, 0])]) });
  const outside = await craft({ cn: 'outside', issuer: dnsOnly, ca: CA, keyUsage: CA_USAGE, dns: ['inter.other.com'] });
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>, names: { dns?: string[]; ips?: string[] }) => craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], ...names });
  const rows: [string, Awaited<ReturnType<typeof leaf>>, { roots: unknown[]; intermediates?: unknown[] }, string, string | undefined, RegExp | undefined][] = [
    ['an intermediate SAN outside the root\'s constraints', await leaf(outside, { dns: ['a.example.com'] }), { roots: [dnsOnly.certificate], intermediates: [outside.certificate] }, 'a.example.com', 'ERR_NAME_CONSTRAINTS', /inter\.other\.com \(in CA CN=outside\)/],
    ['DNS-only constraints, an IP SAN anywhere', await leaf(dnsOnly, { dns: ['a.example.com'], ips: ['192.168.1.1'] }), { roots: [dnsOnly.certificate] }, '192.168.1.1', undefined, undefined],
    ['IP-only constraints, a DNS SAN anywhere', await leaf(ipOnly, { dns: ['api.other.com'], ips: ['10.1.1.1'] }), { roots: [ipOnly.certificate] }, 'api.other.com', undefined, undefined],
    ['IP-only constraints, an IP outside', await leaf(ipOnly, { dns: ['api.other.com'], ips: ['192.168.1.1'] }), { roots: [ipOnly.certificate] }, 'api.other.com', 'ERR_NAME_CONSTRAINTS', /192\.168\.1\.1 is not permitted/],
  ];
  for (const [name, subject, chain, host, code, message] of rows) {
    const failure = await failureOf(() => verifyCertificate(subject.certificate, { ...(chain as Parameters<typeof verifyCertificate>[1]), purpose: 'server', name: host }));
    assert.is(failure.code, code ?? 'no error', `${name}: ${failure.message ?? ''}`);
    if (message) assert.match(failure.message ?? '', message, name);
  }
});

test('a mesh of CAs cross-signing under one name ends the search after a bounded number of signature checks', async () => {
  // Six keys, each certified under the name "mesh" by every other: from any certificate there are six ways up,
  // so the paths of depth 10 number in the millions. Go stops after 100 signature checks; so does kubepki.
  const { generateKeyPair } = await import('../../lib/index.js');
  const keys = await Promise.all(Array.from({ length: 6 }, () => generateKeyPair()));
  const selfSigned = await Promise.all(keys.map((keyPair) => craft({ cn: 'mesh', keyPair, ca: CA, keyUsage: CA_USAGE })));
  const crossed = await Promise.all(keys.flatMap((keyPair, i) => selfSigned.filter((_, j) => j !== i).map((issuer) => craft({ cn: 'mesh', keyPair, issuer, ca: CA, keyUsage: CA_USAGE }))));
  const leaf = await craft({ cn: 'server', issuer: selfSigned[0]!, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'] });
  const elsewhere = await craft({ cn: 'unrelated-root', ca: CA, keyUsage: CA_USAGE });
  const failure = await failureOf(() =>
    verifyCertificate(leaf.certificate, { roots: [elsewhere.certificate], intermediates: [...selfSigned, ...crossed].map((c) => c.certificate), purpose: 'server', name: 'api.example.com' }),
  );
  assert.is(failure.code, 'ERR_INVALID_CHAIN', failure.message);
  assert.match(failure.message ?? '', /within 100 signature checks/);
  // A chain that exists is still found among them.
  const result = await verifyCertificate(leaf.certificate, { roots: [selfSigned[3]!.certificate], intermediates: [...selfSigned, ...crossed].map((c) => c.certificate), purpose: 'server', name: 'api.example.com' });
  assert.ok(result.chain.length >= 2);
});

test('a self-issued intermediate does not count against a path length (RFC 5280 6.1.4(l)); any other does', async () => {
  const root = await craft({ cn: 'root', ca: { isCA: true, pathLength: 0 }, keyUsage: CA_USAGE });
  const rollover = await craft({ cn: 'root', issuer: root, ca: CA, keyUsage: CA_USAGE });
  const other = await craft({ cn: 'other', issuer: root, ca: CA, keyUsage: CA_USAGE });
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>) => craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'] });
  const options = (intermediate: Awaited<ReturnType<typeof craft>>) => ({ roots: [root.certificate], intermediates: [intermediate.certificate], purpose: 'server' as const, name: 'api.example.com' });
  assert.ok(rollover.certificate.isSelfIssued);
  const { chain } = await verifyCertificate((await leaf(rollover)).certificate, options(rollover));
  assert.is(chain.length, 3);
  const underOther = await leaf(other);
  const failure = await failureOf(() => verifyCertificate(underOther.certificate, options(other)));
  assert.is(failure.code, 'ERR_INVALID_CHAIN');
  assert.match(failure.message ?? '', /allows 0 intermediate/);
});

test('a certificate Go refuses to parse is refused in any place of the chain (ERR_MALFORMED_CERTIFICATE)', async () => {
  const root = await craft({ cn: 'root', ca: CA, keyUsage: CA_USAGE });
  const keyId = Buffer.from(root.certificate.subjectKeyId!);
  const criticalAki = new x509.Extension('2.5.29.35', true, encodeSequence(encodeElement(0x80, keyId)) as Uint8Array<ArrayBuffer>);
  const aia = (critical: boolean, value: Uint8Array): x509.Extension => new x509.Extension('1.3.6.1.5.5.7.1.1', critical, value as Uint8Array<ArrayBuffer>);
  const ocsp = encodeSequence(encodeSequence(encodeOid('1.3.6.1.5.5.7.48.1'), encodeElement(0x86, new TextEncoder().encode('http://ocsp.example.com'))));
  const criticalAiaCa = await craft({ cn: 'aia-ca', issuer: root, ca: CA, keyUsage: CA_USAGE, extensions: [aia(true, ocsp)] });
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>, extra: Partial<Parameters<typeof craft>[0]> = {}) =>
    craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'], ...extra });
  const twiceKey = await generateKeyPairFor();
  const rows: [string, Awaited<ReturnType<typeof leaf>>, unknown[], string | undefined, RegExp | undefined][] = [
    ['an extension twice', await leaf(root, { keyPair: twiceKey, extensions: [await x509.SubjectKeyIdentifierExtension.create(twiceKey.publicKey)] }), [], 'ERR_MALFORMED_CERTIFICATE', /2\.5\.29\.14 twice/],
    ['a critical authority key identifier', await leaf(root, { omitAuthorityKeyId: true, extensions: [criticalAki] }), [], 'ERR_MALFORMED_CERTIFICATE', /2\.5\.29\.35 critical/],
    ['a critical authority information access in the intermediate', await leaf(criticalAiaCa), [criticalAiaCa.certificate], 'ERR_MALFORMED_CERTIFICATE', /CN=aia-ca marks/],
    ['an empty authority information access', await leaf(root, { extensions: [aia(false, encodeSequence())] }), [], 'ERR_MALFORMED_CERTIFICATE', /empty authority information access/],
    ['a non-critical authority information access', await leaf(root, { extensions: [aia(false, ocsp)] }), [], undefined, undefined],
  ];
  // A negative serial (kubepki's encoder and @peculiar/x509 write positive ones only: the helper signs a patched TBS).
  const negative = Certificate.from(await clientCertificateWithName(nameDer([attr(CN, STRING.utf8, 'system:node:n')], [attr(O, STRING.utf8, 'system:nodes')]), await generateKeyPairFor(), { certificate: root.certificate, privateKey: root.keyPair.privateKey }, undefined, { negativeSerial: true }));
  assert.ok(negative.serialBytes[0]! & 0x80, 'the helper made a negative serial');
  const refused = await failureOf(() => verifyCertificate(negative, { roots: [root.certificate], purpose: 'client' }));
  assert.equal([refused.code, /negative serial/.test(refused.message ?? '')], ['ERR_MALFORMED_CERTIFICATE', true], refused.message);
  for (const [name, subject, intermediates, code, message] of rows) {
    const failure = await failureOf(() => verifyCertificate(subject.certificate, { roots: [root.certificate], intermediates: intermediates as never[], purpose: 'server', name: 'api.example.com' }));
    assert.is(failure.code, code ?? 'no error', `${name}: ${failure.message ?? ''}`);
    if (message) assert.match(failure.message ?? '', message, name);
  }
});

test.run();
