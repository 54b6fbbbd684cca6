// The unit suite runs on Node alone: no file of it may start a judge (a Debian program). Those belong to
// the interop suite (test/interop/ or INTEROP_ELSEWHERE in test/suites.ts), which sets the judges up.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { INTEROP_ELSEWHERE, inSuite, uvuArguments } from '../suites.js';

const TEST_DIR = fileURLToPath(new URL('..', import.meta.url));

const testFiles = (): string[] =>
  readdirSync(TEST_DIR, { recursive: true, encoding: 'utf8' })
    .map((file) => file.replaceAll('\\', '/'))
    .filter((file) => file.endsWith('.test.ts'))
    .sort();

// How a test file reaches a judge: the judge helpers, or a Debian program started by name.
const JUDGE_USE = [
  /from '(\.\.\/)+interop\//,
  /\b(kubeBinaries|startDaemon)\(/,
  /\b(execFile|execFileSync|execFileAsync|spawn|spawnSync|run)\(\s*'(openssl|certtool|go|etcd|nginx|faketime|softhsm2-util|kubectl|kubeadm)'/,
  /libsofthsm2\.so/,
];

test('no file of the unit suite starts a judge', () => {
  const offenders = testFiles()
    .filter((file) => inSuite('unit', file))
    .filter((file) => {
      const source = readFileSync(`${TEST_DIR}/${file}`, 'utf8');
      return JUDGE_USE.some((pattern) => pattern.test(source));
    });
  assert.equal(offenders, [], 'move these to test/interop/ or list them in INTEROP_ELSEWHERE (test/suites.ts)');
});

test('every test file is in exactly one suite, and every file listed outside test/interop/ exists', () => {
  const files = testFiles();
  for (const file of files) assert.ok(inSuite('unit', file) !== inSuite('interop', file), file);
  for (const file of Object.keys(INTEROP_ELSEWHERE)) assert.ok(files.includes(file), `${file} is listed in INTEROP_ELSEWHERE but does not exist`);
  assert.ok(files.filter((file) => inSuite('interop', file)).length > 10);
});

test("uvu's file patterns pick the same files as inSuite", () => {
  const [, unitPattern, ...unitArgs] = uvuArguments('unit');
  const ignores = unitArgs.filter((_, i) => i % 2 === 1).map((pattern) => new RegExp(pattern, 'i'));
  const [, interopPattern] = uvuArguments('interop');
  for (const file of testFiles()) {
    // uvu tests its ignores against every folder on the way down and the file's relative name.
    const parts = file.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    const unit = new RegExp(unitPattern!, 'i').test(file) && !prefixes.some((name) => ignores.some((ignore) => ignore.test(name)));
    assert.is(unit, inSuite('unit', file), `unit: ${file}`);
    assert.is(new RegExp(interopPattern!, 'i').test(file), inSuite('interop', file), `interop: ${file}`);
  }
});

test.run();
