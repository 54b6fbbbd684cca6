import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PkiError } from '../errors.js';
import { loadPkiDirectory, type LoadedPki } from '../cluster/directory.js';
import { readIfExists } from '../cluster/files.js';
import type { CertificateName, DirectoryAuthorityName } from '../cluster/kinds.js';
import { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT } from '../cluster/layout.js';
import { BUNDLES, BUNDLES_FOLDER, bundleFile, bundleSource, type BundleName } from '../cluster/bundles.js';
import { componentFlags, EGRESS_SELECTOR_FILE } from '../cluster/flags.js';
import { planCluster } from '../cluster/plan.js';
import { Certificate, type CertificateInput } from '../x509/certificate.js';
import { crossCheckChain } from '../x509/cross-check.js';
import { verifyCertificate, type VerifyOptions } from '../x509/verify.js';
import type { KubeConnection } from '../bootstrap/kube-client.js';
import { clusterEgress, type EgressConnection } from './egress-selector.js';
import { APISERVER_DEFAULT_ADDRESS_TYPES, preferredAddress, readLiveCluster, type LiveCluster } from './live-cluster.js';
import { hostOf } from './paths.js';

/**
 * A path's status: verified; unverified (the peer is not checked); broken (it would fail); not-configured (the path is not in use); advisory (nothing to verify, but a caution).
 *
 * @category Verify and audit
 */
export type PathStatus = 'verified' | 'unverified' | 'broken' | 'not-configured' | 'advisory';

/**
 * The audit of one communication path: whether it verifies its peer, why, and the fix.
 *
 * @category Verify and audit
 */
export interface PathReport {
  /** The row of DESIGN.md's path table. */
  readonly path: number;
  /** The path's name, e.g. `apiserver -> kubelet`. */
  readonly name: string;
  /** Whether the path verifies its peer. */
  readonly status: PathStatus;
  /** Why the path has that status, naming the files and flags involved. */
  readonly reason: string;
  /** What to change so that the path verifies; absent when it does. */
  readonly fix?: string;
}

/**
 * A problem the audit found beside the paths.
 *
 * @category Verify and audit
 */
export interface Finding {
  /** error: something fails now (the report is not ok); warning: something will fail or is weaker than it should be. */
  readonly severity: 'error' | 'warning';
  /** What is wrong. */
  readonly message: string;
  /** What to do about it. */
  readonly fix: string;
}

/**
 * What auditSetup found: each communication path's status, and the findings beside them.
 *
 * @category Verify and audit
 */
export interface AuditReport {
  /** One report per communication path of the design's path table, in its order. */
  readonly paths: readonly PathReport[];
  /** Problems found beside the paths: expiring certificates, bundles missing a rotating CA, and the like. */
  readonly findings: readonly Finding[];
  /** True when no path is unverified or broken and no finding is an error. */
  readonly ok: boolean;
}

/**
 * Options of auditSetup: the components' flags and configs, kubelet serving certificates or a live cluster to check, and the time.
 *
 * @category Verify and audit
 */
export interface AuditOptions {
  /**
   * kube-apiserver's flags or its static Pod manifest (any text with `--flag=value` tokens). Absent: its mirror
   * Pod's command line when `cluster` has one, else kubeadm's defaults.
   */
  apiserverFlags?: string;
  /** Kubelet serving certificates to check, with the address the apiserver dials (its preferred address type). */
  kubeletServing?: readonly {
    /** The serving certificate (chain), PEM. */
    certificate: string;
    /** The address kube-apiserver dials for that node: it must be a SAN of the certificate. */
    address: string;
  }[];
  /** A live cluster to read: its Nodes (addresses, kubelet port), kubelet serving CSRs and kube-apiserver's mirror Pod. */
  cluster?: KubeConnection;
  /** A kubelet's KubeletConfiguration (YAML): how it serves and whom it trusts. */
  kubeletConfig?: string;
  /** CAs that must be in every bundle (the new CA during a rotation). */
  rotatingTo?: readonly Certificate[];
  /** The time certificates are checked at. Default: now. */
  now?: Date;
  /** Certificates expiring sooner than this are reported. Default 30 days. */
  expiryWarningSeconds?: number;
}

