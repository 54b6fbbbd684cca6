import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodePem, readPemBlock, readPemBlocks } from '../../lib/crypto/pem.js';
import { codeOf } from '../helpers/fixtures.js';

const DER = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x05]);
const block = (label: string, body = 'MAMCAQU='): string => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;

test('encodePem and readPemBlocks round-trip, with 64-character lines', () => {
  const big = new Uint8Array(300);
  big.set([0x30, 0x82, 0x01, 0x28]);
  const pem = encodePem('CERTIFICATE', big);
  assert.ok(pem.split('\n').every((line) => line.length <= 64));
  const [only] = readPemBlocks(pem);
  assert.is(only!.label, 'CERTIFICATE');
  assert.equal([...only!.der], [...big]);
});

test('several blocks, CRLF line ends and text between blocks are read', () => {
  const text = `subject=CN = x\r\n${block('CERTIFICATE').replace(/\n/g, '\r\n')}# comment\n${block('CERTIFICATE')}`;
  const blocks = readPemBlocks(text);
  assert.is(blocks.length, 2);
  assert.equal([...blocks[1]!.der], [...DER]);
});

test('readPemBlocks accepts bytes', () => {
  assert.is(readPemBlocks(Buffer.from(block('PUBLIC KEY'))).length, 1);
});

// Table of malformed PEM: input and expected code.
const BAD: [string, string, string][] = [
  ['no block at all', 'hello', 'ERR_PEM'],
  ['empty input', '', 'ERR_PEM'],
  ['unknown label', block('OPENSSH PRIVATE KEY'), 'ERR_PEM'],
  ['lowercase label', block('certificate'), 'ERR_PEM'],
  ['mismatched END', '-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END PUBLIC KEY-----\n', 'ERR_PEM'],
  ['missing END', '-----BEGIN CERTIFICATE-----\nMAMCAQU=\n', 'ERR_PEM'],
  ['nested BEGIN', '-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nMAMCAQU=\n-----END CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'ERR_PEM'],
  ['stray boundary', '-----END CERTIFICATE-----\n', 'ERR_PEM'],
  ['empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'ERR_PEM'],
  ['bad base64 character', block('CERTIFICATE', 'MAMC*QU='), 'ERR_PEM'],
  ['bad base64 length', block('CERTIFICATE', 'MAMCAQU'), 'ERR_PEM'],
  ['padding in the middle', block('CERTIFICATE', 'MA==MCAQ'), 'ERR_PEM'],
  ['non-canonical base64', block('CERTIFICATE', 'MAMCAQV='), 'ERR_PEM'],
  ['headers', '-----BEGIN CERTIFICATE-----\nComment: hi\n\nMAMCAQU=\n-----END CERTIFICATE-----\n', 'ERR_PEM'],
  ['encrypted legacy key', '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nMAMCAQU=\n-----END RSA PRIVATE KEY-----\n', 'ERR_KEY'],
  ['body that is not DER', block('CERTIFICATE', 'aGVsbG8gd29ybGQ='), 'ERR_DER'],
  ['truncated DER', block('CERTIFICATE', 'MAQCAQU='), 'ERR_DER'],
];

for (const [name, input, code] of BAD) {
  test(`readPemBlocks refuses ${name}`, async () => {
    assert.is(await codeOf(() => readPemBlocks(input)), code);
  });
}

test('the size limit is enforced before parsing', async () => {
  assert.is(await codeOf(() => readPemBlocks(block('CERTIFICATE'), { maxBytes: 10 })), 'ERR_PEM');
  assert.is(await codeOf(() => readPemBlocks(block('CERTIFICATE').repeat(3), { maxBlocks: 2 })), 'ERR_PEM');
});

test('readPemBlock wants exactly one block of the expected labels', async () => {
  assert.is(readPemBlock(block('CERTIFICATE'), ['CERTIFICATE']).label, 'CERTIFICATE');
  assert.is(await codeOf(() => readPemBlock(block('CERTIFICATE'), ['PRIVATE KEY'])), 'ERR_PEM');
  assert.is(await codeOf(() => readPemBlock(block('CERTIFICATE').repeat(2), ['CERTIFICATE'])), 'ERR_PEM');
  assert.is(await codeOf(() => readPemBlock(block('ENCRYPTED PRIVATE KEY'), ['PRIVATE KEY'])), 'ERR_KEY');
  // EC PARAMETERS beside a key is skipped, as Kubernetes' key parsers do.
  assert.is(readPemBlock(block('EC PARAMETERS', 'BggqhkjOPQMBBw==') + block('EC PRIVATE KEY'), ['EC PRIVATE KEY']).label, 'EC PRIVATE KEY');
});

test('errors name the input', async () => {
  try {
    readPemBlocks(block('NOPE'), { field: 'ca.crt' });
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /^ca\.crt\[0\]: unknown PEM label "NOPE"/);
  }
});

test.run();
