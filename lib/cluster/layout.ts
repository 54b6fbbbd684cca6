import { PROFILES } from '../profiles.js';
import type { CertificateProfile } from '../x509/profile.js';

/** One certificate in kubeadm's directory layout, independent of any cluster's values. */
export interface LayoutEntry {
  readonly name: string;
  readonly profile: CertificateProfile;
  /** `<path>.crt` / `<path>.key` relative to the directory; for kubeconfigs the file itself. */
  readonly path: string;
  /** Name of the CA that signs it (leaves only). */
  readonly ca?: string;
  readonly kubeconfig: boolean;
}

const entry = (profile: CertificateProfile, kubeconfig = false): LayoutEntry => ({
  name: profile.name,
  profile,
  path: kubeconfig ? profile.fileBase : `pki/${profile.fileBase}`,
  ...(profile.isCA ? {} : { ca: profile.issuer }),
  kubeconfig,
});

/** The CAs, in the order kubeadm creates them. */
export const AUTHORITY_LAYOUT: readonly LayoutEntry[] = [PROFILES.clusterCa, PROFILES.frontProxyCa, PROFILES.etcdCa, PROFILES.kubeletServingCa].map((p) => entry(p));

/** The leaves and kubeconfigs, in kubeadm's order (certlist.go), then Konnectivity, then kubeconfigs. */
export const CERTIFICATE_LAYOUT: readonly LayoutEntry[] = [
  ...[
    PROFILES.apiserver,
    PROFILES.apiserverKubeletClient,
    PROFILES.frontProxyClient,
    PROFILES.etcdServer,
    PROFILES.etcdPeer,
    PROFILES.etcdHealthcheckClient,
    PROFILES.apiserverEtcdClient,
    PROFILES.konnectivityServer,
    PROFILES.konnectivityAgent,
    PROFILES.konnectivityClient,
  ].map((p) => entry(p)),
  ...[PROFILES.admin, PROFILES.superAdmin, PROFILES.controllerManager, PROFILES.scheduler].map((p) => entry(p, true)),
];

export const SERVICE_ACCOUNT_PATHS = { privateKey: 'pki/sa.key', publicKey: 'pki/sa.pub' } as const;

export function layoutEntry(name: string): LayoutEntry | undefined {
  return [...AUTHORITY_LAYOUT, ...CERTIFICATE_LAYOUT].find((e) => e.name === name || e.path === name);
}
