import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeSubject } from '../../lib/index.js';
import { isDnsName, isWildcardDnsName, validateSubject } from '../../lib/x509/names.js';
import { normalizeSans, sansFromHosts } from '../../lib/x509/sans.js';
import { decodeGeneralNames, encodeGeneralNames } from '../../lib/x509/sans.js';
import { checkUnambiguousSubject, decodeSubject, encodeName, readNameAttributes, reencodeSubject } from '../../lib/x509/names.js';
import { attr, CN, HOSTILE_NAMES, nameDer, O, OU, STRING } from '../helpers/names.js';
import * as x509 from '../helpers/peculiar.js';
import { codeOf, failureOf } from '../helpers/fixtures.js';

const DNS: [string, boolean][] = [
  ['node-1', true],
  ['node-1.cluster.local', true],
  ['kubernetes.default.svc', true],
  ['a', true],
  ['1.2.3.4', true],
  ['Node-1', false],
  ['-node', false],
  ['node-', false],
  ['node_1', false],
  ['node..a', false],
  ['node.', false],
  ['', false],
  ['a'.repeat(64), false],
  [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`, true],
  [`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, false],
  ['*.example.com', false],
];
for (const [name, ok] of DNS) test(`isDnsName(${JSON.stringify(name.slice(0, 40))})`, () => assert.is(isDnsName(name), ok));

test('wildcards are only a leftmost *. label', () => {
  assert.ok(isWildcardDnsName('*.apps.example.com'));
  assert.not.ok(isWildcardDnsName('a.*.example.com'));
  assert.not.ok(isWildcardDnsName('*example.com'));
  assert.not.ok(isWildcardDnsName('*'));
});

test('normalizeSans normalises IPs, removes duplicates and keeps order', () => {
  const sans = normalizeSans({ dns: ['b', 'a', 'b'], ips: ['10.0.0.1', 'FD00:0::1', 'fd00::1', '::ffff:10.0.0.1'], emails: ['ops@example.com'], uris: ['spiffe://cluster.local/ns/a/sa/b'] });
  assert.equal(sans.dns, ['b', 'a']);
  assert.equal(sans.ips, ['10.0.0.1', 'fd00::1']);
  assert.equal(sans.emails, ['ops@example.com']);
  assert.equal(sans.uris, ['spiffe://cluster.local/ns/a/sa/b']);
});

const BAD_SANS: [string, object, string][] = [
  ['an invalid DNS name', { dns: ['bad_name'] }, 'sans.dns[0]'],
  ['an uppercase DNS name', { dns: ['ok', 'Node'] }, 'sans.dns[1]'],
  ['an IP with a zone', { ips: ['fe80::1%eth0'] }, 'sans.ips[0]'],
  ['a host name as IP', { ips: ['node-1'] }, 'sans.ips[0]'],
  ['an email without domain', { emails: ['root@'] }, 'sans.emails[0]'],
  ['a relative URI', { uris: ['/path'] }, 'sans.uris[0]'],
  ['a URI with a space', { uris: ['https://a b'] }, 'sans.uris[0]'],
  ['a non-string', { dns: [42] }, 'sans.dns[0]'],
];
for (const [name, input, field] of BAD_SANS) {
  test(`normalizeSans refuses ${name} naming the field`, async () => {
    const failure = await failureOf(() => normalizeSans(input));
    assert.is(failure.code, 'ERR_NAME');
    assert.is(failure.field, field);
  });
}

test('sansFromHosts sorts hosts into IP and DNS SANs like kubeadm certSANs', async () => {
  const sans = sansFromHosts(['10.96.0.1', 'api.example.com', '*.apps.example.com', '::1']);
  assert.equal(sans.ips, ['10.96.0.1', '::1']);
  assert.equal(sans.dns, ['api.example.com', '*.apps.example.com']);
  assert.is(await codeOf(() => sansFromHosts(['not a host'])), 'ERR_NAME');
});

test('GeneralNames round-trip through DER', () => {
  const sans = normalizeSans({ dns: ['a.example'], ips: ['10.0.0.1', '2001:db8::1'], emails: ['x@example.com'], uris: ['https://x.example/p'] });
  const back = decodeGeneralNames(encodeGeneralNames(sans));
  assert.equal({ ...back }, { ...sans });
});

