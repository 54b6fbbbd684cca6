import { join } from 'node:path';
import { generateKeyPair, type KeyPair } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { createCertificateAuthority } from './ca.js';
import { issueCertificate } from '../x509/issue.js';
import type { ClusterConfig } from './config.js';
import { readIfExists } from './files.js';
import { EGRESS_SELECTOR_FILE, egressSelectorConfiguration } from './flags.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { findPkcs11KeyPair, generatePkcs11KeyPair, openPkcs11Token, type Pkcs11KeyReference } from '../crypto/pkcs11.js';
import { entryFiles, entryFilesToWrite, issuerOf, orphanKey, readEntry, readServiceAccount, serviceAccountFiles, type Material } from './material.js';
import { readRotation } from './rotation-state.js';
import { planCluster, type ClusterPlan, type PlannedAuthority, type PlannedCertificate } from './plan.js';
import { commitChanges, commitOrder, type Change } from './transaction.js';

/**
 * Options of initPkiDirectory: replacing conflicts, CA keys in a PKCS#11 token, dry runs, and the directory lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface InitOptions extends CryptoOptions, DirectoryLockOptions {
  /** Replace files that conflict with the plan (a different CA, wrong SANs, a corrupt file). Default false. */
  force?: boolean;
  /** The issuing time of the new certificates, and the time existing ones are checked against. Default: now. */
  now?: Date;
  /**
   * CAs (by name: `ca`, `etcd-ca`, `front-proxy-ca`, `kubelet-serving-ca`) whose key lives in a PKCS#11
   * token: generated there, non-extractable, unless the token already holds a key of that label; the
   * directory gets `<ca>.pkcs11.json` instead of the key file.
   */
  pkcs11?: Readonly<Record<string, Pkcs11KeyReference>>;
  /** Plan only: make the keys and certificates in memory, write nothing, return the changes (`kubepki init --dry-run`). */
  dryRun?: boolean;
  /** Where the components read the directory, for the paths inside the egress selector configuration. Default: `dir`. */
  componentDir?: string;
}

/**
 * What `initPkiDirectory` did, by entry name.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface InitResult {
  /** The plan the directory was made from. */
  readonly plan: ClusterPlan;
  /** Entries made now. */
  readonly created: readonly string[];
  /** Entries found valid in the directory and kept (existing CAs sign the new leaves). */
  readonly reused: readonly string[];
  /** Entries that conflicted and were replaced (only with `force`). */
  readonly replaced: readonly string[];
  /** Paths written, relative to nothing: absolute or as given with `dir` (none with `dryRun`). */
  readonly files: readonly string[];
  /** The changes, in the order they are (or, with `dryRun`, would be) committed. */
  readonly changes: readonly Change[];
}

/**
 * Makes (or completes) a cluster's PKI in kubeadm's layout under `dir`. Valid files already there are
 * kept and existing CAs sign whatever is missing; anything that conflicts (a certificate from another CA,
 * other SANs, a key that does not match, a corrupt file) stops the run with ERR_EXISTS naming every
 * file, and nothing is written, unless `force` is given. The directory is locked meanwhile (withDirectoryLock).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function initPkiDirectory(dir: string, config: ClusterConfig, options: InitOptions = {}): Promise<InitResult> {
  return withDirectoryLock(dir, () => initUnlocked(dir, config, options), options);
}

/** What one init run has found so far, by entry name. */
interface InitRun {
  readonly dir: string;
  readonly plan: ClusterPlan;
  readonly crypto: CryptoOptions;
  readonly now: Date;
  readonly options: InitOptions;
  readonly created: string[];
  readonly reused: string[];
  readonly replaced: string[];
  readonly conflicts: string[];
}

