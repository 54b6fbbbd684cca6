// Failures are one line `kubepki: ERR_CODE: message` and exit 1: a missing directory, a file given as one,
// a port in use, a conflict with what init wrote before.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

const oneLine = (text: string): void => assert.is(text.split('\n').length, 1, text);
const init = (dir: string, ...more: string[]) => runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', ...more);

test('check-expiration on a directory that does not exist fails', async () => {
  const result = await runCli('check-expiration', '--dir', '/nonexistent-kubepki');
  assert.is(result.code, 1);
  assert.is(result.err, 'kubepki: ERR_DIRECTORY: --dir: /nonexistent-kubepki does not exist');
  assert.is(result.out, '');
});

test('check-expiration on a directory without any certificate fails: an empty table is no report', async () => {
  await withTempDir(async (dir) => {
    const result = await runCli('check-expiration', '--dir', dir);
    assert.is(result.code, 1);
    assert.is(result.err, `kubepki: ERR_DIRECTORY: --dir: ${dir} holds none of a cluster's certificates (pki/ca.crt, pki/apiserver.crt, admin.conf, ...): give the folder init wrote`);
    assert.is(result.out, '');
  });
});

test('--dir (or --out) naming a file says so', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    for (const argv of [
      ['check-expiration', '--dir', file],
      ['renew', 'all', '--dir', file],
      ['init', '--dir', file, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10'],
      ['sign-csrs', '--dir', dir, '--profile', 'kubelet-client', '--out', file, 'x.csr'],
    ]) {
      const result = await runCli(...argv);
      assert.is(result.code, 1, argv.join(' '));
      assert.match(result.err, new RegExp(`^kubepki: ERR_DIRECTORY: --(dir|out): ${file} is a file, not a directory$`));
    }
    assert.is((await runCli('check-expiration', '--dir', join(file, 'pki'))).err, `kubepki: ERR_DIRECTORY: --dir: ${join(file, 'pki')}: a folder on its path is a file`);
  });
});

test('serve-bootstrap on a port in use: one line naming --listen, exit 1', async () => {
  await withTempDir(async (dir) => {
    assert.is((await init(dir)).code, 0);
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const { port } = busy.address() as AddressInfo;
      const result = await runCli('serve-bootstrap', '--dir', dir, '--listen', `127.0.0.1:${port}`);
      assert.is(result.code, 1);
      assert.is(result.err, `kubepki: ERR_IO: --listen: cannot listen on 127.0.0.1:${port}: the address is in use (EADDRINUSE)`);
    } finally {
      busy.close();
    }
  });
});

test("init's conflict names --force and shows the old and new SAN lists", async () => {
  await withTempDir(async (dir) => {
    assert.is((await init(dir, '--apiserver-cert-extra-sans', 'api.example.com')).code, 0);
    const again = await init(dir, '--apiserver-cert-extra-sans', 'api.example.com,api2.example.com');
    assert.is(again.code, 1);
    oneLine(again.err);
    assert.ok(again.err.startsWith(`kubepki: ERR_EXISTS: ${dir}: 1 file conflicts with this cluster; nothing was written (kubepki init --force replaces them): apiserver: pki/apiserver.crt has other SANs than this cluster needs (adds DNS:api2.example.com): it has [`), again.err);
    const [had, needs] = /it has \[([^\]]*)\], this cluster needs \[([^\]]*)\]$/.exec(again.err)!.slice(1) as [string, string];
    assert.ok(had.split(', ').includes('DNS:api.example.com') && !had.includes('api2'), had);
    assert.ok(needs.split(', ').includes('DNS:api2.example.com') && needs.split(', ').includes('IP:10.0.0.10'), needs);
    assert.is((await init(dir, '--apiserver-cert-extra-sans', 'api.example.com,api2.example.com', '--force')).code, 0);
  });
});

test('an error that is not a PkiError is still one line, never a stack trace', async () => {
  await withTempDir(async (dir) => {
    // A CSR path that is a directory: the read fails with EISDIR inside the verb.
    assert.is((await init(dir)).code, 0);
    const result = await runCli('sign-csrs', '--dir', dir, '--profile', 'kubelet-client', '--out', join(dir, 'out'), dir);
    assert.is(result.code, 1);
    oneLine(result.err);
    assert.match(result.err, /^kubepki: ERR_[A-Z_]+: /);
  });
});

test.run();
