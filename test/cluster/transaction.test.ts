// The directory transaction: one commit order for every verb, and a plan that can be printed without
// touching the disk.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { initPkiDirectory, type ClusterConfig } from '../../lib/index.js';
import { commitOrder, describeChanges, type Change } from '../../lib/cluster/transaction.js';
import { snapshot, withTempDir } from '../helpers/dirs.js';
import { runCli } from '../helpers/cli.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10' };
const file = (path: string) => ({ path, content: '', mode: 0o644 });

test('new CAs are committed first, replaced CAs last, the rest in plan order', () => {
  const changes: Change[] = [
    { name: 'ca', kind: 'replace-authority', files: [file('pki/ca.crt')], overwrite: true },
    { name: 'apiserver', kind: 'leaf', files: [file('pki/apiserver.key'), file('pki/apiserver.crt')], overwrite: false },
    { name: 'etcd-ca', kind: 'new-authority', files: [file('pki/etcd/ca.crt')], overwrite: false },
    { name: 'sa', kind: 'leaf', files: [file('pki/sa.key'), file('pki/sa.pub')], overwrite: false },
  ];
  assert.equal(commitOrder(changes).map((c) => c.name), ['etcd-ca', 'apiserver', 'sa', 'ca']);
  assert.equal(describeChanges(changes).slice(0, 2), ['write pki/etcd/ca.crt (etcd-ca, mode 644)', 'write pki/apiserver.key (apiserver, mode 644)']);
});

test('init with dryRun makes the plan in memory and writes nothing; the plan then commits as printed', async () => {
  await withTempDir(async (dir) => {
    const planned = await initPkiDirectory(dir, CONFIG, { dryRun: true });
    assert.equal(Object.keys(await snapshot(dir)), []);
    assert.equal(planned.files, []);
    const paths = planned.changes.flatMap((c) => c.files.map((f) => f.path));
    assert.ok(paths.includes(join(dir, 'pki/ca.key')) && paths.includes(join(dir, 'admin.conf')));
    // CAs are planned before anything they sign.
    const firstLeaf = planned.changes.findIndex((c) => c.kind === 'leaf');
    assert.is(firstLeaf, planned.plan.authorities.length);
    assert.ok(planned.changes.slice(0, firstLeaf).every((c) => c.kind === 'new-authority'));
    const done = await initPkiDirectory(dir, CONFIG);
    assert.equal([...done.files].sort(), Object.keys(await snapshot(dir)).map((p) => join(dir, p)).sort());
  });
});

test('kubepki init --dry-run prints every file it would write and writes none', async () => {
  await withTempDir(async (dir) => {
    const { code, out } = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', '--dry-run');
    assert.is(code, 0);
    assert.match(out, /would write .*pki\/ca\.key \(ca, mode 600\)/);
    assert.match(out, /would write .*egress-selector-configuration\.yaml/);
    assert.equal(Object.keys(await snapshot(dir)), []);
  });
});

test.run();
