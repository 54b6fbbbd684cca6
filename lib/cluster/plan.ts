import type { KeySpec } from '../crypto/keys.js';
import type { Subject } from '../x509/names.js';
import { normalizeSans, type SubjectAltNames } from '../x509/sans.js';
import { resolveClusterConfig, type ClusterConfig, type ResolvedClusterConfig } from './config.js';
import { kindInCluster } from './kinds.js';
import { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT, SERVICE_ACCOUNT_PATHS, type LayoutEntry } from './layout.js';

/**
 * A CA the cluster needs, and where kubeadm keeps it (`<path>.crt`, `<path>.key`, relative to the directory).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface PlannedAuthority extends LayoutEntry {
  /** The CA's subject: its CN (e.g. kubernetes, etcd-ca), no O. */
  readonly subject: Subject;
  /** The CA's SANs: the CA's CN as a DNS name, as kubeadm writes. */
  readonly sans: SubjectAltNames;
}

/**
 * A kubeconfig file that embeds a client certificate.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface PlannedKubeconfig {
  /** File name relative to the directory, e.g. `admin.conf`. */
  readonly file: string;
  /** The API server URL the kubeconfig names, e.g. https://10.0.0.1:6443. */
  readonly server: string;
  /** The kubeconfig's user name: the certificate's CN, e.g. kubernetes-admin. */
  readonly user: string;
}

/**
 * A leaf certificate: its profile, issuing CA, subject, SANs and files (or kubeconfig).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface PlannedCertificate extends LayoutEntry {
  /** Name of the PlannedAuthority that signs it. */
  readonly ca: string;
  /** The certificate's subject, with this cluster's values (e.g. CN=system:node:<nodeName> for a kubelet). */
  readonly subject: Subject;
  /** The certificate's SANs, from the cluster config (e.g. kube-apiserver's service IP, endpoint and certSANs). */
  readonly sans: SubjectAltNames;
  /** The kubeconfig that embeds the certificate, for the kubeconfig entries (admin.conf, ...). */
  readonly kubeconfigFile?: PlannedKubeconfig;
}

/**
 * What initPkiDirectory would write for a cluster config: every CA, leaf certificate, kubeconfig and the service-account key pair.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ClusterPlan {
  /** The cluster config the plan was made from, with every default applied. */
  readonly config: ResolvedClusterConfig;
  /** The CAs to create, in kubeadm's order. */
  readonly authorities: readonly PlannedAuthority[];
  /** The leaf certificates and kubeconfigs to issue, in kubeadm's order. */
  readonly certificates: readonly PlannedCertificate[];
  /**
   * `sa.key` / `sa.pub`: the service-account signing key pair (not a certificate), of `keySpec`: RSA or
   * ECDSA whatever the certificates' key type, as kube-apiserver refuses any other (see serviceAccountKeySpec).
   */
  readonly serviceAccount: {
    /** Where the private key goes, relative to the directory: pki/sa.key. */
    readonly privateKeyPath: string;
    /** Where the public key goes, relative to the directory: pki/sa.pub. */
    readonly publicKeyPath: string;
    /** The key's type: RSA or ECDSA. */
    readonly keySpec: KeySpec;
  };
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

/**
 * Turns a ClusterConfig into the full list of CAs, certificates and kubeconfigs to make, from the kind table's rows. Pure.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function planCluster(input: ClusterConfig): ClusterPlan {
  const config = resolveClusterConfig(input);
  const present = (e: LayoutEntry): boolean => e.profile.when?.(config) ?? true;
  const commonName = (e: LayoutEntry): string => e.profile.commonName?.(config) ?? e.profile.subject.commonNameExact!;
  const authorities = AUTHORITY_LAYOUT.filter(present).map((e): PlannedAuthority => ({ ...e, subject: { commonName: commonName(e), organizations: [] }, sans: normalizeSans({ dns: [commonName(e)] }) }));
  const certificates = CERTIFICATE_LAYOUT.filter(present).map((e): PlannedCertificate => {
    // The row as this cluster's Kubernetes version has it (admin.conf's groups), so that init checks against it.
    const profile = kindInCluster(e.profile, config);
    return {
      ...e,
      profile,
      ca: e.ca!,
      subject: { commonName: commonName(e), organizations: [...(profile.subject.organizationsExact ?? [])] },
      sans: profile.subjectAltNames?.(config) ?? NONE,
      ...(profile.kubeconfigServer ? { kubeconfigFile: { file: e.path, server: profile.kubeconfigServer(config), user: commonName(e) } } : {}),
    };
  });
  return { config, authorities, certificates, serviceAccount: { privateKeyPath: SERVICE_ACCOUNT_PATHS.privateKey, publicKeyPath: SERVICE_ACCOUNT_PATHS.publicKey, keySpec: serviceAccountKeySpec(config.keySpec) } };
}

export { apiServerSans } from './san-lists.js';
