// Judge: a real kube-apiserver 1.20.2, which serves certificates.k8s.io (v1, v1beta1) without clustertrustbundles.
// `kubepki bundle --dir --kubeconfig` must find that by discovery, say so with the server's version, and write the objects.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { parseKubeconfig } from '../../../lib/index.js';
import { connectionFromKubeconfig } from '../../../lib/bootstrap/kube-client.js';
import { discoverTrustBundleVersion, serverGitVersion } from '../../../lib/bootstrap/trust-bundle-publisher.js';
import { clusterTrustBundleProblems, type ClusterTrustBundle } from '../../../lib/cluster/cluster-trust-bundle.js';
import { runCli } from '../../helpers/cli.js';
import { startControlPlane, type ControlPlane } from './cluster.js';

let cp: ControlPlane | undefined;

test.before(async () => {
  cp = await startControlPlane('kubepki-ctb-');
});

test.after(async () => {
  await cp?.stop();
});

test('kube-apiserver 1.20: the verb says ClusterTrustBundle is not served and writes the objects to apply later', async () => {
  const { dir } = cp!;
  const adminConf = join(dir, 'admin.conf');
  const connection = await connectionFromKubeconfig(parseKubeconfig(await readFile(adminConf, 'utf8'), adminConf), adminConf);
  assert.is(await discoverTrustBundleVersion(connection), undefined);
  const version = await serverGitVersion(connection);
  assert.match(version ?? '', /^v1\.20\./);
  const result = await runCli('bundle', '--dir', dir, '--kubeconfig', adminConf);
  assert.is(result.code, 0, result.err);
  const folder = join(dir, 'cluster-trust-bundles');
  assert.is(result.out, `kubepki: ${cp!.apiserverUrl} (${version}) does not serve ClusterTrustBundle (certificates.k8s.io); wrote 4 object(s) to ${folder} to apply later`);
  const files = (await readdir(folder)).sort();
  assert.equal(files, ['kubepki-cluster-ca.yaml', 'kubernetes.io_kube-apiserver-client-kubelet_kubepki.yaml', 'kubernetes.io_kube-apiserver-client_kubepki.yaml', 'kubernetes.io_kubelet-serving_kubepki.yaml']);
  for (const file of files) {
    const object = parse(await readFile(join(folder, file), 'utf8')) as ClusterTrustBundle;
    assert.equal(clusterTrustBundleProblems(object), [], file);
    assert.is(object.spec.trustBundle, await cp!.file('pki/ca.crt'), 'the cluster CA, as the server was started with');
  }
});

test.run();
