// The control plane's shared material as kubeadm's `init phase upload-certs` carries it to a joining
// control-plane node: the Secret kube-system/kubeadm-certs, each file AES-256-GCM-encrypted with the
// certificate key (`--certificate-key`, 32 random bytes as 64 hex characters).
//
// kubeadm's format (cmd/kubeadm/app/phases/copycerts/copycerts.go and cmd/kubeadm/app/util/crypto/crypto.go):
// - the files are certsToTransfer's: ca.crt/key, front-proxy-ca.crt/key, sa.pub/key and, with a local etcd,
//   etcd/ca.crt/key (an external etcd's external-etcd-ca.crt, external-etcd.crt/key instead; kubepki makes only
//   the local etcd PKI);
// - a file's data key is its name with every `/` replaced by `-` (certOrKeyNameToSecretName): `etcd-ca.crt`;
// - a file's value is EncryptBytes: AES-GCM with a random 12-byte nonce (gcm.NonceSize()), no additional
//   data, written as gcm.Seal(nonce, nonce, data, nil), i.e. nonce || ciphertext || 16-byte tag; DecryptBytes
//   splits the nonce off the front and opens the rest;
// - a file absent when uploading is an empty value, and download skips empty values (getDataFromDisk,
//   DownloadCerts); a data key download expects but does not find fails the whole download, and one value
//   that does not decrypt fails it before anything is written (getDataFromSecret);
// - CreateCertificateKey is hex of CertificateKeySize (32) random bytes.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { exportPairSpki, importPrivateKeyPem, publicKeyInfo } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { Certificate } from '../x509/certificate.js';
import { ioError, type FileToWrite } from './files.js';
import { layoutFile } from './layout.js';
import { withDirectoryLock, type DirectoryLockOptions } from './lock.js';
import { commitChanges, type Change } from './transaction.js';

/** kubeadm's CertificateKeySize: the certificate key is an AES-256 key. */
export const CERTIFICATE_KEY_BYTES = 32;
/** The Secret kubeadm's upload-certs writes (KubeadmCertsSecret, in kube-system). */
export const SHARED_CERTIFICATES_SECRET = { name: 'kubeadm-certs', namespace: 'kube-system' } as const;

const NONCE_BYTES = 12; // Go's cipher.NewGCM: gcmStandardNonceSize
const TAG_BYTES = 16; // Go's cipher.NewGCM: gcmTagSize
const PKI = 'pki/';

/** One file kubeadm carries: its name under the certificates dir (kubeadm's constant), its path in a kubepki directory. */
export interface SharedCertificateFile {
  /** kubeadm's name under certificatesDir, e.g. `etcd/ca.crt`. */
  readonly name: string;
  /** The Secret's data key: the name with `/` replaced by `-`, e.g. `etcd-ca.crt`. */
  readonly dataKey: string;
  /** Relative to the kubepki directory, e.g. `pki/etcd/ca.crt`. */
  readonly path: string;
  readonly kind: 'certificate' | 'private-key' | 'public-key';
  /** The pair it belongs to (a CA's name, or `sa`). */
  readonly pair: string;
}

/** kubeadm's certOrKeyNameToSecretName. */
export function sharedCertificateDataKey(name: string): string {
  return name.replaceAll('/', '-');
}

const file = (path: string, kind: SharedCertificateFile['kind'], pair: string): SharedCertificateFile => {
  const name = path.slice(PKI.length);
  return { name, dataKey: sharedCertificateDataKey(name), path, kind, pair };
};

/** The files of certsToTransfer for a cluster with a local etcd, keys first within a pair. */
export const SHARED_CERTIFICATE_FILES: readonly SharedCertificateFile[] = [
  ...(['ca', 'front-proxy-ca', 'etcd-ca'] as const).flatMap((ca) => [file(layoutFile(ca, '.key'), 'private-key', ca), file(layoutFile(ca, '.crt'), 'certificate', ca)]),
  file('pki/sa.key', 'private-key', 'sa'),
  file('pki/sa.pub', 'public-key', 'sa'),
];

/** The data keys an external etcd adds instead of etcd-ca's (copycerts.go's externalEtcd* constants): kubepki accepts them only empty. */
const EXTERNAL_ETCD_KEYS: ReadonlySet<string> = new Set(['external-etcd-ca.crt', 'external-etcd.crt', 'external-etcd.key']);

