import { join } from 'node:path';
import { stringify } from 'yaml';
import { parse } from 'yaml';
import { PkiError } from '../errors.js';
import type { CertificateName, DirectoryAuthorityName } from './kinds.js';
import { hostForUrl } from '../x509/ip.js';
import { bundleFile, type BundleName } from './bundles.js';
import { layoutFile, SERVICE_ACCOUNT_PATHS } from './layout.js';
import type { ClusterPlan } from './plan.js';
import type { Rotation } from './rotation-state.js';

/**
 * Options of componentFlags: where the layout lives on each node, the ports, and a CA rotation in progress.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ComponentFlagsOptions {
  /** Where the layout lives on the control-plane node. Default `/etc/kubernetes`. */
  dir?: string;
  /** The cluster CA key is in a PKCS#11 token: kube-controller-manager gets no signing key flags. */
  caKeyInToken?: boolean;
  /** Where a node keeps its copy of the cluster CA and the Konnectivity agent files. Default: the same folder. */
  nodeDir?: string;
  /** Default 2379 / 2380. */
  etcdClientPort?: number;
  /** etcd's peer port. Default 2380. */
  etcdPeerPort?: number;
  /** Konnectivity proxy-server ports: apiserver side and agent side. Default 8131 / 8132. */
  konnectivityServerPort?: number;
  /** The Konnectivity server's port for agents. Default 8132. */
  konnectivityAgentPort?: number;
  /**
   * The directory's CA rotation in progress (`readRotation(dir)`). While it lasts every flag that trusts the
   * rotating CA names its two-CA bundle (`bundles/*.crt`) instead of the CA's file, and from the reissue
   * phase on kube-controller-manager signs with the incoming cluster CA. Absent or finished: kubeadm's files.
   */
  rotation?: Pick<Rotation, 'authority' | 'phase' | 'newCa' | 'newKeyInToken'>;
}

/**
 * Command-line flags for each component, pointing at the files of the layout (docs/kubernetes-pki.md §5, §17).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ComponentFlags {
  /** kube-apiserver's flags: its serving pair, client CA, kubelet and etcd client pairs, front-proxy and service-account key files. */
  readonly kubeApiserver: readonly string[];
  /** kube-controller-manager's flags: the cluster signing pair (none with the CA key in a token), root CA, service-account key. */
  readonly kubeControllerManager: readonly string[];
  /** kube-scheduler's flags: its kubeconfigs. */
  readonly kubeScheduler: readonly string[];
  /** etcd's flags: its server and peer pairs and the etcd CA for clients and peers. */
  readonly etcd: readonly string[];
  /** The kubelet's flags: the client CA (--client-ca-file) and its kubeconfig. */
  readonly kubelet: readonly string[];
  /** The Konnectivity server's flags: its serving pairs (apiserver side, agent side) and the CAs of each side's clients. */
  readonly konnectivityServer: readonly string[];
  /** The Konnectivity agent's flags: its client pair and the CA of the server. */
  readonly konnectivityAgent: readonly string[];
}

/** kube-apiserver's EgressSelectorConfiguration, next to the kubeconfigs (`--egress-selector-config-file`). */
export const EGRESS_SELECTOR_FILE = 'egress-selector-configuration.yaml';

/** What every component's flags are made from: the cluster, where the files are, and the ports. */
interface FlagContext {
  readonly config: ClusterPlan['config'];
  readonly options: ComponentFlagsOptions;
  readonly dir: string;
  readonly nodeDir: string;
  readonly crt: (name: DirectoryAuthorityName | CertificateName) => string;
  readonly key: (name: DirectoryAuthorityName | CertificateName) => string;
  /** What a flag that trusts `ca` names, in `base` (default the directory): the CA's file, or its bundle during its rotation. */
  readonly trust: (ca: DirectoryAuthorityName, bundle: BundleName, base?: string) => string;
  /** The cluster CA kube-controller-manager signs with: the incoming one from a rotation's reissue phase on. */
  readonly signer: { readonly crt: string; readonly key: string; readonly inToken: boolean };
  readonly etcdClientPort: number;
  readonly etcdPeerPort: number;
  /** etcd's client URL on the loopback of the advertise address's family. */
  readonly localEtcd: string;
  readonly konnectivityServerPort: number;
  readonly konnectivityAgentPort: number;
}

