// A worker thread of the pool: runs `module.name(...args)` for each message and posts the result back.
// PkiErrors travel as plain data and are rebuilt on the other side (workers/pool.ts).
import { parentPort } from 'node:worker_threads';
import { PkiError } from '../errors.js';

interface Task {
  readonly id: number;
  readonly module: string;
  readonly name: string;
  readonly args: readonly unknown[];
}

parentPort!.on('message', async (task: Task) => {
  try {
    const mod = (await import(task.module)) as Record<string, (...args: unknown[]) => unknown>;
    const fn = mod[task.name];
    if (typeof fn !== 'function') throw new PkiError('ERR_ARGUMENT', `${task.module} has no export ${task.name}`, { field: 'name' });
    parentPort!.postMessage({ id: task.id, result: await fn(...task.args) });
  } catch (error) {
    const failure = error instanceof PkiError ? { pki: error.toData() } : { message: error instanceof Error ? error.message : String(error) };
    parentPort!.postMessage({ id: task.id, error: failure });
  }
});
