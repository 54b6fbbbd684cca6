// `kubepki token create/list/delete --kubeconfig`: the Secrets requests kubeadm's token verbs make, against a
// small stand-in for kube-apiserver's Secrets API on 127.0.0.1 (the real one judges in test/interop/kube/join.test.ts).
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { caPublicKeyPin, Certificate, initPkiDirectory, type SecretObject } from '../../lib/index.js';
import { runCli } from '../helpers/cli.js';
import { suiteTempDir } from '../helpers/dirs.js';

const SECRETS = '/api/v1/namespaces/kube-system/secrets';
let dir: string;
let remove: () => Promise<void>;
let server: Server;
let port: number;
let adminConf: string;
const secrets = new Map<string, SecretObject>();
const requests: string[] = [];

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });

test.before(async () => {
  ({ dir, remove } = await suiteTempDir());
  server = createServer({}, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url!, 'https://127.0.0.1');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const answer = (code: number, object: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(object));
      };
      const name = url.pathname.startsWith(`${SECRETS}/`) ? decodeURIComponent(url.pathname.slice(SECRETS.length + 1)) : undefined;
      if (req.method === 'POST' && url.pathname === SECRETS) {
        const secret = JSON.parse(body) as SecretObject;
        if (secrets.has(secret.metadata.name)) return answer(409, status(409, 'AlreadyExists', `secrets "${secret.metadata.name}" already exists`));
        secrets.set(secret.metadata.name, secret);
        return answer(201, secret);
      }
      if (req.method === 'GET' && url.pathname === SECRETS) {
        const type = /^type=(.*)$/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
        // A List's items carry no apiVersion and kind.
        const items = [...secrets.values()].filter((s) => type === undefined || s.type === type).map((s) => ({ metadata: s.metadata, type: s.type, data: s.data }));
        return answer(200, { kind: 'SecretList', apiVersion: 'v1', items });
      }
      if (req.method === 'DELETE' && name !== undefined) {
        if (!secrets.delete(name)) return answer(404, status(404, 'NotFound', `secrets "${name}" not found`));
        return answer(200, status(200, 'Success', ''));
      }
      answer(404, status(404, 'NotFound', 'no such path'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', apiServerPort: port, konnectivity: false });
  server.setSecureContext({ cert: await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'), key: await readFile(join(dir, 'pki/apiserver.key'), 'utf8') });
  adminConf = join(dir, 'admin.conf');
  // A Secret that is no bootstrap token, which list must not show.
  secrets.set('other', { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'other', namespace: 'kube-system' }, type: 'Opaque', data: {} });
});

test.after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await remove();
});

test('token create --kubeconfig POSTs kubeadm\'s Secret to kube-system and writes no file; --print-join-command uses the kubeconfig\'s endpoint and CA', async () => {
  const created = await runCli('token', 'create', '--kubeconfig', adminConf, '--json', '--description', 'for node-7', '--ttl', '2h');
  assert.is(created.code, 0, created.err);
  const { token, secret, file } = JSON.parse(created.out) as { token: string; secret: SecretObject; file?: string };
  assert.is(file, undefined);
  assert.equal(secrets.get(`bootstrap-token-${token.slice(0, 6)}`), secret);
  assert.is(Buffer.from(secret.data!['token-secret']!, 'base64').toString(), token.slice(7));
  assert.ok(requests.includes(`POST ${SECRETS}`));
  assert.equal(await readdir(join(dir, 'bootstrap-tokens')).catch(() => []), []);

  const printed = await runCli('token', 'create', '--kubeconfig', adminConf, '--print-join-command');
  assert.is(printed.code, 0, printed.err);
  const pin = caPublicKeyPin(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8')));
  const [kubepkiLine, kubeadmLine] = printed.out.split('\n');
  assert.match(kubepkiLine!, new RegExp(`^kubepki join 127\\.0\\.0\\.1:${port} --token [a-z0-9]{6}\\.[a-z0-9]{16} --discovery-token-ca-cert-hash ${pin}$`));
  assert.is(kubeadmLine, kubepkiLine!.replace(/^kubepki/, 'kubeadm'));
  assert.match(printed.err, /created in the cluster of .*admin\.conf/);
  assert.not.match(printed.err, /[a-z0-9]{6}\.[a-z0-9]{16}/);
});

test('token list --kubeconfig asks for bootstrap token Secrets only and shows ids, never secrets', async () => {
  requests.length = 0;
  const listed = await runCli('token', 'list', '--kubeconfig', adminConf, '--json');
  assert.is(listed.code, 0, listed.err);
  assert.equal(requests, [`GET ${SECRETS}?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken`]);
  const tokens = JSON.parse(listed.out) as { id: string; description?: string }[];
  assert.is(tokens.length, 2);
  assert.ok(tokens.some((t) => t.description === 'for node-7'));
  const table = await runCli('token', 'list', '--kubeconfig', adminConf);
  assert.match(table.out, /^ID\s+TTL\s+EXPIRES\s+USAGES\s+DESCRIPTION\s+EXTRA GROUPS/);
  assert.match(table.out, /^[a-z0-9]{6}\s+1h\s.*for node-7\s+system:bootstrappers:kubeadm:default-node-token$/m);
  assert.not.match(table.out, /[a-z0-9]{6}\.[a-z0-9]{16}/);
});

test('token delete --kubeconfig deletes by id or whole token; an unknown id is not found (exit 1)', async () => {
  const ids = [...secrets.keys()].filter((n) => n.startsWith('bootstrap-token-')).map((n) => n.slice('bootstrap-token-'.length));
  const deleted = await runCli('token', 'delete', '--kubeconfig', adminConf, ids[0]!, `${ids[1]}.${'a'.repeat(16)}`);
  assert.is(deleted.code, 0, deleted.err);
  assert.is(deleted.out, ids.map((id) => `bootstrap token "${id}" deleted`).join('\n'));
  assert.equal([...secrets.keys()], ['other']);
  const unknown = await runCli('token', 'delete', '--kubeconfig', adminConf, 'zzzzzz');
  assert.is(unknown.code, 1);
  assert.match(unknown.err, /bootstrap token "zzzzzz" not found/);
});

test('--dir and --kubeconfig together, a missing kubeconfig, and neither are argument errors (exit 2)', async () => {
  assert.is((await runCli('token', 'list', '--kubeconfig', adminConf, '--dir', dir)).code, 2);
  assert.is((await runCli('token', 'list', '--kubeconfig', join(dir, 'nope.conf'))).code, 2);
  assert.is((await runCli('token', 'list')).code, 2);
  assert.is((await runCli('token', 'delete', '--kubeconfig', adminConf, 'Not-An-Id')).code, 2);
});

test.run();