test('validateSubject requires a CN and checks O values', async () => {
  assert.equal(validateSubject({ commonName: 'x', organizations: ['a'] }), { commonName: 'x', organizations: ['a'] });
  assert.is((await failureOf(() => validateSubject({ commonName: '' }))).field, 'subject.commonName');
  assert.is((await failureOf(() => validateSubject({ commonName: 'x', organizations: ['ok', ''] }))).field, 'subject.organizations[1]');
  assert.is(await codeOf(() => validateSubject({ commonName: 'a\nb' })), 'ERR_NAME');
  assert.is(await codeOf(() => validateSubject({ commonName: 'x'.repeat(2000) })), 'ERR_NAME');
});

test('nodeSubject builds the kubelet identity and checks the node name', async () => {
  assert.equal(nodeSubject('worker-3'), { commonName: 'system:node:worker-3', organizations: ['system:nodes'] });
  assert.is(await codeOf(() => nodeSubject('Worker_3')), 'ERR_NAME');
});

test('encodeName writes O RDNs then the CN, PrintableString when possible (as Go)', () => {
  const der = encodeName({ commonName: 'system:node:a_b', organizations: ['system:nodes', 'ünï'] });
  const name = new x509.Name(der as Uint8Array<ArrayBuffer>);
  assert.is(name.toString(), 'O=system:nodes, O=ünï, CN=system:node:a_b');
  const hex = Buffer.from(der).toString('hex');
  assert.ok(hex.includes('130c73797374656d3a6e6f646573'), 'system:nodes as PrintableString');
  assert.ok(hex.includes('0c0f73797374656d3a6e6f64653a615f62'), "'_' forces UTF8String");
});

test("a Name is read as Go's crypto/x509 reads it: every O in order, the last CN wins, a value that is not a string Go reads refuses the Name", async () => {
  const withInteger = nameDer([attr(CN, STRING.printable, 'first')], [attr(O, STRING.utf8, 'system:nodes')], [attr(O, STRING.integer, Uint8Array.of(5))], [attr(CN, STRING.utf8, 'system:node:last')]);
  assert.is(await codeOf(() => decodeSubject(withInteger)), 'ERR_NAME');
  const der = nameDer([attr(CN, STRING.printable, 'first')], [attr(O, STRING.utf8, 'system:nodes')], [attr(CN, STRING.utf8, 'system:node:last')]);
  assert.equal(decodeSubject(der), { commonName: 'system:node:last', organizations: ['system:nodes'] });
  assert.equal(decodeSubject(encodeName({ commonName: 'ü', organizations: ['a', 'b'] })), { commonName: 'ü', organizations: ['a', 'b'] });
  assert.is(await codeOf(() => decodeSubject(Uint8Array.of(0x31, 0x00))), 'ERR_DER');
});

test('string types as Go reads them: alphabets checked, T61 as Latin-1, BMP with its terminator stripped; UniversalString refused', async () => {
  const cn = (tag: number, value: string | Uint8Array): Uint8Array => nameDer([attr(CN, tag, value)]);
  assert.is(decodeSubject(cn(STRING.printable, 'a*b&c')).commonName, 'a*b&c', "Go's PrintableString allows * and &");
  assert.is(await codeOf(() => decodeSubject(cn(STRING.printable, 'a@b'))), 'ERR_NAME');
  assert.is(await codeOf(() => decodeSubject(cn(STRING.utf8, Uint8Array.of(0x61, 0xff)))), 'ERR_NAME', 'invalid UTF-8');
  assert.is(await codeOf(() => decodeSubject(cn(STRING.ia5, Uint8Array.of(0x61, 0xe9)))), 'ERR_NAME', 'IA5 above 0x7f');
  assert.is(decodeSubject(cn(STRING.numeric, '12 3')).commonName, '12 3');
  assert.is(await codeOf(() => decodeSubject(cn(STRING.numeric, '12a'))), 'ERR_NAME');
  assert.is(decodeSubject(cn(STRING.t61, Uint8Array.of(0x63, 0xe9))).commonName, 'cé');
  assert.is(decodeSubject(cn(STRING.bmp, Uint8Array.of(0, 0x61, 0, 0))).commonName, 'a');
  assert.is(decodeSubject(cn(STRING.bmp, Uint8Array.of(0xd8, 0x00, 0, 0x61))).commonName, '\ufffda', 'an unpaired surrogate becomes U+FFFD');
  assert.is(await codeOf(() => decodeSubject(cn(STRING.bmp, Uint8Array.of(0, 0x61, 0)))), 'ERR_NAME', 'odd length');
  assert.is(await codeOf(() => decodeSubject(cn(STRING.universal, 'system:masters'))), 'ERR_NAME');
});

