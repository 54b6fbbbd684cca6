import { join } from 'node:path';
import { exportPrivateKeyPem, exportPairSpki, generateKeyPair, importPrivateKeyPem } from '../crypto/keys.js';
import { formatPkcs11Reference, type Pkcs11KeyReference } from '../crypto/pkcs11.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';
import { createCsr, parseCsr } from '../x509/csr.js';
import { issueCertificate, type Issuer } from '../x509/issue.js';
import { checkProfileRequest } from '../x509/profile.js';
import { normalizeSans } from '../x509/sans.js';
import type { ClusterConfig } from './config.js';
import { loadPkiDirectory } from './directory.js';
import { kindForSubject } from './kinds.js';
import { readIfExists, type FileToWrite } from './files.js';
import { parseKubeconfig, stringifyKubeconfig } from './kubeconfig.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { authorityEntry, CERTIFICATE_LAYOUT, layoutFile, type LayoutEntry } from './layout.js';
import { entryFilesToWrite, issuerOf, loadAuthority, readServiceAccount, serviceAccountFiles } from './material.js';
import { planCluster } from './plan.js';
import { commitChanges, type Change } from './transaction.js';

const csrPath = (dir: string, entry: LayoutEntry): string => join(dir, `${entry.path}.csr`);
const keyPath = (dir: string, entry: LayoutEntry): string => join(dir, entry.kubeconfig ? entry.path : `${entry.path}.key`);

/**
 * External-CA mode, step one (like `kubeadm certs generate-csr`): a key and a CSR for every leaf of the
 * plan, and the service-account key pair; no CA key is made. Kubeconfigs are written with their key and
 * server but no certificate yet. Existing files are not overwritten unless `force`.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function writeCertificateRequests(dir: string, config: ClusterConfig, options: CryptoOptions & DirectoryLockOptions & { force?: boolean } = {}): Promise<string[]> {
  return withDirectoryLock(dir, () => writeRequestsUnlocked(dir, config, options), options);
}

async function writeRequestsUnlocked(dir: string, config: ClusterConfig, options: CryptoOptions & { force?: boolean }): Promise<string[]> {
  const plan = planCluster(config);
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const files: FileToWrite[] = [];
  for (const entry of plan.certificates) {
    const keyPair = await generateKeyPair(plan.config.keySpec, crypto);
    const csr = await createCsr({ ...crypto, subject: entry.subject, sans: entry.sans, keyPair, profile: entry.profile });
    const keyPem = await exportPrivateKeyPem(keyPair, undefined, crypto);
    files.push({ path: csrPath(dir, entry), content: csr.pem, mode: 0o600 });
    files.push(
      entry.kubeconfigFile
        ? {
            path: keyPath(dir, entry),
            content: stringifyKubeconfig({ clusterName: plan.config.clusterName, server: entry.kubeconfigFile.server, userName: entry.kubeconfigFile.user, clientKeyPem: keyPem }),
            mode: 0o600,
          }
        : { path: keyPath(dir, entry), content: keyPem, mode: 0o600 },
    );
  }
  const sa = await readServiceAccount(dir, { privateKey: plan.serviceAccount.privateKeyPath, publicKey: plan.serviceAccount.publicKeyPath }, crypto);
  if (sa.state !== 'present') {
    files.push(...(await serviceAccountFiles(dir, { privateKey: plan.serviceAccount.privateKeyPath, publicKey: plan.serviceAccount.publicKeyPath }, await generateKeyPair(plan.serviceAccount.keySpec, crypto), crypto)));
  }
  if (!options.force) {
    const existing = [];
    for (const file of files) if ((await readIfExists(file.path)) !== undefined) existing.push(file.path);
    if (existing.length) throw new PkiError('ERR_EXISTS', `would overwrite ${existing.join(', ')}; nothing was written (use force)`, { field: dir });
  }
  return commitChanges([{ name: 'requests', kind: 'leaf', files, overwrite: options.force === true }]);
}

/**
 * Options of signCertificateRequests: the issuing time, a CA key in a PKCS#11 token, and the directory lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface SignRequestsOptions extends CryptoOptions, DirectoryLockOptions {
  /** The issuing time of the certificates. Default: now. */
  now?: Date;
  /**
   * The cluster CA's key in a PKCS#11 token: it signs through the token, and `pki/ca.pkcs11.json` is
   * written with the certificates so that later verbs find the key. Refused (ERR_ARGUMENT) when
   * `pki/ca.key` is there.
   */
  pkcs11?: Pkcs11KeyReference;
}