/**
 * The flags kubeadm wires, plus `--kubelet-certificate-authority` (which kubeadm leaves unset, so that
 * the apiserver -> kubelet path is verified) and the Konnectivity egress selector.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function componentFlags(plan: ClusterPlan, options: ComponentFlagsOptions = {}): ComponentFlags {
  const { config } = plan;
  const dir = options.dir ?? '/etc/kubernetes';
  const etcdClientPort = options.etcdClientPort ?? 2379;
  const crt = (name: DirectoryAuthorityName | CertificateName): string => join(dir, layoutFile(name, '.crt'));
  const key = (name: DirectoryAuthorityName | CertificateName): string => join(dir, layoutFile(name, '.key'));
  const { rotation } = options;
  const signingIncoming = rotation?.authority === 'ca' && rotation.phase === 'reissued';
  const context: FlagContext = {
    config,
    options,
    dir,
    nodeDir: options.nodeDir ?? dir,
    crt,
    key,
    trust: trustPath(dir, rotation),
    signer: signingIncoming
      ? { crt: join(dir, `${rotation.newCa}.crt`), key: join(dir, `${rotation.newCa}.key`), inToken: rotation.newKeyInToken }
      : { crt: crt('ca'), key: key('ca'), inToken: options.caKeyInToken === true },
    etcdClientPort,
    etcdPeerPort: options.etcdPeerPort ?? 2380,
    localEtcd: `https://${hostForUrl(config.advertiseAddress.includes(':') ? '::1' : '127.0.0.1')}:${etcdClientPort}`,
    konnectivityServerPort: options.konnectivityServerPort ?? 8131,
    konnectivityAgentPort: options.konnectivityAgentPort ?? 8132,
  };
  return {
    kubeApiserver: kubeApiserverFlags(context),
    kubeControllerManager: kubeControllerManagerFlags(context),
    kubeScheduler: kubeconfigFlags(join(dir, layoutFile('scheduler', ''))),
    etcd: etcdFlags(context),
    kubelet: kubeletFlags(context),
    konnectivityServer: konnectivityServerFlags(context),
    konnectivityAgent: konnectivityAgentFlags(context),
  };
}

/** The path a flag trusting `ca` names: the CA's kubeadm file, or its bundle while that CA rotates (before finish). */
function trustPath(dir: string, rotation: ComponentFlagsOptions['rotation']): FlagContext['trust'] {
  return (ca, bundle, base = dir) => join(base, rotation?.authority === ca && rotation.phase !== 'finished' ? bundleFile(bundle) : layoutFile(ca, '.crt'));
}

function kubeApiserverFlags({ config, dir, crt, key, trust, localEtcd }: FlagContext): string[] {
  return [
    `--advertise-address=${config.advertiseAddress}`,
    `--secure-port=${config.apiServerPort}`,
    `--client-ca-file=${trust('ca', 'client-ca-file')}`,
    `--tls-cert-file=${crt('apiserver')}`,
    `--tls-private-key-file=${key('apiserver')}`,
    `--kubelet-client-certificate=${crt('apiserver-kubelet-client')}`,
    `--kubelet-client-key=${key('apiserver-kubelet-client')}`,
    `--kubelet-certificate-authority=${config.separateKubeletServingCa ? crt('kubelet-serving-ca') : trust('ca', 'kubelet-certificate-authority')}`,
    '--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname',
    '--enable-bootstrap-token-auth=true',
    `--requestheader-client-ca-file=${trust('front-proxy-ca', 'requestheader-client-ca-file')}`,
    '--requestheader-allowed-names=front-proxy-client',
    '--requestheader-username-headers=X-Remote-User',
    '--requestheader-group-headers=X-Remote-Group',
    '--requestheader-extra-headers-prefix=X-Remote-Extra-',
    `--proxy-client-cert-file=${crt('front-proxy-client')}`,
    `--proxy-client-key-file=${key('front-proxy-client')}`,
    `--service-account-key-file=${join(dir, SERVICE_ACCOUNT_PATHS.publicKey)}`,
    `--service-account-signing-key-file=${join(dir, SERVICE_ACCOUNT_PATHS.privateKey)}`,
    `--service-account-issuer=https://kubernetes.default.svc.${config.dnsDomain}`,
    `--service-cluster-ip-range=${config.serviceCidr}`,
    `--etcd-servers=${localEtcd}`,
    `--etcd-cafile=${trust('etcd-ca', 'etcd-trusted-ca-file')}`,
    `--etcd-certfile=${crt('apiserver-etcd-client')}`,
    `--etcd-keyfile=${key('apiserver-etcd-client')}`,
    '--authorization-mode=Node,RBAC',
    '--enable-admission-plugins=NodeRestriction',
    ...(config.konnectivity ? [`--egress-selector-config-file=${join(dir, EGRESS_SELECTOR_FILE)}`] : []),
  ];
}

