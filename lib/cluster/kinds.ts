// The certificate kinds, one row each, as kubeadm's certlist.go lists them: what a certificate of the kind
// contains (subject, SANs, usages, lifetime), which CA signs it, and, for the kinds of kubeadm's directory,
// its file, whether it is a kubeconfig, when the cluster has it, and how its CN, SANs and server follow from
// the cluster config. Everything else (the layout, the plan, the CA tree, the optional set, the flag paths,
// the names `renew` accepts) is derived from these rows: adding a kind is adding a row.
import { PkiError } from '../errors.js';
import { sameMembersAndLength } from '../lists.js';
import type { SubjectAltNames } from '../x509/sans.js';
import type { Subject } from '../x509/names.js';
import type { CertificateProfile, KeyUsageName, SanRule, SubjectRule } from '../x509/profile.js';
import type { ResolvedClusterConfig } from './config.js';
import { apiServerSans, etcdSans, konnectivitySans } from './san-lists.js';

const DAY = 24 * 60 * 60;
/** kubeadm's CertificateValidityPeriod: 8760 h (docs/kubernetes-pki.md §3). */
export const LEAF_LIFETIME_SECONDS = 365 * DAY;
/** kubeadm's CACertificateValidityPeriod: 87600 h. */
export const CA_LIFETIME_SECONDS = 3650 * DAY;

/**
 * The CAs a row may name as its signer.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type AuthorityName = 'ca' | 'front-proxy-ca' | 'etcd-ca' | 'kubelet-serving-ca' | 'intermediate-ca';

/**
 * One certificate kind: its content rules, and where and when it lives in a kubeadm directory.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface CertificateKind extends CertificateProfile {
  /** The CA that signs it, or `self` for a root. */
  readonly issuer: AuthorityName | 'self';
  /** Its place in kubeadm's directory: `pki/<base>` (`.crt`, `.key`), or a kubeconfig's file name. Absent: not part of the directory. */
  readonly file?: string;
  /** A kubeconfig embedding the client certificate, pointing at this API server URL. */
  readonly kubeconfigServer?: (config: ResolvedClusterConfig) => string;
  /** The cluster has it only when this holds; absent: always. */
  readonly when?: (config: ResolvedClusterConfig) => boolean;
  /** Its CN in a cluster; absent: the subject rule's exact CN. */
  readonly commonName?: (config: ResolvedClusterConfig) => string;
  /** Its SANs in a cluster; absent: none. */
  readonly subjectAltNames?: (config: ResolvedClusterConfig) => SubjectAltNames;
  /** Its O values (groups) in a cluster, when they depend on the Kubernetes version; absent: the subject rule's exact list. */
  readonly organizations?: (config: ResolvedClusterConfig) => readonly string[];
  /** The subject rules earlier Kubernetes versions gave the kind: a certificate made under one is renewed or signed as it is. */
  readonly earlierSubjects?: readonly SubjectRule[];
}

// kubeadm gives CAs digitalSignature + keyEncipherment + keyCertSign, and every leaf digitalSignature +
// keyEncipherment whatever its key type. kubepki's CAs carry digitalSignature + keyCertSign + cRLSign (it
// issues revocation lists for decommissioned nodes) and never keyEncipherment; leaves add keyEncipherment
// for RSA keys only (expectedKeyUsages: RFC 8813 section 3, RFC 3279 2.3.1).
const CA_KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'keyCertSign', 'cRLSign'];
const LEAF_KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature'];
const SERVING_SANS: SanRule = { allowed: ['dns', 'ip'], requireDnsOrIp: true };
const NO_SANS: SanRule = { allowed: [] };
const NODE_SUBJECT: SubjectRule = { commonNamePrefix: 'system:node:', organizationsExact: ['system:nodes'] };

type AuthorityRow = { name: string; description: string; file?: string; commonName?: string; issuer?: AuthorityName; pathLength?: number; when?: CertificateKind['when'] };
type LeafRow = Omit<CertificateKind, 'isCA' | 'keyUsages' | 'lifetimeSeconds' | 'issuer'> & { issuer: AuthorityName };
type ClientRow = Omit<LeafRow, 'subject' | 'sans' | 'extendedKeyUsages'> & {
  user: string;
  groups?: readonly string[];
  /** Before Kubernetes 1.<minor>, kubeadm put the user in these groups instead. */
  groupsBefore?: { readonly minor: number; readonly groups: readonly string[] };
  file: string;
};

