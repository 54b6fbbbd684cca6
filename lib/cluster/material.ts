import { exportPrivateKeyPem, exportPairSpki, generateKeyPair, importPrivateKeyPem, publicKeyInfo, type KeyPair } from '../crypto/keys.js';
import { encodePem } from '../crypto/pem.js';
import { formatPkcs11Reference, loadPkcs11KeyPair, openPkcs11Token, parsePkcs11Reference, type Pkcs11KeyReference } from '../crypto/pkcs11.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { Certificate } from '../x509/certificate.js';
import { issueCertificate, type Issuer } from '../x509/issue.js';
import { join } from 'node:path';
import { readIfExists, type FileToWrite } from './files.js';
import { parseKubeconfig, stringifyKubeconfig } from './kubeconfig.js';
import type { LayoutEntry } from './layout.js';
import { kindForSubject } from './kinds.js';

/**
 * A certificate and (when present) its private key, read from or bound for the directory.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface Material {
  /** The entry's certificate (for a kubeconfig, the client certificate it embeds). */
  readonly certificate: Certificate;
  /** Absent for a CA whose key is kept elsewhere (external CA). */
  readonly keyPair?: KeyPair;
  /** For kubeconfig entries: the server and cluster name to keep when rewriting. */
  readonly kubeconfig?: {
    /** The API server URL the kubeconfig names. */
    readonly server: string;
    /** The name of its cluster entry. */
    readonly clusterName: string;
    /** The name of its user entry. */
    readonly userName: string;
    /** The CA bundle it embeds, PEM, when it embeds one. */
    readonly caPem?: string;
  };
  /** A CA key held in a PKCS#11 token: where it is (written as `<ca>.pkcs11.json` instead of a key file). */
  readonly pkcs11?: Pkcs11KeyReference;
  /** The provider holding `keyPair` when it is not the caller's (the token's). */
  readonly crypto?: Crypto;
}

/** A CA's material as the Issuer that signs with it (through its token when it has one). */
export function issuerOf(material: Material & { keyPair: KeyPair }): Issuer {
  return { certificate: material.certificate, privateKey: material.keyPair.privateKey, ...(material.crypto ? { crypto: material.crypto } : {}) };
}

/** What a directory holds for one layout entry. */
export type ReadResult = { state: 'absent' } | { state: 'present'; material: Material } | { state: 'broken'; problem: PkiError };

const crtPath = (dir: string, entry: LayoutEntry): string => join(dir, entry.kubeconfig ? entry.path : `${entry.path}.crt`);
const keyPath = (dir: string, entry: LayoutEntry): string => join(dir, `${entry.path}.key`);
const pkcs11Path = (dir: string, entry: LayoutEntry): string => join(dir, `${entry.path}.pkcs11.json`);

/** The files of an entry, relative to the directory, for messages. */
export function entryFiles(entry: LayoutEntry): string[] {
  return entry.kubeconfig ? [entry.path] : [`${entry.path}.crt`, `${entry.path}.key`];
}

/**
 * Reads one entry's certificate and key (or kubeconfig) and checks that the key matches the
 * certificate. A missing key next to a CA certificate is allowed (external CA); anything unreadable
 * is reported as `broken` with the file named.
 */
export async function readEntry(dir: string, entry: LayoutEntry, options: CryptoOptions = {}): Promise<ReadResult> {
  try {
    if (entry.kubeconfig) {
      const text = await readIfExists(crtPath(dir, entry));
      if (text === undefined) return { state: 'absent' };
      const kubeconfig = parseKubeconfig(text, entry.path);
      if (!kubeconfig.clientCertificatePem || !kubeconfig.clientKeyPem) {
        throw new PkiError('ERR_KUBECONFIG', 'does not embed a client certificate and key', { field: entry.path });
      }
      const certificate = Certificate.from(kubeconfig.clientCertificatePem, `${entry.path} client-certificate-data`);
      const keyPair = await importPrivateKeyPem(kubeconfig.clientKeyPem, { ...options, field: `${entry.path} client-key-data` });
      await assertKeyMatches(certificate, keyPair, entry.path, options);
      return { state: 'present', material: { certificate, keyPair, kubeconfig } };
    }
    const [certText, keyText, referenceText] = await Promise.all([readIfExists(crtPath(dir, entry)), readIfExists(keyPath(dir, entry)), entry.profile.isCA ? readIfExists(pkcs11Path(dir, entry)) : undefined]);
    if (certText === undefined && keyText === undefined && referenceText === undefined) return { state: 'absent' };
    if (certText === undefined) throw new PkiError('ERR_DIRECTORY', 'has a key but no certificate', { field: `${entry.path}.crt` });
    const certificate = Certificate.from(certText, `${entry.path}.crt`);
    if (referenceText !== undefined) {
      if (keyText !== undefined) throw new PkiError('ERR_DIRECTORY', 'has both a key file and a PKCS#11 reference; remove one', { field: `${entry.path}.key` });
      const pkcs11 = parsePkcs11Reference(referenceText, `${entry.path}.pkcs11.json`);
      const keyPair = await loadPkcs11KeyPair(pkcs11, `${entry.path}.pkcs11.json`);
      const token = await openPkcs11Token(pkcs11);
      await assertKeyMatches(certificate, keyPair, `${entry.path}.pkcs11.json`, { crypto: token.crypto });
      return { state: 'present', material: { certificate, keyPair, pkcs11, crypto: token.crypto } };
    }
    if (keyText === undefined) {
      if (entry.profile.isCA) return { state: 'present', material: { certificate } };
      throw new PkiError('ERR_DIRECTORY', 'has a certificate but no key', { field: `${entry.path}.key` });
    }
    const keyPair = await importPrivateKeyPem(keyText, { ...options, field: `${entry.path}.key` });
    await assertKeyMatches(certificate, keyPair, `${entry.path}.key`, options);
    return { state: 'present', material: { certificate, keyPair } };
  } catch (error) {
    if (error instanceof PkiError) return { state: 'broken', problem: error };
    throw error;
  }
}

