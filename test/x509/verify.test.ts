// verifyCertificate's refusals as a table: the chain, the options, the code and the certificate it names.
// (test/interop/verify.test.ts has Go, OpenSSL and GnuTLS judge the same kinds of chains.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PkiError, verifyCertificate, type PkiErrorData } from '../../lib/index.js';
import { encodeElement, encodeOid, encodeSequence } from '../../lib/crypto/der.js';
import { Certificate, generateKeyPair as generateKeyPairFor } from '../../lib/index.js';
import { attr, clientCertificateWithName, CN, nameDer, O, STRING } from '../helpers/names.js';
import * as x509 from '../helpers/peculiar.js';
import { base, CA, CA_USAGE, craft, EKU_OID, KU, LEAF, nameConstraints, rawExtension } from '../helpers/craft.js';
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
  const dnsOnly = await craft({ cn: 'dns-only', ca: CA, keyUsage: CA_USAGE, nameConstraints: nameConstraints([base.dns('example.com')]) });
  const ipOnly = await craft({ cn: 'ip-only', ca: CA, keyUsage: CA_USAGE, nameConstraints: nameConstraints([base.ip([10, 0, 0, 0, 255, 0, 0, 0])]) });
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

test('malformed name constraints make the CA unusable as Go refuses to parse them (ERR_MALFORMED_CERTIFICATE); a critical unchecked form is ERR_CRITICAL_EXTENSION', async () => {
  const ncCa = (value: x509.Extension) => craft({ cn: 'nc-ca', ca: CA, keyUsage: CA_USAGE, nameConstraints: value });
  const raw = (bytes: number[]) => rawExtension('2.5.29.30', true, Uint8Array.from(bytes));
  const rows: [string, x509.Extension, string | undefined, RegExp | undefined][] = [
    ['no subtrees at all (an empty SEQUENCE)', raw([0x30, 0x00]), 'ERR_MALFORMED_CERTIFICATE', /neither permitted nor excluded/],
    ['an empty permitted subtree list', raw([0x30, 0x02, 0xa0, 0x00]), 'ERR_MALFORMED_CERTIFICATE', /neither permitted nor excluded/],
    ['empty permitted and excluded lists', raw([0x30, 0x04, 0xa0, 0x00, 0xa1, 0x00]), 'ERR_MALFORMED_CERTIFICATE', /neither permitted nor excluded/],
    ['a NULL instead of a SEQUENCE', raw([0x05, 0x00]), 'ERR_MALFORMED_CERTIFICATE', /not a single SEQUENCE/],
    ['excluded before permitted', rawExtension('2.5.29.30', true, encodeSequence(encodeElement(0xa1, encodeSequence(base.dns('a.com'))), encodeElement(0xa0, encodeSequence(base.dns('b.com'))))), 'ERR_MALFORMED_CERTIFICATE', /only \[0\] permittedSubtrees then \[1\]/],
    ['a DNS constraint with an empty label', nameConstraints([base.dns('..example.com')]), 'ERR_MALFORMED_CERTIFICATE', /dNSName constraint "\.\.example\.com"/],
    ['a DNS constraint with a trailing dot', nameConstraints([base.dns('example.com.')]), 'ERR_MALFORMED_CERTIFICATE', /dNSName constraint/],
    ['a DNS constraint outside IA5String', nameConstraints([base.dns('exämple.com')]), 'ERR_MALFORMED_CERTIFICATE', /IA5String/],
    ['an IP constraint whose mask is not a prefix', nameConstraints([base.ip([10, 0, 0, 0, 255, 0, 255, 0])]), 'ERR_MALFORMED_CERTIFICATE', /mask ff00ff00/],
    ['an IP constraint of 5 bytes', nameConstraints([base.ip([10, 0, 0, 0, 255])]), 'ERR_MALFORMED_CERTIFICATE', /5 bytes/],
    ['an email constraint that is not a mailbox', nameConstraints([base.email('@example.com')]), 'ERR_MALFORMED_CERTIFICATE', /rfc822Name constraint/],
    ['a URI constraint that is an IP address', nameConstraints([base.uri('10.0.0.1')]), 'ERR_MALFORMED_CERTIFICATE', /URI constraint "10\.0\.0\.1"/],
    ['a critical directoryName constraint', nameConstraints([base.directory()]), 'ERR_CRITICAL_EXTENSION', /name form kubepki does not check/],
    ['a non-critical directoryName constraint', nameConstraints([base.directory()], [], false), undefined, undefined],
    ['an empty permitted list next to excluded subtrees (Go reads it)', rawExtension('2.5.29.30', true, encodeSequence(encodeElement(0xa0, new Uint8Array()), encodeElement(0xa1, encodeSequence(base.dns('bad.example.com'))))), undefined, undefined],
    ['".example.com": subdomains of example.com (Go reads it)', nameConstraints([base.dns('.example.com')]), undefined, undefined],
  ];
  for (const [name, extension, code, message] of rows) {
    const ca = await ncCa(extension);
    const leaf = await craft({ cn: 'server', issuer: ca, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'] });
    const failure = await failureOf(() => verifyCertificate(leaf.certificate, { roots: [ca.certificate], purpose: 'server', name: 'api.example.com' }));
    assert.is(failure.code, code ?? 'no error', `${name}: ${failure.message ?? ''}`);
    if (message) assert.match(failure.message ?? '', message, name);
    if (code) assert.is(failure.field, 'CN=nc-ca', name);
  }
});

test('every name form is held to its constraints, and a name that cannot be parsed is refused under any constraint (ERR_NAME_CONSTRAINTS)', async () => {
  const ca = (...permitted: Uint8Array[]) => craft({ cn: 'nc-ca', ca: CA, keyUsage: CA_USAGE, nameConstraints: nameConstraints(permitted) });
  const subdomains = await ca(base.dns('.example.com'));
  const ipOnly = await ca(base.ip([10, 0, 0, 0, 255, 0, 0, 0]));
  const mail = await ca(base.email('example.com'), base.email('root@admin.example.org'));
  const spiffe = await ca(base.uri('cluster.local'));
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>, names: Partial<Parameters<typeof craft>[0]>) => craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ...names });
  const rows: [string, Awaited<ReturnType<typeof craft>>, Awaited<ReturnType<typeof leaf>>, string | undefined, RegExp | undefined][] = [
    ['".example.com" permits a subdomain', subdomains, await leaf(subdomains, { dns: ['a.example.com'] }), undefined, undefined],
    ['".example.com" does not permit example.com itself', subdomains, await leaf(subdomains, { dns: ['example.com'] }), 'ERR_NAME_CONSTRAINTS', /DNS name example\.com is not permitted/],
    ['DNS constraints compare labels, not suffixes', subdomains, await leaf(subdomains, { dns: ['a.badexample.com'] }), 'ERR_NAME_CONSTRAINTS', /not permitted/],
    ['a SAN with an empty label under DNS constraints', subdomains, await leaf(subdomains, { dns: ['a..example.com'] }), 'ERR_NAME_CONSTRAINTS', /"a\.\.example\.com" cannot be checked/],
    ['a SAN with an empty label under IP-only constraints', ipOnly, await leaf(ipOnly, { dns: ['.example.com'], ips: ['10.0.0.1'] }), 'ERR_NAME_CONSTRAINTS', /"\.example\.com" cannot be checked/],
    ['an email in a permitted domain', mail, await leaf(mail, { emails: ['jane@example.com'] }), undefined, undefined],
    ['an email outside', mail, await leaf(mail, { emails: ['jane@example.org'] }), 'ERR_NAME_CONSTRAINTS', /email address jane@example\.org is not permitted/],
    ['an exact mailbox, domain case-insensitive', mail, await leaf(mail, { emails: ['root@ADMIN.example.org'] }), undefined, undefined],
    ['a URI whose host is permitted', spiffe, await leaf(spiffe, { uris: ['spiffe://cluster.local/ns/default/sa/api'] }), undefined, undefined],
    ['a URI whose host is outside', spiffe, await leaf(spiffe, { uris: ['spiffe://other.local/ns/default'] }), 'ERR_NAME_CONSTRAINTS', /URI spiffe:\/\/other\.local/],
    ['a URI with an IP host under URI constraints', spiffe, await leaf(spiffe, { uris: ['https://10.0.0.1/'] }), 'ERR_NAME_CONSTRAINTS', /IP address for a host/],
  ];
  for (const [name, root, subject, code, message] of rows) {
    const failure = await failureOf(() => verifyCertificate(subject.certificate, { roots: [root.certificate], purpose: 'any' }));
    assert.is(failure.code, code ?? 'no error', `${name}: ${failure.message ?? ''}`);
    if (message) assert.match(failure.message ?? '', message, name);
  }
});

