import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PkiError } from '../../lib/errors.js';
import { LeaderElector, type ElectionClock, type LeaderElectionOptions } from '../../lib/bootstrap/leader-election.js';
import type { LeaseBackend } from '../../lib/bootstrap/lease-lock.js';
import { manualClock, memoryLeases, type ManualClock, type MemoryLeases } from './lease-fakes.js';

/** One replica's way to the Leases, which the test can cut (a crashed or partitioned replica). */
function reachable(leases: LeaseBackend): LeaseBackend & { cut: boolean } {
  const unreachable = (): Promise<never> => Promise.reject(new PkiError('ERR_IO', 'connect ECONNREFUSED'));
  const view = {
    cut: false,
    get: (namespace: string, name: string) => (view.cut ? unreachable() : leases.get(namespace, name)),
    create: (lease: Parameters<LeaseBackend['create']>[0]) => (view.cut ? unreachable() : leases.create(lease)),
    update: (lease: Parameters<LeaseBackend['update']>[0]) => (view.cut ? unreachable() : leases.update(lease)),
  };
  return view;
}

/** The same time as `clock`, `offsetMs` away: a replica whose wall clock is wrong. */
const skewed = (clock: ElectionClock, offsetMs: number): ElectionClock => ({ now: () => clock.now() + offsetMs, setTimeout: (callback, ms) => clock.setTimeout(callback, ms) });

interface Replica {
  elector: LeaderElector;
  view: LeaseBackend & { cut: boolean };
  events: string[];
  errors: unknown[];
}

function replica(identity: string, leases: MemoryLeases, clock: ElectionClock, options: Partial<LeaderElectionOptions> = {}): Replica {
  const view = reachable(leases);
  const events: string[] = [];
  const errors: unknown[] = [];
  const elector = new LeaderElector({
    leaseName: 'kubepki-test',
    identity,
    leases: view,
    clock,
    jitterFactor: 0,
    onStartedLeading: () => events.push('started'),
    onStoppedLeading: () => events.push('stopped'),
    onNewLeader: (leader) => events.push(`leader ${leader}`),
    onError: (error) => errors.push(error),
    ...options,
  });
  return { elector, view, events, errors };
}

const T0 = Date.UTC(2026, 0, 1);
let clock: ManualClock;
let leases: MemoryLeases;
const holder = (): string | null | undefined => leases.stored('kube-system', 'kubepki-test')?.spec?.holderIdentity;
const spec = () => leases.stored('kube-system', 'kubepki-test')!.spec!;

test.before.each(() => {
  clock = manualClock(T0);
  leases = memoryLeases();
});

test('a candidate creates the missing Lease and leads; the Lease carries its identity and the durations', async () => {
  const a = replica('a', leases, clock);
  a.elector.start();
  await clock.advance(0);
  assert.ok(a.elector.isLeader);
  assert.equal(a.events, ['leader a', 'started']);
  assert.equal(spec(), { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: '2026-01-01T00:00:00.000000Z', renewTime: '2026-01-01T00:00:00.000000Z', leaseTransitions: 0 });
  await a.elector.stop();
});

test('the leader renews every retryPeriod, keeping acquireTime and transitions, without reading the Lease', async () => {
  const a = replica('a', leases, clock);
  a.elector.start();
  await clock.advance(0);
  const gets = leases.calls.get;
  await clock.advance(2000);
  assert.is(spec().renewTime, '2026-01-01T00:00:02.000000Z');
  await clock.advance(60_000);
  assert.ok(a.elector.isLeader);
  assert.is(leases.calls.update, 31);
  assert.is(leases.calls.get, gets, 'the fast path updates the Lease as last seen');
  assert.is(spec().acquireTime, '2026-01-01T00:00:00.000000Z');
  assert.is(spec().renewTime, '2026-01-01T00:01:02.000000Z');
  assert.is(spec().leaseTransitions, 0);
  assert.equal(a.errors, []);
  await a.elector.stop();
});

