import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { PkiError, type PkiErrorData } from '../errors.js';

/**
 * A fixed set of worker threads that run exported functions of kubepki's modules.
 *
 * @category Certificates, keys and CSRs
 */
export interface WorkerPool {
  /** How many worker threads the pool runs. */
  readonly size: number;
  /**
   * Runs `module`'s export `name` with `args` (structured-cloned) in the least busy worker, or in worker
   * `options.worker` (0 to size - 1) for work that keeps state in one worker between calls.
   */
  call<T>(module: URL, name: string, args: readonly unknown[], options?: { worker?: number }): Promise<T>;
  /** Terminates every worker; calls still running are rejected. */
  close(): Promise<void>;
}

/** One thread per core by default, at least one. */
export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** A failure in a worker: a PkiError's data, or the message of anything else. */
type WorkerError = { pki: PkiErrorData } | { message: string };

// A task's live data is one chunk (tens of certificates), so the workers' heaps are kept small: with V8's
// defaults each worker's heap grows to hundreds of MB of garbage before it collects.
const HEAP_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 96 };

export function createWorkerPool(size = defaultWorkerCount()): WorkerPool {
  const workers = Array.from({ length: size }, () => ({ worker: startWorker(), pending: new Map<number, Pending>() }));
  let nextId = 0;
  for (const slot of workers) {
    slot.worker.on('message', ({ id, result, error }: { id: number; result?: unknown; error?: WorkerError }) => {
      const pending = slot.pending.get(id);
      slot.pending.delete(id);
      if (error) pending?.reject('pki' in error ? PkiError.fromData(error.pki) : new PkiError('ERR_WORKER', error.message));
      else pending?.resolve(result);
    });
    slot.worker.on('error', (cause) => {
      for (const pending of slot.pending.values()) pending.reject(new PkiError('ERR_WORKER', 'a worker thread stopped', { cause }));
      slot.pending.clear();
    });
  }
  return {
    size,
    call<T>(module: URL, name: string, args: readonly unknown[], options: { worker?: number } = {}): Promise<T> {
      if (options.worker !== undefined && !(Number.isInteger(options.worker) && options.worker >= 0 && options.worker < size)) {
        return Promise.reject(new PkiError('ERR_ARGUMENT', `must be a worker index from 0 to ${size - 1}`, { field: 'worker' }));
      }
      const slot = options.worker === undefined ? workers.reduce((least, candidate) => (candidate.pending.size < least.pending.size ? candidate : least)) : workers[options.worker]!;
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        slot.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        slot.worker.postMessage({ id, module: module.href, name, args });
      });
    },
    async close(): Promise<void> {
      await Promise.all(workers.map((slot) => slot.worker.terminate()));
      for (const slot of workers) for (const pending of slot.pending.values()) pending.reject(new PkiError('ERR_WORKER', 'the worker pool was closed'));
    },
  };
}

// The compiled library starts dist/workers/worker.js. Run from its TypeScript sources (tests, tsx), the
// worker registers tsx first: Node 20 does not pass `--import tsx` on to worker threads.
function startWorker(): Worker {
  const compiled = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, { resourceLimits: HEAP_LIMITS });
  const source = new URL('./worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(source)}); })`, { eval: true, resourceLimits: HEAP_LIMITS });
}
