import { watch } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, initPkiDirectory, loadPkiDirectory, type ClusterConfig } from '../../lib/index.js';
import { failureOf } from '../helpers/fixtures.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' };

const LAYOUT = [
  'admin.conf',
  'controller-manager.conf',
  'egress-selector-configuration.yaml',
  'kubelet.conf',
  'pki/apiserver-etcd-client.crt',
  'pki/apiserver-etcd-client.key',
  'pki/apiserver-kubelet-client.crt',
  'pki/apiserver-kubelet-client.key',
  'pki/apiserver.crt',
  'pki/apiserver.key',
  'pki/ca.crt',
  'pki/ca.key',
  'pki/etcd/ca.crt',
  'pki/etcd/ca.key',
  'pki/etcd/healthcheck-client.crt',
  'pki/etcd/healthcheck-client.key',
  'pki/etcd/peer.crt',
  'pki/etcd/peer.key',
  'pki/etcd/server.crt',
  'pki/etcd/server.key',
  'pki/front-proxy-ca.crt',
  'pki/front-proxy-ca.key',
  'pki/front-proxy-client.crt',
  'pki/front-proxy-client.key',
  'pki/konnectivity-agent.crt',
  'pki/konnectivity-agent.key',
  'pki/konnectivity-client.crt',
  'pki/konnectivity-client.key',
  'pki/konnectivity-server.crt',
  'pki/konnectivity-server.key',
  'pki/sa.key',
  'pki/sa.pub',
  'scheduler.conf',
  'super-admin.conf',
];

test("init writes exactly kubeadm's layout: keys and kubeconfigs 0600, certificates 0644, and it loads clean", async () => {
  await withTempDir(async (dir) => {
    const result = await initPkiDirectory(dir, CONFIG);
    const files = await snapshot(dir);
    assert.equal(Object.keys(files).sort(), LAYOUT);
    for (const [path, entry] of Object.entries(files)) {
      const secret = path.endsWith('.key') || path.endsWith('.conf');
      assert.ok(entry.startsWith(secret ? '600 ' : '644 '), `${path} is ${entry.split(' ')[0]}`);
    }
    assert.is(result.created.length, 19);
    const loaded = await loadPkiDirectory(dir);
    assert.equal([loaded.missing, loaded.problems], [[], []]);
  });
});

test('no key file is ever wider than 0600, even with umask 0 and even for an instant', async () => {
  await withTempDir(async (dir) => {
    const wide: string[] = [];
    // Every file event is checked at once: temporary names included, since keys are born under them.
    const watcher = watch(dir, { recursive: true }, (_event, name) => {
      if (!name) return;
      stat(join(dir, name)).then(
        (s) => {
          if (s.isFile() && /\.(key|conf)(\.tmp-|$)/.test(name) && (s.mode & 0o077) !== 0) wide.push(`${name} ${(s.mode & 0o777).toString(8)}`);
        },
        () => undefined,
      );
    });
    const previous = process.umask(0);
    try {
      await initPkiDirectory(dir, CONFIG);
    } finally {
      process.umask(previous);
      watcher.close();
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(wide, []);
    for (const [path, entry] of Object.entries(await snapshot(dir))) if (/\.(key|conf)$/.test(path)) assert.ok(entry.startsWith('600 '), path);
  });
});

test('a second init keeps everything; a missing leaf is signed by the CA already there', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    const before = await snapshot(dir);
    const again = await initPkiDirectory(dir, CONFIG);
    assert.equal(again.created, []);
    assert.equal(await snapshot(dir), before);
    await rm(join(dir, 'pki/apiserver.crt'));
    await rm(join(dir, 'pki/apiserver.key'));
    const third = await initPkiDirectory(dir, CONFIG);
    assert.equal(third.created, ['apiserver']);
    const ca = Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'));
    assert.ok(Certificate.from(await readFile(join(dir, 'pki/apiserver.crt'), 'utf8')).isIssuedBy(ca));
    assert.is((await snapshot(dir))['pki/ca.key'], before['pki/ca.key']);
  });
});

test('a directory holding a different CA is refused by name and left unchanged; force replaces', async () => {
  await withTempDir(async (dir) => {
    await withTempDir(async (other) => {
      await initPkiDirectory(dir, CONFIG);
      await initPkiDirectory(other, CONFIG);
      for (const file of ['pki/ca.crt', 'pki/ca.key']) await writeFile(join(dir, file), await readFile(join(other, file)));
      const before = await snapshot(dir);
      const failure = await failureOf(() => initPkiDirectory(dir, CONFIG));
      assert.is(failure.code, 'ERR_EXISTS');
      assert.match(failure.message!, /pki\/apiserver\.crt is not signed by the ca CA/);
      assert.match(failure.message!, /admin\.conf/);
      assert.equal(await snapshot(dir), before, 'nothing changed');
      const forced = await initPkiDirectory(dir, CONFIG, { force: true });
      assert.ok(forced.replaced.includes('apiserver'));
      const loaded = await loadPkiDirectory(dir);
      assert.equal([loaded.missing, loaded.problems], [[], []]);
    });
  });
});

test('a corrupt file is reported by name; a CA without its key is an external CA, not silently replaced', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    await writeFile(join(dir, 'pki/front-proxy-client.crt'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const loaded = await loadPkiDirectory(dir);
    assert.equal(loaded.problems.map((p) => [p.name, p.files[0]]), [['front-proxy-client', 'pki/front-proxy-client.crt']]);
    const failure = await failureOf(() => initPkiDirectory(dir, CONFIG));
    assert.is(failure.code, 'ERR_EXISTS');
    assert.match(failure.message!, /front-proxy-client.*pki\/front-proxy-client\.crt/);
    await rm(join(dir, 'pki/etcd/ca.key'));
    const external = await failureOf(() => initPkiDirectory(dir, CONFIG));
    assert.match(external.message!, /etcd-ca: pki\/etcd\/ca\.key is missing \(external CA\)/);
  });
});

test.run();
