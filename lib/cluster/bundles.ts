import { join } from 'node:path';
import type { Certificate } from '../x509/certificate.js';
import { buildCaBundle, type CaBundle } from '../x509/bundle.js';
import { writeFileAtomic } from './files.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import type { LoadedPki } from './directory.js';

/** The CA bundles components point at, by the flag or field that reads each. */
export const BUNDLES = {
  /** kube-apiserver `--kubelet-certificate-authority`: what may serve kubelets. */
  'kubelet-certificate-authority': ['kubelet-serving-ca', 'ca'],
  /** kube-apiserver and controller-manager `--client-ca-file`. */
  'client-ca-file': ['ca'],
  /** kube-controller-manager `--root-ca-file`: what it publishes as every namespace's `kube-root-ca.crt` ConfigMap. */
  'root-ca-file': ['ca'],
  /** kube-apiserver and controller-manager `--requestheader-client-ca-file`: the front proxy only. */
  'requestheader-client-ca-file': ['front-proxy-ca'],
  /** The kubelet's `authentication.x509.clientCAFile`. */
  'kubelet-client-ca-file': ['ca'],
  /** etcd `--trusted-ca-file` and `--peer-trusted-ca-file`, kube-apiserver `--etcd-cafile`. */
  'etcd-trusted-ca-file': ['etcd-ca'],
  /** Konnectivity `--server-ca-cert`, `--cluster-ca-cert` and the agents' `--ca-cert`. */
  'konnectivity-ca': ['ca'],
} as const satisfies Record<string, readonly string[]>;

/**
 * A trust bundle of bundles/, named after the flag that reads it, e.g. client-ca-file or kubelet-certificate-authority.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type BundleName = keyof typeof BUNDLES;

export const BUNDLES_FOLDER = 'bundles';

/** Where a bundle lives, relative to the directory. */
export const bundleFile = (name: BundleName): string => join(BUNDLES_FOLDER, `${name}.crt`);

/** The CA each bundle is made from in a loaded directory: the first of its sources the directory has. */
export function bundleSource(loaded: LoadedPki, name: BundleName): string | undefined {
  return BUNDLES[name].find((source) => loaded.authorities.has(source));
}

/**
 * The named bundles of a loaded directory. The kubelet-serving bundle holds the kubelet-serving CA when
 * there is one, else the cluster CA. During a rotation the rotating CA's bundles hold the incoming CA too;
 * `extra` adds CAs per bundle.
 */
export function clusterBundles(loaded: LoadedPki, options: { now?: Date; extra?: Partial<Record<BundleName, readonly Certificate[]>> } = {}): Record<BundleName, CaBundle> {
  const out = {} as Record<BundleName, CaBundle>;
  for (const name of Object.keys(BUNDLES) as BundleName[]) {
    const source = bundleSource(loaded, name);
    const first = source === undefined ? [] : [loaded.authorities.get(source)!.certificate];
    const incoming = loaded.rotation && loaded.rotation.authority === source ? [loaded.rotation.incoming] : [];
    out[name] = buildCaBundle([...first, ...incoming, ...(options.extra?.[name] ?? [])], { now: options.now, field: name });
  }
  return out;
}

/**
 * Writes each bundle as `<dir>/bundles/<name>.crt` (0644, atomically, replacing the previous one).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function writeClusterBundles(dir: string, bundles: Record<BundleName, CaBundle>, options: DirectoryLockOptions = {}): Promise<string[]> {
  return withDirectoryLock(
    dir,
    async () => {
      const paths: string[] = [];
      for (const [name, bundle] of Object.entries(bundles)) {
        const path = join(dir, bundleFile(name as BundleName));
        await writeFileAtomic({ path, content: bundle.pem, mode: 0o644 }, { overwrite: true });
        paths.push(path);
      }
      return paths;
    },
    options,
  );
}
