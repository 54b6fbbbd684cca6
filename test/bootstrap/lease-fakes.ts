// Fakes for leader election tests: Leases in memory with kube-apiserver's resourceVersion rules, and a clock
// that moves only when the test says so.
import { PkiError } from '../../lib/errors.js';
import type { ElectionClock } from '../../lib/bootstrap/leader-election.js';
import type { Lease, LeaseBackend } from '../../lib/bootstrap/lease-lock.js';

export interface MemoryLeases extends LeaseBackend {
  /** The stored Lease, a copy. */
  stored(namespace: string, name: string): Lease | undefined;
  /** While set, every call fails with this error (an unreachable API server). */
  failing: PkiError | undefined;
  /** Updates wait until the returned function is called (to line up concurrent writers). */
  holdUpdates(): () => void;
  /** Calls made so far, by kind. */
  readonly calls: { get: number; create: number; update: number };
}

export function memoryLeases(): MemoryLeases {
  const leases = new Map<string, Lease>();
  let version = 0;
  let gate: Promise<void> | undefined;
  const key = (namespace: string, name: string): string => `${namespace}/${name}`;
  const copy = (lease: Lease): Lease => structuredClone(lease);
  const backend: MemoryLeases = {
    failing: undefined,
    calls: { get: 0, create: 0, update: 0 },
    stored: (namespace, name) => {
      const lease = leases.get(key(namespace, name));
      return lease && copy(lease);
    },
    holdUpdates: () => {
      let release!: () => void;
      gate = new Promise((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
    get: async (namespace, name) => {
      backend.calls.get++;
      if (backend.failing) throw backend.failing;
      const lease = leases.get(key(namespace, name));
      if (!lease) throw new PkiError('ERR_NOT_FOUND', `leases.coordination.k8s.io "${name}" not found`);
      return copy(lease);
    },
    create: async (lease) => {
      backend.calls.create++;
      if (backend.failing) throw backend.failing;
      const id = key(lease.metadata.namespace!, lease.metadata.name);
      if (leases.has(id)) throw new PkiError('ERR_ALREADY_EXISTS', `leases.coordination.k8s.io "${lease.metadata.name}" already exists`);
      const stored = { ...copy(lease), metadata: { ...lease.metadata, resourceVersion: String(++version) } };
      leases.set(id, stored);
      return copy(stored);
    },
    update: async (lease) => {
      backend.calls.update++;
      if (gate) await gate;
      if (backend.failing) throw backend.failing;
      const id = key(lease.metadata.namespace!, lease.metadata.name);
      const current = leases.get(id);
      if (!current) throw new PkiError('ERR_NOT_FOUND', `leases.coordination.k8s.io "${lease.metadata.name}" not found`);
      if (lease.metadata.resourceVersion !== current.metadata.resourceVersion) throw new PkiError('ERR_CONFLICT', `Operation cannot be fulfilled on leases.coordination.k8s.io "${lease.metadata.name}": the object has been modified`);
      const stored = { ...copy(lease), metadata: { ...lease.metadata, resourceVersion: String(++version) } };
      leases.set(id, stored);
      return copy(stored);
    },
  };
  return backend;
}

export interface ManualClock extends ElectionClock {
  /** Moves time forward by `ms`, firing each timer due on the way at its own time and letting what it starts settle. */
  advance(ms: number): Promise<void>;
}

/** Lets pending promise callbacks (the fake backend's answers) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let now = start;
  let sequence = 0;
  const timers = new Map<number, { at: number; order: number; callback: () => void }>();
  return {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = ++sequence;
      timers.set(id, { at: now + Math.max(0, ms), order: id, callback });
      return { cancel: () => void timers.delete(id) };
    },
    advance: async (ms) => {
      const target = now + ms;
      await settle();
      for (;;) {
        const next = [...timers.entries()].filter(([, t]) => t.at <= target).sort(([, a], [, b]) => a.at - b.at || a.order - b.order)[0];
        if (!next) break;
        timers.delete(next[0]);
        now = next[1].at;
        next[1].callback();
        await settle();
      }
      now = target;
      await settle();
    },
  };
}
