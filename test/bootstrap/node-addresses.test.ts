import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decideApproval, memoryRegistry, startApprover, staticNodeAddresses, type ApprovalDecision } from '../../lib/index.js';
import { kubeletCsr } from './helpers.js';

const servingFor = (node: string, ips: string[]) =>
  kubeletCsr({
    name: `serving-${node.replace(/[^a-z0-9-]/g, 'x')}`,
    signerName: 'kubernetes.io/kubelet-serving',
    usages: ['digital signature', 'server auth'],
    username: `system:node:${node}`,
    groups: ['system:nodes', 'system:authenticated'],
    subject: { commonName: `system:node:${node}`, organizations: ['system:nodes'] },
    sans: { ips },
  });

test('node names that are Object.prototype members are names like any other', async () => {
  const lookup = staticNodeAddresses({ 'node-1': ['10.0.0.11'] });
  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    assert.is(await lookup(name), undefined, name);
    const decision = await decideApproval(await servingFor(name, ['10.0.0.11']), { nodeAddresses: lookup });
    assert.equal([decision.decision, 'reason' in decision && decision.reason], ['deny', 'UnknownNode'], name);
  }
  // Listed, they are found (the CLI's --node table is a Map).
  const listed = staticNodeAddresses(new Map([['constructor', ['10.0.0.5']], ['__proto__', ['10.0.0.6']]]));
  assert.equal(await listed('constructor'), { dns: [], ips: ['10.0.0.5'] });
  assert.equal(await listed('__proto__'), { dns: [], ips: ['10.0.0.6'] });
  assert.is((await decideApproval(await servingFor('constructor', ['10.0.0.5']), { nodeAddresses: listed })).decision, 'approve');
});

test('every approver error reaches onError, and a throwing onError stops nothing', async () => {
  const registry = await memoryRegistry();
  const errors: unknown[] = [];
  const decisions: [string, ApprovalDecision['decision']][] = [];
  const controller = await startApprover(registry, {
    nodeAddresses: (name) => {
      if (name === 'broken') throw new Error('lookup failed');
      return { dns: [], ips: ['10.0.0.11'] };
    },
    onDecision: (name, d) => d.decision !== 'ignore' && decisions.push([name, d.decision]),
    onError: (error) => {
      errors.push(error);
      throw new Error('onError itself fails');
    },
  });
  const node = { username: 'system:node:node-1', groups: ['system:nodes'] };
  const warned: string[] = [];
  const onWarning = (warning: Error): void => void (warning.name === 'KubepkiControllerError' && warned.push(warning.message));
  process.on('warning', onWarning);
  try {
    await registry.create(await servingFor('broken', ['10.0.0.11']), { username: 'system:node:broken', groups: ['system:nodes'] });
    await registry.create(await servingFor('node-1', ['10.0.0.11']), node);
    await controller.idle();
    await controller.idle();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
    controller.stop();
  }
  assert.equal(errors.map((e) => (e as Error).message), ['lookup failed']);
  // The failing onError is reported as a warning, and so is the error it could not take.
  assert.equal(warned, ['controller error: "onError itself fails"', 'controller error: "lookup failed"']);
  assert.equal(decisions, [['serving-node-1', 'approve']]);
  assert.is((await registry.get('serving-node-1'))!.status!.conditions![0]!.type, 'Approved');
});

test.run();
