import { PkiError } from './errors.js';
import type { CertificateProfile, ExtendedKeyUsageName, KeyUsageName, SanRule, SubjectRule } from './x509/profile.js';

const DAY = 24 * 60 * 60;
/** kubeadm's CertificateValidityPeriod: 8760 h (kubernetes-pki.md §3). */
export const LEAF_LIFETIME_SECONDS = 365 * DAY;
/** kubeadm's CACertificateValidityPeriod: 87600 h. */
export const CA_LIFETIME_SECONDS = 3650 * DAY;

const SERVING_SANS = { allowed: ['dns', 'ip'], requireDnsOrIp: true } as const;
const NO_SANS = { allowed: [] } as const;

function ca(name: string, fileBase: string, description: string) {
  return { name, fileBase, issuer: 'self', isCA: true, subject: {}, sans: { allowed: ['dns'] }, keyUsages: CA_KEY_USAGES, extendedKeyUsages: [], lifetimeSeconds: CA_LIFETIME_SECONDS, description } as const;
}

function leaf<const E extends readonly ExtendedKeyUsageName[]>(
  name: string,
  issuer: string,
  subject: SubjectRule,
  sans: SanRule,
  extendedKeyUsages: E,
  description: string,
  fileBase = name,
) {
  return { name, fileBase, issuer, isCA: false, subject, sans, keyUsages: ['digitalSignature'], extendedKeyUsages, lifetimeSeconds: LEAF_LIFETIME_SECONDS, description } as const;
}

// kubeadm gives CAs digitalSignature + keyEncipherment + keyCertSign, and every leaf digitalSignature +
// keyEncipherment whatever its key type. kubepki's CAs carry digitalSignature + keyCertSign + cRLSign (it
// issues revocation lists for decommissioned nodes) and never keyEncipherment; leaves add keyEncipherment
// for RSA keys only (expectedKeyUsages: RFC 8813 section 3, RFC 3279 2.3.1).
const CA_KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'keyCertSign', 'cRLSign'];
const NODE_SUBJECT = { commonNamePrefix: 'system:node:', organizationsExact: ['system:nodes'] } as const;

/**
 * The certificate kinds, one row each, as kubeadm's certlist.go lists them. Adding a kind is adding a
 * row. Subjects, usages and SAN rules follow kubernetes-pki.md (§1, §3, §9).
 */
