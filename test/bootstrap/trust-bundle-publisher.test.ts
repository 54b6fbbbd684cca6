// publishTrustBundles and `kubepki bundle --dir --kubeconfig` against a small fake API server (node:https on
// 127.0.0.1, port 0): discovery, create, replace with resourceVersion (409 when stale), delete, and a server without the API.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { initPkiDirectory, loadPkiDirectory, stringifyKubeconfig } from '../../lib/index.js';
import { clusterBundles } from '../../lib/cluster/bundles.js';
import type { ClusterTrustBundle } from '../../lib/cluster/cluster-trust-bundle.js';
import { buildClusterTrustBundles } from '../../lib/cluster/trust-bundles.js';
import { publishTrustBundles } from '../../lib/bootstrap/trust-bundle-publisher.js';
import type { KubeConnection } from '../../lib/bootstrap/kube-client.js';
import { runCli } from '../helpers/cli.js';
import { suiteTempDir } from '../helpers/dirs.js';

interface Fake {
  readonly url: string;
  readonly objects: Map<string, ClusterTrustBundle>;
  /** `METHOD path` of every request but discovery's. */
  readonly log: string[];
  /** Versions offered in /apis/certificates.k8s.io; the resource is listed in `served` only. */
  offered: string[];
  served: string[];
  /** Bumps the stored resourceVersion of this name before the next PUT answers (a writer racing us). */
  raceOnce?: string;
  close(): Promise<void>;
}

const GROUP_PATH = '/apis/certificates.k8s.io';

