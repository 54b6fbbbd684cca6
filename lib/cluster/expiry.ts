import type { CryptoOptions } from '../crypto/provider.js';
import { loadPkiDirectory, type DirectoryProblem } from './directory.js';
import { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT } from './layout.js';
import { entryFiles } from './material.js';

/**
 * One line of the expiry report, as `kubeadm certs check-expiration` prints it.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ExpiryRow {
  /** The entry's name, e.g. apiserver or admin.conf's `admin`. */
  readonly name: string;
  /** The entry's file relative to the directory: `pki/<name>.crt`, or the kubeconfig itself. */
  readonly file: string;
  /** The certificate's NotAfter. */
  readonly notAfter: Date;
  /** Seconds left; negative once expired. */
  readonly residualSeconds: number;
  /** The CA that signed it (leaves only). */
  readonly issuer?: string;
  /** A CA whose key is not in the directory (external CA). */
  readonly externallyManaged: boolean;
}

/**
 * What checkExpiration found in a directory: a row per certificate and CA, and the entries missing or broken.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface ExpiryReport {
  /** One row per leaf certificate and kubeconfig present, in kubeadm's order. */
  readonly certificates: readonly ExpiryRow[];
  /** One row per CA present. */
  readonly authorities: readonly ExpiryRow[];
  /** Entries of the layout that are absent, by name. */
  readonly missing: readonly string[];
  /** Entries present but unreadable, mismatched or not signed by their CA: they have no row. */
  readonly problems: readonly DirectoryProblem[];
}

/**
 * The expiry of every certificate and CA in a kubeadm-layout directory.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function checkExpiration(dir: string, options: CryptoOptions & { now?: Date } = {}): Promise<ExpiryReport> {
  const now = (options.now ?? new Date()).getTime();
  const loaded = await loadPkiDirectory(dir, options);
  const row = (name: string, file: string, notAfter: Date, extra: { issuer?: string; externallyManaged?: boolean }): ExpiryRow => ({
    name,
    file,
    notAfter,
    residualSeconds: Math.floor((notAfter.getTime() - now) / 1000),
    externallyManaged: extra.externallyManaged ?? false,
    ...(extra.issuer ? { issuer: extra.issuer } : {}),
  });
  const authorities = AUTHORITY_LAYOUT.flatMap((entry) => {
    const material = loaded.authorities.get(entry.name);
    return material ? [row(entry.name, entryFiles(entry)[0]!, material.certificate.notAfter, { externallyManaged: !material.keyPair })] : [];
  });
  const certificates = CERTIFICATE_LAYOUT.flatMap((entry) => {
    const material = loaded.certificates.get(entry.name);
    const ca = loaded.authorities.get(entry.ca!);
    return material ? [row(entry.name, entryFiles(entry)[0]!, material.certificate.notAfter, { issuer: entry.ca, externallyManaged: ca !== undefined && !ca.keyPair })] : [];
  });
  return { certificates, authorities, missing: loaded.missing, problems: loaded.problems };
}

/**
 * `365d`, `23h`, `<invalid>`: kubeadm's residual-time format.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function formatResidual(seconds: number): string {
  if (seconds <= 0) return '<invalid>';
  const days = Math.floor(seconds / 86_400);
  if (days >= 1) return `${days}d`;
  const hours = Math.floor(seconds / 3600);
  return hours >= 1 ? `${hours}h` : `${Math.floor(seconds / 60)}m`;
}
