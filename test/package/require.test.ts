// The package as its consumers load it: dist/ (what `npm pack` ships; `npm run test:unit` builds it
// first, `npm ci` through `prepare`), through the exports map, from CommonJS and from ESM.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST_INDEX = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

test("require('kubepki') from a .cjs file loads dist/ through the exports map and issues a CA", async () => {
  const { stdout, stderr } = await run(process.execPath, [fileURLToPath(new URL('./require.cjs', import.meta.url))], { cwd: ROOT, timeout: 60_000 });
  const result = JSON.parse(stdout) as { resolved: string; exports: number; pem: string; reflectMetadata: string };
  assert.is(result.resolved, DIST_INDEX);
  assert.is(result.exports, Object.keys(await import('../../lib/index.js')).length, 'dist/ exports what lib/index.ts exports (a stale build?)');
  assert.is(result.pem, '-----BEGIN CERTIFICATE-----');
  // No global side effect: kubepki installs no Reflect polyfill (reflect-metadata) into its user's process.
  assert.is(result.reflectMetadata, 'undefined');
  assert.not.match(stderr, /Error/);
});

test("import('kubepki') from an ES module resolves to the same file and leaves Reflect alone", async () => {
  const script = `const kubepki = await import('kubepki');
    console.log(JSON.stringify([import.meta.resolve('kubepki'), typeof kubepki.issueCertificate, typeof Reflect.getMetadata]));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 });
  assert.equal(JSON.parse(stdout), [new URL('../../dist/index.js', import.meta.url).href, 'function', 'undefined']);
});

test.run();
