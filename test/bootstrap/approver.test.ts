import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decideApproval, nodeSubject } from '../../lib/index.js';
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

test.run();
