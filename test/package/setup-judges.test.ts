// scripts/setup-judges.sh on machines that lack what the interop suite needs, with the system's commands
// stubbed (dpkg-query, id, sudo, apt-get): a package it cannot install stops it with one line naming the
// package and what needs it, before any build; a machine without dpkg is told the whole list. No real
// apt-get or sudo ever runs: the stubs come first on PATH and the real ones are not on it.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withTempDir } from '../helpers/dirs.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/setup-judges.sh', import.meta.url));
// What the script itself runs besides the stubs.
const TOOLS = ['bash', 'dirname', 'grep', 'cat', 'env'];

function stubBin(dir: string, stubs: Record<string, string>): string {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of TOOLS) {
    const found = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, tool));
  }
  for (const [name, body] of Object.entries(stubs)) {
    writeFileSync(join(bin, name), `#!/bin/bash\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return bin;
}

/** Runs the script with only `stubs` and the tools it needs on PATH; `calls` is what the stubs logged. */
function runWithStubs(dir: string, stubs: Record<string, string>): { code: number | null; err: string; calls: string } {
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  const bin = stubBin(dir, stubs);
  const result = spawnSync(join(bin, 'bash'), [SCRIPT], { encoding: 'utf8', env: { PATH: bin, HOME: '/nonexistent', STUB_LOG: log }, timeout: 30_000 });
  return { code: result.status, err: result.stderr, calls: readFileSync(log, 'utf8') };
}

test('a package apt-get cannot install: one line naming it and what needs it, exit 1, no build started', async () => {
  await withTempDir(async (dir) => {
    const result = runWithStubs(dir, {
      // Every package is installed but faketime and nginx.
      'dpkg-query': 'case "${@: -1}" in faketime|nginx) exit 1 ;; *) printf "install ok installed" ;; esac',
      id: 'echo 1000',
      sudo: 'echo "sudo $*" >> "$STUB_LOG"; exec "$@"',
      'apt-get': 'echo "apt-get $*" >> "$STUB_LOG"; [ "$1" = update ] && exit 0; echo "E: Unable to locate package" >&2; exit 100',
    });
    assert.is(result.code, 1, result.err);
    const lines = result.err.split('\n');
    assert.ok(lines.includes('setup-judges: missing Debian package nginx: nginx, a real TLS server and client-certificate checker'), result.err);
    assert.ok(lines.some((line) => line.startsWith('setup-judges: missing Debian package faketime: faketime, which runs the corpus')), result.err);
    assert.ok(lines.includes('setup-judges: not root: running apt-get through sudo'), result.err);
    assert.match(result.err, /install them \(apt-get install nginx faketime\) and run again; `npm run test:unit` needs none of them/);
    assert.not.match(result.err, /Kubernetes 1\.20 binaries/, 'stops before the build');
    assert.match(result.calls, /^sudo apt-get install -y -qq --no-install-recommends nginx faketime$/m, 'asked apt-get for exactly the missing packages');
  });
});

test('not root and no sudo: says so and names the missing packages without running apt-get', async () => {
  await withTempDir(async (dir) => {
    const result = runWithStubs(dir, {
      'dpkg-query': '[ "${@: -1}" = softhsm2 ] && exit 1; printf "install ok installed"',
      id: 'echo 1000',
      'apt-get': 'echo "apt-get $*" >> "$STUB_LOG"; exit 1',
    });
    assert.is(result.code, 1, result.err);
    assert.match(result.err, /setup-judges: not root and no sudo: cannot install/);
    assert.match(result.err, /setup-judges: missing Debian package softhsm2: softhsm2-util and libsofthsm2\.so, the PKCS#11 token of the HSM tests/);
    assert.is(result.calls, '', 'apt-get never ran');
  });
});

test('not a Debian machine: every package is named', async () => {
  await withTempDir(async (dir) => {
    const result = runWithStubs(dir, {});
    assert.is(result.code, 1, result.err);
    assert.match(result.err, /this is not a Debian machine \(no dpkg-query\)/);
    for (const pkg of ['openssl', 'gnutls-bin', 'golang-go', 'etcd-server', 'nginx', 'softhsm2', 'faketime', 'dpkg-dev', 'rsync']) {
      assert.match(result.err, new RegExp(`missing Debian package ${pkg}: `), pkg);
    }
  });
});

test.run();
