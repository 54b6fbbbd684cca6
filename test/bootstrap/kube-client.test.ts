// The client side of the Kubernetes backend against a small API server on 127.0.0.1: credentials through
// @kubernetes/client-node (an exec credential plugin among them), client-go's retries, and list-and-watch
// that resumes from the last resourceVersion and lists again after 410 Gone.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, PROFILES } from '../../lib/index.js';
import { kubeConnectionFromFile, kubeConnectionInCluster, kubeRequest, type KubeConnection } from '../../lib/bootstrap/kube-client.js';
import { listAndWatch, type ListWatchEventType } from '../../lib/bootstrap/kube-list-watch.js';
import { issuePair, type Pair } from '../helpers/tls-servers.js';
import { withTempDir } from '../helpers/dirs.js';
import { failureOf } from '../helpers/fixtures.js';

type Handler = (req: IncomingMessage, res: ServerResponse, client: string | undefined) => void;

const ca = await createCertificateAuthority({ commonName: 'kube-client-test-ca' });
const serving = await issuePair(ca, PROFILES.server, { commonName: 'apiserver' }, { ips: ['127.0.0.1'] });
const admin = await issuePair(ca, PROFILES.client, { commonName: 'admin', organizations: ['system:masters'] });
const foreignCa = await createCertificateAuthority({ commonName: 'foreign' });

async function apiServer(handler: Handler, pair: Pair = serving): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer({ cert: pair.cert, key: pair.key, ca: ca.certificate.pem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const cn = (req.socket as TLSSocket).authorized ? (req.socket as TLSSocket).getPeerCertificate().subject?.CN : undefined;
    handler(req, res, Array.isArray(cn) ? cn[0] : cn);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

function kubeconfigYaml(server: string, caPem: string, user: string, extraCluster = ''): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: c',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${Buffer.from(caPem).toString('base64')}`,
    ...(extraCluster ? [`    ${extraCluster}`] : []),
    'users:',
    '- name: u',
    '  user:',
    ...user.split('\n').map((line) => `    ${line}`),
    'contexts:',
    '- name: x',
    '  context: {cluster: c, user: u}',
    'current-context: x',
    '',
  ].join('\n');
}

test('an exec credential plugin that prints a client certificate authenticates the requests (kubectl semantics)', async () => {
  await withTempDir(async (dir) => {
    const api = await apiServer((_req, res, client) => json(res, client ? 200 : 401, { kind: 'NamespaceList', items: [], client }));
    try {
      const plugin = join(dir, 'credential.sh');
      const credential = { apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { clientCertificateData: admin.cert, clientKeyData: admin.key } };
      await writeFile(plugin, `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify(credential)}\nEOF\n`);
      await chmod(plugin, 0o755);
      const path = join(dir, 'exec.conf');
      await writeFile(path, kubeconfigYaml(api.url, ca.certificate.pem, `exec:\n  apiVersion: client.authentication.k8s.io/v1\n  command: ${plugin}\n  interactiveMode: Never`));
      const connection = await kubeConnectionFromFile(path);
      const answer = await kubeRequest<{ client: string }>(connection, 'GET', '/api/v1/namespaces');
      assert.is(answer.client, 'admin');
      const copy = await kubeRequest<{ client: string }>({ ...connection, maxRetries: 0 }, 'GET', '/api/v1/namespaces');
      assert.is(copy.client, 'admin', 'a copy of the connection reads its kubeconfig again');
    } finally {
      await api.close();
    }
  });
});

