import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ClusterPlan } from './plan.js';

export interface ComponentFlagsOptions {
  /** Where the layout lives on the control-plane node. Default `/etc/kubernetes`. */
  dir?: string;
  /** The cluster CA key is in a PKCS#11 token: kube-controller-manager gets no signing key flags. */
  caKeyInToken?: boolean;
  /** Where a node keeps its copy of the cluster CA and the Konnectivity agent files. Default: the same folder. */
  nodeDir?: string;
  /** Default 2379 / 2380. */
  etcdClientPort?: number;
  etcdPeerPort?: number;
  /** Konnectivity proxy-server ports: apiserver side and agent side. Default 8131 / 8132. */
  konnectivityServerPort?: number;
  konnectivityAgentPort?: number;
}

/** Command-line flags for each component, pointing at the files of the layout (kubernetes-pki.md §5, §17). */
export interface ComponentFlags {
  readonly kubeApiserver: readonly string[];
  readonly kubeControllerManager: readonly string[];
  readonly kubeScheduler: readonly string[];
  readonly etcd: readonly string[];
  readonly kubelet: readonly string[];
  readonly konnectivityServer: readonly string[];
  readonly konnectivityAgent: readonly string[];
}

const bracket = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/**
 * The flags kubeadm wires, plus `--kubelet-certificate-authority` (which kubeadm leaves unset, so that
 * the apiserver -> kubelet path is verified) and the Konnectivity egress selector.
 */