test('a requested subject two readers could take differently is refused; what is kept is re-encoded as Go writes it', async () => {
  assert.is(await codeOf(() => checkUnambiguousSubject(HOSTILE_NAMES.universalMasters)), 'ERR_NAME');
  assert.is(await codeOf(() => checkUnambiguousSubject(HOSTILE_NAMES.twoCommonNames)), 'ERR_NAME');
  assert.is(await codeOf(() => checkUnambiguousSubject(nameDer([attr(CN, STRING.bmp, 'system:node:a')]))), 'ERR_NAME', 'a BMPString CN');
  assert.is(await codeOf(() => checkUnambiguousSubject(nameDer([attr(O, STRING.t61, 'system:masters')], [attr(CN, STRING.utf8, 'x')]))), 'ERR_NAME', 'a T61String O');
  assert.is(await codeOf(() => checkUnambiguousSubject(nameDer([attr(O, STRING.utf8, 'system:masters'), attr(O, STRING.utf8, 'system:nodes')], [attr(CN, STRING.utf8, 'x')]))), 'ERR_NAME', 'O twice in one RDN');
  // Other attributes Go keeps are re-encoded in Go's order (C, O, OU, ..., CN); an IA5String OU is fine, unknown types are dropped.
  const attributes = checkUnambiguousSubject(nameDer([attr(CN, STRING.utf8, 'me')], [attr(OU, STRING.ia5, 'team')], [attr('2.5.4.12', STRING.utf8, 'title')], [attr(O, STRING.utf8, 'g1')], [attr(O, STRING.printable, 'g2')]));
  const reencoded = reencodeSubject(attributes);
  assert.equal(decodeSubject(reencoded), { commonName: 'me', organizations: ['g1', 'g2'] });
  assert.equal(readNameAttributes(reencoded).map((a) => [a.oid, a.value]), [[O, 'g1'], [O, 'g2'], [OU, 'team'], [CN, 'me']]);
  // A kubelet's subject comes out byte for byte as kubepki (and Go) encode it.
  const kubelet = encodeName({ commonName: 'system:node:n1', organizations: ['system:nodes'] });
  assert.equal(Buffer.from(reencodeSubject(checkUnambiguousSubject(kubelet))).toString('hex'), Buffer.from(kubelet).toString('hex'));
});

test('given the Name it read, reencodeSubject returns the same bytes as the full re-encoding', () => {
  const C = '2.5.4.6';
  const names = [
    encodeName({ commonName: 'system:node:n1', organizations: ['system:nodes'] }),
    encodeName({ commonName: 'système', organizations: ['a*b', 'g'] }),
    nameDer([attr(O, STRING.utf8, 'system:nodes')], [attr(CN, STRING.printable, 'x')]),
    nameDer([attr(CN, STRING.printable, 'x')], [attr(O, STRING.printable, 'g')]),
    nameDer([attr(O, STRING.printable, 'g2')], [attr(O, STRING.printable, 'g1')], [attr(CN, STRING.printable, 'x')]),
    nameDer([attr(C, STRING.printable, 'DE')], [attr(O, STRING.printable, 'g')], [attr(OU, STRING.ia5, 'team')], [attr(CN, STRING.printable, 'x')]),
    nameDer([attr(O, STRING.printable, 'g')], [attr('2.5.4.12', STRING.printable, 't')], [attr(CN, STRING.printable, 'x')]),
    nameDer([attr(O, STRING.printable, 'g')], [], [attr(CN, STRING.printable, 'x')]),
    nameDer([attr(O, STRING.printable, 'g')], [attr(CN, STRING.printable, 'x')], []),
    nameDer([attr(O, STRING.printable, 'g')], [attr(CN, STRING.printable, '')]),
    nameDer([attr(O, STRING.printable, 'g'), attr(OU, STRING.printable, 'u')], [attr(CN, STRING.printable, 'x')]),
    nameDer([attr(O, STRING.utf8, 'a&b')], [attr(CN, STRING.utf8, 'x*')]),
    nameDer(),
  ];
  for (const der of names) {
    const attributes = checkUnambiguousSubject(der);
    assert.is(Buffer.from(reencodeSubject(attributes, der)).toString('hex'), Buffer.from(reencodeSubject(attributes)).toString('hex'), Buffer.from(der).toString('hex'));
  }
});

test.run();
