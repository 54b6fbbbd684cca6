import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hostForUrl } from '../../lib/x509/ip.js';
import { apiserverToKubelet } from '../../lib/agents/paths.js';

test('hostForUrl brackets an IPv6 address and leaves IPv4 addresses and names alone', () => {
  assert.is(hostForUrl('fd00::1'), '[fd00::1]');
  assert.is(hostForUrl('10.0.0.1'), '10.0.0.1');
  assert.is(hostForUrl('node-1.example'), 'node-1.example');
});

test('an agent for an IPv6 peer dials a bracketed URL', async () => {
  const agents = apiserverToKubelet({ kubeletServingBundle: 'unused', clientCertificate: 'unused', clientKey: 'unused', nodeAddress: 'fd00::1' });
  assert.is(agents.url, 'https://[fd00::1]:10250');
  await agents.close();
});

test.run();
