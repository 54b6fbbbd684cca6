// A fleet of TLS servers and clients built from a PKI directory keeps handshaking through every phase of
// a cluster CA rotation: zero failed handshakes, and at the end the old CA is in no bundle.
import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Certificate,
  componentToApiserver,
  explainTlsError,
  initPkiDirectory,
  loadPkiDirectory,
  verifyCertificate,
  writeClusterBundles,
  type PathAgents,
} from '../../lib/index.js';
import { rotateClusterCa } from '../../lib/cluster/rotation.js';
import { clusterBundles } from '../../lib/cluster/bundles.js';
import { failureOf } from '../helpers/fixtures.js';
import { withTempDir } from '../helpers/dirs.js';
import { goJudge } from '../interop/judges.js';

/** A server that re-reads its certificate and client CA bundle from the directory, as a restarted component would. */
async function reloadingServer(dir: string): Promise<{ server: Server; port: number; stop: () => void }> {
  const read = async () => ({
    cert: await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'),
    key: await readFile(join(dir, 'pki/apiserver.key'), 'utf8'),
    ca: await readFile(join(dir, 'bundles/client-ca-file.crt'), 'utf8'),
  });
  let current = await read();
  const server = createServer({ ...current, requestCert: true, rejectUnauthorized: true }, (_req, res) => res.end('ok'));
  const timer = setInterval(() => {
    void read().then(
      (next) => {
        if (next.cert === current.cert && next.key === current.key && next.ca === current.ca) return;
        try {
          server.setSecureContext(next);
          current = next;
        } catch {
          // Certificate written, key not yet: the next poll takes the pair.
        }
      },
      () => undefined,
    );
  }, 10);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, port: (server.address() as AddressInfo).port, stop: () => clearInterval(timer) };
}

const get = (agents: PathAgents, url: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(url, { agent: agents.https }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (e) => reject(explainTlsError(e, agents.serverName)));
    req.end();
  });

test('zero failed handshakes through add, reissue and finish; the old CA is gone from every bundle', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
    await writeClusterBundles(dir, clusterBundles(await loadPkiDirectory(dir)));
    const oldCa = Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'));
    const servers = [await reloadingServer(dir), await reloadingServer(dir)];
    const clients = ['admin.conf', 'super-admin.conf', 'controller-manager.conf', 'scheduler.conf'].map((file) => componentToApiserver(join(dir, file)));
    let running = true;
    let handshakes = 0;
    const failures: string[] = [];
    const loops = clients.map(async (client, i) => {
      while (running) {
        const { port } = servers[i % servers.length]!;
        await get(client, `https://127.0.0.1:${port}/`).then(
          () => void handshakes++,
          (e: Error) => void failures.push(e.message),
        );
        client.https.destroy();
      }
    });
    const pause = () => new Promise((r) => setTimeout(r, 150));
    try {
      await pause();
      const added = await rotateClusterCa(dir, 'add');
      assert.ok(added.changed.some((f) => f.endsWith('pki/ca-new.crt')));
      await pause();
      assert.equal((await rotateClusterCa(dir, 'add')).changed, [], 'the add phase is idempotent');
      const reissued = await rotateClusterCa(dir, 'reissue');
      assert.ok(reissued.changed.some((f) => f.endsWith('pki/apiserver.crt')));
      await pause();
      assert.equal((await rotateClusterCa(dir, 'reissue')).changed, [], 'a second reissue has nothing to do');
      await rotateClusterCa(dir, 'finish');
      await pause();
    } finally {
      running = false;
      await Promise.all(loops);
      for (const s of servers) {
        s.stop();
        s.server.close();
      }
      for (const c of clients) await c.close();
    }
    assert.equal(failures, []);
    assert.ok(handshakes > 20, `${handshakes} handshakes`);
    const newCa = Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'));
    assert.not.ok(Buffer.from(newCa.der).equals(oldCa.der));
    for (const name of ['client-ca-file', 'kubelet-client-ca-file', 'konnectivity-ca', 'kubelet-certificate-authority']) {
      const bundle = Certificate.fromPemBundle(await readFile(join(dir, 'bundles', `${name}.crt`), 'utf8'));
      assert.not.ok(bundle.some((c) => Buffer.from(c.der).equals(oldCa.der)), `${name} no longer holds the old CA`);
    }
    const loaded = await loadPkiDirectory(dir);
    assert.equal([loaded.missing, loaded.problems], [[], []]);
  });
});

test('cross-signing: a leaf of the new CA verifies for clients that trust only the old CA, given the cross certificate (kubepki and Go agree)', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
    const oldCa = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
    await rotateClusterCa(dir, 'add', { crossSign: true });
    await rotateClusterCa(dir, 'reissue');
    const leaf = await readFile(join(dir, 'pki/apiserver.crt'), 'utf8');
    const cross = await readFile(join(dir, 'pki/ca-new-cross.crt'), 'utf8');
    const result = await verifyCertificate(leaf, { roots: [oldCa], intermediates: [cross], name: '127.0.0.1' });
    assert.is(result.chain.length, 3);
    assert.is((await failureOf(() => verifyCertificate(leaf, { roots: [oldCa], name: '127.0.0.1' }))).code, 'ERR_UNKNOWN_AUTHORITY');
    const [go] = await goJudge([{ op: 'verify', leaf, roots: [oldCa], intermediates: [cross], name: '127.0.0.1', eku: 'server' }]);
    assert.ok(go!.ok, go!.error);
  });
});

test('phases must come in order', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
    assert.is((await failureOf(() => rotateClusterCa(dir, 'reissue'))).code, 'ERR_ARGUMENT');
    await rotateClusterCa(dir, 'add');
    assert.is((await failureOf(() => rotateClusterCa(dir, 'finish'))).code, 'ERR_ARGUMENT');
  });
});

test.run();
