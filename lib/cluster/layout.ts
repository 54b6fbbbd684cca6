// kubeadm's directory layout, derived from the kind table: which CAs and certificates live where.
import { PkiError } from '../errors.js';
import { PROFILE_LIST, type CertificateKind, type CertificateName, type DirectoryAuthorityName } from './kinds.js';

/**
 * One certificate in kubeadm's directory layout, independent of any cluster's values.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface LayoutEntry {
  /** The entry's name, e.g. ca, apiserver or admin: the profile's name. */
  readonly name: string;
  /** The certificate kind: its profile and file. */
  readonly profile: CertificateKind;
  /** `<path>.crt` / `<path>.key` relative to the directory; for kubeconfigs the file itself. */
  readonly path: string;
  /** Name of the CA that signs it (leaves only). */
  readonly ca?: string;
  /** True when the entry is a kubeconfig file (its certificate embedded) rather than a .crt/.key pair. */
  readonly kubeconfig: boolean;
}

const entry = (profile: CertificateKind): LayoutEntry => ({
  name: profile.name,
  profile,
  path: profile.file!,
  ...(profile.isCA ? {} : { ca: profile.issuer }),
  kubeconfig: profile.kubeconfigServer !== undefined,
});

const inDirectory = PROFILE_LIST.filter((p) => p.file !== undefined);

/** The CAs, in the order kubeadm creates them. */
export const AUTHORITY_LAYOUT: readonly LayoutEntry[] = inDirectory.filter((p) => p.isCA).map(entry);

/** The leaves and kubeconfigs, in kubeadm's order (certlist.go), then Konnectivity, then kubeconfigs. */
export const CERTIFICATE_LAYOUT: readonly LayoutEntry[] = inDirectory.filter((p) => !p.isCA).map(entry);

export const SERVICE_ACCOUNT_PATHS = { privateKey: 'pki/sa.key', publicKey: 'pki/sa.pub' } as const;

/** The layout entry of a CA, certificate or kubeconfig, by name or path. */
export function layoutEntry(name: DirectoryAuthorityName | CertificateName | (string & {})): LayoutEntry | undefined {
  return [...AUTHORITY_LAYOUT, ...CERTIFICATE_LAYOUT].find((e) => e.name === name || e.path === name);
}

/** The entry of one of the directory's CAs, by name; ERR_ARGUMENT naming `field` for any other text. */
export function authorityEntry(name: DirectoryAuthorityName | (string & {}), field = 'ca'): LayoutEntry {
  const found = AUTHORITY_LAYOUT.find((e) => e.name === name);
  if (!found) throw new PkiError('ERR_ARGUMENT', `unknown CA "${name}"; one of ${AUTHORITY_LAYOUT.map((e) => e.name).join(', ')}`, { field });
  return found;
}

/** The directory's kinds whose presence depends on the cluster config (a separate kubelet-serving CA, Konnectivity). */
export const OPTIONAL_ENTRIES: ReadonlySet<string> = new Set(inDirectory.filter((p) => p.when !== undefined).map((p) => p.name));

/** `text` as a certificate or kubeconfig name of the directory, or ERR_ARGUMENT naming `field`. */
export function certificateName(text: string, field: string): CertificateName {
  if (AUTHORITY_LAYOUT.some((e) => e.name === text)) throw new PkiError('ERR_ARGUMENT', `${text} is a CA; CAs are not renewed, they are rotated`, { field });
  const found = CERTIFICATE_LAYOUT.find((e) => e.name === text);
  if (!found) throw new PkiError('ERR_ARGUMENT', `unknown certificate "${text}"; known: ${CERTIFICATE_LAYOUT.map((e) => e.name).join(', ')}`, { field });
  return found.name as CertificateName;
}

/**
 * A file of the directory, relative to it: a CA's or certificate's `.crt`, `.key`, PKCS#11 reference or CRL, or a kubeconfig (suffix '').
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function layoutFile(name: DirectoryAuthorityName | CertificateName, suffix: '.crt' | '.key' | '.pkcs11.json' | '.crl' | ''): string {
  return `${layoutEntry(name)!.path}${suffix}`;
}
