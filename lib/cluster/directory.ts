import { join } from 'node:path';
import type { KeyPair } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { Certificate } from '../x509/certificate.js';
import { readIfExists } from './files.js';
import { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT, OPTIONAL_ENTRIES, SERVICE_ACCOUNT_PATHS, type LayoutEntry } from './layout.js';
import { entryFiles, readEntry, readServiceAccount, type Material } from './material.js';
import { readRotation, ROTATION_FILE, type Rotation } from './rotation-state.js';

/**
 * Something wrong with one entry of a PKI directory, by name and file.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface DirectoryProblem {
  /** The entry at fault, e.g. apiserver. */
  readonly name: string;
  /** Its files, relative to the directory, e.g. pki/apiserver.crt and pki/apiserver.key. */
  readonly files: readonly string[];
  /** What is wrong, e.g. that the key does not match the certificate. */
  readonly reason: string;
}

/**
 * What a kubeadm-layout directory holds, checked.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface LoadedPki {
  /** The directory read. */
  readonly dir: string;
  /** The CAs found valid, by name (ca, etcd-ca, front-proxy-ca, ...). */
  readonly authorities: ReadonlyMap<string, Material>;
  /** The leaf certificates and kubeconfigs found valid, by name. */
  readonly certificates: ReadonlyMap<string, Material>;
  /** The service-account key pair (pki/sa.key, pki/sa.pub), when present and matching. */
  readonly serviceAccount?: KeyPair;
  /** Required entries that are absent. */
  readonly missing: readonly string[];
  /** Entries that are present but unreadable, mismatched or not signed by their CA. */
  readonly problems: readonly DirectoryProblem[];
  /** A CA rotation in progress: the incoming CA, which the rotating CA's bundles trust and its leaves may be signed by. */
  readonly rotation?: Rotation & {
    /** The incoming CA's certificate (`<newCa>.crt`, e.g. pki/ca-new.crt). */
    readonly incoming: Certificate;
  };
}

/**
 * Loads every file of kubeadm's layout under `dir` and checks it: each key matches its certificate,
 * each certificate is signed by its CA in the directory. It never throws for the directory's content;
 * what is missing or inconsistent is reported by name.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function loadPkiDirectory(dir: string, options: CryptoOptions = {}): Promise<LoadedPki> {
  const authorities = new Map<string, Material>();
  const certificates = new Map<string, Material>();
  const missing: string[] = [];
  const problems: DirectoryProblem[] = [];
  const read = async (entry: LayoutEntry, into: Map<string, Material>): Promise<void> => {
    const found = await readEntry(dir, entry, options);
    if (found.state === 'present') into.set(entry.name, found.material);
    else if (found.state === 'broken') problems.push({ name: entry.name, files: entryFiles(entry), reason: found.problem.message });
    else if (!OPTIONAL_ENTRIES.has(entry.name)) missing.push(entry.name);
  };
  for (const entry of AUTHORITY_LAYOUT) await read(entry, authorities);
  const rotation = await rotationOf(dir, problems);
  for (const entry of CERTIFICATE_LAYOUT) {
    await read(entry, certificates);
    const material = certificates.get(entry.name);
    const ca = authorities.get(entry.ca!);
    // During a rotation a leaf of the rotating CA may already come from the incoming one.
    const issuers = [...(ca ? [ca.certificate] : []), ...(rotation && rotation.authority === entry.ca ? [rotation.incoming] : [])];
    if (material && ca && !issuers.some((issuer) => material.certificate.isIssuedBy(issuer))) {
      problems.push({ name: entry.name, files: entryFiles(entry), reason: `not signed by the ${entry.ca} CA in this directory` });
    }
    // A kubeconfig may trust a bundle (old and new CA during a rotation); it must include its CA.
    if (material && material.kubeconfig?.caPem !== undefined && ca && !issuers.some((issuer) => material.kubeconfig!.caPem!.includes(issuer.pem.trim()))) {
      problems.push({ name: entry.name, files: entryFiles(entry), reason: `embeds a CA other than the ${entry.ca} CA in this directory` });
    }
  }
  const sa = await readServiceAccount(dir, SERVICE_ACCOUNT_PATHS, options);
  if (sa.state === 'absent') missing.push('sa');
  if (sa.state === 'broken') problems.push({ name: 'sa', files: [SERVICE_ACCOUNT_PATHS.privateKey, SERVICE_ACCOUNT_PATHS.publicKey], reason: sa.problem.message });
  return { dir, authorities, certificates, serviceAccount: sa.state === 'present' ? sa.keyPair : undefined, missing, problems, ...(rotation ? { rotation } : {}) };
}

/** The rotation in progress with its incoming CA certificate; an unreadable state or certificate is a problem. */
async function rotationOf(dir: string, problems: DirectoryProblem[]): Promise<LoadedPki['rotation']> {
  try {
    const rotation = await readRotation(dir);
    if (!rotation) return undefined;
    const text = await readIfExists(join(dir, `${rotation.newCa}.crt`));
    // A finish that stopped after promoting the incoming CA: it is the directory's CA now.
    if (text === undefined) return undefined;
    return { ...rotation, incoming: Certificate.from(text, `${rotation.newCa}.crt`) };
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    problems.push({ name: 'rotation', files: [error.field ?? ROTATION_FILE], reason: error.reason });
    return undefined;
  }
}