/**
 * A new certificate key as kubeadm's CreateCertificateKey makes it: 32 random bytes, 64 lowercase hex characters.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function createCertificateKey(): string {
  return randomBytes(CERTIFICATE_KEY_BYTES).toString('hex');
}

/** The certificate key's bytes; ERR_ARGUMENT (never quoting the key) unless it is 64 hex characters. */
function certificateKeyBytes(certificateKey: string): Buffer {
  if (typeof certificateKey !== 'string' || !/^[0-9a-fA-F]{64}$/.test(certificateKey)) {
    throw new PkiError('ERR_ARGUMENT', `must be ${CERTIFICATE_KEY_BYTES * 2} hexadecimal characters (a ${CERTIFICATE_KEY_BYTES}-byte AES-256 key, as kubeadm's --certificate-key)`, { field: 'certificateKey' });
  }
  return Buffer.from(certificateKey, 'hex');
}

/** kubeadm's EncryptBytes: nonce || AES-GCM ciphertext || tag. */
function encryptBytes(data: Uint8Array, key: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  const sealed = Buffer.concat([cipher.update(data), cipher.final()]);
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()]);
}

/** kubeadm's DecryptBytes; a value that does not open is ERR_KEY naming its data key. */
function decryptBytes(data: Buffer, key: Buffer, dataKey: string): Buffer {
  const field = `data.${dataKey}`;
  if (data.length < NONCE_BYTES + TAG_BYTES) throw new PkiError('ERR_KEY', `is ${data.length} bytes, shorter than an AES-GCM nonce and tag; the Secret was altered`, { field });
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, NONCE_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)), decipher.final()]);
  } catch (cause) {
    throw new PkiError('ERR_KEY', 'does not decrypt with this certificate key (a wrong --certificate-key, or the Secret was altered); nothing was written', { field, cause });
  }
}

/**
 * The Secret's `data` (base64 values, kubeadm's data keys) and the data keys left empty because their file is absent.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface SharedCertificateSecret {
  /** By kubeadm's data key: the file encrypted with the certificate key (AES-GCM nonce, ciphertext and tag), base64; '' for an absent file. */
  readonly data: Record<string, string>;
  /** Data keys whose file the directory does not have (kubeadm uploads those empty): a CA key in a PKCS#11 token, say. */
  readonly empty: readonly string[];
}

/**
 * The `data` of kubeadm's kube-system/kubeadm-certs Secret for the directory `dir` (a kubepki or kubeadm
 * directory: `pki/ca.crt`, ...), each file encrypted with `certificateKey` as kubeadm's upload-certs does
 * (nonce || ciphertext || tag, base64). A file the directory lacks is an empty value, as kubeadm uploads it.
 * Reads under the directory lock, so a concurrent writer (rotate-ca) is never half seen.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function sharedCertificateSecret(dir: string, certificateKey: string, options: DirectoryLockOptions = {}): Promise<SharedCertificateSecret> {
  const key = certificateKeyBytes(certificateKey);
  return withDirectoryLock(dir, async () => {
    const data: Record<string, string> = {};
    const empty: string[] = [];
    for (const entry of SHARED_CERTIFICATE_FILES) {
      const content = await readBytes(join(dir, entry.path));
      if (content === undefined) empty.push(entry.dataKey);
      data[entry.dataKey] = content === undefined ? '' : encryptBytes(content, key).toString('base64');
    }
    if (empty.includes(sharedCertificateDataKey('ca.crt'))) throw new PkiError('ERR_DIRECTORY', 'has no pki/ca.crt: not a cluster directory; nothing to upload', { field: dir });
    return { data, empty };
  }, options);
}

async function readBytes(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(path, 'cannot be read', cause);
  }
}

/**
 * Options of restoreSharedCertificates: replacing differing files, the CA the node expects, and the directory lock.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RestoreSharedCertificatesOptions extends DirectoryLockOptions, CryptoOptions {
  /** Replace files that exist and differ; otherwise they are ERR_EXISTS and nothing is written. */
  force?: boolean;
  /**
   * The cluster CA the restoring node already trusts (the one it pinned at discovery): a Secret whose `ca.crt`
   * is another certificate is refused (ERR_CERTIFICATE) before anything is written.
   */
  expectedClusterCa?: string;
}

