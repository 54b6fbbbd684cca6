import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PkiError } from '../errors.js';
import { decodeGoPem } from '../crypto/go-pem.js';
import { encodePem } from '../crypto/pem.js';
import { Certificate } from '../x509/certificate.js';
import type { CaBundle } from '../x509/bundle.js';
import type { BundleName } from './bundles.js';
import { assertValidClusterTrustBundle, type ClusterTrustBundle, type ClusterTrustBundleVersion, signerNamePrefix } from './cluster-trust-bundle.js';
import { ioError, readIfExists, writeFileAtomic } from './files.js';

/**
 * The well-known signers whose trust anchors a kubepki directory holds, and the named bundle holding them
 * (kube-controller-manager's --cluster-signing-* flags, lib/cluster/flags.ts): both client signers sign with the
 * cluster CA; kubelet-serving with the kubelet-serving CA when the directory has one, else the cluster CA.
 */
export const TRUST_BUNDLE_SIGNERS = {
  'kubernetes.io/kube-apiserver-client': 'client-ca-file',
  'kubernetes.io/kube-apiserver-client-kubelet': 'client-ca-file',
  'kubernetes.io/kubelet-serving': 'kubelet-certificate-authority',
} as const satisfies Record<string, BundleName>;

/**
 * A signer a ClusterTrustBundle is linked to: kubernetes.io/kube-apiserver-client, kube-apiserver-client-kubelet or kubelet-serving.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 * @useDeclaredType
 */
export type TrustBundleSigner = keyof typeof TRUST_BUNDLE_SIGNERS;

/** The label on every ClusterTrustBundle kubepki publishes: what it may update and delete. */
export const TRUST_BUNDLE_MANAGED_LABEL = { key: 'app.kubernetes.io/managed-by', value: 'kubepki' } as const;
/** The annotation naming the bundle (bundles/<name>.crt) an object carries. */
export const TRUST_BUNDLE_SOURCE_ANNOTATION = 'kubepki/bundle';
/** The unlinked bundle of the cluster CA (the CA of the API server's serving certificate), mounted by name. */
export const CLUSTER_CA_TRUST_BUNDLE_NAME = 'kubepki-cluster-ca';

/**
 * A trust bundle as normaliseTrustBundle leaves it: CA certificates only, each once, and what was dropped.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface NormalisedTrustBundle {
  /** The CA certificates kept, oldest first, each once. */
  readonly certificates: readonly Certificate[];
  /** The certificates as `CERTIFICATE` blocks without headers, oldest first, each once. */
  readonly pem: string;
  /** What was left out, by input index and block: not a certificate, unparseable, not a CA, or a duplicate. */
  readonly dropped: readonly {
    /** The index of the input the block came from. */
    readonly input: number;
    /** The index of the PEM block within that input. */
    readonly block: number;
    /** Why it was left out. */
    readonly reason: string;
  }[];
}

/**
 * The content of a ClusterTrustBundle from certificates or PEM text (found as Go finds PEM blocks): certificates
 * only, CA=true only, each DER once, PEM headers gone, ordered by notBefore then DER so the object does not change
 * when the inputs are reordered.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function normaliseTrustBundle(inputs: readonly (string | Certificate | readonly Certificate[])[]): NormalisedTrustBundle {
  const dropped: { input: number; block: number; reason: string }[] = [];
  const byDer = new Map<string, Certificate>();
  inputs.forEach((input, i) => {
    const candidates: (Certificate | string)[] =
      typeof input === 'string' ?
        decodeGoPem(input).map((block) => {
          if (block.type !== 'CERTIFICATE') return `a ${block.type} block, not a certificate`;
          try {
            return Certificate.from(block.bytes, `inputs[${i}]`);
          } catch (error) {
            return `does not parse as X.509: ${(error as Error).message}`;
          }
        })
      : input instanceof Certificate ? [input]
      : [...(input as readonly Certificate[])];
    candidates.forEach((candidate, b) => {
      if (typeof candidate === 'string') return dropped.push({ input: i, block: b, reason: candidate });
      if (!candidate.isCA) return dropped.push({ input: i, block: b, reason: `CN=${candidate.subject.commonName} is not a CA certificate` });
      const key = Buffer.from(candidate.der).toString('hex');
      if (byDer.has(key)) return dropped.push({ input: i, block: b, reason: `CN=${candidate.subject.commonName} is a duplicate` });
      byDer.set(key, candidate);
      return undefined;
    });
  });
  const ordered = [...byDer.entries()].sort(([a, x], [b, y]) => x.notBefore.getTime() - y.notBefore.getTime() || (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  return { certificates: ordered, pem: ordered.map((c) => encodePem('CERTIFICATE', c.der)).join(''), dropped };
}

/**
 * Options of buildClusterTrustBundles: the apiVersion, the name suffix, and the unlinked bundle.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface TrustBundleBuildOptions {
  /** The apiVersion written; default v1beta1. The publisher replaces it with the one the server serves. */
  version?: ClusterTrustBundleVersion;
  /** What follows the signer prefix in the signer-linked names; default `kubepki`. */
  suffix?: string;
  /** Also the unlinked `kubepki-cluster-ca` bundle (the cluster CA, both CAs during a rotation); default true. */
  unlinked?: boolean;
}