/**
 * The key of an entry whose certificate is missing (a run that stopped between writing the two), when
 * it is a readable key file and nothing else of the entry exists; undefined otherwise.
 */
export async function orphanKey(dir: string, entry: LayoutEntry, options: CryptoOptions = {}): Promise<KeyPair | undefined> {
  if (entry.kubeconfig) return undefined;
  const [certText, keyText] = await Promise.all([readIfExists(crtPath(dir, entry)), readIfExists(keyPath(dir, entry))]);
  if (certText !== undefined || keyText === undefined) return undefined;
  return importPrivateKeyPem(keyText, { ...options, field: `${entry.path}.key` }).catch(() => undefined);
}

/**
 * The certificate and key of an entry whose renewal (or reissue by a new CA) stopped between writing the
 * two: both parse but do not match. The key is the new one (keys are written first), so the entry is
 * completed by certifying that key again; undefined for anything else.
 */
export async function interruptedPair(dir: string, entry: LayoutEntry, options: CryptoOptions = {}): Promise<{ certificate: Certificate; keyPair: KeyPair } | undefined> {
  if (entry.kubeconfig || entry.profile.isCA) return undefined;
  const [certText, keyText] = await Promise.all([readIfExists(crtPath(dir, entry)), readIfExists(keyPath(dir, entry))]);
  if (certText === undefined || keyText === undefined) return undefined;
  try {
    const certificate = Certificate.from(certText, `${entry.path}.crt`);
    const keyPair = await importPrivateKeyPem(keyText, { ...options, field: `${entry.path}.key` });
    const spki = await exportPairSpki(keyPair, options);
    return Buffer.from(spki).equals(certificate.spki) ? undefined : { certificate, keyPair };
  } catch {
    return undefined;
  }
}

async function assertKeyMatches(certificate: Certificate, keyPair: KeyPair, field: string, options: CryptoOptions): Promise<void> {
  const spki = await exportPairSpki(keyPair, options);
  if (!Buffer.from(spki).equals(certificate.spki)) throw new PkiError('ERR_KEY', 'does not match its certificate', { field });
}

/** The files an entry's material is written as: certificate 0644 and key 0600, or one kubeconfig 0600. */
export async function entryFilesToWrite(dir: string, entry: LayoutEntry, material: Material, options: CryptoOptions = {}): Promise<FileToWrite[]> {
  if (entry.kubeconfig) {
    const info = material.kubeconfig;
    if (!info || !material.keyPair) throw new PkiError('ERR_ARGUMENT', 'a kubeconfig needs a server, a CA and a key', { field: entry.path });
    const content = stringifyKubeconfig({
      clusterName: info.clusterName,
      server: info.server,
      caPem: info.caPem,
      userName: info.userName,
      clientCertificatePem: material.certificate.pem,
      clientKeyPem: await exportPrivateKeyPem(material.keyPair, undefined, options),
    });
    return [{ path: crtPath(dir, entry), content, mode: 0o600 }];
  }
  // The key before its certificate: a run killed between the two leaves a key without a certificate,
  // which init completes (orphanKey), never a certificate whose key is lost.
  const files: FileToWrite[] = [];
  if (material.pkcs11) files.push({ path: pkcs11Path(dir, entry), content: formatPkcs11Reference(material.pkcs11), mode: 0o644 });
  else if (material.keyPair) files.push({ path: keyPath(dir, entry), content: await exportPrivateKeyPem(material.keyPair, undefined, options), mode: 0o600 });
  files.push({ path: crtPath(dir, entry), content: material.certificate.pem, mode: 0o644 });
  return files;
}