async function initUnlocked(dir: string, config: ClusterConfig, options: InitOptions): Promise<InitResult> {
  const plan = planCluster(config);
  const run: InitRun = { dir, plan, crypto: options.crypto ? { crypto: options.crypto } : {}, now: options.now ?? new Date(), options, created: [], reused: [], replaced: [], conflicts: [] };
  const { changes: authorityChanges, authorities } = await planAuthorities(run);
  const changes = [...authorityChanges, ...(await planLeaves(run, authorities)), ...(await planServiceAccount(run)), ...(await planEgressSelector(run))];
  const rotation = options.force && run.conflicts.length > 0 ? await readRotation(dir) : undefined;
  if (rotation) {
    // Replacing would put leaves of the outgoing CA back over the ones the rotation issued.
    throw new PkiError('ERR_ARGUMENT', `the rotation of the ${rotation.ca} CA is in progress (phase ${rotation.phase}); finish it (kubepki rotate-ca --ca ${rotation.ca} --phase finish) before replacing files with force`, { field: 'force' });
  }
  if (run.conflicts.length > 0 && !options.force) {
    throw new PkiError('ERR_EXISTS', `the directory holds files that conflict with this cluster, nothing was written (use force to replace them):\n  ${run.conflicts.join('\n  ')}`, { field: dir });
  }
  const files = options.dryRun ? [] : await commitChanges(changes);
  return { plan, created: run.created, reused: run.reused, replaced: options.force ? run.replaced : [], files, changes: commitOrder(changes) };
}

function conflict(run: InitRun, name: string, reason: string): void {
  run.conflicts.push(`${name}: ${reason}`);
  run.replaced.push(name.split(':')[0]!);
}

/** The CAs: valid ones are kept (they sign the new leaves), missing ones made, conflicting ones replaced. */
async function planAuthorities(run: InitRun): Promise<{ changes: Change[]; authorities: Map<string, Material & { keyPair: KeyPair }> }> {
  const { dir, plan, crypto, now } = run;
  const changes: Change[] = [];
  const authorities = new Map<string, Material & { keyPair: KeyPair }>();
  for (const entry of plan.authorities) {
    const found = await readEntry(dir, entry, crypto);
    const reference = run.options.pkcs11?.[entry.name];
    const keyPlace = found.state === 'present' ? keyPlaceProblem(found.material, reference) : undefined;
    if (found.state === 'present' && found.material.keyPair && usableAuthority(found.material, entry, now) && !keyPlace) {
      authorities.set(entry.name, found.material as Material & { keyPair: KeyPair });
      run.reused.push(entry.name);
      continue;
    }
    const orphan = found.state === 'broken' && !reference ? await orphanKey(dir, entry, crypto) : undefined;
    if (found.state === 'present') conflict(run, entry.name, keyPlace ?? (found.material.keyPair ? 'the CA is expired or not a CA' : `${entry.path}.key is missing (external CA): use the CSR mode and sign with the CA`));
    if (found.state === 'broken' && !orphan) conflict(run, entry.name, found.problem.message);
    const material = orphan ? await authorityForKey(entry, plan, now, crypto, orphan) : await newAuthority(entry, plan, now, crypto, reference);
    authorities.set(entry.name, material);
    // A CA that completes an interrupted run (its key is there) is new too.
    const fresh = found.state === 'absent' || orphan !== undefined;
    const files = await entryFilesToWrite(dir, entry, material, crypto);
    changes.push({ name: entry.name, kind: fresh ? 'new-authority' : 'replace-authority', files: orphan ? files.filter((f) => !f.path.endsWith('.key')) : files, overwrite: !fresh });
    if (found.state === 'absent') run.created.push(entry.name);
  }
  return { changes, authorities };
}