async function startFake(pair: { cert: string; key: string }): Promise<Fake> {
  let version = 100;
  const fake = { objects: new Map<string, ClusterTrustBundle>(), log: [] as string[], offered: ['v1', 'v1beta1'], served: ['v1beta1'] } as Fake & { url: string; close(): Promise<void> };
  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const status = (code: number, reason: string, message: string): object => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  const server: Server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://fake');
      const body = text ? (JSON.parse(text) as ClusterTrustBundle & { preconditions?: { resourceVersion?: string } }) : undefined;
      if (url.pathname === '/version') return send(res, 200, { major: '1', minor: '33', gitVersion: 'v1.33.0-fake\u001b[31m' });
      if (url.pathname === GROUP_PATH) return send(res, 200, { kind: 'APIGroup', name: 'certificates.k8s.io', versions: fake.offered.map((v) => ({ groupVersion: `certificates.k8s.io/${v}`, version: v })) });
      const discovery = /^\/apis\/certificates\.k8s\.io\/([^/]+)$/.exec(url.pathname);
      if (discovery) {
        if (!fake.offered.includes(discovery[1]!)) return send(res, 404, status(404, 'NotFound', 'not found'));
        const resources = [{ name: 'certificatesigningrequests', namespaced: false, kind: 'CertificateSigningRequest' }, ...(fake.served.includes(discovery[1]!) ? [{ name: 'clustertrustbundles', namespaced: false, kind: 'ClusterTrustBundle' }] : [])];
        return send(res, 200, { kind: 'APIResourceList', groupVersion: `certificates.k8s.io/${discovery[1]}`, resources });
      }
      fake.log.push(`${req.method} ${url.pathname}${url.search}`);
      const match = /^\/apis\/certificates\.k8s\.io\/([^/]+)\/clustertrustbundles(?:\/([^/]+))?$/.exec(url.pathname);
      if (!match || !fake.served.includes(match[1]!)) return send(res, 404, status(404, 'NotFound', 'the server could not find the requested resource'));
      const name = match[2] === undefined ? undefined : decodeURIComponent(match[2]);
      const stored = name === undefined ? undefined : fake.objects.get(name);
      if (req.method === 'GET' && name === undefined) {
        const [key, value] = (url.searchParams.get('labelSelector') ?? '').split('=');
        return send(res, 200, { kind: 'ClusterTrustBundleList', items: [...fake.objects.values()].filter((o) => !key || o.metadata.labels?.[key] === value) });
      }
      if (req.method === 'GET') return stored ? send(res, 200, stored) : send(res, 404, status(404, 'NotFound', `"${name}" not found`));
      if (req.method === 'POST') {
        if (fake.objects.has(body!.metadata.name)) return send(res, 409, status(409, 'AlreadyExists', 'already exists'));
        const made = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++version) } };
        fake.objects.set(made.metadata.name, made);
        return send(res, 201, made);
      }
      if (req.method === 'PUT') {
        if (!stored) return send(res, 404, status(404, 'NotFound', 'not found'));
        if (fake.raceOnce === name) {
          fake.raceOnce = undefined;
          stored.metadata.resourceVersion = String(++version);
        }
        if (body!.metadata.resourceVersion !== stored.metadata.resourceVersion) return send(res, 409, status(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again'));
        const replaced = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++version) } };
        fake.objects.set(name!, replaced);
        return send(res, 200, replaced);
      }
      if (req.method === 'DELETE') {
        if (!stored) return send(res, 404, status(404, 'NotFound', 'not found'));
        const precondition = body?.preconditions?.resourceVersion;
        if (precondition !== undefined && precondition !== stored.metadata.resourceVersion) return send(res, 409, status(409, 'Conflict', 'precondition failed'));
        fake.objects.delete(name!);
        return send(res, 200, status(200, '', 'deleted'));
      }
      return send(res, 405, status(405, 'MethodNotAllowed', 'no'));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return Object.assign(fake, {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
}

const suite = await suiteTempDir();
const dir = join(suite.dir, 'pki-dir');
await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
const ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
const fake = await startFake({ cert: await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'), key: await readFile(join(dir, 'pki/apiserver.key'), 'utf8') });
const connection: KubeConnection = { server: fake.url, ca, token: 'fake-token' };
const objects = buildClusterTrustBundles(clusterBundles(await loadPkiDirectory(dir)));
const names = objects.map((o) => o.metadata.name);
const reset = (): void => {
  fake.objects.clear();
  fake.log.length = 0;
  fake.offered = ['v1', 'v1beta1'];
  fake.served = ['v1beta1'];
};

test('discovery picks the version that lists clustertrustbundles; each object is created in it, then left unchanged', async () => {
  reset();
  const first = await publishTrustBundles(connection, objects);
  assert.equal(first, { served: true, version: 'v1beta1', created: names, updated: [], unchanged: [], deleted: [] });
  for (const name of names) assert.is(fake.objects.get(name)!.apiVersion, 'certificates.k8s.io/v1beta1');
  assert.equal(fake.log.filter((l) => l.startsWith('POST')).length, 4);
  fake.log.length = 0;
  const again = await publishTrustBundles(connection, objects);
  assert.equal([again.served && again.unchanged, fake.log.filter((l) => !l.startsWith('GET'))], [names, []]);
});

test('v1 is preferred over v1beta1 over v1alpha1 when several serve the resource', async () => {
  reset();
  fake.offered = ['v1', 'v1beta1', 'v1alpha1'];
  fake.served = ['v1alpha1', 'v1', 'v1beta1'];
  assert.is(((await publishTrustBundles(connection, objects)) as { version: string }).version, 'v1');
  reset();
  fake.offered = ['v1', 'v1alpha1'];
  fake.served = ['v1alpha1'];
  assert.is(((await publishTrustBundles(connection, objects)) as { version: string }).version, 'v1alpha1');
});

test('a changed bundle is replaced with the resourceVersion read; a stale one (409) is read again and retried', async () => {
  reset();
  await publishTrustBundles(connection, objects);
  const old = fake.objects.get(names[0]!)!;
  fake.objects.set(names[0]!, { ...old, spec: { ...old.spec, trustBundle: await readFile(join(dir, 'pki/front-proxy-ca.crt'), 'utf8') } });
  fake.raceOnce = names[0];
  fake.log.length = 0;
  const result = await publishTrustBundles(connection, objects);
  assert.equal(result.served && [result.updated, result.unchanged], [[names[0]], names.slice(1)]);
  assert.equal(fake.log.filter((l) => l.startsWith('PUT')), [`PUT /apis/certificates.k8s.io/v1beta1/clustertrustbundles/${encodeURIComponent(names[0]!)}`, `PUT /apis/certificates.k8s.io/v1beta1/clustertrustbundles/${encodeURIComponent(names[0]!)}`]);
  assert.is(fake.objects.get(names[0]!)!.spec.trustBundle, objects[0]!.spec.trustBundle);
});

test("kubepki's objects no longer wanted are deleted; other objects are never touched, and one in the way is ERR_CONFLICT", async () => {
  reset();
  await publishTrustBundles(connection, objects);
  const foreign: ClusterTrustBundle = { ...objects[3]!, metadata: { name: 'someone-else', resourceVersion: '1' } };
  fake.objects.set('someone-else', foreign);
  const result = await publishTrustBundles(connection, objects.slice(0, 3));
  assert.equal(result.served && result.deleted, ['kubepki-cluster-ca']);
  assert.equal([...fake.objects.keys()].sort(), [...names.slice(0, 3), 'someone-else'].sort());
  fake.objects.set('kubepki-cluster-ca', { ...objects[3]!, metadata: { name: 'kubepki-cluster-ca', resourceVersion: '5' } });
  try {
    await publishTrustBundles(connection, objects);
    assert.unreachable();
  } catch (error) {
    assert.equal([(error as { code: string }).code, (error as { field: string }).field], ['ERR_CONFLICT', 'kubepki-cluster-ca']);
  }
  assert.equal(fake.objects.get('kubepki-cluster-ca')!.metadata.labels, undefined, 'left alone');
});

test('a server without the API: nothing is written to it and its version is reported', async () => {
  reset();
  fake.served = [];
  assert.equal(await publishTrustBundles(connection, objects), { served: false, serverVersion: 'v1.33.0-fake\u001b[31m' });
  assert.equal(fake.log, []);
});

test('an invalid object is refused before anything is sent', async () => {
  reset();
  const bad = { ...objects[0]!, metadata: { ...objects[0]!.metadata, name: 'wrong-prefix' } };
  try {
    await publishTrustBundles(connection, [bad]);
    assert.unreachable();
  } catch (error) {
    assert.equal([(error as { code: string }).code, (error as { field: string }).field], ['ERR_ARGUMENT', 'metadata.name']);
  }
  assert.equal(fake.log, []);
});

test('bundle --dir --kubeconfig publishes, or says the server lacks the API (its version escaped) and writes the files', async () => {
  reset();
  const kubeconfig = join(suite.dir, 'fake.conf');
  await writeFile(kubeconfig, stringifyKubeconfig({ clusterName: 'fake', server: fake.url, caPem: ca, userName: 'admin', token: 'fake-token' }));
  const published = await runCli('bundle', '--dir', dir, '--kubeconfig', kubeconfig);
  assert.is(published.code, 0, published.err);
  assert.equal(published.out.split('\n'), names.map((n) => `created clustertrustbundle ${n} (certificates.k8s.io/v1beta1)`));
  fake.served = [];
  const refused = await runCli('bundle', '--dir', dir, '--kubeconfig', kubeconfig);
  assert.is(refused.code, 0, refused.err);
  const folder = join(dir, 'cluster-trust-bundles');
  assert.is(refused.out, `kubepki: ${fake.url} (v1.33.0-fake\\x1b[31m) does not serve ClusterTrustBundle (certificates.k8s.io); wrote 4 object(s) to ${folder} to apply later`);
  assert.is((await readdir(folder)).length, 4);
  const written = parse(await readFile(join(folder, 'kubepki-cluster-ca.yaml'), 'utf8')) as ClusterTrustBundle;
  assert.equal(written, objects[3]);
  const json = await runCli('bundle', '--dir', dir, '--kubeconfig', kubeconfig, '--out', join(suite.dir, 'elsewhere'), '--json');
  assert.equal((JSON.parse(json.out) as { served: boolean; files: string[] }).files.length, 4);
});

test.after(async () => {
  await fake.close();
  await suite.remove();
});

test.run();
