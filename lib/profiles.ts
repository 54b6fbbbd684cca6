import { PkiError } from './errors.js';
import type { CertificateProfile, KeyUsageName } from './x509/profile.js';

const DAY = 24 * 60 * 60;
/** kubeadm's CertificateValidityPeriod: 8760 h (kubernetes-pki.md §3). */
export const LEAF_LIFETIME_SECONDS = 365 * DAY;
/** kubeadm's CACertificateValidityPeriod: 87600 h. */
export const CA_LIFETIME_SECONDS = 3650 * DAY;

// kubeadm gives CAs digitalSignature + keyEncipherment + keyCertSign; kubepki adds cRLSign because it
// issues revocation lists for decommissioned nodes, and (like every profile) keyEncipherment only for RSA keys.
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
