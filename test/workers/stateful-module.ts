// A module run inside pool workers by pool.test.ts: it keeps a count per worker thread.
import { threadId } from 'node:worker_threads';

let calls = 0;

export function countCall(): { threadId: number; calls: number } {
  calls += 1;
  return { threadId, calls };
}