// The builders keep each row's own literal types (its name, whether it has a file), from which the name
// unions below are derived.

/** A CA row: self-signed unless `issuer` says otherwise; its CN in a cluster is `commonName`. */
function authority<const R extends AuthorityRow>(row: R) {
  const { commonName, issuer, ...rest } = row;
  return {
    ...rest,
    issuer: issuer ?? 'self',
    isCA: true,
    subject: {},
    sans: { allowed: ['dns'] },
    keyUsages: CA_KEY_USAGES,
    extendedKeyUsages: [],
    lifetimeSeconds: CA_LIFETIME_SECONDS,
    ...(commonName === undefined ? {} : { commonName: () => commonName }),
  } as const;
}

/** A leaf row: digitalSignature, one year, the given subject rule, SAN rule and extended key usages. */
function leaf<const R extends LeafRow>(row: R) {
  return { ...row, isCA: false, keyUsages: LEAF_KEY_USAGES, lifetimeSeconds: LEAF_LIFETIME_SECONDS } as const;
}

/** A client certificate with a fixed CN and groups, and no SANs (control-plane clients and kubeconfig users). */
function client<const R extends ClientRow>(row: R) {
  const { user, groups, groupsBefore, ...rest } = row;
  const subject: SubjectRule = { commonNameExact: user, organizationsExact: groups ?? [] };
  const versioned = groupsBefore && {
    organizations: (config: ResolvedClusterConfig) => (before(groupsBefore.minor)(config) ? groupsBefore.groups : subject.organizationsExact!),
    earlierSubjects: [{ ...subject, organizationsExact: groupsBefore.groups }],
  };
  return leaf({ ...rest, subject, sans: NO_SANS, extendedKeyUsages: ['clientAuth'] as const, ...versioned });
}

/** Whether the cluster follows a kubeadm older than 1.`minor` (an unset version is the newest). */
const before =
  (minor: number) =>
  (config: ResolvedClusterConfig): boolean =>
    config.kubernetesMinor !== undefined && config.kubernetesMinor < minor;
const konnectivity = (config: ResolvedClusterConfig): boolean => config.konnectivity;
const endpoint = (config: ResolvedClusterConfig): string => config.endpointUrl;
const localApi = (config: ResolvedClusterConfig): string => config.localApiUrl;

