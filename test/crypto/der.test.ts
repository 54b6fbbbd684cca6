import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertDer, decodeOid, encodeOid, encodeUnsignedInteger } from '../../lib/crypto/der.js';
import { codeOf } from '../helpers/fixtures.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s/g, ''), 'hex'));

// Table: input, expected result (ok or an error code).
const CASES: [string, string, string][] = [
  ['empty sequence', '3000', 'ok'],
  ['nested sequence', '3003 3001 05', 'ERR_DER'],
  ['sequence with null', '3004 3002 0500', 'ok'],
  ['truncated element', '30', 'ERR_DER'],
  ['length past the end', '3005 0500', 'ERR_DER'],
  ['trailing bytes', '3000 00', 'ERR_DER'],
  ['indefinite length', '3080 0500 0000', 'ERR_DER'],
  ['non-minimal long length', '3081 02 0500', 'ERR_DER'],
  ['leading zero length byte', '3082 0002 0500', 'ERR_DER'],
  ['child overruns parent', '3002 0403 000000', 'ERR_DER'],
  ['constructed octet string', '2403 0401 00', 'ERR_DER'],
  ['non-minimal integer', '3004 0202 0001', 'ERR_DER'],
  ['negative padded integer', '3004 0202 ff80', 'ERR_DER'],
  ['empty integer', '3002 0200', 'ERR_DER'],
  ['positive integer with needed zero', '3004 0202 0080', 'ok'],
  ['multi-byte tag', '1f81 00', 'ERR_DER'],
];

for (const [name, input, expected] of CASES) {
  test(`assertDer: ${name}`, async () => {
    const code = await codeOf(() => assertDer(hex(input), 'input'));
    assert.is(code, expected === 'ok' ? 'no error' : expected);
  });
}

test('assertDer refuses nesting deeper than the limit', async () => {
  let der = hex('0500');
  for (let i = 0; i < 40; i++) der = Uint8Array.from([0x30, der.length, ...der]);
  assert.is(await codeOf(() => assertDer(der, 'deep')), 'ERR_DER');
  assert.is(await codeOf(() => assertDer(der, 'deep', { maxDepth: 64 })), 'no error');
});

test('assertDer refuses more elements than the limit', async () => {
  const body = new Uint8Array(200).fill(0).map((_, i) => (i % 2 === 0 ? 0x05 : 0x00));
  const der = Uint8Array.from([0x30, 0x81, body.length, ...body]);
  assert.is(await codeOf(() => assertDer(der, 'wide', { maxElements: 50 })), 'ERR_DER');
});

test('assertDer refuses inputs over the size limit before walking them', async () => {
  const content = new Uint8Array(2 * 1024 * 1024);
  const der = Uint8Array.from([0x04, 0x83, content.length >> 16, (content.length >> 8) & 0xff, content.length & 0xff, ...content]);
  assert.is(await codeOf(() => assertDer(der, 'big')), 'ERR_DER');
  assert.is(await codeOf(() => assertDer(der, 'big', { maxBytes: 4 * 1024 * 1024 })), 'no error');
});

test('OIDs round-trip', () => {
  for (const oid of ['2.5.29.17', '1.2.840.113549.1.1.11', '1.3.6.1.4.1.311.60.2.1.3', '2.999.1']) {
    const der = encodeOid(oid);
    assert.is(decodeOid(der.subarray(2), 'oid'), oid);
  }
});

test('unsigned integers get a leading zero only when the top bit is set', () => {
  assert.equal([...encodeUnsignedInteger(hex('7f'))], [0x02, 0x01, 0x7f]);
  assert.equal([...encodeUnsignedInteger(hex('80'))], [0x02, 0x02, 0x00, 0x80]);
  assert.equal([...encodeUnsignedInteger(hex('0001'))], [0x02, 0x01, 0x01]);
});

test.run();
