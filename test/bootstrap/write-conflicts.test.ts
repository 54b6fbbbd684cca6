// Every approval or status write names the resourceVersion it was decided on: a writer that lost a race gets
// ERR_CONFLICT and drops its work; and controllers with leader election act only while they hold the Lease.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, memoryRegistry, startApprover, startSigner, type CsrRegistry, type MemoryRegistry } from '../../lib/index.js';
import { PkiError } from '../../lib/errors.js';
import type { LeaseBackend } from '../../lib/bootstrap/lease-lock.js';
import { failureOf } from '../helpers/fixtures.js';
import { kubeletCsr } from './helpers.js';
import { manualClock, memoryLeases } from './lease-fakes.js';

const requester = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
const approval = { type: 'Approved', status: 'True', reason: 'AutoApproved', message: 'ok' } as const;

/** Polls until `check` holds (work on worker threads takes real time; the result never depends on it). */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await check()) return;
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
  assert.unreachable(`never: ${what}`);
}

test('the embedded registry refuses an approval or status write on a stale resourceVersion with ERR_CONFLICT', async () => {
  const registry = await memoryRegistry();
  const created = await registry.create(await kubeletCsr({ name: 'csr-rv' }), requester);
  const stale = created.metadata.resourceVersion!;
  const approved = await registry.setApproval('csr-rv', approval, { resourceVersion: stale });
  assert.is.not(approved.metadata.resourceVersion, stale);
  const again = await failureOf(() => registry.setApproval('csr-rv', { ...approval, type: 'Denied' }, { resourceVersion: stale }));
  assert.is(again.code, 'ERR_CONFLICT');
  assert.is(again.field, 'metadata.resourceVersion');
  assert.is((await failureOf(() => registry.setStatus('csr-rv', { certificate: 'eA==' }, { current: created }))).code, 'ERR_CONFLICT');
  assert.equal((await registry.get('csr-rv'))!.status?.conditions?.map((c) => c.type), ['Approved']);
  assert.not.ok((await registry.get('csr-rv'))!.status?.certificate);
  await registry.setStatus('csr-rv', { certificate: 'eA==' }, { resourceVersion: approved.metadata.resourceVersion });
  assert.is((await registry.get('csr-rv'))!.status?.certificate, 'eA==');
});

/** `registry`, where someone else denies each CSR just before the approver's own write reaches it. */
function racedByADenier(registry: MemoryRegistry): CsrRegistry {
  return {
    ...registry,
    setApproval: async (name, condition, write) => {
      await registry.setApproval(name, { type: 'Denied', status: 'True', reason: 'Other', message: 'another approver was first' });
      return registry.setApproval(name, condition, write);
    },
  };
}

test('an approver whose write lost the race drops its decision: onConflict, not onError, and the first decision stays', async () => {
  const registry = await memoryRegistry();
  const conflicts: string[] = [];
  const errors: unknown[] = [];
  const approver = await startApprover(racedByADenier(registry), { onConflict: (name) => conflicts.push(name), onError: (error) => errors.push(error) });
  await registry.create(await kubeletCsr({ name: 'csr-race' }), requester);
  await until('the conflict', () => conflicts.length > 0);
  await approver.idle();
  await approver.stop();
  assert.equal(conflicts, ['csr-race']);
  assert.equal(errors, []);
  assert.equal((await registry.get('csr-race'))!.status?.conditions?.map((c) => c.type), ['Denied']);
});

for (const workers of [0, 1]) {
  test(`two signers (workers ${workers}) on one approved CSR: one certificate is stored, the other signer's write conflicts`, async () => {
    const registry = await memoryRegistry();
    const issuer = await createCertificateAuthority({ commonName: 'kubernetes' });
    const issued: string[] = [];
    const conflicts: string[] = [];
    const errors: unknown[] = [];
    const signers = await Promise.all(
      [0, 1].map(() =>
        startSigner(registry, {
          signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
          issuer,
          workers,
          onOutcome: (name, outcome) => outcome.outcome === 'issued' && issued.push(name),
          onConflict: (name) => conflicts.push(name),
          onError: (error) => errors.push(error),
        }),
      ),
    );
    await registry.create(await kubeletCsr({ name: 'csr-twice' }), requester);
    await registry.setApproval('csr-twice', approval);
    await until('both signers done', () => issued.length + conflicts.length === 2);
    await Promise.all(signers.map((s) => s.idle()));
    await Promise.all(signers.map((s) => s.stop()));
    assert.equal([issued, conflicts, errors], [['csr-twice'], ['csr-twice'], []]);
    assert.ok((await registry.get('csr-twice'))!.status?.certificate);
  });
}

test('approvers with leader election: only the leader decides; when it loses the Lease it stops and its successor decides', async () => {
  const clock = manualClock();
  const leases = memoryLeases();
  const registry = await memoryRegistry();
  const decided: Record<string, string[]> = { a: [], b: [] };
  const stopped: string[] = [];
  const cutA = { cut: false };
  const viewA: LeaseBackend = {
    get: (ns, name) => (cutA.cut ? Promise.reject(new PkiError('ERR_IO', 'unreachable')) : leases.get(ns, name)),
    create: (lease) => (cutA.cut ? Promise.reject(new PkiError('ERR_IO', 'unreachable')) : leases.create(lease)),
    update: (lease) => (cutA.cut ? Promise.reject(new PkiError('ERR_IO', 'unreachable')) : leases.update(lease)),
  };
  const start = (identity: 'a' | 'b', view: LeaseBackend) =>
    startApprover(registry, {
      onDecision: (name, d) => d.decision !== 'ignore' && decided[identity]!.push(name),
      onError: () => undefined,
      leaderElection: { leaseName: 'kubepki-approver', identity, leases: view, clock, jitterFactor: 0, onStoppedLeading: () => stopped.push(identity) },
    });
  const a = await start('a', viewA);
  await clock.advance(0);
  const b = await start('b', leases);
  await clock.advance(0);
  await registry.create(await kubeletCsr({ name: 'csr-1' }), requester);
  await until('a decides csr-1', () => decided.a!.length === 1);
  await clock.advance(4000);
  cutA.cut = true;
  await clock.advance(10_000); // a's last renewal began at 4000: it stops leading at 14000
  assert.equal(stopped, ['a']);
  await registry.create(await kubeletCsr({ name: 'csr-2' }), requester);
  for (let i = 0; i < 50; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(decided, { a: ['csr-1'], b: [] }, 'no one decides while a is gone and its Lease has not expired');
  await clock.advance(6000); // b saw the last change at 4000: it takes over at 19000
  await until('b decides csr-2', () => decided.b!.length === 1);
  assert.equal(decided, { a: ['csr-1'], b: ['csr-2'] });
  assert.is(leases.stored('kube-system', 'kubepki-approver')!.spec!.holderIdentity, 'b');
  await a.stop();
  await b.stop();
  assert.is(leases.stored('kube-system', 'kubepki-approver')!.spec!.holderIdentity, '', 'b released it on stop');
});

test.run();