/**
 * What restoreSharedCertificates wrote, found unchanged, or skipped.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface RestoreSharedCertificatesResult {
  /** Paths written, in commit order. */
  readonly written: readonly string[];
  /** Paths already holding the same bytes. */
  readonly unchanged: readonly string[];
  /** Data keys the Secret holds empty (the uploader lacked the file), so nothing was written for them, as kubeadm's download. */
  readonly empty: readonly string[];
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decrypts kubeadm's kubeadm-certs Secret `data` (base64 values, as in the Secret object) with
 * `certificateKey` and writes the files into the directory `dir` through the directory transaction, under
 * its lock: keys 0600, certificates and sa.pub 0644. Every value is decrypted and checked (a certificate,
 * a private key, the public key, each key matching its certificate or sa.pub) before anything is written;
 * a missing data key is ERR_ARGUMENT, a value that does not decrypt (a wrong key, an altered Secret) ERR_KEY
 * naming the data key, and a file that exists and differs ERR_EXISTS unless `force`, each with nothing
 * written. Empty values are skipped, as kubeadm's download does.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export async function restoreSharedCertificates(dir: string, secretData: Readonly<Record<string, string>>, certificateKey: string, options: RestoreSharedCertificatesOptions = {}): Promise<RestoreSharedCertificatesResult> {
  const key = certificateKeyBytes(certificateKey);
  const contents = await decryptSecretData(secretData, key, options);
  if (options.expectedClusterCa !== undefined) {
    const inSecret = contents.get('ca.crt');
    const same = inSecret !== undefined && Buffer.from(Certificate.from(inSecret, 'data.ca.crt').der).equals(Certificate.from(options.expectedClusterCa, 'expectedClusterCa').der);
    if (!same) throw new PkiError('ERR_CERTIFICATE', "the Secret's cluster CA is not the CA this node pinned; nothing was written", { field: 'data.ca.crt' });
  }
  return withDirectoryLock(dir, async () => {
    const unchanged: string[] = [];
    const conflicts: string[] = [];
    const changes: Change[] = [];
    for (const pair of new Set(SHARED_CERTIFICATE_FILES.map((f) => f.pair))) {
      const files: FileToWrite[] = [];
      let replaces = false;
      for (const entry of SHARED_CERTIFICATE_FILES.filter((f) => f.pair === pair)) {
        const content = contents.get(entry.dataKey);
        if (content === undefined) continue;
        const path = join(dir, entry.path);
        const existing = await readBytes(path);
        if (existing !== undefined && existing.equals(Buffer.from(content, 'utf8'))) {
          unchanged.push(path);
          continue;
        }
        if (existing !== undefined) {
          replaces = true;
          conflicts.push(path);
        }
        files.push({ path, content, mode: entry.kind === 'private-key' ? 0o600 : 0o644 });
      }
      if (files.length) changes.push({ name: pair, kind: pair === 'sa' ? 'leaf' : replaces ? 'replace-authority' : 'new-authority', files, overwrite: replaces });
    }
    if (conflicts.length && !options.force) {
      throw new PkiError('ERR_EXISTS', `the directory holds files that differ from the Secret's, nothing was written (use force to replace them):\n  ${conflicts.join('\n  ')}`, { field: dir });
    }
    const written = await commitChanges(changes);
    return { written, unchanged, empty: SHARED_CERTIFICATE_FILES.filter((f) => !contents.has(f.dataKey)).map((f) => f.dataKey) };
  }, options);
}

/** Every value decrypted and checked, by data key (empty values left out); throws before anything is written. */
async function decryptSecretData(secretData: Readonly<Record<string, string>>, key: Buffer, options: CryptoOptions): Promise<Map<string, string>> {
  if (typeof secretData !== 'object' || secretData === null || Array.isArray(secretData)) throw new PkiError('ERR_ARGUMENT', "must be the Secret's data: data keys to base64 values", { field: 'data' });
  const known = new Set(SHARED_CERTIFICATE_FILES.map((f) => f.dataKey));
  const decrypted = new Map<string, Buffer>();
  for (const [dataKey, value] of Object.entries(secretData)) {
    const field = `data.${dataKey}`;
    if (typeof value !== 'string' || !BASE64.test(value)) throw new PkiError('ERR_ARGUMENT', 'must be base64 text', { field });
    // kubeadm decrypts every non-empty value, and fails the download on the first that does not open.
    const plain = value === '' ? Buffer.alloc(0) : decryptBytes(Buffer.from(value, 'base64'), key, dataKey);
    if (EXTERNAL_ETCD_KEYS.has(dataKey)) {
      if (plain.length) throw new PkiError('ERR_ARGUMENT', 'holds an external etcd client file; kubepki makes the local etcd PKI and does not support an external etcd', { field });
      continue;
    }
    if (!known.has(dataKey)) throw new PkiError('ERR_ARGUMENT', `is not one of kubeadm's data keys (${[...known].join(', ')})`, { field });
    decrypted.set(dataKey, plain);
  }
  const missing = SHARED_CERTIFICATE_FILES.filter((f) => !decrypted.has(f.dataKey));
  if (missing.length) throw new PkiError('ERR_ARGUMENT', `the Secret lacks ${missing.map((f) => f.dataKey).join(', ')} (kubeadm writes every data key, empty for a file it did not have); nothing was written`, { field: `data.${missing[0]!.dataKey}` });

  const contents = new Map<string, string>();
  const spkis = new Map<string, { file: SharedCertificateFile; spki: Uint8Array }[]>();
  for (const entry of SHARED_CERTIFICATE_FILES) {
    const plain = decrypted.get(entry.dataKey)!;
    if (plain.length === 0) continue;
    const field = `data.${entry.dataKey}`;
    const text = plain.toString('utf8');
    if (!Buffer.from(text, 'utf8').equals(plain)) throw new PkiError('ERR_PEM', 'is not PEM text', { field });
    const spki = await spkiOf(entry, text, field, options);
    spkis.set(entry.pair, [...(spkis.get(entry.pair) ?? []), { file: entry, spki }]);
    contents.set(entry.dataKey, text);
  }
  for (const [, pair] of spkis) {
    const [first, second] = pair;
    if (first && second && Buffer.compare(first.spki, second.spki) !== 0) {
      throw new PkiError('ERR_KEY', `does not match ${second.file.dataKey}; nothing was written`, { field: `data.${first.file.dataKey}` });
    }
  }
  return contents;
}

