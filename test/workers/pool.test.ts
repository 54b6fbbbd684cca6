import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PkiError } from '../../lib/index.js';
import { createWorkerPool } from '../../lib/workers/pool.js';

const MODULE = new URL('./stateful-module.ts', import.meta.url);
type Count = { threadId: number; calls: number };

test('a call pinned to a worker runs there, and that worker keeps its state between calls', async () => {
  const pool = createWorkerPool(2);
  try {
    const first = await Promise.all([0, 0, 0].map(() => pool.call<Count>(MODULE, 'countCall', [], { worker: 0 })));
    const second = await pool.call<Count>(MODULE, 'countCall', [], { worker: 1 });
    assert.equal(new Set(first.map((c) => c.threadId)).size, 1);
    assert.equal(first.map((c) => c.calls).sort(), [1, 2, 3]);
    assert.not.equal(second.threadId, first[0]!.threadId);
    assert.is(second.calls, 1);
    const again = await pool.call<Count>(MODULE, 'countCall', [], { worker: 0 });
    assert.equal(again, { threadId: first[0]!.threadId, calls: 4 });
  } finally {
    await pool.close();
  }
});

test('a worker index outside the pool is ERR_ARGUMENT', async () => {
  const pool = createWorkerPool(2);
  try {
    for (const worker of [2, -1, 0.5]) {
      const error = await pool.call(MODULE, 'countCall', [], { worker }).then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof PkiError && error.code === 'ERR_ARGUMENT' && error.field === 'worker', `worker ${worker}`);
    }
  } finally {
    await pool.close();
  }
});

test.run();