function kubeControllerManagerFlags({ config, dir, crt, key, trust, signer }: FlagContext): string[] {
  // The global signing flags cannot be mixed with per-signer ones (csrsigningcontroller.go), so a separate
  // kubelet-serving CA means naming all four signers.
  // A cluster CA key inside a PKCS#11 token cannot be handed to kube-controller-manager, which reads a key
  // file: its signers stay off and kubepki (serve-bootstrap, or startSigner) signs through the token.
  // During a cluster CA rotation it signs with the old CA until every component trusts the new one (add),
  // then with the new one (reissue), so that the kubelet certificates it issues from then on outlive the old CA.
  const signing = signer.inToken
    ? []
    : config.separateKubeletServingCa
    ? [
        ...['kubelet-client', 'kube-apiserver-client', 'legacy-unknown'].flatMap((s) => [`--cluster-signing-${s}-cert-file=${signer.crt}`, `--cluster-signing-${s}-key-file=${signer.key}`]),
        `--cluster-signing-kubelet-serving-cert-file=${crt('kubelet-serving-ca')}`,
        `--cluster-signing-kubelet-serving-key-file=${key('kubelet-serving-ca')}`,
      ]
    : [`--cluster-signing-cert-file=${signer.crt}`, `--cluster-signing-key-file=${signer.key}`];
  return [
    `--cluster-name=${config.clusterName}`,
    ...signing,
    // Read once at start and published as is (every certificate of the file) into each namespace's kube-root-ca.crt.
    `--root-ca-file=${trust('ca', 'root-ca-file')}`,
    `--service-account-private-key-file=${join(dir, SERVICE_ACCOUNT_PATHS.privateKey)}`,
    `--client-ca-file=${trust('ca', 'client-ca-file')}`,
    `--requestheader-client-ca-file=${trust('front-proxy-ca', 'requestheader-client-ca-file')}`,
    ...kubeconfigFlags(join(dir, layoutFile('controller-manager', ''))),
    '--use-service-account-credentials=true',
    '--controllers=*,bootstrapsigner,tokencleaner',
  ];
}

/** A component that reaches kube-apiserver with one kubeconfig, for its API calls and delegated authn/authz. */
function kubeconfigFlags(kubeconfig: string): string[] {
  return [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`];
}

function etcdFlags({ config, crt, key, trust, localEtcd, etcdClientPort, etcdPeerPort }: FlagContext): string[] {
  const advertise = hostForUrl(config.advertiseAddress);
  return [
    `--name=${config.nodeName}`,
    `--cert-file=${crt('etcd-server')}`,
    `--key-file=${key('etcd-server')}`,
    '--client-cert-auth=true',
    `--trusted-ca-file=${trust('etcd-ca', 'etcd-trusted-ca-file')}`,
    `--peer-cert-file=${crt('etcd-peer')}`,
    `--peer-key-file=${key('etcd-peer')}`,
    '--peer-client-cert-auth=true',
    `--peer-trusted-ca-file=${trust('etcd-ca', 'etcd-trusted-ca-file')}`,
    `--listen-client-urls=${localEtcd},https://${advertise}:${etcdClientPort}`,
    `--advertise-client-urls=https://${advertise}:${etcdClientPort}`,
    `--listen-peer-urls=https://${advertise}:${etcdPeerPort}`,
    `--initial-advertise-peer-urls=https://${advertise}:${etcdPeerPort}`,
    `--initial-cluster=${config.nodeName}=https://${advertise}:${etcdPeerPort}`,
  ];
}

