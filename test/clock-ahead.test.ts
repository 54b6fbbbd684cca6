// No fixture is a time bomb: the hostile-input corpus, the examples and the lifecycle tests pass with the
// whole process's clock two years ahead (Debian's faketime moves what the kernel's clock tells Node and
// OpenSSL alike). The monotonic clock is left alone, so that timers keep their meaning.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const execFileAsync = promisify(execFile);
const AHEAD = '+730d';
// Without an outer faketime (this suite may itself run under one), so that "two years ahead" is of the real clock.
const REAL_ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'LD_PRELOAD' && !name.startsWith('FAKETIME')));
const ENV = { ...REAL_ENV, FAKETIME_DONT_FAKE_MONOTONIC: '1' };

async function faketime(args: string[], timeout: number): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('faketime', ['-f', AHEAD, ...args], { env: ENV, timeout, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, out: `${stdout}${stderr}` };
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { code?: number | string; stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') throw new Error("faketime is missing: install Debian's faketime package (.ci/run does)", { cause: error });
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

test('faketime moves the clock Node reads two years ahead', async () => {
  const { code, out } = await faketime([process.execPath, '-e', 'console.log(Date.now())'], 30_000);
  assert.is(code, 0, out);
  const { stdout: real } = await execFileAsync(process.execPath, ['-e', 'console.log(Date.now())'], { env: REAL_ENV });
  const ahead = Number(/^\d+$/m.exec(out)?.[0]) - Number(real.trim());
  assert.ok(ahead > 729 * 86_400_000 && ahead < 731 * 86_400_000, `${ahead} ms ahead`);
});

test('the corpus, the examples and the lifecycle tests pass two years from now', async () => {
  const pattern = '(corpus/corpus|examples|cluster/lifecycle|bootstrap/identity)\\.test\\.ts$';
  const { code, out } = await faketime([process.execPath, '--import', 'tsx', 'node_modules/uvu/bin.js', 'test', pattern, '--no-color'], 300_000);
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? -1);
  assert.ok(total >= 15, `${total} tests ran:\n${out.slice(-4000)}`);
  assert.is(passed, total, out.slice(-6000));
  assert.is(code, 0, out.slice(-6000));
});

test.run();
