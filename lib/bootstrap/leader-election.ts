// Leader election on a coordination.k8s.io/v1 Lease, ported from client-go's
// k8s.io/client-go/tools/leaderelection/leaderelection.go (LeaderElector: acquire, renew, release,
// tryAcquireOrRenew, isLeaseValid with observedTime) and resourcelock/leaselock.go (the record <-> LeaseSpec
// mapping, updates that carry the Lease's resourceVersion).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { PkiError } from '../errors.js';
import type { KubeConnection } from './kube-client.js';
import { kubernetesLeaseBackend, type Lease, type LeaseBackend, type LeaseSpec } from './lease-lock.js';

/**
 * Time for leader election: `now()` in milliseconds (the Lease's times are written from it), and timers.
 *
 * @category Run the CSR controllers
 */
export interface ElectionClock {
  /** The current time, ms since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds, unless cancelled first. */
  setTimeout(
    callback: () => void,
    ms: number,
  ): {
    /** Cancels the timer: `callback` is not called. */
    cancel(): void;
  };
}

/** The process's clock: a monotonic reading on the epoch scale, and Node's timers (which keep the process alive). */
export const systemElectionClock: ElectionClock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (callback, ms) => {
    const timer = setTimeout(callback, Math.max(0, ms));
    return { cancel: () => clearTimeout(timer) };
  },
};

/** kube-controller-manager's defaults (--leader-elect-lease-duration, -renew-deadline, -retry-period). */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
/** client-go's JitterFactor: a candidate waits retryPeriod plus up to 1.2 retryPeriods between attempts. */
export const DEFAULT_JITTER_FACTOR = 1.2;

/**
 * Options of a LeaderElector (client-go's leaderelection): the Lease, this candidate's identity, the timings and the hooks.
 *
 * @category Run the CSR controllers
 */
export interface LeaderElectionOptions {
  /** The Lease's name, e.g. kubepki-approver. */
  leaseName: string;
  /** Default kube-system. */
  namespace?: string;
  /** Default `<hostname>_<random UUID>`, as kube-controller-manager's. */
  identity?: string;
  /** How long a Lease that has not changed is left to its holder, measured on this candidate's clock from when it saw the last change. Default 15 s. */
  leaseDurationMs?: number;
  /** How long the leader keeps leading without a successful renewal. Default 10 s. */
  renewDeadlineMs?: number;
  /** How often the leader renews and a candidate tries to acquire. Default 2 s. */
  retryPeriodMs?: number;
  /** A candidate waits retryPeriod * (1 + random * jitterFactor) between attempts. Default 1.2 (client-go's). */
  jitterFactor?: number;
  /** Where the Lease is kept; or `connection`, for the Leases of that API server. */
  leases?: LeaseBackend;
  /** The API server whose coordination.k8s.io Leases are used, instead of `leases` (giving both is ERR_ARGUMENT). */
  connection?: KubeConnection;
  /** Time and timers. Default: Date.now and setTimeout. */
  clock?: ElectionClock;
  /** Called when this candidate acquires the Lease and starts leading. */
  onStartedLeading?: () => void;
  /** This candidate led and no longer does: a renewal missed renewDeadline, or another holder took the Lease. Not called on stop(). */
  onStoppedLeading?: () => void;
  /** The holder seen changed (an empty identity: released). */
  onNewLeader?: (identity: string) => void;
  /** A request that failed for another reason than a lost race; the election goes on. */
  onError?: (error: unknown) => void;
}

/** client-go's LeaderElectionRecord; times in milliseconds. */
interface ElectionRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly leaseTransitions: number;
}

// metav1.MicroTime is RFC 3339 with six fraction digits.
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
const parseTime = (text: string | null | undefined): number => (text ? Date.parse(text) || 0 : 0);

function recordOf(spec: LeaseSpec | undefined): ElectionRecord {
  return {
    holderIdentity: spec?.holderIdentity ?? '',
    leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
    acquireTime: parseTime(spec?.acquireTime),
    renewTime: parseTime(spec?.renewTime),
    leaseTransitions: spec?.leaseTransitions ?? 0,
  };
}

