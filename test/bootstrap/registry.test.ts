import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  createCertificateAuthority,
  generateBootstrapToken,
  memoryRegistry,
  memoryTokenStore,
  startApprover,
  startCsrCleaner,
  startEmbeddedBootstrap,
  type ApprovalDecision,
  type CertificateSigningRequestObject,
  type WatchEvent,
} from '../../lib/index.js';
import { csrCleanupReason } from '../../lib/bootstrap/cleaner.js';
import { DEFAULT_MAX_PENDING_PER_REQUESTER } from '../../lib/bootstrap/registry.js';
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

test('events carry the request validated on create, parsed once, until the CSR is issued; a reloaded file is validated as it is read', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-registry-'));
  try {
    const registry = await memoryRegistry({ dir });
    const events: WatchEvent[] = [];
    const stop = await registry.watch((event) => events.push(event));
    await registry.create(await kubeletCsr({ name: 'csr-v' }), requester);
    await registry.setApproval('csr-v', { type: 'Approved', status: 'True', reason: 'AutoApproved', message: 'ok' });
    const [added, approved] = events;
    assert.ok(added!.validated && approved!.validated);
    assert.is(added!.validated.object, added!.object);
    assert.is(approved!.validated.object, approved!.object);
    assert.is(approved!.validated.request, added!.validated.request, 'the request parsed on create is handed on, not parsed again');
    assert.is(added!.validated.request.subject.commonName, 'system:node:node-1');
    await registry.setStatus('csr-v', { certificate: 'eA==' });
    assert.is(events[2]!.validated, undefined, 'nothing is left to do with an issued CSR');
    stop();

    // A pending CSR whose file was changed on disk: loaded without its request, and the approver refuses it.
    await registry.create(await kubeletCsr({ name: 'csr-w' }), requester);
    await registry.create(await kubeletCsr({ name: 'csr-t' }), requester);
    const file = join(dir, 'csr-t.json');
    const stored = JSON.parse(await readFile(file, 'utf8')) as CertificateSigningRequestObject;
    const pem = Buffer.from(stored.spec.request, 'base64').toString();
    const der = Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64');
    der[der.length - 1]! ^= 1;
    stored.spec.request = Buffer.from(`-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`).toString('base64');
    await writeFile(file, JSON.stringify(stored));
    const reloaded = await memoryRegistry({ dir });
    const replayed = new Map<string, WatchEvent>();
    (await reloaded.watch((event) => replayed.set(event.object.metadata.name, event)))();
    assert.ok(replayed.get('csr-w')!.validated);
    assert.is(replayed.get('csr-t')!.validated, undefined);
    assert.is(replayed.get('csr-v')!.validated, undefined);
    const decisions = new Map<string, ApprovalDecision>();
    const approver = await startApprover(reloaded, { onDecision: (name, decision) => decisions.set(name, decision) });
    await approver.idle();
    approver.stop();
    assert.is(decisions.get('csr-w')!.decision, 'approve');
    assert.equal([decisions.get('csr-t')!.decision, (decisions.get('csr-t') as { reason: string }).reason], ['deny', 'InvalidRequest']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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

test('create keeps only the v1 schema a client may set; the requester fields come from the server', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-registry-'));
  try {
    const registry = await memoryRegistry({ dir });
    const csr = await kubeletCsr({ name: 'csr-d', expirationSeconds: 3600 });
    const posted = {
      ...csr,
      junk: 'x'.repeat(1000),
      metadata: { ...csr.metadata, labels: { app: 'kubelet' }, annotations: { note: 'hi' }, uid: 'forged', resourceVersion: '99', junk: { deep: [1, 2, 3] } },
      spec: { ...csr.spec, junk: 'x'.repeat(1000), extra: { scopes: ['admin'] }, uid: 'forged-uid', username: 'system:admin', groups: ['system:masters'] },
      status: { junk: 1 },
    } as unknown as CertificateSigningRequestObject;
    const created = await registry.create(posted, requester);
    const expected = (object: CertificateSigningRequestObject): void => {
      assert.equal(Object.keys(object).sort(), ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
      assert.equal(Object.keys(object.metadata).sort(), ['annotations', 'creationTimestamp', 'labels', 'name', 'resourceVersion', 'uid']);
      assert.equal([object.metadata.labels, object.metadata.annotations], [{ app: 'kubelet' }, { note: 'hi' }]);
      assert.is.not(object.metadata.uid, 'forged');
      assert.equal(object.spec, { request: csr.spec.request, signerName: csr.spec.signerName, expirationSeconds: 3600, usages: csr.spec.usages, username: requester.username, groups: requester.groups, uid: '' });
      assert.equal(object.status, {});
    };
    expected(created);
    expected((await registry.get('csr-d'))!);
    const [file] = await readdir(dir);
    const onDisk = await readFile(join(dir, file!), 'utf8');
    assert.not.match(onDisk, /junk|forged|scopes|system:masters/);
    expected(JSON.parse(onDisk) as CertificateSigningRequestObject);
    for (const metadata of [{ labels: { a: 1 } }, { annotations: ['x'] }, { generateName: 5 }]) {
      const bad = { ...csr, metadata: { ...csr.metadata, name: 'csr-bad', ...metadata } } as unknown as CertificateSigningRequestObject;
      assert.is((await failureOf(() => registry.create(bad, requester))).code, 'ERR_CSR_OBJECT');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a list during a change being written reports the version before it, so a watch from it sees the change', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-registry-'));
  try {
    const registry = await memoryRegistry({ dir });
    await registry.create(await kubeletCsr({ name: 'raced' }), requester);
    const approving = registry.setApproval('raced', { type: 'Approved', status: 'True', reason: 'Test', message: 'test' });
    // The approval has its number but its file is still being written (fsync takes milliseconds; a few turns
    // of the event loop start it): a list now must not claim it.
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    const { items, resourceVersion } = await registry.versionedList();
    assert.equal(items[0]!.status?.conditions ?? [], []);
    await approving;
    const seen: WatchEvent[] = [];
    const stop = await registry.watch((event) => seen.push(event), { resourceVersion });
    stop();
    assert.equal(seen.map((e) => [e.type, e.object.status?.conditions?.[0]?.type]), [['MODIFIED', 'Approved']]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('one requester may hold only so many pending CSRs; decided and deleted ones free the quota', async () => {
  const registry = await memoryRegistry({ maxPendingPerRequester: 2 });
  const other = { username: 'system:bootstrap:other1', groups: ['system:bootstrappers'] };
  await registry.create(await kubeletCsr({ name: 'q-1' }), requester);
  await registry.create(await kubeletCsr({ name: 'q-2' }), requester);
  const refused = await failureOf(async () => registry.create(await kubeletCsr({ name: 'q-3' }), requester));
  assert.is(refused.code, 'ERR_FORBIDDEN');
  assert.match(String(refused.message), /"system:bootstrap:abcdef" has 2 pending certificatesigningrequests/);
  assert.is(await registry.get('q-3'), undefined);
  await registry.create(await kubeletCsr({ name: 'o-1' }), other);
  await registry.setApproval('q-1', { type: 'Denied', status: 'True', reason: 'No', message: '' });
  await registry.create(await kubeletCsr({ name: 'q-3' }), requester);
  assert.is((await failureOf(async () => registry.create(await kubeletCsr({ name: 'q-4' }), requester))).code, 'ERR_FORBIDDEN');
  await registry.delete('q-2');
  await registry.create(await kubeletCsr({ name: 'q-4' }), requester);
  // The default (100) holds; a persisted registry counts what it loads.
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-registry-'));
  try {
    const first = await memoryRegistry({ dir });
    assert.is(DEFAULT_MAX_PENDING_PER_REQUESTER, 100);
    for (let i = 0; i < DEFAULT_MAX_PENDING_PER_REQUESTER; i++) await first.create(await kubeletCsr({ name: `d-${i}` }), requester);
    assert.is((await failureOf(async () => first.create(await kubeletCsr({ name: 'd-over' }), requester))).code, 'ERR_FORBIDDEN');
    const second = await memoryRegistry({ dir });
    assert.is((await failureOf(async () => second.create(await kubeletCsr({ name: 'd-over' }), requester))).code, 'ERR_FORBIDDEN');
    assert.ok(await (await memoryRegistry({ dir, maxPendingPerRequester: Infinity })).create(await kubeletCsr({ name: 'd-over' }), requester));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the cleaner deletes CSRs as the csrcleaner does, by the injected clock, files and watchers included', async () => {
  const t0 = Date.parse('2026-06-01T00:00:00Z');
  let clock = t0;
  const now = (): Date => new Date(clock);
  const at = (seconds: number): Date => new Date(t0 + seconds * 1000);
  const ca = await createCertificateAuthority({ commonName: 'cleaner-test', now: at(-3600) });
  const certificate = Buffer.from(ca.certificate.pem).toString('base64');
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-registry-'));
  try {
    const registry = await memoryRegistry({ dir, now, maxPendingPerRequester: Infinity });
    for (const name of ['pending', 'denied', 'failed', 'issued', 'approved']) await registry.create(await kubeletCsr({ name }), requester);
    await registry.setApproval('denied', { type: 'Denied', status: 'True', reason: 'No', message: '' });
    await registry.setApproval('failed', { type: 'Approved', status: 'True', reason: 'Yes', message: '' });
    await registry.setStatus('failed', { condition: { type: 'Failed', status: 'True', reason: 'Bad', message: '' } });
    await registry.setApproval('issued', { type: 'Approved', status: 'True', reason: 'Yes', message: '' });
    await registry.setStatus('issued', { certificate });
    await registry.setApproval('approved', { type: 'Approved', status: 'True', reason: 'Yes', message: '' });
    const deletedEvents: string[] = [];
    const stopWatch = await registry.watch((event) => void (event.type === 'DELETED' && deletedEvents.push(event.object.metadata.name)));
    const cleaned: [string, string][] = [];
    const cleaner = startCsrCleaner(registry, { now, onDeleted: (name, reason) => cleaned.push([name, reason]) });
    try {
      assert.equal(await cleaner.sweep(), []);
      clock = t0 + 3599_000;
      assert.equal(await cleaner.sweep(), []);
      clock = t0 + 3601_000;
      assert.equal((await cleaner.sweep()).sort(), ['denied', 'failed', 'issued']);
      clock = t0 + 24 * 3600_000 - 1000;
      assert.equal(await cleaner.sweep(), []);
      clock = t0 + 24 * 3600_000 + 1000;
      assert.equal(await cleaner.sweep(), ['pending']);
      // Approved but never issued (nor failed) is kept, as upstream.
      clock = t0 + 100 * 24 * 3600_000;
      assert.equal(await cleaner.sweep(), []);
      assert.equal((await registry.list()).map((o) => o.metadata.name), ['approved']);
      assert.equal(await readdir(dir), ['approved.json']);
      assert.equal(deletedEvents.sort(), ['denied', 'failed', 'issued', 'pending']);
      assert.equal(Object.fromEntries(cleaned), { denied: 'denied more than 1 hour ago', failed: 'failed more than 1 hour ago', issued: 'issued more than 1 hour ago', pending: 'pending for more than 24 hours' });
    } finally {
      cleaner.stop();
      stopWatch();
    }
    // An issued certificate that has expired goes at once, however recent its approval.
    const expired = { ...(await registry.get('approved'))!, status: { conditions: [{ type: 'Approved' as const, status: 'True' as const, lastUpdateTime: ca.certificate.notAfter.toISOString() }], certificate } };
    assert.is(csrCleanupReason(expired, new Date(ca.certificate.notAfter.getTime() + 1000)), 'its certificate has expired');
    assert.is(csrCleanupReason(expired, new Date(ca.certificate.notAfter.getTime() - 1000)), undefined);
    assert.is(csrCleanupReason({ ...expired, status: { ...expired.status, certificate: 'bm90IGEgY2VydA==' } }, new Date(ca.certificate.notAfter.getTime() + 1000)), undefined);
    assert.is((await failureOf(() => registry.delete('gone'))).code, 'ERR_NOT_FOUND');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the embedded endpoint runs the cleaner periodically and stops it on close', async () => {
  const t0 = Date.parse('2026-06-01T00:00:00Z');
  let clock = t0;
  const ca = await createCertificateAuthority({ commonName: 'embedded-cleaner', now: new Date(t0 - 3600_000) });
  const cleaned: string[] = [];
  let sweptAgain: () => void = () => undefined;
  const embedded = await startEmbeddedBootstrap({
    issuer: { certificate: ca.certificate.pem, privateKey: ca.privateKey },
    tokens: memoryTokenStore([bootstrapTokenSecret(generateBootstrapToken())]),
    now: () => new Date(clock),
    cleanerIntervalMs: 5,
    onCleaned: (name) => {
      cleaned.push(name);
      sweptAgain();
    },
  });
  let closed = false;
  try {
    await embedded.registry.create(await kubeletCsr({ name: 'abandoned', signerName: 'example.com/nobody' }), requester);
    const deleted = new Promise<void>((resolve) => (sweptAgain = resolve));
    clock = t0 + 25 * 3600_000;
    await deleted;
    assert.equal(cleaned, ['abandoned']);
    assert.equal(await embedded.registry.list(), []);
    await embedded.close();
    closed = true;
    await embedded.registry.create(await kubeletCsr({ name: 'after-close', signerName: 'example.com/nobody' }), requester);
    clock = t0 + 50 * 3600_000;
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await embedded.registry.list()).map((o) => o.metadata.name), ['after-close']);
  } finally {
    if (!closed) await embedded.close();
  }
});

test.run();
