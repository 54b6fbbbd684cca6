import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, initPkiDirectory, stringifyKubeconfig, writeFileAtomic } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

const run = runCli;

test('token create, serve-bootstrap and kubelet-bootstrap work together on loopback', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    const created = await run('token', 'create', '--dir', dir, '--ttl', '1h', '--json');
    assert.is(created.code, 0, created.err);
    const { token, secret } = JSON.parse(created.out) as { token: string; secret: { metadata: { name: string } } };
    assert.match(token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    assert.is(secret.metadata.name, `bootstrap-token-${token.slice(0, 6)}`);
    const server = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', 'serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--node', 'node-7=10.0.0.17,node-7', '--signer-workers', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stderr.on('data', (c: Buffer) => (log += c.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on('data', (c: Buffer) => {
          const match = /https:\/\/127\.0\.0\.1:\d+/.exec(c.toString());
          if (match) resolve(match[0]);
        });
        server.on('exit', (code) => reject(new Error(`serve-bootstrap exited ${code}: ${log}`)));
      });
      const ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
      const bootstrap = join(dir, 'node-7', 'bootstrap-kubelet.conf');
      await writeFileAtomic({ path: bootstrap, content: stringifyKubeconfig({ clusterName: 'k', server: url, caPem: ca, userName: 'b', token }), mode: 0o600 });
      const node = await run('kubelet-bootstrap', '--bootstrap-kubeconfig', bootstrap, '--kubeconfig', join(dir, 'node-7', 'kubelet.conf'), '--cert-dir', join(dir, 'node-7', 'pki'), '--node-name', 'node-7', '--address', '10.0.0.17', '--address', 'node-7', '--timeout', '30s', '--json');
      assert.is(node.code, 0, `${node.err}\n${log}`);
      const summary = JSON.parse(node.out) as { client: { subject: string }; serving: { sans: string[] } };
      assert.is(summary.client.subject, 'system:node:node-7');
      assert.equal(summary.serving.sans, ['node-7', '10.0.0.17']);
      const pem = await readFile(join(dir, 'node-7', 'pki', 'kubelet-client-current.pem'), 'utf8');
      assert.ok(Certificate.fromPemBundle(pem.slice(0, pem.lastIndexOf('-----END CERTIFICATE-----') + 26))[0]!.isIssuedBy(Certificate.from(ca)));
      // --rotate keeps running, as the kubelet's certificate managers do, until a signal stops it.
      const args = ['--bootstrap-kubeconfig', bootstrap, '--kubeconfig', join(dir, 'node-7', 'kubelet.conf'), '--cert-dir', join(dir, 'node-7', 'pki'), '--node-name', 'node-7', '--address', '10.0.0.17', '--timeout', '30s'];
      const rotating = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', 'kubelet-bootstrap', ...args, '--rotate'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let rotatingErr = '';
      rotating.stderr.on('data', (c: Buffer) => (rotatingErr += c.toString()));
      const exited = new Promise<number | null>((resolve) => rotating.on('exit', resolve));
      await new Promise<void>((resolve, reject) => {
        let out = '';
        rotating.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (/serving certificate for 10\.0\.0\.17/.test(out)) resolve();
        });
        void exited.then((code) => reject(new Error(`kubelet-bootstrap --rotate exited ${code}: ${rotatingErr}`)));
      });
      assert.match((await readFile(join(dir, 'node-7', 'pki', 'kubelet-client-current.pem'), 'utf8')), /BEGIN CERTIFICATE/);
      rotating.kill('SIGTERM');
      assert.is(await exited, 0, rotatingErr);
      assert.match(rotatingErr, /stopping/);
      assert.not.match(rotatingErr, /failed/);
      const wrongToken = join(dir, 'node-8', 'bootstrap-kubelet.conf');
      await writeFileAtomic({ path: wrongToken, content: stringifyKubeconfig({ clusterName: 'k', server: url, caPem: ca, userName: 'b', token: 'aaaaaa.bbbbbbbbbbbbbbbb' }), mode: 0o600 });
      const refused = await run('kubelet-bootstrap', '--bootstrap-kubeconfig', wrongToken, '--kubeconfig', join(dir, 'node-8', 'kubelet.conf'), '--cert-dir', join(dir, 'node-8', 'pki'), '--node-name', 'node-8', '--timeout', '2s');
      assert.is(refused.code, 1);
      assert.match(refused.err, /ERR_UNAUTHORIZED/);
    } finally {
      server.kill('SIGTERM');
      await new Promise((r) => server.once('exit', r));
    }
    assert.is(server.exitCode, 0, log);
  });
});

test('bad arguments of the bootstrap verbs exit 2', async () => {
  assert.is((await run('token', 'delete', '--dir', '/tmp')).code, 2);
  assert.is((await run('token', 'create', '--dir', '/tmp/x', '--ttl', 'soon')).code, 2);
  assert.is((await run('serve-bootstrap', '--dir', '/tmp', '--listen', 'nowhere')).code, 2);
  for (const verb of ['token', 'serve-bootstrap', 'kubelet-bootstrap', 'approve']) assert.is((await run(verb, '--help')).code, 0);
});

test('the serving policy flags of approve and serve-bootstrap are checked before anything starts', async () => {
  await withTempDir(async (dir) => {
    const cases: [string[], RegExp][] = [
      [['approve', '--kubeconfig', join(dir, 'none.conf'), '--serving-allowed-cidrs', '10.0.0.0/8,10.0.0.0/33'], /--serving-allowed-cidrs: "10\.0\.0\.0\/33" is not a CIDR range/],
      [['approve', '--kubeconfig', join(dir, 'none.conf'), '--service-cidr', '10.96.0.0'], /--service-cidr: "10\.96\.0\.0" is not a CIDR range/],
      [['approve', '--kubeconfig', join(dir, 'none.conf'), '--dns-domain', 'not a domain'], /--dns-domain: "not a domain" is not a DNS domain/],
      [['approve', '--kubeconfig', join(dir, 'none.conf'), '--serving-allowed-dns-suffixes', 'a b'], /--serving-allowed-dns-suffixes: "a b" is not a DNS suffix/],
      [['serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--api-server-hosts', 'x y'], /--api-server-hosts: "x y" is neither an IP address nor a DNS name/],
      [['serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--max-pending-per-requester', '2.5'], /--max-pending-per-requester: must be an integer/],
      [['serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--signing-duration', '9m'], /--signing-duration: must be at least 10m/],
      [['serve-bootstrap', '--dir', dir, '--listen', '127.0.0.1:0', '--signing-duration', 'soon'], /--signing-duration: "soon" is not a duration/],
    ];
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false });
    for (const [args, message] of cases) {
      const result = await run(...args);
      assert.is(result.code, 2, `${args.join(' ')}: ${result.err}`);
      assert.match(result.err, message);
    }
    const help = await run('approve', '--help');
    assert.match(help.out + help.err, /--serving-allowed-cidrs/);
  });
});

test.run();