/**
 * ClusterTrustBundle objects for the directory's bundles: one per signer of TRUST_BUNDLE_SIGNERS, named
 * `<signer with '/' as ':'>:<suffix>`, and the unlinked cluster CA bundle; each normalised, labelled as kubepki's
 * and checked against the API server's validation (ERR_ARGUMENT naming the field otherwise). A bundle without a
 * usable CA is ERR_DIRECTORY.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function buildClusterTrustBundles(bundles: Partial<Record<BundleName, CaBundle>>, options: TrustBundleBuildOptions = {}): ClusterTrustBundle[] {
  const version = options.version ?? 'v1beta1';
  const suffix = options.suffix ?? 'kubepki';
  const wanted: { name: string; signerName?: string; source: BundleName }[] = Object.entries(TRUST_BUNDLE_SIGNERS).map(([signerName, source]) => ({ name: `${signerNamePrefix(signerName)}${suffix}`, signerName, source }));
  if (options.unlinked !== false) wanted.push({ name: CLUSTER_CA_TRUST_BUNDLE_NAME, source: 'client-ca-file' });
  return wanted.map(({ name, signerName, source }) => {
    const bundle = bundles[source];
    const content = normaliseTrustBundle([bundle?.certificates ?? []]);
    if (content.certificates.length === 0) throw new PkiError('ERR_DIRECTORY', `has no CA that is not expired for ClusterTrustBundle ${name}`, { field: `bundles/${source}.crt` });
    const object: ClusterTrustBundle = {
      apiVersion: `certificates.k8s.io/${version}`,
      kind: 'ClusterTrustBundle',
      metadata: { name, labels: { [TRUST_BUNDLE_MANAGED_LABEL.key]: TRUST_BUNDLE_MANAGED_LABEL.value }, annotations: { [TRUST_BUNDLE_SOURCE_ANNOTATION]: source } },
      spec: { ...(signerName ? { signerName } : {}), trustBundle: content.pem },
    };
    assertValidClusterTrustBundle(object);
    return object;
  });
}

/** The file an object is written to: its name with ':' as '_' (no object name has '_'), `.yaml`. */
export const trustBundleFileName = (object: ClusterTrustBundle): string => `${object.metadata.name.replaceAll(':', '_')}.yaml`;

/**
 * Writes each object as YAML to `<folder>/<file name>` (0644, atomically, replacing), for `kubectl apply -f folder`
 * once the server serves the API; `.yaml` files of the folder holding a kubepki-labelled ClusterTrustBundle that is no
 * longer wanted are removed. Returns the paths written.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function writeClusterTrustBundleFiles(folder: string, objects: readonly ClusterTrustBundle[]): Promise<string[]> {
  const paths: string[] = [];
  for (const object of objects) {
    const path = join(folder, trustBundleFileName(object));
    await writeFileAtomic({ path, content: stringify(object), mode: 0o644 }, { overwrite: true });
    paths.push(path);
  }
  const kept = new Set(objects.map(trustBundleFileName));
  for (const file of await readdir(folder).catch(() => [] as string[])) {
    if (!file.endsWith('.yaml') || kept.has(file)) continue;
    const path = join(folder, file);
    let previous: Partial<ClusterTrustBundle> | undefined;
    try {
      previous = parse((await readIfExists(path)) ?? '') as Partial<ClusterTrustBundle> | undefined;
    } catch {
      continue;
    }
    if (previous?.kind !== 'ClusterTrustBundle' || previous.metadata?.labels?.[TRUST_BUNDLE_MANAGED_LABEL.key] !== TRUST_BUNDLE_MANAGED_LABEL.value) continue;
    await unlink(path).catch((cause: unknown) => {
      throw ioError(path, 'cannot be removed', cause);
    });
  }
  return paths;
}
