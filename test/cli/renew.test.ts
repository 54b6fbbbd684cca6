// renew names the components that must restart to read what it renewed, derived from the flags that name each file.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

test('renew reminds which components read the renewed files, in restart order', async () => {
  await withTempDir(async (dir) => {
    assert.is((await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10')).code, 0);
    const apiserver = await runCli('renew', 'apiserver', '--dir', dir);
    assert.is(apiserver.code, 0, apiserver.err);
    assert.is(apiserver.out, 'renewed apiserver\nrestart, in this order, so that they read the renewed files: kube-apiserver');
    const restartOf = async (...names: string[]): Promise<string[]> => (JSON.parse((await runCli('renew', ...names, '--dir', dir, '--json')).out) as { restart: string[] }).restart;
    assert.equal(await restartOf('etcd-server', 'scheduler'), ['etcd', 'kubeScheduler']);
    assert.equal(await restartOf('konnectivity-client'), ['kubeApiserver'], "kube-apiserver reads it through the egress selector configuration");
    assert.equal(await restartOf('kubelet'), ['kubelet']);
    assert.equal(await restartOf('all'), ['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubeScheduler', 'konnectivityServer', 'kubelet', 'konnectivityAgent']);
    assert.equal(await restartOf('admin'), []);
    assert.is((await runCli('renew', 'admin', 'super-admin', '--dir', dir)).out, 'renewed admin\nrenewed super-admin\nnothing to restart: no component reads the renewed files at start');
  });
});

test.run();