export function componentFlags(plan: ClusterPlan, options: ComponentFlagsOptions = {}): ComponentFlags {
  const { config } = plan;
  const dir = options.dir ?? '/etc/kubernetes';
  const nodeDir = options.nodeDir ?? dir;
  const pki = (file: string): string => join(dir, 'pki', file);
  const etcdClientPort = options.etcdClientPort ?? 2379;
  const etcdPeerPort = options.etcdPeerPort ?? 2380;
  const ipv6 = config.advertiseAddress.includes(':');
  const adv = bracket(config.advertiseAddress);
  const localEtcd = `https://${ipv6 ? '[::1]' : '127.0.0.1'}:${etcdClientPort}`;
  const kubeletServingCa = config.separateKubeletServingCa ? pki('kubelet-serving-ca.crt') : pki('ca.crt');
  const kubeApiserver = [
    `--advertise-address=${config.advertiseAddress}`,
    `--secure-port=${config.apiServerPort}`,
    `--client-ca-file=${pki('ca.crt')}`,
    `--tls-cert-file=${pki('apiserver.crt')}`,
    `--tls-private-key-file=${pki('apiserver.key')}`,
    `--kubelet-client-certificate=${pki('apiserver-kubelet-client.crt')}`,
    `--kubelet-client-key=${pki('apiserver-kubelet-client.key')}`,
    `--kubelet-certificate-authority=${kubeletServingCa}`,
    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
    '--enable-bootstrap-token-auth=true',
    `--requestheader-client-ca-file=${pki('front-proxy-ca.crt')}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${pki('front-proxy-client.crt')}`,
    `--proxy-client-key-file=${pki('front-proxy-client.key')}`,
    `--service-account-key-file=${pki('sa.pub')}`,
    `--service-account-signing-key-file=${pki('sa.key')}`,
    `--service-account-issuer=https://kubernetes.default.svc.${config.dnsDomain}`,
    `--service-cluster-ip-range=${config.serviceCidr}`,
    `--etcd-servers=${localEtcd}`,
    `--etcd-cafile=${pki('etcd/ca.crt')}`,
    `--etcd-certfile=${pki('apiserver-etcd-client.crt')}`,
    `--etcd-keyfile=${pki('apiserver-etcd-client.key')}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    ...(config.konnectivity ? [`--egress-selector-config-file=${join(dir, 'egress-selector-configuration.yaml')}`] : []),
  ];
  // The global signing flags cannot be mixed with per-signer ones (csrsigningcontroller.go), so a separate
  // kubelet-serving CA means naming all four signers.
  // A cluster CA key inside a PKCS#11 token cannot be handed to kube-controller-manager, which reads a key
  // file: its signers stay off and kubepki (serve-bootstrap, or startSigner) signs through the token.
  const signing = options.caKeyInToken
    ? []
    : config.separateKubeletServingCa
    ? [
        ...['kubelet-client', 'kube-apiserver-client', 'legacy-unknown'].flatMap((s) => [`--cluster-signing-${s}-cert-file=${pki('ca.crt')}`, `--cluster-signing-${s}-key-file=${pki('ca.key')}`]),
        `--cluster-signing-kubelet-serving-cert-file=${pki('kubelet-serving-ca.crt')}`,
        `--cluster-signing-kubelet-serving-key-file=${pki('kubelet-serving-ca.key')}`,
      ]
    : [`--cluster-signing-cert-file=${pki('ca.crt')}`, `--cluster-signing-key-file=${pki('ca.key')}`];
  const controllerManagerConf = join(dir, 'controller-manager.conf');
  const kubeControllerManager = [
    `--cluster-name=${config.clusterName}`,
    ...signing,
    `--root-ca-file=${pki('ca.crt')}`,
    `--service-account-private-key-file=${pki('sa.key')}`,
    `--client-ca-file=${pki('ca.crt')}`,
    `--requestheader-client-ca-file=${pki('front-proxy-ca.crt')}`,
    `--kubeconfig=${controllerManagerConf}`,
    `--authentication-kubeconfig=${controllerManagerConf}`,
    `--authorization-kubeconfig=${controllerManagerConf}`,
    '--use-service-account-credentials=true',
    '--controllers=*,bootstrapsigner,tokencleaner',
  ];
  const schedulerConf = join(dir, 'scheduler.conf');
  const kubeScheduler = [`--kubeconfig=${schedulerConf}`, `--authentication-kubeconfig=${schedulerConf}`, `--authorization-kubeconfig=${schedulerConf}`];
  const etcd = [
    `--name=${config.nodeName}`,
    `--cert-file=${pki('etcd/server.crt')}`,
    `--key-file=${pki('etcd/server.key')}`,
    '--client-cert-auth=true',
    `--trusted-ca-file=${pki('etcd/ca.crt')}`,
    `--peer-cert-file=${pki('etcd/peer.crt')}`,
    `--peer-key-file=${pki('etcd/peer.key')}`,
    '--peer-client-cert-auth=true',
    `--peer-trusted-ca-file=${pki('etcd/ca.crt')}`,
    `--listen-client-urls=${localEtcd},https://${adv}:${etcdClientPort}`,
    `--advertise-client-urls=https://${adv}:${etcdClientPort}`,
    `--listen-peer-urls=https://${adv}:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=https://${adv}:${etcdPeerPort}`,
    `--initial-cluster=${config.nodeName}=https://${adv}:${etcdPeerPort}`,
  ];
  const kubelet = [
    `--kubeconfig=${join(dir, 'kubelet.conf')}`,
    `--bootstrap-kubeconfig=${join(dir, 'bootstrap-kubelet.conf')}`,
    '--cert-dir=/var/lib/kubelet/pki',
    `--client-ca-file=${join(nodeDir, 'pki', 'ca.crt')}`,
    '--rotate-certificates=true',
    '--rotate-server-certificates=true',
  ];
  const serverPort = options.konnectivityServerPort ?? 8131;
  const agentPort = options.konnectivityAgentPort ?? 8132;
  const konnectivityServer = [
    '--mode=http-connect',
    `--server-port=${serverPort}`,
    `--server-cert=${pki('konnectivity-server.crt')}`,
    `--server-key=${pki('konnectivity-server.key')}`,
    `--server-ca-cert=${pki('ca.crt')}`,
    `--agent-port=${agentPort}`,
    `--cluster-cert=${pki('konnectivity-server.crt')}`,
    `--cluster-key=${pki('konnectivity-server.key')}`,
    `--cluster-ca-cert=${pki('ca.crt')}`,
  ];
  const konnectivityAgent = [
    `--proxy-server-host=${config.konnectivityServerHost}`,
    `--proxy-server-port=${agentPort}`,
    `--ca-cert=${join(nodeDir, 'pki', 'ca.crt')}`,
    `--agent-cert=${join(nodeDir, 'pki', 'konnectivity-agent.crt')}`,
    `--agent-key=${join(nodeDir, 'pki', 'konnectivity-agent.key')}`,
  ];
  return { kubeApiserver, kubeControllerManager, kubeScheduler, etcd, kubelet, konnectivityServer, konnectivityAgent };
}

/**
 * kube-apiserver's EgressSelectorConfiguration for Konnectivity over TCP: HTTPConnect with mutual TLS
 * (GRPC needs a Unix socket, kubernetes-pki.md §0 rule 12).
 */
export function egressSelectorConfiguration(plan: ClusterPlan, options: ComponentFlagsOptions = {}): string {
  const dir = options.dir ?? '/etc/kubernetes';
  const port = options.konnectivityServerPort ?? 8131;
  return stringify({
    apiVersion: 'apiserver.k8s.io/v1beta1',
    kind: 'EgressSelectorConfiguration',
    egressSelections: [
      {
        name: 'cluster',
        connection: {
          proxyProtocol: 'HTTPConnect',
          transport: {
            tcp: {
              url: `https://${bracket(plan.config.konnectivityServerHost)}:${port}`,
              tlsConfig: {
                caBundle: join(dir, 'pki', 'ca.crt'),
                clientCert: join(dir, 'pki', 'konnectivity-client.crt'),
                clientKey: join(dir, 'pki', 'konnectivity-client.key'),
              },
            },
          },
        },
      },
    ],
  });
}
