import { parse } from 'yaml';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stat } from 'node:fs/promises';
import { componentFlags, egressSelectorConfiguration, initPkiDirectory, planCluster } from '../../lib/index.js';
import { withTempDir } from '../helpers/dirs.js';

const flag = (list: readonly string[], name: string): string | undefined => list.find((f) => f.startsWith(`${name}=`))?.slice(name.length + 1);

test("kube-apiserver's flags point at the layout and verify kubelets", () => {
  const flags = componentFlags(planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10' }), { dir: '/etc/kubernetes' });
  const api = flags.kubeApiserver;
  assert.is(flag(api, '--client-ca-file'), '/etc/kubernetes/pki/ca.crt');
  assert.is(flag(api, '--kubelet-certificate-authority'), '/etc/kubernetes/pki/ca.crt');
  assert.is(flag(api, '--tls-cert-file'), '/etc/kubernetes/pki/apiserver.crt');
  assert.is(flag(api, '--requestheader-client-ca-file'), '/etc/kubernetes/pki/front-proxy-ca.crt');
  assert.is(flag(api, '--requestheader-allowed-names'), 'front-proxy-client');
  assert.is(flag(api, '--service-account-issuer'), 'https://kubernetes.default.svc.cluster.local');
  assert.is(flag(api, '--etcd-servers'), 'https://127.0.0.1:2379');
  assert.is(flag(api, '--egress-selector-config-file'), '/etc/kubernetes/egress-selector-configuration.yaml');
  assert.is(flag(flags.kubeControllerManager, '--cluster-signing-cert-file'), '/etc/kubernetes/pki/ca.crt');
  assert.is(flag(flags.kubeControllerManager, '--kubeconfig'), '/etc/kubernetes/controller-manager.conf');
  assert.is(flag(flags.etcd, '--trusted-ca-file'), '/etc/kubernetes/pki/etcd/ca.crt');
  assert.is(flag(flags.etcd, '--client-cert-auth'), 'true');
  assert.is(flag(flags.kubelet, '--client-ca-file'), '/etc/kubernetes/pki/ca.crt');
  assert.is(flag(flags.konnectivityServer, '--cluster-ca-cert'), '/etc/kubernetes/pki/ca.crt');
  assert.is(flag(flags.konnectivityAgent, '--agent-cert'), '/etc/kubernetes/pki/konnectivity-agent.crt');
});

test('a separate kubelet-serving CA changes --kubelet-certificate-authority and splits the signers', () => {
  const flags = componentFlags(planCluster({ nodeName: 'cp-1', advertiseAddress: 'fd00::10', separateKubeletServingCa: true }), { dir: '/k' });
  assert.is(flag(flags.kubeApiserver, '--kubelet-certificate-authority'), '/k/pki/kubelet-serving-ca.crt');
  assert.is(flag(flags.kubeApiserver, '--etcd-servers'), 'https://[::1]:2379');
  const kcm = flags.kubeControllerManager;
  assert.is(flag(kcm, '--cluster-signing-cert-file'), undefined, 'global and per-signer flags cannot be mixed');
  assert.is(flag(kcm, '--cluster-signing-kubelet-serving-cert-file'), '/k/pki/kubelet-serving-ca.crt');
  assert.is(flag(kcm, '--cluster-signing-kubelet-client-cert-file'), '/k/pki/ca.crt');
});

test('the EgressSelectorConfiguration uses HTTPConnect over mutual TLS (GRPC needs a socket)', () => {
  const doc = parse(egressSelectorConfiguration(planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10', controlPlaneEndpoint: 'api.example.com' }), { dir: '/k' }));
  assert.is(doc.apiVersion, 'apiserver.k8s.io/v1beta1');
  assert.is(doc.kind, 'EgressSelectorConfiguration');
  const [selection] = doc.egressSelections;
  assert.is(selection.name, 'cluster');
  assert.is(selection.connection.proxyProtocol, 'HTTPConnect');
  assert.equal(selection.connection.transport.tcp, {
    url: 'https://api.example.com:8131',
    tlsConfig: { caBundle: '/k/pki/ca.crt', clientCert: '/k/pki/konnectivity-client.crt', clientKey: '/k/pki/konnectivity-client.key' },
  });
});

test('every file a printed flag names in the directory exists after init (the kubelet included)', async () => {
  await withTempDir(async (dir) => {
    for (const options of [{}, { separateKubeletServingCa: true }]) {
      const result = await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', ...options }, { force: true });
      const flags = componentFlags(result.plan, { dir });
      const paths = Object.values(flags)
        .flat()
        .map((f) => f.split('=').slice(1).join('='))
        .filter((value) => value.startsWith(`${dir}/`));
      assert.ok(paths.length > 30, `${paths.length} paths`);
      const missing: string[] = [];
      for (const path of paths) if (!(await stat(path).then(() => true, () => false))) missing.push(path);
      assert.equal(missing, []);
    }
  });
});

test.run();