/** The leaves and kubeconfigs: valid ones kept, the others issued by their CA. */
async function planLeaves(run: InitRun, authorities: ReadonlyMap<string, Material & { keyPair: KeyPair }>): Promise<Change[]> {
  const { dir, plan, crypto, now } = run;
  const changes: Change[] = [];
  for (const entry of plan.certificates) {
    const ca = authorities.get(entry.ca)!;
    const found = await readEntry(dir, entry, crypto);
    if (found.state === 'present') {
      const problem = leafProblem(found.material, entry, ca, now);
      if (!problem) {
        run.reused.push(entry.name);
        continue;
      }
      conflict(run, entry.name, problem);
    }
    const orphan = found.state === 'broken' ? await orphanKey(dir, entry, crypto) : undefined;
    if (found.state === 'broken' && !orphan) conflict(run, entry.name, found.problem.message);
    const keyPair = orphan ?? (await generateKeyPair(plan.config.keySpec, crypto));
    const certificate = await issueCertificate({
      ...crypto,
      profile: entry.profile,
      subject: entry.subject,
      sans: entry.sans,
      publicKey: keyPair.publicKey,
      issuer: issuerOf(ca),
      validity: { lifetimeSeconds: plan.config.leafLifetimeSeconds },
      now,
    });
    const kubeconfig = entry.kubeconfigFile && { server: entry.kubeconfigFile.server, clusterName: plan.config.clusterName, userName: entry.kubeconfigFile.user, caPem: ca.certificate.pem };
    const files = await entryFilesToWrite(dir, entry, { certificate, keyPair, kubeconfig }, crypto);
    changes.push({ name: entry.name, kind: 'leaf', files: orphan ? files.filter((f) => !f.path.endsWith('.key')) : files, overwrite: found.state !== 'absent' && !orphan });
    if (found.state === 'absent') run.created.push(entry.name);
  }
  return changes;
}

/** `sa.key` / `sa.pub`: kept when valid (sa.pub completed if a run stopped between them), else made. */
async function planServiceAccount(run: InitRun): Promise<Change[]> {
  const { dir, plan, crypto } = run;
  const paths = { privateKey: plan.serviceAccount.privateKeyPath, publicKey: plan.serviceAccount.publicKeyPath };
  const sa = await readServiceAccount(dir, paths, crypto);
  if (sa.state === 'present') {
    run.reused.push('sa');
    if ((await readIfExists(join(dir, paths.publicKey))) !== undefined) return [];
    return [{ name: 'sa', kind: 'leaf', files: (await serviceAccountFiles(dir, paths, sa.keyPair, crypto)).filter((f) => f.path.endsWith(paths.publicKey)), overwrite: false }];
  }
  if (sa.state === 'broken') conflict(run, 'sa', sa.problem.message);
  else run.created.push('sa');
  const keyPair = await generateKeyPair(plan.serviceAccount.keySpec, crypto);
  return [{ name: 'sa', kind: 'leaf', files: await serviceAccountFiles(dir, paths, keyPair, crypto), overwrite: sa.state !== 'absent' }];
}

/** kube-apiserver's egress selector configuration (Konnectivity), kept in step with the plan. */
async function planEgressSelector(run: InitRun): Promise<Change[]> {
  if (!run.plan.config.konnectivity) return [];
  const path = join(run.dir, EGRESS_SELECTOR_FILE);
  // During a cluster CA rotation its caBundle names the two-CA bundle, as the rotation wrote it.
  const content = egressSelectorConfiguration(run.plan, { dir: run.options.componentDir ?? run.dir, rotation: await readRotation(run.dir) });
  const current = await readIfExists(path);
  return current === content ? [] : [{ name: 'egress-selector-configuration', kind: 'leaf', files: [{ path, content, mode: 0o644 }], overwrite: current !== undefined }];
}

async function authorityForKey(entry: PlannedAuthority, plan: ClusterPlan, now: Date, crypto: CryptoOptions, keyPair: KeyPair): Promise<Material & { keyPair: KeyPair }> {
  const authority = await createCertificateAuthority({ ...crypto, commonName: entry.subject.commonName, keyPair, profile: entry.profile, validity: { lifetimeSeconds: plan.config.caLifetimeSeconds }, now });
  return { certificate: authority.certificate, keyPair };
}