/** The public key (SPKI) a decrypted file holds, checking it is what its name says. */
async function spkiOf(entry: SharedCertificateFile, text: string, field: string, options: CryptoOptions): Promise<Uint8Array> {
  try {
    if (entry.kind === 'certificate') {
      const certificate = Certificate.from(text, field);
      if (!certificate.basicConstraints?.isCA) throw new PkiError('ERR_CERTIFICATE', 'is not a CA certificate', { field });
      return certificate.spki;
    }
    if (entry.kind === 'public-key') return (await publicKeyInfo(text, { ...options, field })).spki;
    const pair = await importPrivateKeyPem(text, { ...options, field });
    return await exportPairSpki(pair, options);
  } catch (cause) {
    if (cause instanceof PkiError && cause.field === field) throw cause;
    throw new PkiError(cause instanceof PkiError ? cause.code : 'ERR_PEM', `is not a valid ${entry.kind.replace('-', ' ')}`, { field, cause });
  }
}

/** The Secret as a manifest (YAML) kubectl applies: kube-system/kubeadm-certs, type Opaque, the data. */
export function sharedCertificateManifest(data: Readonly<Record<string, string>>): string {
  return stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { ...SHARED_CERTIFICATES_SECRET }, type: 'Opaque', data: { ...data } });
}

const MAX_MANIFEST_BYTES = 1 << 20;

/** The `data` of a kubeadm-certs Secret manifest (YAML or JSON, as `kubectl get secret -o yaml` prints it); ERR_ARGUMENT naming the field otherwise. */
export function sharedCertificateManifestData(text: string, field = 'manifest'): Record<string, string> {
  if (text.length > MAX_MANIFEST_BYTES) throw new PkiError('ERR_ARGUMENT', `is larger than ${MAX_MANIFEST_BYTES} bytes`, { field });
  let object: unknown;
  try {
    object = parse(text, { maxAliasCount: 0 });
  } catch (cause) {
    throw new PkiError('ERR_ARGUMENT', 'is not YAML or JSON', { field, cause });
  }
  const record = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  if (!record(object) || object.kind !== 'Secret') throw new PkiError('ERR_ARGUMENT', 'is not a Secret manifest (kind: Secret)', { field: `${field}.kind` });
  const metadata = object.metadata;
  if (!record(metadata) || metadata.name !== SHARED_CERTIFICATES_SECRET.name || (metadata.namespace !== undefined && metadata.namespace !== SHARED_CERTIFICATES_SECRET.namespace)) {
    throw new PkiError('ERR_ARGUMENT', `is not the Secret ${SHARED_CERTIFICATES_SECRET.namespace}/${SHARED_CERTIFICATES_SECRET.name}`, { field: `${field}.metadata` });
  }
  const data = object.data ?? {};
  if (!record(data)) throw new PkiError('ERR_ARGUMENT', 'must map data keys to base64 values', { field: `${field}.data` });
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(data)) {
    if (value === null) out[name] = ''; // kubectl prints an empty value as `ca.key: ""`; some writers as `ca.key:`
    else if (typeof value === 'string') out[name] = value;
    else throw new PkiError('ERR_ARGUMENT', 'must be base64 text', { field: `${field}.data.${name}` });
  }
  return out;
}