test('a Lease held by another is not taken before leaseDuration has passed since the candidate saw it change, whatever renewTime says', async () => {
  const a = replica('a', leases, clock);
  a.elector.start();
  await clock.advance(4000); // a renewed at 0, 2000 and 4000
  a.view.cut = true; // a crashes
  // b's wall clock is an hour ahead: renewTime + leaseDuration is long past for it, yet it waits.
  const b = replica('b', leases, skewed(clock, 3_600_000));
  await clock.advance(500);
  b.elector.start();
  await clock.advance(0); // b sees the record at 4500
  assert.not.ok(b.elector.isLeader);
  await clock.advance(15_000 - 1);
  assert.not.ok(b.elector.isLeader, 'still not at 19499');
  assert.is(holder(), 'a');
  await clock.advance(1);
  assert.ok(b.elector.isLeader, 'taken at 19500: 15 s after b saw the last change');
  assert.is(holder(), 'b');
  assert.is(spec().leaseTransitions, 1);
  assert.is(spec().acquireTime, new Date(T0 + 19_500 + 3_600_000).toISOString().replace('Z', '000Z'));
  assert.equal(b.events, ['leader a', 'leader b', 'started']);
  await b.elector.stop();
  await a.elector.stop();
});

test('a candidate that keeps seeing the record change never takes it', async () => {
  const a = replica('a', leases, clock);
  const b = replica('b', leases, clock);
  a.elector.start();
  await clock.advance(0);
  b.elector.start();
  await clock.advance(120_000);
  assert.ok(a.elector.isLeader);
  assert.not.ok(b.elector.isLeader);
  assert.equal(b.events, ['leader a']);
  await a.elector.stop();
  await b.elector.stop();
});

test('two candidates racing for an expired Lease: one update wins, the other gets 409 and is not leader', async () => {
  const a = replica('a', leases, clock);
  a.elector.start();
  await clock.advance(0);
  a.view.cut = true;
  const b = replica('b', leases, clock);
  const c = replica('c', leases, clock);
  b.elector.start();
  c.elector.start();
  await clock.advance(14_000);
  assert.is(holder(), 'a');
  const release = leases.holdUpdates();
  await clock.advance(1000); // both see the Lease expired and send their update on the same resourceVersion
  const updates = leases.calls.update;
  release();
  await clock.advance(0);
  assert.is(leases.calls.update, updates);
  const leaders = [b, c].filter((r) => r.elector.isLeader);
  assert.is(leaders.length, 1);
  assert.is(holder(), leaders[0]!.elector.identity);
  assert.is(spec().leaseTransitions, 1);
  assert.equal([...b.errors, ...c.errors], [], 'a lost race is no error');
  // The loser goes on as a candidate and never takes the Lease while the winner renews.
  await clock.advance(60_000);
  assert.is([b, c].filter((r) => r.elector.isLeader).length, 1);
  await Promise.all([a, b, c].map((r) => r.elector.stop()));
});

test('a leader whose renewals fail stops leading renewDeadline after the last renewal that succeeded began', async () => {
  const a = replica('a', leases, clock);
  a.elector.start();
  await clock.advance(4000); // the last renewal that succeeds starts at 4000
  a.view.cut = true;
  await clock.advance(10_000 - 1);
  assert.ok(a.elector.isLeader, 'still leading at 13999');
  assert.equal(a.events, ['leader a', 'started']);
  await clock.advance(1);
  assert.not.ok(a.elector.isLeader);
  assert.equal(a.events, ['leader a', 'started', 'stopped']);
  assert.ok(a.errors.length >= 4 && a.errors.every((e) => e instanceof PkiError && e.code === 'ERR_IO'));
  // It is done: no more attempts, even once the API server answers again.
  a.view.cut = false;
  const calls = leases.calls.update + leases.calls.get;
  await clock.advance(30_000);
  assert.not.ok(a.elector.isLeader);
  assert.ok(leases.calls.update + leases.calls.get <= calls + 1, 'at most the release');
  await a.elector.stop();
});

