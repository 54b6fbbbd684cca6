import type { KeySpec } from '../crypto/keys.js';
import { PROFILES } from '../profiles.js';
import { isDnsName, type Subject } from '../x509/names.js';
import { parseIp } from '../x509/ip.js';
import { normalizeSans, sansFromHosts, type SubjectAltNames } from '../x509/sans.js';
import { resolveClusterConfig, type ClusterConfig, type ResolvedClusterConfig } from './config.js';
import { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT, SERVICE_ACCOUNT_PATHS, type LayoutEntry } from './layout.js';

/** A CA the cluster needs, and where kubeadm keeps it (`<path>.crt`, `<path>.key`, relative to the directory). */
export interface PlannedAuthority extends LayoutEntry {
  readonly subject: Subject;
  readonly sans: SubjectAltNames;
}

/** A kubeconfig file that embeds a client certificate. */
export interface PlannedKubeconfig {
  /** File name relative to the directory, e.g. `admin.conf`. */
  readonly file: string;
  readonly server: string;
  readonly user: string;
}

/** A leaf certificate: its profile, issuing CA, subject, SANs and files (or kubeconfig). */
export interface PlannedCertificate extends LayoutEntry {
  /** Name of the PlannedAuthority that signs it. */
  readonly ca: string;
  readonly subject: Subject;
  readonly sans: SubjectAltNames;
  readonly kubeconfigFile?: PlannedKubeconfig;
}

export interface ClusterPlan {
  readonly config: ResolvedClusterConfig;
  readonly authorities: readonly PlannedAuthority[];
  readonly certificates: readonly PlannedCertificate[];
  /**
   * `sa.key` / `sa.pub`: the service-account signing key pair (not a certificate), of `keySpec`: RSA or
   * ECDSA whatever the certificates' key type, as kube-apiserver refuses any other (see serviceAccountKeySpec).
   */
  readonly serviceAccount: { readonly privateKeyPath: string; readonly publicKeyPath: string; readonly keySpec: KeySpec };
}

const NONE = normalizeSans(undefined);

/**
 * The key type of `sa.key` for a cluster whose certificates use `spec`. kube-apiserver's
 * --service-account-signing-key-file takes only RSA and ECDSA keys ("unknown private key type
 * ed25519.PrivateKey"), so Ed25519 clusters get an ECDSA P-256 service-account key; RSA and ECDSA keep theirs.
 */
export function serviceAccountKeySpec(spec: KeySpec): KeySpec {
  return spec === 'ed25519' ? 'ecdsa-p256' : spec;
}

/** Turns a ClusterConfig into the full list of CAs, certificates and kubeconfigs to make. Pure. */
export function planCluster(input: ClusterConfig): ClusterPlan {
  const config = resolveClusterConfig(input);
  const authorities = AUTHORITY_LAYOUT.filter((e) => e.name !== PROFILES.kubeletServingCa.name || config.separateKubeletServingCa).map(
    (e): PlannedAuthority => ({ ...e, subject: { commonName: AUTHORITY_NAMES[e.name]!, organizations: [] }, sans: normalizeSans({ dns: [AUTHORITY_NAMES[e.name]!] }) }),
  );
  const etcdSans = (extra: readonly string[]): SubjectAltNames =>
    mergeSans(normalizeSans({ dns: [config.nodeName, 'localhost'], ips: [config.advertiseAddress, '127.0.0.1', '::1'] }), sansFromHosts(extra, 'config.etcdCertSans'));
  const values: Record<string, { sans?: SubjectAltNames; commonName?: string; server?: string } | undefined> = {
    [PROFILES.apiserver.name]: { sans: apiServerSans(config) },
    [PROFILES.etcdServer.name]: { sans: etcdSans(config.etcdServerCertSans), commonName: config.nodeName },
    [PROFILES.etcdPeer.name]: { sans: etcdSans(config.etcdPeerCertSans), commonName: config.nodeName },
    [PROFILES.konnectivityServer.name]: { sans: konnectivitySans(config) },
    [PROFILES.admin.name]: { server: config.endpointUrl },
    [PROFILES.superAdmin.name]: { server: config.endpointUrl },
    [PROFILES.controllerManager.name]: { server: config.localApiUrl },
    [PROFILES.scheduler.name]: { server: config.localApiUrl },
  };
  const certificates = CERTIFICATE_LAYOUT.filter((e) => config.konnectivity || !e.name.startsWith('konnectivity-')).map((e): PlannedCertificate => {
    const value = values[e.name] ?? {};
    const { profile } = e;
    return {
      ...e,
      ca: e.ca!,
      subject: { commonName: value.commonName ?? profile.subject.commonNameExact!, organizations: [...(profile.subject.organizationsExact ?? [])] },
      sans: value.sans ?? NONE,
      ...(e.kubeconfig ? { kubeconfigFile: { file: e.path, server: value.server!, user: profile.subject.commonNameExact! } } : {}),
    };
  });
  return { config, authorities, certificates, serviceAccount: { privateKeyPath: SERVICE_ACCOUNT_PATHS.privateKey, publicKeyPath: SERVICE_ACCOUNT_PATHS.publicKey, keySpec: serviceAccountKeySpec(config.keySpec) } };
}

/** CA common names as kubeadm writes them (kubernetes-pki.md §1). */
const AUTHORITY_NAMES: Record<string, string> = {
  [PROFILES.clusterCa.name]: 'kubernetes',
  [PROFILES.frontProxyCa.name]: 'front-proxy-ca',
  [PROFILES.etcdCa.name]: 'etcd-ca',
  [PROFILES.kubeletServingCa.name]: 'kubelet-serving-ca',
};

/**
 * kubeadm's apiserver SANs (kubernetes-pki.md §2): the node name, `kubernetes`, `kubernetes.default`,
 * `kubernetes.default.svc`, `kubernetes.default.svc.<domain>`; the Service IP and advertise address; the
 * control-plane endpoint host; the extra SANs (anything neither IP nor DNS name is skipped). DNS names
 * are sorted and de-duplicated, IPs de-duplicated in order.
 */
export function apiServerSans(config: ResolvedClusterConfig): SubjectAltNames {
  const dns = [config.nodeName, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${config.dnsDomain}`];
  const ips = [config.apiServerServiceIp, config.advertiseAddress];
  for (const host of [config.endpointHost, ...config.apiServerCertSans]) {
    if (parseIp(host)) ips.push(host);
    else if (isDnsName(host) || (host.startsWith('*.') && isDnsName(host.slice(2)))) dns.push(host);
  }
  const sans = normalizeSans({ dns, ips }, 'config.apiServerCertSans');
  return { ...sans, dns: [...sans.dns].sort() };
}

function konnectivitySans(config: ResolvedClusterConfig): SubjectAltNames {
  return mergeSans(sansFromHosts([config.konnectivityServerHost], 'config.konnectivityServerHost'), normalizeSans({ dns: ['localhost'], ips: [config.advertiseAddress, '127.0.0.1'] }));
}

function mergeSans(a: SubjectAltNames, b: SubjectAltNames): SubjectAltNames {
  return normalizeSans({ dns: [...a.dns, ...b.dns], ips: [...a.ips, ...b.ips], emails: [...a.emails, ...b.emails], uris: [...a.uris, ...b.uris] });
}