export const PROFILES = deepFreeze({
  /** The cluster root CA (`ca.crt`); kubeadm's CN is `kubernetes`. */
  clusterCa: {
    name: 'ca',
    fileBase: 'ca',
    issuer: 'self',
    isCA: true,
    subject: {},
    sans: { allowed: ['dns'] },
    keyUsages: CA_KEY_USAGES,
    extendedKeyUsages: [],
    lifetimeSeconds: CA_LIFETIME_SECONDS,
    description: 'self-signed cluster root CA',
  },
  /** An intermediate CA signed by the cluster CA; path length 0 unless asked otherwise. */
  intermediateCa: {
    name: 'intermediate-ca',
    fileBase: 'intermediate-ca',
    issuer: 'ca',
    isCA: true,
    pathLength: 0,
    subject: {},
    sans: { allowed: ['dns'] },
    keyUsages: CA_KEY_USAGES,
    extendedKeyUsages: [],
    lifetimeSeconds: CA_LIFETIME_SECONDS,
    description: 'intermediate CA under the cluster CA',
  },
  /** A kubelet's client certificate: `system:node:<name>` / `system:nodes`, no SANs (§0 rule 2). */
  kubeletClient: {
    name: 'kubelet-client',
    fileBase: 'kubelet-client',
    issuer: 'ca',
    isCA: false,
    subject: NODE_SUBJECT,
    sans: { allowed: [] },
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['clientAuth'],
    lifetimeSeconds: LEAF_LIFETIME_SECONDS,
    description: 'kubelet -> apiserver client certificate',
  },
  /** A kubelet's serving certificate: same subject, at least one DNS or IP SAN (§0 rule 3). */
  kubeletServing: {
    name: 'kubelet-serving',
    fileBase: 'kubelet',
    issuer: 'ca',
    isCA: false,
    subject: NODE_SUBJECT,
    sans: { allowed: ['dns', 'ip'], requireDnsOrIp: true },
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['serverAuth'],
    lifetimeSeconds: LEAF_LIFETIME_SECONDS,
    description: 'kubelet serving certificate (apiserver -> kubelet)',
  },
  /** Any TLS server: names and addresses as SANs, never only in the CN (Go ignores the CN). */
  server: {
    name: 'server',
    fileBase: 'server',
    issuer: 'ca',
    isCA: false,
    subject: {},
    sans: { allowed: ['dns', 'ip'], requireDnsOrIp: true },
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['serverAuth'],
    lifetimeSeconds: LEAF_LIFETIME_SECONDS,
    description: 'generic TLS server certificate',
  },
  /** Any TLS client: the CN is the user name, each O a group. */
  client: {
    name: 'client',
    fileBase: 'client',
    issuer: 'ca',
    isCA: false,
    subject: {},
    sans: { allowed: ['dns', 'ip', 'email', 'uri'] },
    keyUsages: ['digitalSignature'],
    extendedKeyUsages: ['clientAuth'],
    lifetimeSeconds: LEAF_LIFETIME_SECONDS,
    description: 'generic TLS client certificate',
  },

  // kubeadm's control-plane certificates (kubernetes-pki.md §1): subjects as the current kubeadm writes them.
  /** kube-apiserver serving certificate; SANs are kubeadm's list (§2). */
  apiserver: leaf('apiserver', 'ca', { commonNameExact: 'kube-apiserver', organizationsExact: [] }, SERVING_SANS, ['serverAuth'], 'kube-apiserver serving certificate'),
  /** kube-apiserver -> kubelet client certificate (`--kubelet-client-certificate`). */
  apiserverKubeletClient: leaf(
    'apiserver-kubelet-client',
    'ca',
    { commonNameExact: 'kube-apiserver-kubelet-client', organizationsExact: ['kubeadm:cluster-admins'] },
    NO_SANS,
    ['clientAuth'],
    'kube-apiserver -> kubelet client certificate',
  ),
  /** The front-proxy CA: a separate root so that ordinary client certificates cannot act as a front proxy. */
  frontProxyCa: ca('front-proxy-ca', 'front-proxy-ca', 'front-proxy (request-header) CA'),
  frontProxyClient: leaf('front-proxy-client', 'front-proxy-ca', { commonNameExact: 'front-proxy-client', organizationsExact: [] }, NO_SANS, ['clientAuth'], 'front proxy -> apiserver client certificate (aggregation)'),
  etcdCa: ca('etcd-ca', 'etcd/ca', 'etcd CA'),
  /** etcd serving certificate; it carries clientAuth too, which etcd >= 3.2 needs (certlist.go). */
  etcdServer: leaf('etcd-server', 'etcd-ca', { organizationsExact: [] }, SERVING_SANS, ['serverAuth', 'clientAuth'], 'etcd serving certificate', 'etcd/server'),
  etcdPeer: leaf('etcd-peer', 'etcd-ca', { organizationsExact: [] }, SERVING_SANS, ['serverAuth', 'clientAuth'], 'etcd peer certificate', 'etcd/peer'),
  etcdHealthcheckClient: leaf(
    'etcd-healthcheck-client',
    'etcd-ca',
    { commonNameExact: 'kube-etcd-healthcheck-client', organizationsExact: [] },
    NO_SANS,
    ['clientAuth'],
    'etcd liveness probe client certificate',
    'etcd/healthcheck-client',
  ),
  apiserverEtcdClient: leaf('apiserver-etcd-client', 'etcd-ca', { commonNameExact: 'kube-apiserver-etcd-client', organizationsExact: [] }, NO_SANS, ['clientAuth'], 'kube-apiserver -> etcd client certificate'),
  /** Optional CA that signs only kubelet serving certificates, for `--kubelet-certificate-authority`. */
  kubeletServingCa: ca('kubelet-serving-ca', 'kubelet-serving-ca', 'CA for kubelet serving certificates'),

  // Konnectivity (kubernetes-pki.md §17).
  /** proxy-server serving certificate, for agents (`--cluster-cert`) and kube-apiserver (`--server-cert`). */
  konnectivityServer: leaf('konnectivity-server', 'ca', { commonNameExact: 'konnectivity-server', organizationsExact: [] }, SERVING_SANS, ['serverAuth'], 'Konnectivity proxy-server serving certificate'),
  /** Agent client certificate (`--agent-cert`), checked by the server's `--cluster-ca-cert`. */
  konnectivityAgent: leaf('konnectivity-agent', 'ca', { commonNameExact: 'konnectivity-agent', organizationsExact: [] }, NO_SANS, ['clientAuth'], 'Konnectivity agent client certificate'),
  /** kube-apiserver's client certificate for the proxy-server (EgressSelectorConfiguration `tlsConfig`). */
  konnectivityClient: leaf(
    'konnectivity-client',
    'ca',
    { commonNameExact: 'kube-apiserver-konnectivity-client', organizationsExact: [] },
    NO_SANS,
    ['clientAuth'],
    'kube-apiserver -> Konnectivity proxy-server client certificate',
  ),

  // Client certificates embedded in kubeadm's kubeconfig files (§4).
  admin: leaf('admin', 'ca', { commonNameExact: 'kubernetes-admin', organizationsExact: ['kubeadm:cluster-admins'] }, NO_SANS, ['clientAuth'], 'admin.conf client certificate', 'admin.conf'),
  superAdmin: leaf('super-admin', 'ca', { commonNameExact: 'kubernetes-super-admin', organizationsExact: ['system:masters'] }, NO_SANS, ['clientAuth'], 'super-admin.conf client certificate (bypasses RBAC)', 'super-admin.conf'),
  controllerManager: leaf(
    'controller-manager',
    'ca',
    { commonNameExact: 'system:kube-controller-manager', organizationsExact: [] },
    NO_SANS,
    ['clientAuth'],
    'controller-manager.conf client certificate',
    'controller-manager.conf',
  ),
  scheduler: leaf('scheduler', 'ca', { commonNameExact: 'system:kube-scheduler', organizationsExact: [] }, NO_SANS, ['clientAuth'], 'scheduler.conf client certificate', 'scheduler.conf'),

} as const satisfies Record<string, CertificateProfile>);

export type ProfileKey = keyof typeof PROFILES;

/** Every profile, in table order. */
export const PROFILE_LIST: readonly CertificateProfile[] = Object.values(PROFILES);

/** The profile with Kubernetes-style name `name` (e.g. `kubelet-serving`). */
export function profileByName(name: string): CertificateProfile {
  const profile = PROFILE_LIST.find((p) => p.name === name);
  if (!profile) throw new PkiError('ERR_PROFILE', `unknown profile "${name}"; known: ${PROFILE_LIST.map((p) => p.name).join(', ')}`, { field: 'profile' });
  return profile;
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) if (inner && typeof inner === 'object') deepFreeze(inner as object);
  return Object.freeze(value);
}