test('the renew deadline counts from when the winning write was sent, not from a slow read before it', async () => {
  const slowReads: LeaseBackend = { ...leases, get: (namespace, name) => new Promise<void>((resolve) => clock.setTimeout(resolve, 9000)).then(() => leases.get(namespace, name)) };
  await leases.create({ metadata: { name: 'kubepki-test', namespace: 'kube-system' }, spec: { holderIdentity: '' } });
  const a = replica('a', leases, clock, { leases: slowReads });
  a.elector.start();
  await clock.advance(9000); // the read takes 9 s; the update is sent at 9000
  assert.ok(a.elector.isLeader);
  await clock.advance(30_000); // renewals take the fast path, without reads
  assert.ok(a.elector.isLeader);
  assert.equal(a.events, ['leader a', 'started']);
  await a.elector.stop();
});

test('a leader that sees another holder stops leading at once, not at its deadline', async () => {
  const a = replica('a', leases, clock);
  a.elector.start();
  await clock.advance(0);
  const lease = leases.stored('kube-system', 'kubepki-test')!;
  await leases.update({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' } });
  await clock.advance(2000);
  assert.not.ok(a.elector.isLeader);
  assert.equal(a.events, ['leader a', 'started', 'leader intruder', 'stopped']);
  assert.is(holder(), 'intruder', 'the release does not clear a Lease someone else holds');
  await a.elector.stop();
});

test('stop releases the Lease (holderIdentity cleared) and a candidate takes it on its next attempt', async () => {
  const a = replica('a', leases, clock);
  const b = replica('b', leases, clock);
  a.elector.start();
  await clock.advance(0);
  b.elector.start();
  await clock.advance(3000);
  await a.elector.stop();
  assert.is(holder(), '');
  assert.is(spec().leaseDurationSeconds, 1);
  assert.equal(a.events, ['leader a', 'started'], 'stop is not a loss');
  await clock.advance(2000);
  assert.ok(b.elector.isLeader);
  assert.is(spec().leaseTransitions, 1);
  await b.elector.stop();
});

test('a stop while an acquisition is in flight releases what it acquired', async () => {
  const a = replica('a', leases, clock);
  const release = leases.holdUpdates();
  await leases.create({ metadata: { name: 'kubepki-test', namespace: 'kube-system' }, spec: { holderIdentity: '' } });
  a.elector.start();
  await clock.advance(0);
  const stopping = a.elector.stop();
  release();
  await stopping;
  assert.is(holder(), '');
  assert.not.ok(a.elector.isLeader);
});

test('the options are checked as client-go checks them', () => {
  const base = { leaseName: 'l', leases };
  const field = (options: LeaderElectionOptions): string | undefined => {
    try {
      new LeaderElector(options);
      return undefined;
    } catch (error) {
      return error instanceof PkiError ? `${error.code} ${error.field}` : String(error);
    }
  };
  assert.is(field({ ...base, leaseDurationMs: 10_000 }), 'ERR_ARGUMENT leaderElection.renewDeadlineMs');
  assert.is(field({ ...base, renewDeadlineMs: 2000 }), 'ERR_ARGUMENT leaderElection.renewDeadlineMs');
  assert.is(field({ ...base, retryPeriodMs: 0 }), 'ERR_ARGUMENT leaderElection.retryPeriodMs');
  assert.is(field({ leaseName: 'l' }), 'ERR_ARGUMENT leaderElection.leases');
  assert.is(field({ ...base, leaseName: '' }), 'ERR_ARGUMENT leaderElection.leaseName');
  assert.is(field(base), undefined);
  const elector = new LeaderElector(base);
  assert.is(elector.namespace, 'kube-system');
  assert.match(elector.identity, /^[^_]+_[0-9a-f-]{36}$/);
});

test.run();