// The rows. Subjects, usages and SAN rules follow docs/kubernetes-pki.md (§1, §3, §9); the directory rows are
// in kubeadm's order (CAs, certlist.go's leaves, Konnectivity, then kubeconfigs).
const KINDS = deepFreeze({
  /** The cluster root CA (`ca.crt`); kubeadm's CN is `kubernetes`. */
  clusterCa: authority({ name: 'ca', description: 'self-signed cluster root CA', file: 'pki/ca', commonName: 'kubernetes' }),
  /** An intermediate CA signed by the cluster CA; path length 0 unless asked otherwise. */
  intermediateCa: authority({ name: 'intermediate-ca', description: 'intermediate CA under the cluster CA', issuer: 'ca', pathLength: 0 }),
  /** A kubelet's client certificate: `system:node:<name>` / `system:nodes`, no SANs (§0 rule 2). */
  kubeletClient: leaf({ name: 'kubelet-client', issuer: 'ca', subject: NODE_SUBJECT, sans: NO_SANS, extendedKeyUsages: ['clientAuth'], description: 'kubelet -> apiserver client certificate' }),
  /** A kubelet's serving certificate: same subject, at least one DNS or IP SAN (§0 rule 3). */
  kubeletServing: leaf({ name: 'kubelet-serving', issuer: 'ca', subject: NODE_SUBJECT, sans: SERVING_SANS, extendedKeyUsages: ['serverAuth'], description: 'kubelet serving certificate (apiserver -> kubelet)' }),
  /** Any TLS server: names and addresses as SANs, never only in the CN (Go ignores the CN). */
  server: leaf({ name: 'server', issuer: 'ca', subject: {}, sans: SERVING_SANS, extendedKeyUsages: ['serverAuth'], description: 'generic TLS server certificate' }),
  /** Any TLS client: the CN is the user name, each O a group. */
  client: leaf({ name: 'client', issuer: 'ca', subject: {}, sans: { allowed: ['dns', 'ip', 'email', 'uri'] }, extendedKeyUsages: ['clientAuth'], description: 'generic TLS client certificate' }),

  // kubeadm's directory (docs/kubernetes-pki.md §1): subjects as the current kubeadm writes them.
  /** The front-proxy CA: a separate root so that ordinary client certificates cannot act as a front proxy. */
  frontProxyCa: authority({ name: 'front-proxy-ca', description: 'front-proxy (request-header) CA', file: 'pki/front-proxy-ca', commonName: 'front-proxy-ca' }),
  etcdCa: authority({ name: 'etcd-ca', description: 'etcd CA', file: 'pki/etcd/ca', commonName: 'etcd-ca' }),
  /** Optional CA that signs only kubelet serving certificates, for `--kubelet-certificate-authority`. */
  kubeletServingCa: authority({
    name: 'kubelet-serving-ca',
    description: 'CA for kubelet serving certificates',
    file: 'pki/kubelet-serving-ca',
    commonName: 'kubelet-serving-ca',
    when: (config) => config.separateKubeletServingCa,
  }),
  /** kube-apiserver serving certificate; SANs are kubeadm's list (§2). */
  apiserver: leaf({
    name: 'apiserver',
    issuer: 'ca',
    subject: { commonNameExact: 'kube-apiserver', organizationsExact: [] },
    sans: SERVING_SANS,
    extendedKeyUsages: ['serverAuth'],
    description: 'kube-apiserver serving certificate',
    file: 'pki/apiserver',
    subjectAltNames: apiServerSans,
  }),
  /** kube-apiserver -> kubelet client certificate (`--kubelet-client-certificate`). */
  apiserverKubeletClient: client({
    name: 'apiserver-kubelet-client',
    issuer: 'ca',
    user: 'kube-apiserver-kubelet-client',
    groups: ['kubeadm:cluster-admins'],
    // Before 1.29 kubeadm put it in system:masters (certlist.go), and such a cluster has no kubeadm:cluster-admins binding.
    groupsBefore: { minor: 29, groups: ['system:masters'] },
    description: 'kube-apiserver -> kubelet client certificate',
    file: 'pki/apiserver-kubelet-client',
  }),
  frontProxyClient: client({ name: 'front-proxy-client', issuer: 'front-proxy-ca', user: 'front-proxy-client', description: 'front proxy -> apiserver client certificate (aggregation)', file: 'pki/front-proxy-client' }),
  /** etcd serving certificate; it carries clientAuth too, which etcd >= 3.2 needs (certlist.go). */
  etcdServer: leaf({
    name: 'etcd-server',
    issuer: 'etcd-ca',
    subject: { organizationsExact: [] },
    sans: SERVING_SANS,
    extendedKeyUsages: ['serverAuth', 'clientAuth'],
    description: 'etcd serving certificate',
    file: 'pki/etcd/server',
    commonName: (config) => config.nodeName,
    subjectAltNames: (config) => etcdSans(config, config.etcdServerCertSans, 'config.etcdServerCertSans'),
  }),
  etcdPeer: leaf({
    name: 'etcd-peer',
    issuer: 'etcd-ca',
    subject: { organizationsExact: [] },
    sans: SERVING_SANS,
    extendedKeyUsages: ['serverAuth', 'clientAuth'],
    description: 'etcd peer certificate',
    file: 'pki/etcd/peer',
    commonName: (config) => config.nodeName,
    subjectAltNames: (config) => etcdSans(config, config.etcdPeerCertSans, 'config.etcdPeerCertSans'),
  }),
  etcdHealthcheckClient: client({ name: 'etcd-healthcheck-client', issuer: 'etcd-ca', user: 'kube-etcd-healthcheck-client', description: 'etcd liveness probe client certificate', file: 'pki/etcd/healthcheck-client' }),
  apiserverEtcdClient: client({ name: 'apiserver-etcd-client', issuer: 'etcd-ca', user: 'kube-apiserver-etcd-client', description: 'kube-apiserver -> etcd client certificate', file: 'pki/apiserver-etcd-client' }),

  // Konnectivity (docs/kubernetes-pki.md §17).
  /** proxy-server serving certificate, for agents (`--cluster-cert`) and kube-apiserver (`--server-cert`). */
  konnectivityServer: leaf({
    name: 'konnectivity-server',
    issuer: 'ca',
    subject: { commonNameExact: 'konnectivity-server', organizationsExact: [] },
    sans: SERVING_SANS,
    extendedKeyUsages: ['serverAuth'],
    description: 'Konnectivity proxy-server serving certificate',
    file: 'pki/konnectivity-server',
    when: konnectivity,
    subjectAltNames: konnectivitySans,
  }),
  /** Agent client certificate (`--agent-cert`), checked by the server's `--cluster-ca-cert`. */
  konnectivityAgent: client({ name: 'konnectivity-agent', issuer: 'ca', user: 'konnectivity-agent', description: 'Konnectivity agent client certificate', file: 'pki/konnectivity-agent', when: konnectivity }),
  /** kube-apiserver's client certificate for the proxy-server (EgressSelectorConfiguration `tlsConfig`). */
  konnectivityClient: client({
    name: 'konnectivity-client',
    issuer: 'ca',
    user: 'kube-apiserver-konnectivity-client',
    description: 'kube-apiserver -> Konnectivity proxy-server client certificate',
    file: 'pki/konnectivity-client',
    when: konnectivity,
  }),

  // Client certificates embedded in kubeadm's kubeconfig files (§4). kubeadm 1.29 moved admin.conf's user out
  // of system:masters into kubeadm:cluster-admins (bound to cluster-admin by RBAC) and added super-admin.conf
  // for the break-glass system:masters user (kubernetes/kubernetes#121305).
  admin: client({
    name: 'admin',
    issuer: 'ca',
    user: 'kubernetes-admin',
    groups: ['kubeadm:cluster-admins'],
    groupsBefore: { minor: 29, groups: ['system:masters'] },
    description: 'admin.conf client certificate',
    file: 'admin.conf',
    kubeconfigServer: endpoint,
  }),
  superAdmin: client({
    name: 'super-admin',
    issuer: 'ca',
    user: 'kubernetes-super-admin',
    groups: ['system:masters'],
    description: 'super-admin.conf client certificate (bypasses RBAC)',
    file: 'super-admin.conf',
    kubeconfigServer: endpoint,
    when: (config) => !before(29)(config),
  }),
  controllerManager: client({ name: 'controller-manager', issuer: 'ca', user: 'system:kube-controller-manager', description: 'controller-manager.conf client certificate', file: 'controller-manager.conf', kubeconfigServer: localApi }),
  scheduler: client({ name: 'scheduler', issuer: 'ca', user: 'system:kube-scheduler', description: 'scheduler.conf client certificate', file: 'scheduler.conf', kubeconfigServer: localApi }),
  /** The control-plane node's own kubelet, as kubeadm's kubeconfig phase writes it: `system:node:<node>` in system:nodes. */
  kubelet: leaf({
    name: 'kubelet',
    issuer: 'ca',
    subject: NODE_SUBJECT,
    sans: NO_SANS,
    extendedKeyUsages: ['clientAuth'],
    description: "kubelet.conf client certificate (the control-plane node's kubelet)",
    file: 'kubelet.conf',
    kubeconfigServer: endpoint,
    commonName: (config) => `system:node:${config.nodeName}`,
  }),
} as const satisfies Record<string, CertificateKind>);

