import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { memoryRegistry, type WatchEvent } from '../../lib/index.js';
import { failureOf } from '../helpers/fixtures.js';
import { kubeletCsr } from './helpers.js';

const requester = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };

test('every object handed out is a copy of its own; changing one changes nothing stored', async () => {
  const registry = await memoryRegistry();
  const input = await kubeletCsr({ name: 'csr-a', username: 'someone-else' });
  const snapshot = structuredClone(input);
  const created = await registry.create(input, requester);
  assert.is(created.spec.username, requester.username);
  assert.equal(input, snapshot); // the caller's object is neither changed nor frozen
  assert.not.ok(Object.isFrozen(input.spec));
  created.spec.usages.push('server auth');
  created.metadata.name = 'changed';
  const fetched = (await registry.get('csr-a'))!;
  assert.equal(fetched.spec.usages, input.spec.usages);
  fetched.status!.conditions = [{ type: 'Approved', status: 'True', reason: 'Mine', message: '' }];
  assert.equal((await registry.list())[0]!.status, {});
  assert.is.not(await registry.get('csr-a'), await registry.get('csr-a'));
});

test('watch events carry one deeply frozen object that every listener shares', async () => {
  const registry = await memoryRegistry();
  const seen: WatchEvent[][] = [[], []];
  const stops = await Promise.all(seen.map((events) => registry.watch((event) => events.push(event))));
  await registry.create(await kubeletCsr({ name: 'csr-b' }), requester);
  await registry.setApproval('csr-b', { type: 'Approved', status: 'True', reason: 'AutoApproved', message: 'ok' });
  assert.equal(seen[0]!.map((e) => e.type), ['ADDED', 'MODIFIED']);
  for (const [i, event] of seen[0]!.entries()) {
    assert.is(event.object, seen[1]![i]!.object);
    assert.ok(Object.isFrozen(event.object) && Object.isFrozen(event.object.spec.usages) && Object.isFrozen(event.object.metadata));
  }
  assert.throws(() => (seen[0]![1]!.object.status!.conditions as unknown[]).push({}));
  // A late watcher hears ADDED for what exists, in the state it has now.
  const late: WatchEvent[] = [];
  stops.push(await registry.watch((event) => late.push(event)));
  assert.equal(late.map((e) => [e.type, e.object.status?.conditions?.[0]?.type]), [['ADDED', 'Approved']]);
  for (const stop of stops) stop();
});

test('a persisted registry reloads every object as it was, and names stay unique', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-registry-'));
  try {
    const first = await memoryRegistry({ dir });
    await first.create(await kubeletCsr({ name: 'csr-c' }), requester);
    await first.setApproval('csr-c', { type: 'Approved', status: 'True', reason: 'AutoApproved', message: 'ok' });
    const before = await first.get('csr-c');
    assert.equal(await readdir(dir), ['csr-c.json']);
    const second = await memoryRegistry({ dir });
    assert.equal(await second.get('csr-c'), before);
    assert.is((await failureOf(async () => second.create(await kubeletCsr({ name: 'csr-c' }), requester))).code, 'ERR_ALREADY_EXISTS');
    assert.is((await failureOf(() => second.setStatus('csr-x', { certificate: 'eA==' }))).code, 'ERR_NOT_FOUND');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