function kubeletFlags({ dir, nodeDir, trust }: FlagContext): string[] {
  return [
    // The control-plane node's kubelet.conf, which init writes (a worker's comes from kubepki join's TLS bootstrap).
    `--kubeconfig=${join(dir, layoutFile('kubelet', ''))}`,
    '--cert-dir=/var/lib/kubelet/pki',
    `--client-ca-file=${trust('ca', 'kubelet-client-ca-file', nodeDir)}`,
    '--rotate-certificates=true',
    '--rotate-server-certificates=true',
  ];
}

function konnectivityServerFlags({ crt, key, trust, konnectivityServerPort, konnectivityAgentPort }: FlagContext): string[] {
  return [
    '--mode=http-connect',
    `--server-port=${konnectivityServerPort}`,
    `--server-cert=${crt('konnectivity-server')}`,
    `--server-key=${key('konnectivity-server')}`,
    `--server-ca-cert=${trust('ca', 'konnectivity-ca')}`,
    `--agent-port=${konnectivityAgentPort}`,
    `--cluster-cert=${crt('konnectivity-server')}`,
    `--cluster-key=${key('konnectivity-server')}`,
    `--cluster-ca-cert=${trust('ca', 'konnectivity-ca')}`,
  ];
}

function konnectivityAgentFlags({ config, nodeDir, trust, konnectivityAgentPort }: FlagContext): string[] {
  return [
    `--proxy-server-host=${config.konnectivityServerHost}`,
    `--proxy-server-port=${konnectivityAgentPort}`,
    `--ca-cert=${trust('ca', 'konnectivity-ca', nodeDir)}`,
    `--agent-cert=${join(nodeDir, layoutFile('konnectivity-agent', '.crt'))}`,
    `--agent-key=${join(nodeDir, layoutFile('konnectivity-agent', '.key'))}`,
  ];
}

/**
 * kube-apiserver's EgressSelectorConfiguration for Konnectivity over TCP: HTTPConnect with mutual TLS
 * (GRPC needs a Unix socket, docs/kubernetes-pki.md §0 rule 12).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function egressSelectorConfiguration(plan: ClusterPlan, options: ComponentFlagsOptions = {}): string {
  const dir = options.dir ?? '/etc/kubernetes';
  const trust = trustPath(dir, options.rotation);
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
              url: `https://${hostForUrl(plan.config.konnectivityServerHost)}:${port}`,
              tlsConfig: {
                caBundle: trust('ca', 'konnectivity-ca'),
                clientCert: join(dir, layoutFile('konnectivity-client', '.crt')),
                clientKey: join(dir, layoutFile('konnectivity-client', '.key')),
              },
            },
          },
        },
      },
    ],
  });
}

/**
 * An EgressSelectorConfiguration (as egressSelectorConfiguration wrote it) whose `caBundle` follows a cluster
 * CA rotation: the Konnectivity bundle while it lasts, the CA's file otherwise; the folder it names is kept.
 */
export function egressSelectorFollowing(text: string, rotation: ComponentFlagsOptions['rotation'], field = EGRESS_SELECTOR_FILE): string {
  const doc = parse(text) as { egressSelections?: { connection?: { transport?: { tcp?: { tlsConfig?: { caBundle?: string } } } } }[] } | null;
  const trustFiles = [layoutFile('ca', '.crt'), bundleFile('konnectivity-ca')];
  for (const selection of doc?.egressSelections ?? []) {
    const tls = selection.connection?.transport?.tcp?.tlsConfig;
    const current = tls?.caBundle;
    if (!tls || current === undefined) continue;
    const suffix = trustFiles.find((f) => current.endsWith(`/${f}`));
    if (suffix === undefined) throw new PkiError('ERR_DIRECTORY', `its caBundle ${current} is neither ${trustFiles.join(' nor ')}; set it by hand`, { field });
    tls.caBundle = trustPath(current.slice(0, -suffix.length - 1), rotation)('ca', 'konnectivity-ca');
  }
  return stringify(doc);
}