/** Reads the service-account key pair (`sa.key`; `sa.pub` must match when present). */
export async function readServiceAccount(dir: string, paths: { privateKey: string; publicKey: string }, options: CryptoOptions = {}): Promise<{ state: 'absent' } | { state: 'present'; keyPair: KeyPair } | { state: 'broken'; problem: PkiError }> {
  try {
    const keyText = await readIfExists(join(dir, paths.privateKey));
    const pubText = await readIfExists(join(dir, paths.publicKey));
    if (keyText === undefined && pubText === undefined) return { state: 'absent' };
    if (keyText === undefined) throw new PkiError('ERR_DIRECTORY', 'sa.pub exists without sa.key', { field: paths.privateKey });
    const keyPair = await importPrivateKeyPem(keyText, { ...options, field: paths.privateKey });
    // kube-apiserver refuses any other service-account key ("unknown private key type ed25519.PrivateKey").
    if (keyPair.spec === 'ed25519') throw new PkiError('ERR_KEY', 'is an Ed25519 key; kube-apiserver takes only an RSA or ECDSA service-account key (replace it with force)', { field: paths.privateKey });
    if (pubText !== undefined) {
      const pub = await publicKeyInfo(pubText, { field: paths.publicKey });
      if (!Buffer.from(pub.spki).equals(await exportPairSpki(keyPair, options))) throw new PkiError('ERR_KEY', 'does not match sa.key', { field: paths.publicKey });
    }
    return { state: 'present', keyPair };
  } catch (error) {
    if (error instanceof PkiError) return { state: 'broken', problem: error };
    throw error;
  }
}

export async function serviceAccountFiles(dir: string, paths: { privateKey: string; publicKey: string }, keyPair: KeyPair, options: CryptoOptions = {}): Promise<FileToWrite[]> {
  return [
    { path: join(dir, paths.privateKey), content: await exportPrivateKeyPem(keyPair, undefined, options), mode: 0o600 },
    { path: join(dir, paths.publicKey), content: encodePem('PUBLIC KEY', await exportPairSpki(keyPair, options)), mode: 0o644 },
  ];
}

/**
 * Issues an entry's certificate again from `issuer`, as renewal and CA rotation do: a new key of the same
 * type, the same subject and SANs; a kubeconfig keeps its server and user and trusts `caPem`.
 */
export async function reissueEntry(
  dir: string,
  entry: LayoutEntry,
  current: Material,
  issuer: Issuer,
  options: CryptoOptions & { caPem: string; lifetimeSeconds?: number; now?: Date; /** Certify this key (an interrupted run's) instead of a new one. */ keyPair?: KeyPair },
): Promise<FileToWrite[]> {
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const keyPair = options.keyPair ?? (await generateKeyPair(current.certificate.keySpec, crypto));
  const certificate = await issueCertificate({
    ...crypto,
    // The subject is kept, so the rule is the one it was made under (an admin.conf of 1.28 stays in system:masters).
    profile: kindForSubject(entry.profile, current.certificate.subject),
    subject: current.certificate.subject,
    sans: current.certificate.sans,
    publicKey: keyPair.publicKey,
    issuer,
    validity: options.lifetimeSeconds ? { lifetimeSeconds: options.lifetimeSeconds } : undefined,
    now: options.now,
  });
  const kubeconfig = current.kubeconfig && { ...current.kubeconfig, caPem: options.caPem };
  return entryFilesToWrite(dir, entry, { certificate, keyPair, kubeconfig }, crypto);
}

/**
 * A CA of the directory, ready to sign: its certificate with its key file, or with its key in a PKCS#11
 * token (the directory's `<ca>.pkcs11.json`, or `pkcs11` given here for a certificate placed by hand).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function loadAuthority(dir: string, entry: LayoutEntry, options: CryptoOptions & { pkcs11?: Pkcs11KeyReference } = {}): Promise<
  Issuer & {
    /** The CA's certificate, parsed. */
    readonly certificate: Certificate;
  }
> {
  if (options.pkcs11) {
    const certText = await readIfExists(crtPath(dir, entry));
    if (certText === undefined) throw new PkiError('ERR_DIRECTORY', 'is missing', { field: `${entry.path}.crt` });
    const certificate = Certificate.from(certText, `${entry.path}.crt`);
    const keyPair = await loadPkcs11KeyPair(options.pkcs11);
    const token = await openPkcs11Token(options.pkcs11);
    await assertKeyMatches(certificate, keyPair, 'pkcs11.key', { crypto: token.crypto });
    return { certificate, privateKey: keyPair.privateKey, crypto: token.crypto };
  }
  const found = await readEntry(dir, entry, options);
  if (found.state === 'broken') throw found.problem;
  if (found.state === 'absent') throw new PkiError('ERR_DIRECTORY', 'is missing', { field: `${entry.path}.crt` });
  if (!found.material.keyPair) throw new PkiError('ERR_DIRECTORY', `the ${entry.name} key is neither a file nor in a PKCS#11 token (external CA)`, { field: `${entry.path}.key` });
  return { ...issuerOf(found.material as Material & { keyPair: KeyPair }), certificate: found.material.certificate };
}