function specOf(record: ElectionRecord): LeaseSpec {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: microTime(record.acquireTime),
    renewTime: microTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

const isCode = (error: unknown, ...codes: string[]): boolean => error instanceof PkiError && codes.includes(error.code);

type State = 'idle' | 'candidate' | 'leading' | 'lost' | 'stopped';

/**
 * One candidate for one Lease. `start()` tries to acquire it every retryPeriod; once it holds it, it renews
 * every retryPeriod and stops leading (onStoppedLeading) when no renewal succeeded within renewDeadline or
 * another holder is seen. As client-go's Run, it leads at most once: after losing the Lease it is done.
 * `stop()` releases a Lease it holds (client-go's ReleaseOnCancel).
 *
 * @category Run the CSR controllers
 */
export class LeaderElector {
  /** This candidate's identity, written as the Lease's holderIdentity while it leads. */
  readonly identity: string;
  /** The Lease's namespace. */
  readonly namespace: string;
  /** The Lease's name. */
  readonly leaseName: string;
  readonly #options: LeaderElectionOptions;
  readonly #leases: LeaseBackend;
  readonly #clock: ElectionClock;
  readonly #leaseDurationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryPeriodMs: number;
  readonly #jitterFactor: number;
  #state: State = 'idle';
  // The Lease as last read or written: an update carries its resourceVersion.
  #lease: Lease | undefined;
  #observed: ElectionRecord = recordOf(undefined);
  #observedRaw = '';
  // When this candidate last saw the record change, on its own clock (client-go's observedTime).
  #observedTime = 0;
  #reportedLeader = '';
  #timer: { cancel(): void } | undefined;
  #deadline: { cancel(): void } | undefined;
  #attempt: Promise<unknown> | undefined;
  // When the last write that succeeded was sent: no other candidate can have seen it earlier.
  #writtenAt = 0;

  constructor(options: LeaderElectionOptions) {
    this.#options = options;
    this.leaseName = options.leaseName;
    this.namespace = options.namespace ?? 'kube-system';
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.#leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
    this.#retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
    this.#jitterFactor = options.jitterFactor ?? DEFAULT_JITTER_FACTOR;
    this.#clock = options.clock ?? systemElectionClock;
    // NewLeaderElector's checks.
    if (!this.leaseName) throw new PkiError('ERR_ARGUMENT', 'is required', { field: 'leaderElection.leaseName' });
    if (!this.identity) throw new PkiError('ERR_ARGUMENT', 'must not be empty', { field: 'leaderElection.identity' });
    if (!(this.#jitterFactor >= 0)) throw new PkiError('ERR_ARGUMENT', 'must be 0 or more', { field: 'leaderElection.jitterFactor' });
    if (!(this.#retryPeriodMs > 0)) throw new PkiError('ERR_ARGUMENT', 'must be positive', { field: 'leaderElection.retryPeriodMs' });
    if (!(this.#leaseDurationMs >= 1000)) throw new PkiError('ERR_ARGUMENT', 'must be at least 1 s (the Lease counts whole seconds)', { field: 'leaderElection.leaseDurationMs' });
    if (!(this.#leaseDurationMs > this.#renewDeadlineMs)) throw new PkiError('ERR_ARGUMENT', 'leaseDuration must be greater than renewDeadline', { field: 'leaderElection.renewDeadlineMs' });
    if (!(this.#renewDeadlineMs > Math.max(1, this.#jitterFactor) * this.#retryPeriodMs)) {
      throw new PkiError('ERR_ARGUMENT', `renewDeadline must be greater than retryPeriod*${Math.max(1, this.#jitterFactor)}`, { field: 'leaderElection.renewDeadlineMs' });
    }
    if (options.leases && options.connection) throw new PkiError('ERR_ARGUMENT', 'takes leases or connection, not both', { field: 'leaderElection.leases' });
    const leases = options.leases ?? (options.connection ? kubernetesLeaseBackend(options.connection) : undefined);
    if (!leases) throw new PkiError('ERR_ARGUMENT', 'needs leases (a LeaseBackend) or connection (a KubeConnection)', { field: 'leaderElection.leases' });
    this.#leases = leases;
  }

  /** True while this candidate leads: it acquired the Lease and has not lost it. */
  get isLeader(): boolean {
    return this.#state === 'leading';
  }

  /** The holder identity last seen ('' for none). */
  get leader(): string {
    return this.#observed.holderIdentity;
  }

  /** Starts campaigning: tries to acquire the Lease now, then every retry period. Does nothing when already started. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'candidate';
    this.#schedule(0);
  }

  /** Stops the election; a Lease it holds is released (holderIdentity cleared) before this resolves. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    this.#timer?.cancel();
    this.#deadline?.cancel();
    // An attempt in flight may yet acquire the Lease: wait for it, then release what it holds.
    await this.#attempt?.catch(() => undefined);
    await this.#release();
  }

  #schedule(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => void this.#tick(), delayMs);
  }

  async #tick(): Promise<void> {
    if (this.#state !== 'candidate' && this.#state !== 'leading') return;
    const attempt = this.#tryAcquireOrRenew();
    this.#attempt = attempt;
    const succeeded = await attempt;
    this.#attempt = undefined;
    if (this.#state !== 'candidate' && this.#state !== 'leading') return;
    this.#reportTransition();
    if (succeeded) {
      // The deadline counts from when the write that succeeded was sent: the others' leaseDuration counts
      // from when they see it, which is no earlier.
      this.#armDeadline(this.#writtenAt);
      if (this.#state === 'candidate') {
        this.#state = 'leading';
        this.#options.onStartedLeading?.();
      }
      if (this.#state === 'leading') this.#schedule(this.#retryPeriodMs);
      return;
    }
    if (this.#state === 'leading') {
      // Another holder seen is a loss now, not at the deadline: never two leaders knowingly.
      if (this.#observed.holderIdentity !== this.identity) return this.#lose();
      return this.#schedule(this.#retryPeriodMs);
    }
    this.#schedule(this.#acquireDelay());
  }

  /** retryPeriod with jitter, but no later than the moment the Lease seen would expire. */
  #acquireDelay(): number {
    const jittered = this.#retryPeriodMs * (1 + Math.random() * this.#jitterFactor);
    if (!this.#observed.holderIdentity) return jittered;
    const untilExpiry = this.#observedTime + this.#observed.leaseDurationSeconds * 1000 - this.#clock.now();
    return untilExpiry > 0 ? Math.min(jittered, untilExpiry) : jittered;
  }

  #armDeadline(from: number): void {
    this.#deadline?.cancel();
    this.#deadline = this.#clock.setTimeout(() => {
      if (this.#state === 'leading') this.#lose();
    }, from + this.#renewDeadlineMs - this.#clock.now());
  }

  #lose(): void {
    this.#state = 'lost';
    this.#timer?.cancel();
    this.#deadline?.cancel();
    this.#options.onStoppedLeading?.();
    // As client-go with ReleaseOnCancel after renew gives up: release if the Lease may still name us.
    void this.#release();
  }

  #reportTransition(): void {
    if (this.#observed.holderIdentity === this.#reportedLeader) return;
    this.#reportedLeader = this.#observed.holderIdentity;
    this.#options.onNewLeader?.(this.#reportedLeader);
  }

  #report(error: unknown): void {
    try {
      this.#options.onError?.(error);
    } catch {
      // A failing onError must not stop the election.
    }
  }

  #leaseValid(now: number): boolean {
    return this.#observedTime + this.#observed.leaseDurationSeconds * 1000 > now;
  }

  #setObserved(record: ElectionRecord): void {
    this.#observed = record;
    this.#observedTime = this.#clock.now();
  }

  async #update(record: ElectionRecord): Promise<void> {
    const lease = this.#lease!;
    const sentAt = this.#clock.now();
    this.#lease = await this.#leases.update({ ...lease, metadata: { ...lease.metadata }, spec: specOf(record) });
    this.#writtenAt = sentAt;
  }

  /** client-go's tryAcquireOrRenew: true when this candidate holds the Lease after the call. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#clock.now();
    let record: ElectionRecord = { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.#leaseDurationMs / 1000), acquireTime: now, renewTime: now, leaseTransitions: 0 };

    // 1. The leader's fast path: update the Lease as last seen, without reading it.
    if (this.#observed.holderIdentity === this.identity && this.#lease && this.#leaseValid(now)) {
      record = { ...record, acquireTime: this.#observed.acquireTime, leaseTransitions: this.#observed.leaseTransitions };
      try {
        await this.#update(record);
        this.#setObserved(record);
        return true;
      } catch (error) {
        if (!isCode(error, 'ERR_CONFLICT')) this.#report(error);
      }
    }

    // 2. Read the Lease, or create it.
    let current: Lease;
    try {
      current = await this.#leases.get(this.namespace, this.leaseName);
    } catch (error) {
      if (!isCode(error, 'ERR_NOT_FOUND')) {
        this.#report(error);
        return false;
      }
      try {
        const sentAt = this.#clock.now();
        this.#lease = await this.#leases.create({ metadata: { name: this.leaseName, namespace: this.namespace }, spec: specOf(record) });
        this.#writtenAt = sentAt;
      } catch (createError) {
        if (!isCode(createError, 'ERR_ALREADY_EXISTS', 'ERR_CONFLICT')) this.#report(createError);
        return false;
      }
      this.#setObserved(record);
      return true;
    }
    this.#lease = current;

    // 3. A record that changed restarts the wait; one held by another that has not expired is left alone.
    const old = recordOf(current.spec);
    const raw = JSON.stringify(old);
    if (raw !== this.#observedRaw) {
      this.#setObserved(old);
      this.#observedRaw = raw;
    }
    const heldByMe = old.holderIdentity === this.identity;
    if (old.holderIdentity && this.#leaseValid(now) && !heldByMe) return false;

    // 4. Take it over (one more transition) or renew it, carrying the resourceVersion just read.
    record = heldByMe ? { ...record, acquireTime: old.acquireTime, leaseTransitions: old.leaseTransitions } : { ...record, leaseTransitions: old.leaseTransitions + 1 };
    try {
      await this.#update(record);
    } catch (error) {
      if (!isCode(error, 'ERR_CONFLICT')) this.#report(error);
      return false;
    }
    this.#setObserved(record);
    return true;
  }

  /** client-go's release: the Lease kept, its holder cleared, so that a candidate takes it at once. */
  async #release(): Promise<void> {
    if (this.#observed.holderIdentity !== this.identity || !this.#lease) return;
    const now = this.#clock.now();
    const record: ElectionRecord = { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: this.#observed.leaseTransitions };
    try {
      await this.#update(record);
      this.#setObserved(record);
    } catch (error) {
      if (!isCode(error, 'ERR_CONFLICT')) this.#report(error);
    }
  }
}
