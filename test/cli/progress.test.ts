// The batch progress bar: the count, the percentage, the rate and the time left, redrawn on one line.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { progressLine, terminalProgress } from '../../lib/cli/io.js';

test('the bar shows the rate and the time left, and ends its line when done', () => {
  const written: string[] = [];
  let clock = 1000;
  const progress = terminalProgress({ isTTY: true, write: (chunk: string | Uint8Array) => written.push(String(chunk)) > 0 }, () => clock)!;
  progress(0, 12);
  clock += 2000;
  progress(6, 12);
  clock += 2000;
  progress(12, 12);
  assert.equal(written, [
    '\r[..............................] 0/12 0%',
    '\r[###############...............] 6/12 50% 3.0/s 2s left',
    '\r[##############################] 12/12 100% 3.0/s in 4s\n',
  ]);
});

test('no bar when standard error is not a terminal; long waits in minutes and hours', () => {
  assert.is(terminalProgress({ isTTY: false, write: () => true }), undefined);
  assert.is(progressLine(10, 1000, 10), '[..............................] 10/1000 1% 1.0/s 16m30s left');
  assert.is(progressLine(1, 10000, 1), '[..............................] 1/10000 0% 1.0/s 2h46m left');
  assert.is(progressLine(500, 1000, 5), '[###############...............] 500/1000 50% 100/s 5s left');
});

test.run();