/**
 * The certificate kinds as declared, each with its literal values (names, files, issuers), which
 * {@link ProfileKey}, {@link KindName} and the name types are drawn from. Not exported: it is the type of
 * the internal KINDS table, whose rows the reference documents as {@link CertificateKind}.
 */
type Kinds = typeof KINDS;

/**
 * The certificate kinds, one {@link CertificateKind} per key, frozen. Each row holds a kind's content rules
 * (subject, SANs, key usages, lifetime: the profile {@link issueCertificate} checks a request against), the CA
 * that signs it (`issuer`), and for the kinds of kubeadm's directory its file, whether it is a kubeconfig and
 * when a cluster has it. The layout, the plan, the component flags, the audit and the names
 * {@link renewCertificates} accepts all derive from these rows.
 *
 * - Generic kinds: `clusterCa`, `intermediateCa` (path length 0), `kubeletClient` (`system:node:<name>` in
 *   `system:nodes`, no SANs), `kubeletServing` (same subject, at least one DNS or IP SAN), `server`, `client`.
 * - kubeadm's `pki/` directory: `frontProxyCa`, `etcdCa`, `kubeletServingCa` (only with
 *   `separateKubeletServingCa`), `apiserver`, `apiserverKubeletClient`, `frontProxyClient`, `etcdServer`,
 *   `etcdPeer`, `etcdHealthcheckClient`, `apiserverEtcdClient`, and with Konnectivity `konnectivityServer`,
 *   `konnectivityAgent`, `konnectivityClient`.
 * - The client certificates of kubeadm's kubeconfig files: `admin`, `superAdmin` (from Kubernetes 1.29),
 *   `controllerManager`, `scheduler`, `kubelet`.
 *
 * CAs carry digitalSignature, keyCertSign and cRLSign and live ten years; leaves carry digitalSignature
 * (plus keyEncipherment for RSA keys) and live one year, as kubeadm's defaults. The facts behind the rows are
 * in docs/kubernetes-pki.md §1 (kubeadm's inventory), §3 (how kubeadm builds certificates) and §9 (the kubelet's
 * CSR shapes).
 *
 * @example
 * ```ts
 * PROFILES.apiserver.file; // 'pki/apiserver'
 * PROFILES.kubeletServing.extendedKeyUsages; // ['serverAuth']
 * ```
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export const PROFILES: { readonly [K in ProfileKey]: Kinds[K] } = KINDS;
/**
 * A key of {@link PROFILES}, e.g. `kubeletServing`.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type ProfileKey = keyof Kinds;
/**
 * Every kind's name, e.g. `kubelet-serving`.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type KindName = Kinds[ProfileKey]['name'];
/**
 * The CAs of kubeadm's directory.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type DirectoryAuthorityName = { [K in ProfileKey]: Kinds[K] extends { isCA: true; file: string } ? Kinds[K]['name'] : never }[ProfileKey];
/**
 * The leaves and kubeconfigs of kubeadm's directory: what `renewCertificates` accepts.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type CertificateName = { [K in ProfileKey]: Kinds[K] extends { isCA: false; file: string } ? Kinds[K]['name'] : never }[ProfileKey];

/** Every kind, in table order. */
export const PROFILE_LIST: readonly CertificateKind[] = Object.values(KINDS);