/**
 * External-CA mode, step two: signs every pending CSR of the directory with the CAs placed in it (their
 * `.crt` and `.key`, or a key in a PKCS#11 token), after checking each request against its profile and its
 * key file. Certificates are written beside the keys (kubeconfigs get the certificate and CA embedded) and
 * the CSRs removed.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function signCertificateRequests(dir: string, options: SignRequestsOptions = {}): Promise<string[]> {
  return withDirectoryLock(dir, () => signUnlocked(dir, options), options);
}

async function signUnlocked(dir: string, options: SignRequestsOptions): Promise<string[]> {
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const changes: Change[] = [];
  const signers = new Map<string, Issuer & { readonly certificate: Certificate }>();
  if (options.pkcs11) {
    const keyFile = layoutFile('ca', '.key');
    if ((await readIfExists(join(dir, keyFile))) !== undefined) throw new PkiError('ERR_ARGUMENT', `${keyFile} is a key file; remove it to sign through the token`, { field: 'pkcs11' });
    signers.set('ca', await loadAuthority(dir, authorityEntry('ca'), { ...crypto, pkcs11: options.pkcs11 }));
    const reference = formatPkcs11Reference(options.pkcs11);
    const path = join(dir, layoutFile('ca', '.pkcs11.json'));
    // Before the leaves (as a new CA is): a crash part-way leaves CSRs that a second run signs through the token.
    if ((await readIfExists(path)) !== reference) changes.push({ name: 'ca', kind: 'new-authority', files: [{ path, content: reference, mode: 0o644 }], overwrite: true });
  }
  const loaded = await loadPkiDirectory(dir, crypto);
  for (const [name, material] of loaded.authorities) {
    if (!signers.has(name) && material.keyPair) signers.set(name, { ...issuerOf({ ...material, keyPair: material.keyPair }), certificate: material.certificate });
  }
  const pending: { entry: LayoutEntry; write: () => Promise<FileToWrite[]> }[] = [];
  for (const entry of CERTIFICATE_LAYOUT) {
    const csrText = await readIfExists(csrPath(dir, entry));
    if (csrText === undefined) continue;
    const field = `${entry.path}.csr`;
    const csr = await parseCsr(csrText, { ...crypto, field });
    const sans = normalizeSans(csr.sans, `${field}.sans`);
    const profile = kindForSubject(entry.profile, csr.subject);
    checkProfileRequest(profile, { subject: csr.subject, sans, keySpec: csr.publicKey.spec });
    const ca = signers.get(entry.ca!);
    if (!ca) throw new PkiError('ERR_DIRECTORY', `the ${entry.ca} CA certificate and key must be in the directory to sign`, { field });
    const keyText = await readIfExists(keyPath(dir, entry));
    if (keyText === undefined) throw new PkiError('ERR_DIRECTORY', 'has no private key beside it', { field });
    const kubeconfig = entry.kubeconfig ? parseKubeconfig(keyText, entry.path) : undefined;
    const keyPair = await importPrivateKeyPem(kubeconfig?.clientKeyPem ?? keyText, { ...crypto, field: keyPath(dir, entry) });
    if (!Buffer.from(await exportPairSpki(keyPair, crypto)).equals(csr.publicKey.spki)) {
      throw new PkiError('ERR_KEY', 'the CSR was not made with the key beside it', { field });
    }
    pending.push({
      entry,
      write: async () => {
        const certificate = await issueCertificate({
          ...crypto,
          profile,
          subject: csr.subject,
          sans,
          publicKey: csr.publicKey,
          issuer: ca,
          now: options.now,
        });
        const info = kubeconfig && { server: kubeconfig.server, clusterName: kubeconfig.clusterName, userName: kubeconfig.userName, caPem: ca.certificate.pem };
        return entryFilesToWrite(dir, entry, { certificate, keyPair, kubeconfig: info }, crypto);
      },
    });
  }
  if (pending.length === 0) throw new PkiError('ERR_DIRECTORY', 'no certificate signing requests to sign', { field: dir });
  for (const item of pending) changes.push({ name: item.entry.name, kind: 'leaf', files: await item.write(), overwrite: true, remove: [csrPath(dir, item.entry)] });
  await commitChanges(changes);
  return pending.map((p) => p.entry.name);
}
