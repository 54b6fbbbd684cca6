import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, importPrivateKeyPem } from '../lib/index.js';

const run = promisify(execFile);
const example = (dir: string, ...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'examples/issue-node-certs.ts', dir, ...args], { timeout: 60_000 });

test('issue-node-certs writes a CA and a node pair with safe modes, and will not overwrite them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-example-'));
  try {
    const { stdout } = await example(dir, '--node', 'worker-2', '--ip', '10.1.2.3');
    assert.match(stdout, /subject: +CN=system:node:worker-2, O=system:nodes/);
    assert.match(stdout, /SANs: +DNS:worker-2, IP:10\.1\.2\.3/);
    for (const name of ['ca.key', 'kubelet-client.key', 'kubelet.key']) assert.is((await stat(join(dir, name))).mode & 0o777, 0o600, name);
    for (const name of ['ca.crt', 'kubelet-client.crt', 'kubelet.crt']) assert.is((await stat(join(dir, name))).mode & 0o777, 0o644, name);
    const ca = new X509Certificate(await readFile(join(dir, 'ca.crt')));
    const serving = new X509Certificate(await readFile(join(dir, 'kubelet.crt')));
    assert.ok(serving.verify(ca.publicKey));
    assert.ok(serving.checkIP('10.1.2.3'));
    const key = await importPrivateKeyPem(await readFile(join(dir, 'kubelet.key')));
    assert.ok(Buffer.from(Certificate.from(serving.raw).spki).equals(Buffer.from(await crypto.subtle.exportKey('spki', key.publicKey))));
    const before = await readFile(join(dir, 'ca.key'), 'utf8');
    const second = await example(dir).then(() => 0, (error: { code: number }) => error.code);
    assert.is(second, 1);
    assert.is(await readFile(join(dir, 'ca.key'), 'utf8'), before, 'nothing was overwritten');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bootstrap-cluster builds a whole PKI that loads clean and bootstraps three nodes on loopback', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-example-'));
  try {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/bootstrap-cluster.ts', dir], { timeout: 120_000 });
    assert.match(stdout, /19 created, 0 kept/);
    assert.match(stdout, /--kubelet-certificate-authority=/);
    assert.match(stdout, /TLS bootstrap of 3 nodes through https:\/\/127\.0\.0\.1:\d+/);
    // Every file the printed flags and the bootstrap table name in the directory was written (issue 19 item 6).
    const named = [...stdout.matchAll(/--[a-z-]+=(\/\S+)/g)].map((m) => m[1]!).filter((path) => path.startsWith(`${dir}/`));
    for (const [, node] of stdout.matchAll(/(nodes\/node-\d+\/pki)\/kubelet-\{client,server\}-current\.pem/g)) named.push(join(dir, node!, 'kubelet-client-current.pem'), join(dir, node!, 'kubelet-server-current.pem'));
    assert.ok(named.length > 30, `${named.length} files named`);
    const missing = [];
    for (const path of named) if (!(await stat(path).then(() => true, () => false))) missing.push(path);
    assert.equal(missing, []);
    for (const node of ['node-1', 'node-2', 'node-3']) {
      assert.match(stdout, new RegExp(`${node} +system:node:${node} until`));
      const pem = await readFile(join(dir, 'nodes', node, 'pki', 'kubelet-server-current.pem'), 'utf8');
      const serving = Certificate.from(pem.slice(0, pem.indexOf('-----END CERTIFICATE-----') + 26));
      assert.ok(serving.isIssuedBy(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'))));
    }
    const again = await run(process.execPath, ['--import', 'tsx', 'examples/bootstrap-cluster.ts', dir], { timeout: 120_000 });
    assert.match(again.stdout, /0 created, 19 kept/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
