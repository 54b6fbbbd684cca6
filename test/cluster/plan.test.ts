import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planCluster } from '../../lib/index.js';

const byName = (plan: ReturnType<typeof planCluster>, name: string) => plan.certificates.find((c) => c.name === name)!;

test("the apiserver SANs are exactly kubeadm's list, de-duplicated", () => {
  const plan = planCluster({
    nodeName: 'cp-1',
    advertiseAddress: '192.168.1.10',
    controlPlaneEndpoint: 'api.example.com:443',
    dnsDomain: 'corp.local',
    apiServerCertSans: ['192.168.1.10', 'api.example.com', '10.1.1.1', 'not a name', '*.apps.example.com'],
  });
  const sans = byName(plan, 'apiserver').sans;
  assert.equal(sans.dns, ['*.apps.example.com', 'api.example.com', 'cp-1', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.corp.local']);
  assert.equal(sans.ips, ['10.96.0.1', '192.168.1.10', '10.1.1.1']);
  assert.equal(plan.config.skippedSans, ['not a name']);
});

test('an IP endpoint becomes an IP SAN; no localhost or 127.0.0.1 is added', () => {
  const sans = byName(planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10', controlPlaneEndpoint: '10.0.0.100' }), 'apiserver').sans;
  assert.equal(sans.ips, ['10.96.0.1', '10.0.0.10', '10.0.0.100']);
  assert.not.ok(sans.dns.includes('localhost'));
});

test('etcd certificates are named after the node with localhost and loopback SANs', () => {
  const plan = planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10', etcdServerCertSans: ['etcd.example.com'] });
  const server = byName(plan, 'etcd-server');
  assert.is(server.subject.commonName, 'cp-1');
  assert.equal(server.sans.dns, ['cp-1', 'localhost', 'etcd.example.com']);
  assert.equal(server.sans.ips, ['10.0.0.10', '127.0.0.1', '::1']);
  assert.equal(byName(plan, 'etcd-peer').sans.dns, ['cp-1', 'localhost']);
  assert.is(server.ca, 'etcd-ca');
  assert.is(server.path, 'pki/etcd/server');
});

test("kubeconfigs carry kubeadm's users and servers", () => {
  const plan = planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.10', controlPlaneEndpoint: 'api.example.com' });
  const rows = plan.certificates.filter((c) => c.kubeconfigFile).map((c) => [c.path, c.subject.commonName, c.subject.organizations, c.kubeconfigFile!.server]);
  assert.equal(rows, [
    ['admin.conf', 'kubernetes-admin', ['kubeadm:cluster-admins'], 'https://api.example.com:6443'],
    ['super-admin.conf', 'kubernetes-super-admin', ['system:masters'], 'https://api.example.com:6443'],
    ['controller-manager.conf', 'system:kube-controller-manager', [], 'https://10.0.0.10:6443'],
    ['scheduler.conf', 'system:kube-scheduler', [], 'https://10.0.0.10:6443'],
    ['kubelet.conf', 'system:node:cp-1', ['system:nodes'], 'https://api.example.com:6443'],
  ]);
});

test('the CA set: three roots by default, a kubelet-serving CA when asked; Konnectivity can be left out', () => {
  assert.equal(planCluster({ nodeName: 'a', advertiseAddress: '10.0.0.1' }).authorities.map((a) => [a.path, a.subject.commonName]), [
    ['pki/ca', 'kubernetes'],
    ['pki/front-proxy-ca', 'front-proxy-ca'],
    ['pki/etcd/ca', 'etcd-ca'],
  ]);
  assert.is(planCluster({ nodeName: 'a', advertiseAddress: '10.0.0.1', separateKubeletServingCa: true }).authorities.length, 4);
  const plain = planCluster({ nodeName: 'a', advertiseAddress: '10.0.0.1', konnectivity: false });
  assert.not.ok(plain.certificates.some((c) => c.name.startsWith('konnectivity')));
  assert.is(planCluster({ nodeName: 'a', advertiseAddress: '10.0.0.1' }).certificates.length, 15);
});

test.run();
