// init's cluster flags are join --control-plane's (lib/cli/cluster-flags.ts): --kubernetes-version included.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';

test('kubepki init --kubernetes-version 1.28 writes the PKI of that version: no super-admin.conf', async () => {
  await withTempDir(async (dir) => {
    const { code, err } = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', '--kubernetes-version', '1.28', '--json');
    assert.is(code, 0, err);
    const files = Object.keys(await snapshot(dir));
    assert.ok(files.includes('admin.conf') && files.includes('kubelet.conf'));
    assert.not.ok(files.includes('super-admin.conf'));
  });
});

test('a bind port that is not a number is refused naming the flag', async () => {
  await withTempDir(async (dir) => {
    const { code, err } = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', '--apiserver-bind-port', 'http');
    assert.is(code, 2, err);
    assert.match(err, /--apiserver-bind-port/);
  });
});

test.run();
