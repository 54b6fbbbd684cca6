// Revocation lists: RFC 5280 5.2.1 (authorityKeyIdentifier), 5.2.3 (cRLNumber, growing with every CRL the
// CA issues) and 5.3 (crlEntryExtensions absent rather than empty). Fixed dates throughout: no wall clock.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { children, contentOf, decodeOid, encodeElement, encodeOctetString, encodeOid, encodeSequence, readElement, TAG } from '../../lib/crypto/der.js';
import { ALL_KEY_SPECS, codeOf, fixtureAuthorities } from '../helpers/fixtures.js';
import { issueRevocationList, parseRevocationList, type Certificate, type RevocationList } from '../../lib/index.js';
import { isRevoked } from '../../lib/x509/crl.js';
import { verifySignature } from '../../lib/x509/signature.js';
import * as x509 from '../helpers/peculiar.js';

const THIS_UPDATE = new Date('2031-03-04T05:06:07Z');
const CRL_NUMBER = '2.5.29.20';
const AKI = '2.5.29.35';
const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');

/** The TBSCertList's fields, the revoked entries' fields, and the crlExtensions as [oid, critical, value]. */
function structure(crl: RevocationList): { fields: number[]; entries: number[][]; extensions: [string, boolean, string][] } {
  const der = crl.tbs;
  const fields = children(der, readElement(der, 0, 'tbs'), 'tbs');
  const revoked = fields.find((f, i) => i > 3 && f.tag === TAG.SEQUENCE);
  const entries = revoked ? children(der, revoked, 'revoked').map((entry) => children(der, entry, 'entry').map((e) => e.tag)) : [];
  const wrapper = fields.find((f) => f.tag === 0xa0);
  const extensions = wrapper
    ? children(der, children(der, wrapper, 'ext')[0]!, 'ext').map((extension): [string, boolean, string] => {
        const parts = children(der, extension, 'ext');
        return [decodeOid(contentOf(der, parts[0]!), 'oid'), parts.length === 3, hex(contentOf(der, parts[parts.length - 1]!))];
      })
    : [];
  return { fields: fields.map((f) => f.tag), entries, extensions };
}

async function rootOf(spec: (typeof ALL_KEY_SPECS)[number] = 'ecdsa-p256'): Promise<{ certificate: Certificate; privateKey: CryptoKey }> {
  const { root } = await fixtureAuthorities(spec);
  return { certificate: root.certificate, privateKey: root.privateKey };
}

test('a CRL carries authorityKeyIdentifier (the CA subject key id) and cRLNumber 1, both non-critical, for every CA key type', async () => {
  for (const spec of ALL_KEY_SPECS) {
    const issuer = await rootOf(spec);
    const crl = await issueRevocationList({ issuer, revoked: [{ serialNumber: '0abc' }, { serialNumber: 'ff01' }], thisUpdate: THIS_UPDATE });
    assert.is(crl.crlNumber, 1n, spec);
    assert.is(hex(crl.authorityKeyId), hex(issuer.certificate.subjectKeyId), spec);
    const { fields, extensions } = structure(crl);
    assert.is(fields[0], TAG.INTEGER, 'version v2 is written');
    assert.equal(extensions, [
      [AKI, false, `30168014${hex(issuer.certificate.subjectKeyId)}`],
      [CRL_NUMBER, false, '020101'],
    ]);
    assert.ok(verifySignature(crl.signatureAlgorithmOid, issuer.certificate.spki, crl.tbs, crl.signature), `${spec} signature`);
    assert.is(crl.signatureAlgorithmOid, issuer.certificate.signatureAlgorithmOid, 'signed like the CA certificate');
  }
});

test('revoked entries carry no crlEntryExtensions, not even an empty SEQUENCE (RFC 5280 5.3)', async () => {
  const crl = await issueRevocationList({ issuer: await rootOf(), revoked: [{ serialNumber: '0abc' }, { serialNumber: 'ff01', revokedAt: new Date('2031-01-01T00:00:00Z') }], thisUpdate: THIS_UPDATE });
  assert.equal(structure(crl).entries, [
    [TAG.INTEGER, 0x17],
    [TAG.INTEGER, 0x17],
  ]);
  assert.equal([...crl.serials], ['0abc', 'ff01']);
  assert.equal(crl.revocationDates.get('ff01'), new Date('2031-01-01T00:00:00Z'));
  assert.equal(crl.revocationDates.get('0abc'), THIS_UPDATE);
});

test('a CRL that revokes nothing has no revokedCertificates field, but its extensions', async () => {
  const crl = await issueRevocationList({ issuer: await rootOf(), revoked: [], thisUpdate: THIS_UPDATE });
  assert.equal(structure(crl).fields, [TAG.INTEGER, TAG.SEQUENCE, TAG.SEQUENCE, 0x17, 0x17, 0xa0]);
  assert.is(crl.serials.size, 0);
  assert.is(crl.crlNumber, 1n);
});

test('the CRL number grows by one over the previous CRL, on every reissue', async () => {
  const issuer = await rootOf();
  let previous = await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE });
  for (let n = 2n; n <= 4n; n++) {
    const next = await issueRevocationList({ issuer, revoked: [{ serialNumber: '01' }], thisUpdate: THIS_UPDATE, previous: parseRevocationList(previous.pem) });
    assert.is(next.crlNumber, n);
    assert.is(parseRevocationList(next.der).crlNumber, n, 'parsed back');
    previous = next;
  }
  const big = await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, previous: { crlNumber: 0xffn } });
  assert.is(big.crlNumber, 0x100n);
  assert.is(structure(big).extensions[1]![2], '02020100', 'a minimal positive INTEGER');
  const high = await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, previous: { crlNumber: 0x7fn } });
  assert.is(structure(high).extensions[1]![2], '02020080', 'a leading zero keeps 128 positive');
});