test("in a pod: the service account's token file and ca.crt, and the service host and port from the environment", async () => {
  await withTempDir(async (root) => {
    const api = await apiServer((req, res) => json(res, 200, { authorization: req.headers.authorization ?? null }));
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    try {
      delete process.env.KUBERNETES_SERVICE_HOST;
      assert.is((await failureOf(() => kubeConnectionInCluster({ root }))).code, 'ERR_KUBECONFIG');
      const account = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
      await mkdir(account, { recursive: true });
      await writeFile(join(account, 'ca.crt'), ca.certificate.pem);
      await writeFile(join(account, 'token'), 'projected-token-1');
      const url = new URL(api.url);
      process.env.KUBERNETES_SERVICE_HOST = url.hostname;
      process.env.KUBERNETES_SERVICE_PORT = url.port;
      const connection = await kubeConnectionInCluster({ root });
      assert.is(connection.server, api.url);
      assert.equal(await kubeRequest(connection, 'GET', '/api'), { authorization: 'Bearer projected-token-1' });
    } finally {
      for (const [name, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      await api.close();
    }
  });
});

test('a kubeconfig that skips TLS verification, is not https, or names no CA is refused before any request', async () => {
  await withTempDir(async (dir) => {
    const cases: [string, string, string][] = [
      ['insecure', kubeconfigYaml('https://127.0.0.1:1', ca.certificate.pem, 'token: abc', 'insecure-skip-tls-verify: true'), 'insecure-skip-tls-verify'],
      ['http', kubeconfigYaml('http://127.0.0.1:1', ca.certificate.pem, 'token: abc'), 'server'],
      ['no-ca', kubeconfigYaml('https://127.0.0.1:1', ca.certificate.pem, 'token: abc').replace(/ {4}certificate-authority-data: .*\n/, ''), 'certificate-authority-data'],
    ];
    for (const [name, text, field] of cases) {
      const path = join(dir, `${name}.conf`);
      await writeFile(path, text);
      const failure = await failureOf(() => kubeConnectionFromFile(path));
      assert.is(failure.code, 'ERR_KUBECONFIG', name);
      assert.is(failure.field, field, name);
    }
  });
});

test('a server whose certificate does not chain to the kubeconfig CA is refused', async () => {
  const impostor = await issuePair(foreignCa, PROFILES.server, { commonName: 'apiserver' }, { ips: ['127.0.0.1'] });
  const api = await apiServer((_req, res) => json(res, 200, {}), impostor);
  try {
    const failure = await failureOf(() => kubeRequest({ server: api.url, ca: ca.certificate.pem, ...admin }, 'GET', '/api'));
    assert.is(failure.code, 'ERR_IO');
    assert.match(failure.message ?? '', /certificate/i);
  } finally {
    await api.close();
  }
});

test("429 and 5xx with Retry-After are retried for any verb, a read's bare 5xx too; a write's bare 5xx and the retry limit are not", async () => {
  const plan: Record<string, number[]> = { 'GET /throttled': [429, 429, 200], 'POST /busy': [503, 200], 'GET /flaky': [500, 200], 'POST /broken': [500, 200], 'GET /down': [503, 503, 503, 503] };
  const seen: Record<string, number> = {};
  const api = await apiServer((req, res) => {
    const key = `${req.method} ${req.url}`;
    const attempt = (seen[key] = (seen[key] ?? 0) + 1);
    const status = plan[key]![Math.min(attempt, plan[key]!.length) - 1]!;
    const retryAfter: Record<string, string> = key === 'POST /broken' || key === 'GET /flaky' ? {} : { 'retry-after': '0' };
    json(res, status, status === 200 ? { ok: attempt } : { kind: 'Status', code: status, message: 'try later' }, status === 200 ? {} : retryAfter);
  });
  try {
    const connection: KubeConnection = { server: api.url, ca: ca.certificate.pem, ...admin, maxRetries: 3 };
    assert.equal(await kubeRequest(connection, 'GET', '/throttled'), { ok: 3 });
    assert.equal(await kubeRequest(connection, 'POST', '/busy', {}), { ok: 2 });
    assert.equal(await kubeRequest(connection, 'GET', '/flaky'), { ok: 2 });
    assert.is((await failureOf(() => kubeRequest(connection, 'POST', '/broken', {}))).code, 'ERR_IO');
    assert.is(seen['POST /broken'], 1);
    assert.is((await failureOf(() => kubeRequest(connection, 'GET', '/down'))).code, 'ERR_IO');
    assert.is(seen['GET /down'], 4);
  } finally {
    await api.close();
  }
});

test('requests of one connection share a kept-alive TLS connection; a write on one the server dropped is sent again on a new one', async () => {
  const served = new WeakMap<object, number>();
  let dropped = 0;
  const posts: number[] = [];
  const api = await apiServer((req, res) => {
    const count = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, count);
    // The server closes a kept-alive connection just as the client sends on it: the request never arrives.
    if (req.method === 'POST' && count > 1 && dropped++ === 0) return void req.socket.destroy();
    if (req.method === 'POST') posts.push(count);
    json(res, 200, { count });
  });
  let handshakes = 0;
  api.server.on('secureConnection', () => handshakes++);
  try {
    const connection: KubeConnection = { server: api.url, ca: ca.certificate.pem, ...admin };
    for (let i = 1; i <= 3; i++) assert.equal(await kubeRequest(connection, 'GET', '/x'), { count: i });
    assert.is(handshakes, 1, 'three requests, one TLS handshake');
    assert.equal(await kubeRequest(connection, 'POST', '/y', {}), { count: 1 });
    assert.is(dropped, 1);
    assert.equal(posts, [1], 'the dropped POST was sent once more, on a new connection, and served once');
    assert.is(handshakes, 2);
  } finally {
    await api.close();
  }
});

interface Item {
  metadata: { name: string; resourceVersion: string };
}

test('listAndWatch resumes from the last resourceVersion when the stream ends, and after 410 Gone lists again and reports only the differences', async () => {
  const items = new Map<string, Item>([['a', { metadata: { name: 'a', resourceVersion: '1' } }], ['b', { metadata: { name: 'b', resourceVersion: '2' } }]]);
  const watchVersions: string[] = [];
  let watches = 0;
  const api = await apiServer((req, res) => {
    const url = new URL(req.url!, 'https://x');
    if (url.searchParams.get('watch') !== 'true') return json(res, 200, { items: [...items.values()], metadata: { resourceVersion: '10' } });
    watches++;
    watchVersions.push(url.searchParams.get('resourceVersion') ?? '');
    res.writeHead(200, { 'content-type': 'application/json' });
    if (watches === 1) {
      // One change, then the server ends the stream (as API servers do every few minutes).
      const c = { metadata: { name: 'c', resourceVersion: '11' } };
      items.set('c', c);
      res.end(`${JSON.stringify({ type: 'ADDED', object: c })}\n`);
    } else if (watches === 2) {
      // Meanwhile the history was compacted: a changed, b deleted; the watch is told 410.
      items.set('a', { metadata: { name: 'a', resourceVersion: '12' } });
      items.delete('b');
      res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`);
    } else {
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '13' } } })}\n`);
    }
  });
  const events: string[] = [];
  const errors: string[] = [];
  const stop = await listAndWatch<Item>({ server: api.url, ca: ca.certificate.pem, ...admin }, '/apis/x/v1/things', (type: ListWatchEventType, object) => events.push(`${type} ${object.metadata.name}`), {
    onError: (error) => errors.push((error as { code?: string }).code ?? String(error)),
  });
  try {
    const deadline = Date.now() + 10_000;
    while (watches < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(events, ['ADDED a', 'ADDED b', 'ADDED c', 'MODIFIED a', 'DELETED b']);
    assert.equal(watchVersions, ['10', '11', '10']);
    assert.equal(errors, ['ERR_GONE']);
  } finally {
    stop();
    await api.close();
  }
});

test.run();