async function newAuthority(entry: PlannedAuthority, plan: ClusterPlan, now: Date, crypto: CryptoOptions, pkcs11?: Pkcs11KeyReference): Promise<Material & { keyPair: KeyPair }> {
  const common = { commonName: entry.subject.commonName, keySpec: plan.config.keySpec, profile: entry.profile, validity: { lifetimeSeconds: plan.config.caLifetimeSeconds }, now };
  if (!pkcs11) {
    const authority = await createCertificateAuthority({ ...crypto, ...common });
    return { certificate: authority.certificate, keyPair: authority.keyPair };
  }
  const field = `pkcs11.${entry.name}`;
  const token = await openPkcs11Token(pkcs11, field);
  const keyPair = (await findPkcs11KeyPair(pkcs11, field)) ?? (await generatePkcs11KeyPair(pkcs11, plan.config.keySpec, field));
  const authority = await createCertificateAuthority({ ...common, keyPair, crypto: token.crypto });
  return { certificate: authority.certificate, keyPair, pkcs11, crypto: token.crypto };
}

/** Why an existing CA's key is not where the caller wants it (a file versus a PKCS#11 token), if it is not. */
function keyPlaceProblem(material: Material, wanted: Pkcs11KeyReference | undefined): string | undefined {
  if (!material.keyPair) return undefined;
  if (wanted && !material.pkcs11) return 'the CA key is a file, not in the PKCS#11 token asked for';
  if (!wanted && material.pkcs11) return undefined;
  if (wanted && material.pkcs11 && (wanted.token !== material.pkcs11.token || wanted.key !== material.pkcs11.key || wanted.id !== material.pkcs11.id || wanted.module !== material.pkcs11.module)) {
    return `the CA key is in token ${material.pkcs11.token} under ${material.pkcs11.key ?? material.pkcs11.id}, not where asked`;
  }
  return undefined;
}

function usableAuthority(material: Material, entry: PlannedAuthority, now: Date): boolean {
  return material.certificate.isCA && material.certificate.notAfter > now && entry.profile.isCA;
}

/** Why an existing leaf cannot be kept, or undefined when it can. */
function leafProblem(material: Material, entry: PlannedCertificate, ca: Material, now: Date): string | undefined {
  const { certificate } = material;
  const file = entryFiles(entry)[0];
  if (!certificate.isIssuedBy(ca.certificate)) return `${file} is not signed by the ${entry.ca} CA in this directory`;
  if (certificate.notAfter <= now) return `${file} expired at ${certificate.notAfter.toISOString()}`;
  const subject = certificate.subject;
  if (subject.commonName !== entry.subject.commonName || (subject.organizations ?? []).join(',') !== (entry.subject.organizations ?? []).join(',')) {
    return `${file} has subject CN=${subject.commonName}, expected CN=${entry.subject.commonName}`;
  }
  const have = certificate.sans;
  const same = (a: readonly string[], b: readonly string[]): boolean => [...a].sort().join(',') === [...b].sort().join(',');
  if (!same(have.dns, entry.sans.dns) || !same(have.ips, entry.sans.ips)) {
    const list = (sans: { dns: readonly string[]; ips: readonly string[] }): string[] => [...sans.dns.map((v) => `DNS:${v}`), ...sans.ips.map((v) => `IP:${v}`)];
    const now = list(have);
    const wanted = list(entry.sans);
    const added = wanted.filter((s) => !now.includes(s));
    const dropped = now.filter((s) => !wanted.includes(s));
    const change = [...(added.length ? [`adds ${added.join(', ')}`] : []), ...(dropped.length ? [`drops ${dropped.join(', ')}`] : [])].join('; ');
    return `${file} has other SANs than this cluster needs (${change}): it has [${now.join(', ')}], this cluster needs [${wanted.join(', ')}]`;
  }
  if (entry.kubeconfigFile && material.kubeconfig && material.kubeconfig.server !== entry.kubeconfigFile.server) {
    return `${file} points at ${material.kubeconfig.server}, expected ${entry.kubeconfigFile.server}`;
  }
  return undefined;
}
