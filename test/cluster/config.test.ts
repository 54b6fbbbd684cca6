import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { firstServiceIp, resolveClusterConfig } from '../../lib/cluster/config.js';
import { failureOf } from '../helpers/fixtures.js';

test('defaults follow kubeadm', () => {
  const c = resolveClusterConfig({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10' });
  assert.equal(
    [c.clusterName, c.dnsDomain, c.serviceCidr, c.apiServerServiceIp, c.apiServerPort, c.keySpec, c.endpointUrl, c.localApiUrl],
    ['kubernetes', 'cluster.local', '10.96.0.0/12', '10.96.0.1', 6443, 'ecdsa-p256', 'https://10.0.0.10:6443', 'https://10.0.0.10:6443'],
  );
  assert.is(c.caLifetimeSeconds, 87_600 * 3600);
  assert.is(c.leafLifetimeSeconds, 8760 * 3600);
});

const SERVICE_IPS: [string, string | undefined][] = [
  ['10.96.0.0/12', '10.96.0.1'],
  ['10.96.5.7/12', '10.96.0.1'],
  ['172.16.0.0/16', '172.16.0.1'],
  ['fd00:10:96::/108', 'fd00:10:96::1'],
  ['10.0.0.0/31', undefined],
  ['10.0.0.0/33', undefined],
  ['10.0.0.0', undefined],
  ['nope/12', undefined],
];
for (const [cidr, ip] of SERVICE_IPS) test(`firstServiceIp(${cidr})`, () => assert.is(firstServiceIp(cidr), ip));

test('the primary range of a dual-stack service CIDR gives the Service IP', () => {
  assert.is(resolveClusterConfig({ nodeName: 'a', advertiseAddress: '10.0.0.1', serviceCidr: 'fd00::/108,10.96.0.0/12' }).apiServerServiceIp, 'fd00::1');
});

const ENDPOINTS: [string, string][] = [
  ['api.example.com', 'https://api.example.com:6443'],
  ['api.example.com:443', 'https://api.example.com:443'],
  ['192.168.0.9:8443', 'https://192.168.0.9:8443'],
  ['[fd00::9]:8443', 'https://[fd00::9]:8443'],
  ['fd00::9', 'https://[fd00::9]:6443'],
];
for (const [endpoint, url] of ENDPOINTS) {
  test(`control-plane endpoint ${endpoint}`, () => assert.is(resolveClusterConfig({ nodeName: 'a', advertiseAddress: '10.0.0.1', controlPlaneEndpoint: endpoint }).endpointUrl, url));
}

const BAD: [string, object, string][] = [
  ['an advertise address that is not an IP', { advertiseAddress: 'cp-1.example.com' }, 'config.advertiseAddress'],
  ['an invalid node name', { nodeName: 'CP_1' }, 'config.nodeName'],
  ['a bad service CIDR', { serviceCidr: '10.96.0.0' }, 'config.serviceCidr'],
  ['a bad endpoint', { controlPlaneEndpoint: 'a b:1' }, 'config.controlPlaneEndpoint'],
  ['a bad endpoint port', { controlPlaneEndpoint: 'a:70000' }, 'config.controlPlaneEndpoint'],
  ['an unknown key type', { keySpec: 'dsa' }, 'config.keySpec'],
  ['a negative lifetime', { leafLifetimeSeconds: -5 }, 'config.leafLifetimeSeconds'],
];
for (const [name, patch, field] of BAD) {
  test(`resolveClusterConfig refuses ${name}`, async () => {
    const failure = await failureOf(() => resolveClusterConfig({ nodeName: 'cp-1', advertiseAddress: '10.0.0.1', ...patch } as never));
    assert.equal([failure.code, failure.field], ['ERR_ARGUMENT', field]);
  });
}

test.run();