test('maxDepth does not count self-issued intermediates; it counts every other certificate', async () => {
  const root = await craft({ cn: 'root', ca: CA, keyUsage: CA_USAGE });
  const rollover = await craft({ cn: 'root', issuer: root, ca: CA, keyUsage: CA_USAGE });
  const other = await craft({ cn: 'other', issuer: root, ca: CA, keyUsage: CA_USAGE });
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>) => craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'] });
  const { chain } = await verifyCertificate((await leaf(rollover)).certificate, { roots: [root.certificate], intermediates: [rollover.certificate], maxDepth: 2 });
  assert.is(chain.length, 3);
  const underOther = await leaf(other);
  const failure = await failureOf(() => verifyCertificate(underOther.certificate, { roots: [root.certificate], intermediates: [other.certificate], maxDepth: 2 }));
  assert.is(failure.code, 'ERR_UNKNOWN_AUTHORITY', failure.message);
  await verifyCertificate(underOther.certificate, { roots: [root.certificate], intermediates: [other.certificate], maxDepth: 3 });
});

test('a refusal carries the certificate at fault: the leaf, the intermediate or the root (like Go\'s CertificateInvalidError)', async () => {
  const DAY = 86_400_000;
  const past = new Date(Date.now() - DAY);
  const root = await craft({ cn: 'root', ca: CA, keyUsage: CA_USAGE });
  const noSignRoot = await craft({ cn: 'no-sign-root', ca: CA, keyUsage: KU.digitalSignature });
  const expiredInter = await craft({ cn: 'expired-inter', issuer: root, ca: CA, keyUsage: CA_USAGE, notBefore: new Date(Date.now() - 10 * DAY), notAfter: past });
  const leaf = (issuer: Awaited<ReturnType<typeof craft>>, notAfter?: Date) =>
    craft({ cn: 'server', issuer, ca: LEAF, keyUsage: KU.digitalSignature, ekus: [EKU_OID.server], dns: ['api.example.com'], ...(notAfter ? { notBefore: new Date(Date.now() - 10 * DAY), notAfter } : {}) });
  const expiredLeaf = await leaf(root, past);
  const goodLeaf = await leaf(root);
  const rows: [string, Awaited<ReturnType<typeof craft>>, Parameters<typeof verifyCertificate>[1], string, Awaited<ReturnType<typeof craft>>][] = [
    ['an expired leaf', expiredLeaf, { roots: [root.certificate] }, 'ERR_EXPIRED', expiredLeaf],
    ['a leaf for another name', goodLeaf, { roots: [root.certificate], name: 'other.example.com' }, 'ERR_NAME_MISMATCH', goodLeaf],
    ['an expired intermediate', await leaf(expiredInter), { roots: [root.certificate], intermediates: [expiredInter.certificate] }, 'ERR_EXPIRED', expiredInter],
    ['a root without keyCertSign', await leaf(noSignRoot), { roots: [noSignRoot.certificate] }, 'ERR_INVALID_CHAIN', noSignRoot],
  ];
  for (const [name, subject, options, code, atFault] of rows) {
    const error = await Promise.resolve()
      .then(() => verifyCertificate(subject.certificate, { purpose: 'server', ...options }))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.instance(error, PkiError, name);
    const refusal = error as PkiError;
    assert.is(refusal.code, code, `${name}: ${refusal.message}`);
    assert.equal(refusal.certificate, { subject: `CN=${atFault.certificate.subject.commonName}`, serialNumber: atFault.certificate.serialNumber, pem: atFault.certificate.pem }, name);
    assert.is(refusal.field, `CN=${atFault.certificate.subject.commonName}`, `${name}: the field is unchanged`);
    assert.equal(PkiError.fromData(JSON.parse(JSON.stringify(refusal.toData())) as PkiErrorData).certificate, refusal.certificate, `${name}: the certificate crosses a thread boundary`);
  }
});

test.run();