test('an explicit crlNumber is written as given, and must be a non-negative 20-octet number above the previous', async () => {
  const issuer = await rootOf();
  assert.is((await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, crlNumber: 0n })).crlNumber, 0n);
  assert.is((await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, crlNumber: 41n, previous: { crlNumber: 40n } })).crlNumber, 41n);
  const max = (1n << 159n) - 1n;
  assert.is((await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, crlNumber: max })).crlNumber, max);
  assert.is(await codeOf(() => issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, crlNumber: 5n, previous: { crlNumber: 5n } })), 'ERR_ARGUMENT');
  assert.is(await codeOf(() => issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, crlNumber: -1n })), 'ERR_ARGUMENT');
  assert.is(await codeOf(() => issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, crlNumber: max + 1n })), 'ERR_ARGUMENT');
  assert.is(await codeOf(() => issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, previous: { crlNumber: max } })), 'ERR_ARGUMENT');
});

test('a CRL without extensions (kubepki 0.1.0 wrote them with @peculiar/x509) still parses, without a number, and its successor is number 1', async () => {
  const issuer = await rootOf();
  const legacy = await x509.X509CrlGenerator.create({
    issuer: new x509.Name(issuer.certificate.subjectDer as Uint8Array<ArrayBuffer>),
    thisUpdate: THIS_UPDATE,
    nextUpdate: new Date(THIS_UPDATE.getTime() + 86_400_000),
    signingKey: issuer.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    entries: [{ serialNumber: '0abc', revocationDate: THIS_UPDATE }],
  });
  const parsed = parseRevocationList(new Uint8Array(legacy.rawData));
  assert.is(parsed.crlNumber, undefined);
  assert.is(parsed.authorityKeyId, undefined);
  assert.equal([...parsed.serials], ['0abc']);
  assert.is((await issueRevocationList({ issuer, revoked: [], thisUpdate: THIS_UPDATE, previous: parsed })).crlNumber, 1n);
});

test('isRevoked still decides by issuer, signature and serial', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const { root: other } = await fixtureAuthorities('ed25519');
  const crl = await issueRevocationList({ issuer: root, revoked: [{ serialNumber: root.certificate.serialNumber }], thisUpdate: THIS_UPDATE });
  const later = new Date(THIS_UPDATE.getTime() + 1000);
  assert.ok(isRevoked(root.certificate, root.certificate, crl, later));
  assert.not.ok(isRevoked(root.certificate, root.certificate, crl, new Date(THIS_UPDATE.getTime() - 1000)), 'not current yet');
  assert.not.ok(isRevoked(other.certificate, other.certificate, crl, later), 'another issuer');
});

// A TBSCertList with the given crlExtensions, wrapped with a dummy signature: parsing does not verify it.
async function withExtensions(...extensions: Uint8Array[]): Promise<Uint8Array> {
  const crl = await issueRevocationList({ issuer: await rootOf(), revoked: [], thisUpdate: THIS_UPDATE });
  const fields = children(crl.tbs, readElement(crl.tbs, 0, 'tbs'), 'tbs').filter((f) => f.tag !== 0xa0);
  const kept = fields.map((f) => crl.tbs.subarray(f.headerStart, f.end));
  const tbs = encodeSequence(...kept, ...(extensions.length ? [encodeElement(0xa0, encodeSequence(...extensions))] : []));
  return encodeSequence(tbs, kept[1]!, encodeElement(TAG.BIT_STRING, Uint8Array.of(0, 1, 2, 3)));
}
const numberExtension = (integerContent: number[]): Uint8Array => encodeSequence(encodeOid(CRL_NUMBER), encodeOctetString(encodeElement(TAG.INTEGER, Uint8Array.from(integerContent))));

test('parseRevocationList reads the CRL number and refuses malformed ones with ERR_DER', async () => {
  assert.is(parseRevocationList(await withExtensions(numberExtension([0x00, 0x80]))).crlNumber, 128n);
  assert.is(parseRevocationList(await withExtensions(numberExtension([0x00]))).crlNumber, 0n);
  assert.is(parseRevocationList(await withExtensions(numberExtension(Array(20).fill(0x7f)))).crlNumber, BigInt(`0x${'7f'.repeat(20)}`));
  assert.is(parseRevocationList(await withExtensions()).crlNumber, undefined);
  for (const [name, der] of [
    ['negative', await withExtensions(numberExtension([0xff]))],
    ['not minimal', await withExtensions(numberExtension([0x00, 0x01]))],
    ['empty', await withExtensions(numberExtension([]))],
    ['longer than 20 octets', await withExtensions(numberExtension(Array(21).fill(0x01)))],
    ['not an INTEGER', await withExtensions(encodeSequence(encodeOid(CRL_NUMBER), encodeOctetString(encodeOctetString(Uint8Array.of(1)))))],
    ['twice', await withExtensions(numberExtension([1]), numberExtension([2]))],
    ['trailing bytes', await withExtensions(encodeSequence(encodeOid(CRL_NUMBER), encodeOctetString(Uint8Array.of(2, 1, 1, 0))))],
  ] as const) {
    assert.is(await codeOf(() => parseRevocationList(der)), 'ERR_DER', name);
  }
});

test.run();
