import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatIp, normalizeIp, parseIp } from '../../lib/x509/ip.js';

// Table: text, canonical form (or undefined when it is not an address).
const CASES: [string, string | undefined][] = [
  ['10.0.0.1', '10.0.0.1'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['256.0.0.1', undefined],
  ['010.0.0.1', undefined],
  ['10.0.0', undefined],
  ['10.0.0.1.', undefined],
  [' 10.0.0.1', undefined],
  ['::1', '::1'],
  ['::', '::'],
  ['0:0:0:0:0:0:0:1', '::1'],
  ['FD00:0:0:0::0001', 'fd00::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
  ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
  ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
  ['2001:db8::1:2:3:4:5:6', undefined],
  ['::ffff:10.0.0.7', '10.0.0.7'],
  ['::ffff:a00:7', '10.0.0.7'],
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  ['1::2::3', undefined],
  ['12345::1', undefined],
  ['fe80::1%eth0', undefined],
  ['1:2:3:4:5:6:7:8:9', undefined],
  ['1.2.3.4::', undefined],
  ['', undefined],
  ['localhost', undefined],
];

for (const [text, expected] of CASES) {
  test(`normalizeIp(${JSON.stringify(text)})`, () => {
    assert.is(normalizeIp(text), expected);
  });
}

test('IPv4 is 4 bytes and IPv6 16 bytes', () => {
  assert.is(parseIp('10.1.2.3')!.length, 4);
  assert.is(parseIp('fd00::1')!.length, 16);
  assert.is(formatIp(Uint8Array.of(192, 168, 0, 1)), '192.168.0.1');
});

test.run();