/** `--flag=value` pairs from a flags file or a static Pod manifest. */
export function parseFlags(text: string): Map<string, string> {
  const flags = new Map<string, string>();
  // A value may hold commas (--kubelet-preferred-address-types=InternalIP,Hostname); one that ends a flow list item loses it.
  for (const match of text.matchAll(/--([a-z0-9-]+)(?:=("[^"]*"|'[^']*'|[^\s"'\]]+))?/g)) flags.set(match[1]!, (match[2] ?? 'true').replace(/^["']|["']$/g, '').replace(/,+$/, ''));
  return flags;
}

/** What every path check reads: the directory, the apiserver's flags, the caller's options and the findings so far. */
interface AuditContext {
  readonly dir: string;
  readonly loaded: LoadedPki;
  readonly flags: ReadonlyMap<string, string>;
  readonly options: AuditOptions;
  readonly now: Date;
  readonly findings: Finding[];
  /** What was read of a live cluster (`options.cluster`). */
  readonly live?: LiveCluster;
  /** A file a flag names: as given, else under the directory for a path under /etc/kubernetes. */
  readonly named: (path: string) => Promise<string | undefined>;
  /** A leaf of the directory, or ERR_DIRECTORY when it is missing. */
  readonly leaf: (name: CertificateName) => Certificate;
  /** A CA of the directory, or ERR_DIRECTORY when it is missing. */
  readonly root: (name: DirectoryAuthorityName) => Certificate;
  /** The CAs a leaf of `name` may chain to: the CA, and its incoming CA while it rotates. */
  readonly roots: (name: DirectoryAuthorityName) => Certificate[];
}

/**
 * Audits a setup: which paths of DESIGN.md's table are verified, unverified or broken, why, and the fix.
 * It reads the PKI directory, the apiserver's flags when given (kubeadm's defaults otherwise), kubelet
 * serving certificates when given, and checks key file modes, expiry and rotation overlap.
 *
 * @category Verify and audit
 */
export async function auditSetup(dir: string, options: AuditOptions = {}): Promise<AuditReport> {
  const now = options.now ?? new Date();
  const loaded = await loadPkiDirectory(dir);
  const findings: Finding[] = [];
  for (const problem of loaded.problems) findings.push({ severity: 'error', message: `${problem.files.join(', ')}: ${problem.reason}`, fix: 'regenerate it (kubepki init --force, or kubepki renew NAME)' });
  for (const name of loaded.missing) findings.push({ severity: 'error', message: `${name} is missing`, fix: 'kubepki init --dir DIR completes the directory' });
  await checkKeyModes(dir, findings);
  checkExpiry(loaded, now, options.expiryWarningSeconds ?? 30 * 86_400, findings);
  const live = options.cluster ? await readLiveCluster(options.cluster) : undefined;
  const flagsText = options.apiserverFlags ?? live?.apiserverCommand;
  const context: AuditContext = {
    dir,
    loaded,
    flags: flagsText === undefined ? new Map<string, string>() : parseFlags(flagsText),
    options,
    now,
    findings,
    ...(live ? { live } : {}),
    named: async (path) => (await readIfExists(path)) ?? (path.startsWith('/etc/kubernetes/') ? await readIfExists(join(dir, path.slice('/etc/kubernetes/'.length))) : undefined),
    leaf: (name) => {
      const material = loaded.certificates.get(name);
      if (!material) throw new PkiError('ERR_DIRECTORY', `${name} is missing`, { field: name });
      return material.certificate;
    },
    root: (name) => {
      const material = loaded.authorities.get(name);
      if (!material) throw new PkiError('ERR_DIRECTORY', `the ${name} CA is missing`, { field: name });
      return material.certificate;
    },
    roots: (name) => [context.root(name), ...(loaded.rotation?.authority === name ? [loaded.rotation.incoming] : [])],
  };
  const paths: PathReport[] = [];
  for (const check of PATH_CHECKS) paths.push(await check(context));
  await checkRotationOverlap(context);
  await checkRotation(context);
  const ok = paths.every((p) => p.status !== 'unverified' && p.status !== 'broken') && findings.every((f) => f.severity !== 'error');
  return { paths, findings, ok };
}

/** A path that is verified when `run` returns (its reason), broken when it throws a PkiError. */
async function verifiedPath(path: number, name: string, fix: string, run: () => Promise<string>): Promise<PathReport> {
  try {
    return { path, name, status: 'verified', reason: await run() };
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    return { path, name, status: 'broken', reason: `${error.code}: ${error.message}`, fix };
  }
}

/** verifyCertificate at the audit's time, then the pkijs cross-check of the chain it found. */
const verifyAt =
  (context: AuditContext) =>
  async (certificate: CertificateInput, options: Omit<VerifyOptions, 'now'>): Promise<void> =>
    crossCheckChain(verifyCertificate(certificate, { ...options, now: context.now }).chain, context.now);

/** The rows of DESIGN.md's path table, in order. */
const PATH_CHECKS: readonly ((context: AuditContext) => Promise<PathReport>)[] = [
  (c) =>
    verifiedPath(1, 'kubelet -> apiserver', 'reissue the apiserver certificate from the cluster CA (kubepki renew apiserver)', async () => {
      await verifyAt(c)(c.leaf('apiserver'), { roots: c.roots('ca'), purpose: 'server' });
      return 'the apiserver certificate chains to the cluster CA the kubelets trust';
    }),
  (c) =>
    verifiedPath(2, 'pod -> apiserver', 'reissue the apiserver certificate with the Service IP and kubernetes.default.svc SANs', async () => {
      const serviceIp = c.loaded.certificates.get('apiserver')?.certificate.sans.ips[0];
      await verifyAt(c)(c.leaf('apiserver'), { roots: c.roots('ca'), purpose: 'server', name: 'kubernetes.default.svc' });
      if (serviceIp) await verifyAt(c)(c.leaf('apiserver'), { roots: c.roots('ca'), purpose: 'server', name: serviceIp });
      return `the apiserver certificate names kubernetes.default.svc and the Service IP ${serviceIp ?? '(none)'}`;
    }),
  (c) =>
    verifiedPath(3, 'control-plane component -> apiserver', 'kubepki renew all', async () => {
      // The kubeconfigs this cluster has (no super-admin.conf before Kubernetes 1.29); missing ones are findings.
      const kubeconfigs = CERTIFICATE_LAYOUT.filter((e) => e.kubeconfig && c.loaded.certificates.has(e.name));
      if (kubeconfigs.length === 0) throw new PkiError('ERR_DIRECTORY', 'the directory has no kubeconfigs', { field: 'kubeconfigs' });
      for (const entry of kubeconfigs) await verifyAt(c)(c.leaf(entry.name as CertificateName), { roots: c.roots(entry.ca as DirectoryAuthorityName), purpose: 'client' });
      return 'every kubeconfig embeds the cluster CA and a client certificate from it';
    }),
  apiserverToKubelet,
  async (c) => ({
    path: 5,
    name: 'apiserver -> nodes, pods, services (proxy)',
    status: 'advisory',
    reason:
      "kube-apiserver's proxy subresources (nodes/NAME/proxy, pods/NAME/proxy, services/NAME/proxy) dial plain HTTP by default; an https: prefix encrypts but verifies no certificate, so the path is neither authenticated nor safe across an untrusted network" +
      (c.flags.get('egress-selector-config-file') ? ' (the egress selector carries it, but the tunnel does not verify the backend either)' : ''),
    fix: 'call a service with apiserverToService agents (its CA bundle, its name <svc>.<ns>.svc, optionally mTLS) instead of through the apiserver proxy; reach a kubelet with apiserverToKubelet (path 4)',
  }),
  konnectivity,
  (c) =>
    verifiedPath(7, 'apiserver -> etcd, front proxy -> apiserver', 'reissue the etcd and front-proxy certificates (kubepki renew all)', async () => {
      await verifyAt(c)(c.leaf('etcd-server'), { roots: c.roots('etcd-ca'), purpose: 'server', name: '127.0.0.1' });
      await verifyAt(c)(c.leaf('apiserver-etcd-client'), { roots: c.roots('etcd-ca'), purpose: 'client' });
      await verifyAt(c)(c.leaf('front-proxy-client'), { roots: c.roots('front-proxy-ca'), purpose: 'client' });
      return 'etcd serves 127.0.0.1 from the etcd CA; the apiserver and front proxy present client certificates from their CAs';
    }),
  sshTunnels,
];

/** `CODE: reason`, naming the error's field only when the reason does not already. */
const explain = (error: PkiError): string => `${error.code}: ${error.field && !error.reason.includes(error.field) ? error.message : error.reason}`;

/** A serving certificate the audit can see, where it came from and the address kube-apiserver dials for it. */
interface SeenServing {
  readonly what: string;
  readonly certificate: CertificateInput;
  readonly address?: { type: string; address: string };
}

/**
 * Path 4: unverified without --kubelet-certificate-authority (kubeadm's default). With it, every kubelet serving
 * certificate the audit sees (given, or issued to a Node's CSR) must chain to that bundle and name the address
 * --kubelet-preferred-address-types picks; the bundle must hold the CA that signs kubelet serving CSRs.
 */
async function apiserverToKubelet(c: AuditContext): Promise<PathReport> {
  const name = 'apiserver -> kubelet';
  const typesFlag = c.flags.get('kubelet-preferred-address-types');
  const types = typesFlag ? typesFlag.split(',') : [...APISERVER_DEFAULT_ADDRESS_TYPES];
  const typesText = typesFlag ? `--kubelet-preferred-address-types=${typesFlag}` : `kube-apiserver's default address types ${types.join(',')}`;
  const { seen, unseen } = servingCertificatesSeen(c, types);
  const kubeletCa = c.flags.get('kubelet-certificate-authority');
  const selfSigned = c.options.kubeletConfig !== undefined && kubeletServesSelfSigned(c.options.kubeletConfig, c.findings);
  if (!kubeletCa) {
    return {
      path: 4,
      name,
      status: 'unverified',
      reason: `kube-apiserver has no --kubelet-certificate-authority, so it does not verify kubelet serving certificates at all: logs, exec and port-forward are open to a man in the middle (kubeadm's default)${seen.length ? `; ${seen.length} serving certificate(s) seen, none checked by the apiserver` : ''}`,
      fix: 'issue kubelet serving certificates from a cluster CA (kubepki approve, or serverTLSBootstrap), then set --kubelet-certificate-authority to bundles/kubelet-certificate-authority.crt (kubepki bundle --dir DIR)',
    };
  }
  const fix = `kubelet serving certificates must be signed by a CA in the bundle and carry the address ${typesText} picks as a SAN (kubepki approve issues such certificates)`;
  try {
    if (selfSigned) throw new PkiError('ERR_UNKNOWN_AUTHORITY', 'the kubelet serves its own self-signed certificate (no serverTLSBootstrap, no tlsCertFile), which no bundle can verify', { field: 'kubelet' });
    const bundleText = await c.named(kubeletCa);
    if (!bundleText) throw new PkiError('ERR_DIRECTORY', `--kubelet-certificate-authority points at ${kubeletCa}, which cannot be read`, { field: kubeletCa });
    const bundle = Certificate.fromPemBundle(bundleText, kubeletCa);
    const signer = c.loaded.authorities.has('kubelet-serving-ca') ? 'kubelet-serving-ca' : 'ca';
    const signerCa = c.root(signer);
    if (!bundle.some((b) => Buffer.from(b.der).equals(signerCa.der))) {
      throw new PkiError('ERR_UNKNOWN_AUTHORITY', `${kubeletCa} does not hold CN=${signerCa.subject.commonName}, the CA that signs kubelet serving CSRs (the ${signer} CA)`, { field: kubeletCa });
    }
    const checked: string[] = [];
    for (const s of seen) {
      if (!s.address) throw new PkiError('ERR_NAME_MISMATCH', `${s.what}: the Node has no address of the types ${types.join(',')}, so kube-apiserver cannot dial it`, { field: s.what });
      try {
        await verifyAt(c)(s.certificate, { roots: [bundle], purpose: 'server', name: s.address.address });
      } catch (error) {
        if (!(error instanceof PkiError)) throw error;
        throw new PkiError(error.code, `${s.what}, dialled at ${s.address.type === 'given' ? '' : `${s.address.type} `}${s.address.address}: ${error.message}`, { field: s.what, cause: error });
      }
      checked.push(`${s.what} at ${s.address.type === 'given' ? '' : `${s.address.type} `}${s.address.address}`);
    }
    if (unseen.length > 0) {
      return {
        path: 4,
        name,
        status: 'unverified',
        reason: `--kubelet-certificate-authority is set, but node(s) ${unseen.join(', ')} have no issued kubelet-serving CSR: they serve a certificate the audit cannot see (their self-signed one unless tlsCertFile is set)`,
        fix: 'enable serverTLSBootstrap and approve the serving CSRs (kubepki approve), or give the certificate with --kubelet-serving CERT=ADDRESS',
      };
    }
    if (checked.length === 0) {
      return {
        path: 4,
        name,
        status: 'advisory',
        reason: `--kubelet-certificate-authority names a bundle holding the kubelet serving signer, but no kubelet serving certificate was checked against it and ${typesText}`,
        fix: 'give the serving certificates (--kubelet-serving CERT=ADDRESS) or a live cluster (--kubeconfig) to check them',
      };
    }
    return { path: 4, name, status: 'verified', reason: `every kubelet serving certificate seen chains to ${kubeletCa} and names the address ${typesText} picks: ${checked.join('; ')}` };
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    return { path: 4, name, status: 'broken', reason: explain(error), fix };
  }
}

/** The kubelet serving certificates the audit can see (given, or a live cluster's), each with the address kube-apiserver dials; Nodes whose certificate it cannot see. */
function servingCertificatesSeen(c: AuditContext, types: readonly string[]): { seen: SeenServing[]; unseen: string[] } {
  const seen: SeenServing[] = (c.options.kubeletServing ?? []).map((s, i) => ({ what: `--kubelet-serving #${i + 1}`, certificate: s.certificate, address: { type: 'given', address: s.address } }));
  const unseen: string[] = [];
  for (const kubelet of c.live?.kubelets ?? []) {
    const address = preferredAddress(kubelet.addresses, [...types]);
    if (kubelet.serving) seen.push({ what: `node ${kubelet.node} (CSR ${kubelet.csr ?? '?'})`, certificate: kubelet.serving, ...(address ? { address } : {}) });
    else unseen.push(kubelet.node);
  }
  return { seen, unseen };
}

const KONNECTIVITY_PATH_NAME = 'Konnectivity: apiserver -> proxy-server <- agents';

/**
 * Path 6: what kube-apiserver's --egress-selector-config-file does with cluster traffic (nodes, pods, services),
 * and, when it goes to a Konnectivity proxy-server over TCP, that the leg is mutual TLS the proxy-server accepts:
 * its certificate verifies against caBundle for the URL's host, clientCert chains to the CA it requires
 * (--server-ca-cert, the cluster CA), and the agents' certificates chain to the same CA.
 */
async function konnectivity(c: AuditContext): Promise<PathReport> {
  const name = KONNECTIVITY_PATH_NAME;
  const hasCertificates = c.loaded.certificates.has('konnectivity-server');
  const file = c.flags.get('egress-selector-config-file');
  const startFix = `start kube-apiserver with --egress-selector-config-file=${join(c.dir, EGRESS_SELECTOR_FILE)} (kubepki init writes it) and run the proxy-server and agents with componentFlags().konnectivityServer/konnectivityAgent`;
  if (!file) {
    return {
      path: 6,
      name,
      status: 'not-configured',
      reason: `kube-apiserver has no --egress-selector-config-file: it dials nodes, pods and services directly${c.flags.has('ssh-user') ? ' or over SSH tunnels' : ''}${hasCertificates ? "; the directory's Konnectivity certificates are unused" : ''}`,
      ...(hasCertificates ? { fix: startFix } : {}),
    };
  }
  const fix = `rewrite ${file} as kubepki init does (cluster: HTTPConnect over https with caBundle = the Konnectivity CA bundle, clientCert/clientKey = pki/konnectivity-client) and restart kube-apiserver`;
  try {
    const text = await c.named(file);
    if (text === undefined) throw new PkiError('ERR_DIRECTORY', `--egress-selector-config-file points at ${file}, which cannot be read`, { field: file });
    const egress = clusterEgress(text, file);
    if (!egress || egress.proxyProtocol === 'Direct') {
      return { path: 6, name, status: 'not-configured', reason: `${file} sends cluster traffic directly (${egress ? 'proxyProtocol Direct' : 'no cluster selection'}): Konnectivity is not used`, fix };
    }
    const agents = async (): Promise<void> => {
      await verifyAt(c)(c.leaf('konnectivity-server'), { roots: c.roots('ca'), purpose: 'server' });
      await verifyAt(c)(c.leaf('konnectivity-agent'), { roots: c.roots('ca'), purpose: 'client' });
    };
    if (egress.uds !== undefined) {
      await agents();
      return { path: 6, name, status: 'verified', reason: `cluster traffic goes ${egress.proxyProtocol} to the proxy-server over the Unix socket ${egress.uds} (its file mode guards that leg); the agents' leg is mutual TLS from the cluster CA` };
    }
    if (!egress.tcp) throw new PkiError('ERR_ARGUMENT', `the cluster selection of ${file} has neither a tcp nor a uds transport`, { field: file });
    return await tcpEgress(c, { file, proxyProtocol: egress.proxyProtocol, tcp: egress.tcp, fix, agents });
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    return { path: 6, name, status: 'broken', reason: explain(error), fix };
  }
}

/** Path 6 over TCP: the proxy-server's URL is https, caBundle verifies it, clientCert is one the proxy-server accepts. */
async function tcpEgress(
  c: AuditContext,
  { file, proxyProtocol, tcp, fix, agents }: { file: string; proxyProtocol: string; tcp: NonNullable<EgressConnection['tcp']>; fix: string; agents: () => Promise<void> },
): Promise<PathReport> {
  const name = KONNECTIVITY_PATH_NAME;
  let url: URL;
  try {
    url = new URL(tcp.url);
  } catch (cause) {
    throw new PkiError('ERR_ARGUMENT', `the cluster selection's url "${tcp.url}" is not a URL`, { field: file, cause });
  }
  if (url.protocol !== 'https:') {
    return { path: 6, name, status: 'unverified', reason: `cluster traffic goes to the proxy-server at ${tcp.url} in the clear: the proxy-server is not verified and the apiserver not authenticated`, fix };
  }
  if (!tcp.caBundle) return { path: 6, name, status: 'unverified', reason: `${file} gives no caBundle: kube-apiserver checks the proxy-server at ${tcp.url} against the system roots, not the cluster's CA`, fix };
  const read = async (what: string, path: string | undefined): Promise<string> => {
    const content = path === undefined ? undefined : await c.named(path);
    if (content === undefined) throw new PkiError('ERR_DIRECTORY', `${what} ${path ?? '(none)'} of ${file} cannot be read (kube-apiserver does not start)`, { field: file });
    return content;
  };
  const caBundle = await read('caBundle', tcp.caBundle);
  const clientCert = await read('clientCert', tcp.clientCert);
  await read('clientKey', tcp.clientKey);
  const host = hostOf(tcp.url);
  const step = async (what: string, run: () => Promise<void>): Promise<void> => {
    try {
      await run();
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
      throw new PkiError(error.code, `${what}: ${error.message}`, { cause: error });
    }
  };
  await step(`the proxy-server certificate (pki/konnectivity-server) against caBundle ${tcp.caBundle} for ${host}`, () => verifyAt(c)(c.leaf('konnectivity-server'), { roots: [caBundle], purpose: 'server', name: host }));
  const client = Certificate.from(clientCert, tcp.clientCert);
  await step(`clientCert ${tcp.clientCert} (CN=${client.subject.commonName}) is not accepted by the proxy-server, which requires a client certificate from the cluster CA (--server-ca-cert)`, () =>
    verifyAt(c)(client, { roots: c.roots('ca'), purpose: 'client' }),
  );
  await step("the agents' leg", agents);
  return {
    path: 6,
    name,
    status: 'verified',
    reason: `cluster traffic goes ${proxyProtocol} to the proxy-server at ${tcp.url} over mutual TLS: its certificate verifies against caBundle for ${host}, clientCert CN=${client.subject.commonName} chains to the cluster CA it requires, and the agents' leg is mutual TLS from the same CA`,
  };
}

/** Path 8: SSH tunnels (--ssh-user, --ssh-keyfile), deprecated; kube-apiserver's tunneler accepts any host key. */
async function sshTunnels(c: AuditContext): Promise<PathReport> {
  const name = 'apiserver -> node over SSH tunnels';
  const user = c.flags.get('ssh-user');
  const keyfile = c.flags.get('ssh-keyfile');
  if (user === undefined && keyfile === undefined) return { path: 8, name, status: 'not-configured', reason: 'no --ssh-user/--ssh-keyfile: kube-apiserver opens no SSH tunnels' };
  return {
    path: 8,
    name,
    status: 'unverified',
    reason: `kube-apiserver${user === undefined ? '' : ` --ssh-user=${user}`}${keyfile === undefined ? '' : ` --ssh-keyfile=${keyfile}`} tunnels to the nodes over SSH, a deprecated path: it accepts any host key, so the tunnel does not verify the node it reaches`,
    fix: `drop --ssh-user/--ssh-keyfile and replace the tunnels with Konnectivity: --egress-selector-config-file=${join(c.dir, EGRESS_SELECTOR_FILE)} (kubepki init writes it), the proxy-server and the agents`,
  };
}

/** During a rotation, every CA being rotated to must be in the directory or the client CA bundle. */
async function checkRotationOverlap({ dir, loaded, options, findings }: AuditContext): Promise<void> {
  for (const next of options.rotatingTo ?? []) {
    const inDir = [...loaded.authorities.values()].some((m) => Buffer.from(m.certificate.der).equals(next.der));
    const bundle = await readIfExists(join(dir, 'bundles', 'client-ca-file.crt'));
    const inBundle = bundle ? Certificate.fromPemBundle(bundle).some((c) => Buffer.from(c.der).equals(next.der)) : false;
    if (!inDir && !inBundle) findings.push({ severity: 'error', message: `the new CA CN=${next.subject.commonName} is missing from the bundles during the rotation`, fix: 'kubepki rotate-ca --phase add' });
  }
}

/**
 * A rotation recorded in the directory: where it stands, every bundle of the rotating CA holding the incoming
 * CA, and (given kube-apiserver's flags) each of its flags that trusts the rotating CA naming a file that does.
 */
async function checkRotation({ dir, loaded, flags, findings }: AuditContext): Promise<void> {
  const rotation = loaded.rotation;
  if (!rotation) return;
  const next = rotation.phase === 'added' ? 'reissue' : 'finish';
  findings.push({
    severity: 'warning',
    message: `the ${rotation.ca} CA is being rotated (${rotation.phase}): the old and the new CA are both trusted until finish`,
    fix: `once every component runs the flags componentFlags prints for this phase, kubepki rotate-ca --dir ${dir} --ca ${rotation.ca} --phase ${next}`,
  });
  const holds = (text: string | undefined): boolean => text !== undefined && Certificate.fromPemBundle(text).some((c) => Buffer.from(c.der).equals(rotation.incoming.der));
  for (const name of Object.keys(BUNDLES) as BundleName[]) {
    if (bundleSource(loaded, name) !== rotation.authority) continue;
    if (!holds(await readIfExists(join(dir, bundleFile(name))))) {
      findings.push({ severity: 'error', message: `${bundleFile(name)} lacks the incoming ${rotation.ca} CA`, fix: `kubepki rotate-ca --dir ${dir} --ca ${rotation.ca} --phase add` });
    }
  }
  if (flags.size === 0) return;
  // The flags that name a bundle during this rotation are the ones that trust the rotating CA.
  const plan = planCluster({ nodeName: 'node', advertiseAddress: '127.0.0.1', separateKubeletServingCa: loaded.authorities.has('kubelet-serving-ca') });
  for (const flag of componentFlags(plan, { dir, rotation }).kubeApiserver.filter((f) => f.includes(`/${BUNDLES_FOLDER}/`))) {
    const [name, wanted] = [flag.slice(2, flag.indexOf('=')), flag.slice(flag.indexOf('=') + 1)];
    const value = flags.get(name);
    if (value === undefined) continue;
    const text = (await readIfExists(value)) ?? (await readIfExists(join(dir, value.replace(/^\/etc\/kubernetes\//, ''))));
    if (!holds(text)) findings.push({ severity: 'error', message: `kube-apiserver --${name}=${value} does not trust the incoming ${rotation.ca} CA`, fix: `restart kube-apiserver with --${name}=${wanted}` });
  }
}

async function checkKeyModes(dir: string, findings: Finding[]): Promise<void> {
  for (const entry of AUTHORITY_LAYOUT) {
    const path = join(dir, `${entry.path}.key`);
    const info = await stat(path).catch(() => undefined);
    if (info && (info.mode & 0o077) !== 0) {
      findings.push({ severity: 'error', message: `${entry.path}.key is readable by group or others (mode ${(info.mode & 0o777).toString(8)})`, fix: `chmod 600 ${path}` });
    }
  }
}

function checkExpiry(loaded: LoadedPki, now: Date, within: number, findings: Finding[]): void {
  const all = [...[...loaded.authorities].map(([name, m]) => [name, m, 'rotate the CA with overlap (add the new CA to every bundle first)'] as const), ...[...loaded.certificates].map(([name, m]) => [name, m, `kubepki renew ${name}`] as const)];
  for (const [name, material, fix] of all) {
    const left = (material.certificate.notAfter.getTime() - now.getTime()) / 1000;
    if (left <= 0) findings.push({ severity: 'error', message: `${name} expired at ${material.certificate.notAfter.toISOString()}`, fix });
    else if (left < within) findings.push({ severity: 'warning', message: `${name} expires in ${Math.floor(left / 86_400)} days`, fix });
  }
}

/**
 * Reads a KubeletConfiguration: whether the kubelet serves a self-signed certificate (neither
 * serverTLSBootstrap nor tlsCertFile, kubernetes-pki.md §14), and adds findings for a kubelet that does not
 * verify client certificates or does not rotate its own.
 */
function kubeletServesSelfSigned(text: string, findings: Finding[]): boolean {
  let config: Record<string, unknown>;
  try {
    config = (parse(text) ?? {}) as Record<string, unknown>;
  } catch (cause) {
    throw new PkiError('ERR_ARGUMENT', 'the kubelet configuration is not YAML', { field: 'kubeletConfig', cause });
  }
  const x509 = ((config.authentication as Record<string, unknown> | undefined)?.x509 ?? {}) as Record<string, unknown>;
  if (!x509.clientCAFile) {
    findings.push({ severity: 'error', message: 'the kubelet has no authentication.x509.clientCAFile: it cannot authenticate the apiserver-kubelet-client certificate', fix: 'set clientCAFile to bundles/kubelet-client-ca-file.crt' });
  }
  if (config.rotateCertificates !== true) {
    findings.push({ severity: 'warning', message: 'the kubelet does not rotate its client certificate (rotateCertificates is not true)', fix: 'set rotateCertificates: true' });
  }
  return config.serverTLSBootstrap !== true && !config.tlsCertFile;
}
