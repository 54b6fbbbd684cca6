// The bootstrap endpoint under 200 connections for a few seconds (bench/load.ts runs it for 30): every
// request answered 2xx, no socket error, no timeout, every TLS connection verified against the cluster CA.
// A correctness check under load; the figures are the benchmark's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runLoad } from '../../bench/load.js';

test('200 connections: no errors, no timeouts, only 2xx, every connection verified', async () => {
  const result = await runLoad({ connections: 200, seconds: 3, createsPrepared: 8000 });
  console.log(`${result.requests} requests in ${result.seconds.toFixed(1)} s (${result.createsSent} creates sent, ${result.created} CSRs created), p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}`);
  assert.ok(result.requests > 200, `${result.requests} requests`);
  assert.equal([result.errors, result.timeouts, result.non2xx, result.unverifiedConnections], [0, 0, 0, 0], JSON.stringify(result));
  assert.ok(result.verifiedConnections >= 200, `${result.verifiedConnections} verified connections`);
  assert.ok(result.created > 10, `${result.created} CSRs created`);
});

test.run();