/** The kind with Kubernetes-style name `name` (e.g. `kubelet-serving`). */
export function profileByName(name: string): CertificateKind {
  const profile = PROFILE_LIST.find((p) => p.name === name);
  if (!profile) throw new PkiError('ERR_PROFILE', `unknown profile "${name}"; known: ${PROFILE_LIST.map((p) => p.name).join(', ')}`, { field: 'profile' });
  return profile;
}

/** The kind as a cluster has it: its subject rule with the cluster's groups (admin before 1.29: system:masters). */
export function kindInCluster(kind: CertificateKind, config: ResolvedClusterConfig): CertificateKind {
  const organizations = kind.organizations?.(config);
  if (organizations === undefined || sameList(organizations, kind.subject.organizationsExact)) return kind;
  return Object.freeze({ ...kind, subject: Object.freeze({ ...kind.subject, organizationsExact: organizations }) });
}

/**
 * The kind whose subject rule `subject` meets: the row, or the row with the subject rule of the earlier
 * Kubernetes version the certificate was made for (an admin.conf of 1.28 renews in system:masters, as
 * `kubeadm certs renew` keeps a certificate's subject). A subject that meets none gets the row, which refuses it.
 */
export function kindForSubject(kind: CertificateKind, subject: Subject): CertificateKind {
  const organizations = subject.organizations ?? [];
  const earlier = kind.earlierSubjects?.find((rule) => rule.commonNameExact === subject.commonName && sameList(organizations, rule.organizationsExact));
  return earlier ? Object.freeze({ ...kind, subject: earlier }) : kind;
}

function sameList(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && sameMembersAndLength(a, b);
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) if (inner && typeof inner === 'object') deepFreeze(inner as object);
  return Object.freeze(value);
}
