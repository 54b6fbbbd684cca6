import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decideApproval, memoryRegistry, nodeSubject, startApprover, type ApproverOptions } from '../../lib/index.js';
import { failureOf } from '../helpers/fixtures.js';
import { approved, kubeletCsr } from './helpers.js';

const nodeAddresses = (name: string) => (name === 'node-1' ? { dns: ['node-1', 'node-1.example.com'], ips: ['10.0.0.11', 'fd00::11'] } : undefined);
const NODE = { username: 'system:node:node-1', groups: ['system:nodes', 'system:authenticated'] };
const SERVING = { signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'] as const, ...NODE };

test('a bootstrapper gets a node client certificate approved (nodeclient)', async () => {
  const decision = await decideApproval(await kubeletCsr({}));
  assert.equal([decision.decision, 'reason' in decision && decision.reason], ['approve', 'AutoApproved']);
});

test('a node renewing its own client certificate is approved (selfnodeclient)', async () => {
  assert.is((await decideApproval(await kubeletCsr(NODE))).decision, 'approve');
});

test('a serving certificate whose SANs the node owns is approved', async () => {
  const csr = await kubeletCsr({ ...SERVING, usages: [...SERVING.usages], sans: { dns: ['node-1.example.com'], ips: ['10.0.0.11', 'FD00:0::11'] } });
  assert.is((await decideApproval(csr, { nodeAddresses })).decision, 'approve');
});

const DENIALS: [string, Parameters<typeof kubeletCsr>[0], string][] = [
  ['system:masters in a kubelet client CSR', { subject: { commonName: 'system:node:node-1', organizations: ['system:nodes', 'system:masters'] } }, 'NotKubeletClient'],
  ["another node's name on renewal", { ...NODE, subject: nodeSubject('node-2') }, 'Unauthorized'],
  ['SANs on a client certificate', { sans: { dns: ['node-1'] } }, 'NotKubeletClient'],
  ['a CA basicConstraints extension', { requestCa: true }, 'RequestsCA'],
  ['usages outside the allowed sets', { usages: ['digital signature', 'client auth', 'server auth'] }, 'NotKubeletClient'],
  ['a requester that is neither bootstrapper nor the node', { username: 'jane', groups: ['developers'] }, 'Unauthorized'],
  ['a serving CSR claiming another node\'s address', { ...SERVING, usages: [...SERVING.usages], sans: { ips: ['10.0.0.11', '10.0.0.12'] } }, 'SANsNotOwned'],
  ['a serving CSR for another node', { ...SERVING, usages: [...SERVING.usages], subject: nodeSubject('node-2'), sans: { ips: ['10.0.0.12'] } }, 'NotKubeletServing'],
  ['a serving CSR with an email SAN', { ...SERVING, usages: [...SERVING.usages], sans: { ips: ['10.0.0.11'], emails: ['a@example.com'] } }, 'NotKubeletServing'],
  ['a serving CSR from a bootstrapper', { signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth'], sans: { ips: ['10.0.0.11'] } }, 'NotKubeletServing'],
  ['a serving CSR for an unknown node', { ...SERVING, usages: [...SERVING.usages], username: 'system:node:node-9', subject: nodeSubject('node-9'), sans: { ips: ['10.0.0.99'] } }, 'UnknownNode'],
  ['a serving CSR with client usages', { ...SERVING, usages: ['digital signature', 'client auth'], sans: { ips: ['10.0.0.11'] } }, 'NotKubeletServing'],
];
for (const [name, options, reason] of DENIALS) {
  test(`denies ${name}`, async () => {
    const decision = await decideApproval(await kubeletCsr(options), { nodeAddresses });
    assert.is(decision.decision, 'deny', decision.message);
    assert.is('reason' in decision && decision.reason, reason);
    assert.ok(decision.message.length > 10);
  });
}

test('other signers and decided CSRs are left alone', async () => {
  assert.is((await decideApproval(await kubeletCsr({ signerName: 'kubernetes.io/kube-apiserver-client' }))).decision, 'ignore');
  assert.is((await decideApproval(approved(await kubeletCsr({})))).decision, 'ignore');
});

test('a custom authorizer decides who may ask', async () => {
  const decision = await decideApproval(await kubeletCsr({}), { authorize: () => false });
  assert.is(decision.decision, 'deny');
});

// A node whose kubelet wrote the API server's names into its own Node.status.addresses: owning them proves nothing.
const greedy = (name: string) =>
  name === 'node-1'
    ? { dns: ['node-1', 'node-1.nodes.example.com', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'kubernetes.default.svc.corp.internal', 'web.prod.svc.cluster.local', 'api.example.com', 'evil.example.org'], ips: ['10.0.0.11', '10.96.0.1', '10.96.0.10', '10.0.0.10', '192.168.5.5', 'fd00::11'] }
    : undefined;
const serving = (sans: { dns?: string[]; ips?: string[] }) => kubeletCsr({ ...SERVING, usages: [...SERVING.usages], sans });
const decide = async (sans: { dns?: string[]; ips?: string[] }, options: ApproverOptions = {}) => decideApproval(await serving(sans), { nodeAddresses: greedy, ...options });

test('the cluster\'s reserved names are never approved, whatever the node owns or the policy allows', async () => {
  const policy: ApproverOptions = { allowedCidrs: ['10.0.0.0/8'], allowedDnsSuffixes: ['example.com', 'cluster.local'], apiServerHosts: ['api.example.com', '10.0.0.10'] };
  const cases: [{ dns?: string[]; ips?: string[] }, ApproverOptions, RegExp][] = [
    [{ dns: ['kubernetes'], ips: ['10.0.0.11'] }, {}, /DNS SAN kubernetes is a name of the API server/],
    [{ dns: ['kubernetes.default'], ips: ['10.0.0.11'] }, {}, /DNS SAN kubernetes.default is a name/],
    [{ dns: ['kubernetes.default.svc'], ips: ['10.0.0.11'] }, policy, /kubernetes.default.svc is a name of the API server/],
    [{ dns: ['kubernetes.default.svc.cluster.local'], ips: ['10.0.0.11'] }, policy, /is a name of the API server/],
    [{ dns: ['kubernetes.default.svc.corp.internal'], ips: ['10.0.0.11'] }, { dnsDomain: 'corp.internal' }, /is a name of the API server/],
    [{ dns: ['web.prod.svc.cluster.local'], ips: ['10.0.0.11'] }, policy, /is a cluster DNS name/],
    [{ ips: ['10.0.0.11', '10.96.0.1'] }, policy, /IP SAN 10.96.0.1 is the kubernetes Service IP/],
    [{ ips: ['10.0.0.11', '10.96.0.10'] }, {}, /IP SAN 10.96.0.10 is inside the Service range 10.96.0.0\/12/],
    [{ ips: ['10.0.0.11', '192.168.5.5'] }, { serviceCidr: '192.168.0.0/16' }, /IP SAN 192.168.5.5 is the kubernetes Service IP|is inside the Service range 192.168.0.0\/16/],
    [{ ips: ['10.0.0.11', '10.0.0.10'] }, policy, /IP SAN 10.0.0.10 is the API server endpoint/],
    [{ dns: ['api.example.com'], ips: ['10.0.0.11'] }, policy, /DNS SAN api.example.com is a name of the API server/],
  ];
  for (const [sans, options, message] of cases) {
    const decision = await decide(sans, options);
    assert.equal([decision.decision, 'reason' in decision && decision.reason], ['deny', 'ReservedSAN'], JSON.stringify(sans));
    assert.match(decision.message, message);
  }
});

test('the serving policy: at least one IP SAN, IPs inside the allowed CIDRs, DNS names the node name or under an allowed suffix', async () => {
  const policy: ApproverOptions = { allowedCidrs: ['10.0.0.0/8', 'fd00::/64'], allowedDnsSuffixes: ['nodes.example.com'] };
  assert.is((await decide({ dns: ['node-1', 'node-1.nodes.example.com'], ips: ['10.0.0.11', 'fd00::11'] }, policy)).decision, 'approve');
  const denied = async (sans: { dns?: string[]; ips?: string[] }, options: ApproverOptions, reason: string, message: RegExp): Promise<void> => {
    const decision = await decide(sans, options);
    assert.equal([decision.decision, 'reason' in decision && decision.reason], ['deny', reason], JSON.stringify(sans));
    assert.match(decision.message, message);
  };
  await denied({ dns: ['node-1'] }, {}, 'NoIPSAN', /needs at least one IP SAN/);
  await denied({ ips: ['10.0.0.11', '192.168.5.5'] }, policy, 'IPNotAllowed', /IP SAN 192.168.5.5 is outside the allowed CIDRs 10.0.0.0\/8, fd00::\/64/);
  await denied({ dns: ['evil.example.org'], ips: ['10.0.0.11'] }, policy, 'DNSNotAllowed', /DNS SAN evil.example.org is neither the node name nor under an allowed suffix \(nodes.example.com\)/);
  // Without a policy, what the node owns (and is not reserved) is approved, as before.
  assert.is((await decide({ dns: ['evil.example.org'], ips: ['192.168.5.5'] })).decision, 'approve');
});

test('a policy that does not parse is ERR_ARGUMENT at start', async () => {
  const registry = await memoryRegistry();
  for (const options of [{ allowedCidrs: ['10.0.0.0/33'] }, { allowedCidrs: ['nope'] }, { serviceCidr: '10.96.0.0' }, { dnsDomain: 'bad domain' }, { allowedDnsSuffixes: ['a b'] }, { apiServerHosts: ['not a host'] }]) {
    const error = await failureOf(() => startApprover(registry, options));
    assert.is(error.code, 'ERR_ARGUMENT', JSON.stringify(options));
  }
});

test.run();
