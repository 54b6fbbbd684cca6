import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { caPublicKeyPin, Certificate, directoryTokenStore, initPkiDirectory, loadAuthority, parseKubeconfig, startEmbeddedBootstrap, type EmbeddedBootstrap } from '../../lib/index.js';
import { authorityEntry } from '../../lib/cluster/layout.js';
import { runCli } from '../helpers/cli.js';
import { suiteTempDir } from '../helpers/dirs.js';

let dir: string;
let remove: () => Promise<void>;
let embedded: EmbeddedBootstrap;
let endpoint: string;
let pin: string;

test.before(async () => {
  ({ dir, remove } = await suiteTempDir());
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
  // serve-bootstrap's setup, in this process: the directory's CA and token folder.
  embedded = await startEmbeddedBootstrap({ issuer: await loadAuthority(dir, authorityEntry('ca')), tokens: directoryTokenStore(dir) });
  endpoint = embedded.server.url.slice('https://'.length);
  pin = caPublicKeyPin(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8')));
});

test.after(async () => {
  await embedded.close();
  await remove();
});

const entries = (path: string): Promise<string[]> => readdir(path).catch(() => []);

async function createToken(...flags: string[]): Promise<string> {
  const created = await runCli('token', 'create', '--dir', dir, '--json', ...flags);
  assert.is(created.code, 0, created.err);
  return (JSON.parse(created.out) as { token: string }).token;
}

test('token create --print-join-command prints a kubepki join and a kubeadm join line with the CA pin and admin.conf\'s endpoint', async () => {
  const printed = await runCli('token', 'create', '--dir', dir, '--print-join-command', '--description', 'for node-3');
  assert.is(printed.code, 0, printed.err);
  const lines = printed.out.split('\n');
  assert.is(lines.length, 2);
  const server = new URL(parseKubeconfig(await readFile(join(dir, 'admin.conf'), 'utf8')).server).host;
  assert.match(lines[0]!, new RegExp(`^kubepki join ${server} --token [a-z0-9]{6}\\.[a-z0-9]{16} --discovery-token-ca-cert-hash ${pin}$`));
  assert.is(lines[1], lines[0]!.replace(/^kubepki/, 'kubeadm'));
  const id = /--token ([a-z0-9]{6})\./.exec(lines[0]!)![1]!;
  const listed = await runCli('token', 'list', '--dir', dir);
  assert.is(listed.code, 0, listed.err);
  assert.match(listed.out, /^ID\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION\s+EXTRA GROUPS/);
  const row = listed.out.split('\n').find((l) => l.startsWith(id))!;
  assert.match(row, /authentication,signing\s+for node-3\s+system:bootstrappers:kubeadm:default-node-token$/);
  // The list never shows a token's secret part.
  assert.not.match(listed.out, /[a-z0-9]{6}\.[a-z0-9]{16}/);
});

test('a node joins the embedded endpoint through discovery with the CLI and gets its client certificate', async () => {
  const token = await createToken('--ttl', '1h');
  const node = join(dir, 'node-5');
  const joined = await runCli('join', endpoint, '--token', token, '--discovery-token-ca-cert-hash', `sha256:${'0'.repeat(64)}`, '--discovery-token-ca-cert-hash', pin, '--node-name', 'node-5', '--cert-dir', join(node, 'pki'), '--kubeconfig', join(node, 'kubelet.conf'), '--timeout', '30s', '--json');
  assert.is(joined.code, 0, joined.err);
  const summary = JSON.parse(joined.out) as { server: string; bootstrapKubeconfig: string; client: { subject: string } };
  assert.is(summary.server, embedded.server.url);
  assert.is(summary.client.subject, 'system:node:node-5');
  assert.is(summary.bootstrapKubeconfig, join(node, 'bootstrap-kubelet.conf'));
  const bootstrap = parseKubeconfig(await readFile(summary.bootstrapKubeconfig, 'utf8'));
  assert.is(bootstrap.userName, 'tls-bootstrap-token-user');
  assert.is(bootstrap.clusterName, 'kubernetes');
  assert.is(bootstrap.token, token);
  assert.is(bootstrap.server, embedded.server.url);
  assert.equal((await entries(node)).sort(), ['bootstrap-kubelet.conf', 'kubelet.conf', 'pki']);
  assert.ok((await entries(join(node, 'pki'))).includes('kubelet-client-current.pem'));
});

test('--no-bootstrap writes bootstrap-kubelet.conf only', async () => {
  const token = await createToken();
  const node = join(dir, 'node-6');
  const joined = await runCli('join', endpoint, '--token', token, '--discovery-token-ca-cert-hash', pin, '--node-name', 'node-6', '--cert-dir', join(node, 'pki'), '--kubeconfig', join(node, 'kubelet.conf'), '--no-bootstrap');
  assert.is(joined.code, 0, joined.err);
  assert.match(joined.out, /verified/);
  assert.equal(await entries(node), ['bootstrap-kubelet.conf']);
});

test('join refusals: wrong pin, wrong token, unsigned cluster-info, deleted token, bad arguments; nothing written', async () => {
  const token = await createToken();
  const authOnly = await createToken('--usages', 'authentication');
  const attempt = async (name: string, ...args: string[]): Promise<{ code: number; err: string }> => {
    const node = join(dir, name);
    const result = await runCli('join', ...args, '--node-name', name, '--cert-dir', join(node, 'pki'), '--kubeconfig', join(node, 'kubelet.conf'), '--timeout', '5s');
    assert.equal(await entries(node), [], `${name} wrote nothing`);
    return result;
  };
  const otherPin = `sha256:${'ab'.repeat(32)}`;
  const wrongPin = await attempt('n-pin', endpoint, '--token', token, '--discovery-token-ca-cert-hash', otherPin);
  assert.is(wrongPin.code, 1);
  assert.match(wrongPin.err, /ERR_CERTIFICATE/);
  const wrongSecret = await attempt('n-secret', endpoint, '--token', `${token.slice(0, 7)}${'x'.repeat(16)}`, '--discovery-token-ca-cert-hash', pin);
  assert.is(wrongSecret.code, 1);
  assert.match(wrongSecret.err, /ERR_TOKEN: .*does not verify/);
  assert.not.match(wrongSecret.err, /x{16}/);
  const unsigned = await attempt('n-unsigned', endpoint, '--token', authOnly, '--discovery-token-ca-cert-hash', pin);
  assert.is(unsigned.code, 1);
  assert.match(unsigned.err, /ERR_TOKEN: .*no signature/);
  const deleted = await runCli('token', 'delete', '--dir', dir, token);
  assert.is(deleted.code, 0, deleted.err);
  assert.is(deleted.out, `bootstrap token "${token.slice(0, 6)}" deleted`);
  const gone = await attempt('n-deleted', endpoint, '--token', token, '--discovery-token-ca-cert-hash', pin);
  assert.match(gone.err, /ERR_TOKEN/);
  assert.is((await attempt('n-badpin', endpoint, '--token', authOnly, '--discovery-token-ca-cert-hash', 'md5:abc')).code, 2);
  assert.is((await attempt('n-nopin', endpoint, '--token', authOnly)).code, 2);
  assert.is((await attempt('n-noendpoint', '--token', authOnly, '--discovery-token-ca-cert-hash', pin)).code, 2);
  assert.is((await attempt('n-badtoken', endpoint, '--token', 'nope', '--discovery-token-ca-cert-hash', pin)).code, 1);
});

test('token delete and list: by id or whole token, unknown ids refused, bad flags exit 2', async () => {
  const one = await createToken();
  const two = await createToken('--groups', 'system:bootstrappers:workers', '--usages', 'signing,authentication');
  const listed = JSON.parse((await runCli('token', 'list', '--dir', dir, '--json')).out) as { id: string; extraGroups: string[]; usages: string[]; expiration: string }[];
  const second = listed.find((t) => t.id === two.slice(0, 6))!;
  assert.equal(second.extraGroups, ['system:bootstrappers:workers']);
  assert.equal(second.usages, ['authentication', 'signing']);
  assert.ok(listed.some((t) => t.id === one.slice(0, 6)));
  const deleted = await runCli('token', 'delete', '--dir', dir, one.slice(0, 6), two);
  assert.is(deleted.code, 0, deleted.err);
  const after = JSON.parse((await runCli('token', 'list', '--dir', dir, '--json')).out) as { id: string }[];
  assert.not.ok(after.some((t) => t.id === one.slice(0, 6) || t.id === two.slice(0, 6)));
  const unknown = await runCli('token', 'delete', '--dir', dir, 'zzzzzz');
  assert.is(unknown.code, 1);
  assert.match(unknown.err, /ERR_NOT_FOUND/);
  assert.is((await runCli('token', 'delete', '--dir', dir)).code, 2);
  assert.is((await runCli('token', 'delete', '--dir', dir, 'Not-An-Id')).code, 2);
  assert.is((await runCli('token', 'create', '--dir', dir, '--groups', 'system:masters')).code, 2);
  assert.is((await runCli('token', 'create', '--dir', dir, '--usages', 'everything')).code, 2);
  assert.is((await runCli('token', 'frobnicate', '--dir', dir)).code, 2);
  assert.is((await runCli('join', '--help')).code, 0);
});

test.run();
