import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { exportPrivateKeyPem, exportPairSpki, generateKeyPair, importPrivateKeyPem, type KeyPair } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { ioError, readIfExists, writeFileAtomic } from '../cluster/files.js';
import { kubeletKubeconfig, parseKubeconfig } from '../cluster/kubeconfig.js';
import { Certificate } from '../x509/certificate.js';
import { createCsr, parseCsr } from '../x509/csr.js';
import { nodeSubject, type Subject } from '../x509/names.js';
import { sansFromHosts } from '../x509/sans.js';
import { CSR_API_PATH, csrApiPath, csrObject, hasCondition, SIGNERS, type CertificateSigningRequestObject, type KeyUsage } from './csr-object.js';
import { connectionFromKubeconfig, kubeRequest, kubeWatch, type KubeConnection } from './kube-client.js';
import { loadCurrentPair, storeCertificatePair } from './store.js';

/**
 * The kubelet's deterministic CSR name (k/k:pkg/kubelet/certificate/bootstrap/bootstrap.go): SHA-512/256
 * over base64url(PKIX key), CN, each O and each usage, each followed by `|`, so a restart with the same
 * key asks for the same CSR object.
 */
export function nodeCsrName(spki: Uint8Array, subject: Subject, usages: readonly string[]): string {
  const hash = createHash('sha512-256');
  for (const data of [spki, subject.commonName, ...(subject.organizations ?? []), ...usages]) hash.update(`${Buffer.from(data).toString('base64url')}|`);
  return `node-csr-${hash.digest().toString('base64url')}`;
}

/**
 * Options of requestCertificate: what to ask for, whom to ask (the signer) and how long to wait for the certificate.
 *
 * @category Bootstrap a node
 */
export interface RequestCertificateOptions extends CryptoOptions {
  /** The API server to create the CSR object on, with a credential allowed to create CSRs (a bootstrap token, or the node's certificate). */
  connection: KubeConnection;
  /** The key to be certified: the CSR is signed with its private key, which never leaves this process. */
  keyPair: KeyPair;
  /** The subject to ask for, e.g. CN=system:node:<name>, O=system:nodes for a kubelet. */
  subject: Subject;
  /** The SANs to ask for. Default: none (a client certificate has none). */
  sans?: {
    /** DNS names. */
    dns?: readonly string[];
    /** IP addresses, IPv4 or IPv6. */
    ips?: readonly string[];
  };
  /** The signer to ask, e.g. kubernetes.io/kube-apiserver-client-kubelet or kubernetes.io/kubelet-serving. */
  signerName: string;
  /** The usages to ask for, e.g. ['digital signature', 'client auth']; the signer refuses usages its rules do not allow. */
  usages: KeyUsage[];
  /** A fixed name (the bootstrap CSR's); default a random `csr-xxxxx`. */
  name?: string;
  /** The lifetime to ask for, in seconds (Kubernetes requires at least 600); the signer clamps it to its maximum. Default: the signer's maximum. */
  expirationSeconds?: number;
  /** How long to wait for approval and issuance. Default 3600 s, as the kubelet waits. */
  timeoutMs?: number;
}

/**
 * Creates a CSR (or resumes the compatible one of the same name: same subject, signer and key, as
 * client-go checks) and waits, watching it, until it is approved and issued. Denied or Failed ends
 * the wait at once with ERR_DENIED; the timeout with ERR_TIMEOUT. Returns the issued PEM.
 *
 * @category Bootstrap a node
 */
export async function requestCertificate(options: RequestCertificateOptions): Promise<string> {
  const crypto = cryptoOf(options);
  const csr = await createCsr({ ...crypto, keyPair: options.keyPair, subject: options.subject, sans: options.sans });
  const name = options.name ?? `csr-${Math.random().toString(36).slice(2, 7)}`;
  const body = csrObject(name, csr.pem, options.signerName, options.usages, options.expirationSeconds);
  const timeoutMs = options.timeoutMs ?? 3_600_000;
  const deadline = Date.now() + timeoutMs;
  try {
    await retrying(() => kubeRequest(options.connection, 'POST', CSR_API_PATH, body), deadline);
  } catch (error) {
    if (!(error instanceof PkiError && (error.code === 'ERR_ALREADY_EXISTS' || error.code === 'ERR_CONFLICT'))) throw error;
    const existing = await kubeRequest<CertificateSigningRequestObject>(options.connection, 'GET', csrApiPath(name));
    const theirs = await parseCsr(Buffer.from(existing.spec.request, 'base64').toString(), crypto);
    const compatible =
      existing.spec.signerName === options.signerName &&
      theirs.subject.commonName === options.subject.commonName &&
      Buffer.from(theirs.publicKey.spki).equals(csr.publicKey.spki);
    if (!compatible) throw new PkiError('ERR_CONFLICT', `a different CSR named ${name} exists`, { field: 'name' });
  }
  return waitForCertificate(options.connection, name, Math.max(1, deadline - Date.now()));
}

/**
 * Retries a request that may fail for a while on a fresh cluster (a token Secret or RBAC binding not yet
 * in the API server's caches, a restarting server), with exponential backoff from 500 ms to 8 s, as the
 * kubelet keeps retrying its bootstrap. Other errors, and the deadline, end it.
 */
async function retrying<T>(attempt: () => Promise<T>, deadline: number): Promise<T> {
  for (let delay = 500; ; delay = Math.min(delay * 2, 8000)) {
    try {
      return await attempt();
    } catch (error) {
      const transient = error instanceof PkiError && ['ERR_UNAUTHORIZED', 'ERR_FORBIDDEN', 'ERR_IO', 'ERR_TIMEOUT'].includes(error.code);
      if (!transient || Date.now() + delay >= deadline) throw error;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Watches one CSR until it carries a certificate (after Approved); Denied or Failed is ERR_DENIED. */
export function waitForCertificate(connection: KubeConnection, name: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let stopWatch = (): void => undefined;
    const finish = (error: Error | undefined, pem?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopWatch();
      if (error) reject(error);
      else resolve(pem!);
    };
    const consider = (csr: CertificateSigningRequestObject): void => {
      const denied = (csr.status?.conditions ?? []).find((c) => c.type === 'Denied' || c.type === 'Failed');
      if (denied) return finish(new PkiError('ERR_DENIED', `CSR ${name} ${denied.type === 'Denied' ? 'was denied' : 'failed'}: ${denied.reason ?? ''} ${denied.message ?? ''}`.trim(), { field: name }));
      if (hasCondition(csr, 'Approved') && csr.status?.certificate) finish(undefined, Buffer.from(csr.status.certificate, 'base64').toString('utf8'));
    };
    const timer = setTimeout(() => finish(new PkiError('ERR_TIMEOUT', `no certificate for CSR ${name} within ${timeoutMs} ms`, { field: name })), timeoutMs);
    const open = (): void => {
      if (settled) return;
      stopWatch = kubeWatch(
        connection,
        `${CSR_API_PATH}?watch=true&fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`,
        (event) => consider(event.object),
        (error) => {
          if (error instanceof PkiError && (error.code === 'ERR_FORBIDDEN' || error.code === 'ERR_UNAUTHORIZED')) return finish(error);
          // The server closed the watch (API servers end watches every few minutes): open it again.
          setTimeout(open, 500).unref();
        },
      );
    };
    kubeRequest<CertificateSigningRequestObject>(connection, 'GET', csrApiPath(name)).then(consider, (error: Error) => finish(error));
    open();
  });
}

// The kubelet's client certificate usages (with key encipherment, as it asks for an RSA or EC key alike).
const CLIENT_USAGES: KeyUsage[] = ['digital signature', 'key encipherment', 'client auth'];

/**
 * Options of bootstrapKubelet: the bootstrap kubeconfig to authenticate with and where the kubelet's files go.
 *
 * @category Bootstrap a node
 */
export interface KubeletBootstrapOptions extends CryptoOptions {
  /** A kubeconfig with a bootstrap token (or any credential allowed to create CSRs). */
  bootstrapKubeconfig: string;
  /** Where the kubelet kubeconfig is written; if it exists with a valid certificate, nothing happens. */
  kubeconfig: string;
  /** Default /var/lib/kubelet/pki. */
  certDir: string;
  /** The node's name: the certificate's subject is CN=system:node:<nodeName>, O=system:nodes. */
  nodeName: string;
  /** How long to wait for approval and issuance, in ms; ERR_TIMEOUT after. Default 3600000 (one hour). */
  timeoutMs?: number;
  /** The clock, for the validity check and the stored pair's file name. Default: the system clock. */
  now?: () => Date;
}

/**
 * The kubelet's TLS bootstrap (docs/kubernetes-pki.md §13): keep a kubeconfig whose certificate is valid;
 * else reuse the key of a valid current certificate or the pending `kubelet-client.key.tmp` (created
 * 0600 once, so that a restart resumes the same CSR), ask for a client certificate under the
 * deterministic name, store it as `kubelet-client-current.pem`, and write a kubeconfig pointing at it.
 *
 * @category Bootstrap a node
 */
export async function bootstrapKubelet(options: KubeletBootstrapOptions): Promise<{
  /** False when the kubeconfig already held a certificate valid now, and nothing was asked for. */
  bootstrapped: boolean;
  /** The kubelet's client certificate: the existing one, or the one just issued. */
  certificate: Certificate;
}> {
  const crypto = cryptoOf(options);
  const now = options.now ?? (() => new Date());
  const store = { certDir: options.certDir, prefix: 'kubelet-client', now };
  const existing = await readIfExists(options.kubeconfig);
  if (existing !== undefined) {
    const current = await loadCurrentPair(store).catch(() => undefined);
    const config = parseKubeconfig(existing, options.kubeconfig);
    const pem = config.clientCertificatePem ?? (current ? current.certificate.pem : undefined);
    const certificate = pem ? Certificate.from(pem) : undefined;
    if (certificate && certificate.notAfter > now()) return { bootstrapped: false, certificate };
  }
  const bootstrap = parseKubeconfig((await readIfExists(options.bootstrapKubeconfig)) ?? '', options.bootstrapKubeconfig);
  const connection = await connectionFromKubeconfig(bootstrap, options.bootstrapKubeconfig);
  const pendingKeyPath = join(options.certDir, 'kubelet-client.key.tmp');
  const keyPair = await pendingKey(store, pendingKeyPath, now(), crypto);
  const subject = nodeSubject(options.nodeName);
  const name = nodeCsrName(await exportPairSpki(keyPair, crypto), subject, CLIENT_USAGES);
  const pem = await requestCertificate({ ...crypto, connection, keyPair, subject, signerName: SIGNERS.kubeApiserverClientKubelet, usages: CLIENT_USAGES, name, timeoutMs: options.timeoutMs });
  await storeCertificatePair(store, pem, await exportPrivateKeyPem(keyPair, undefined, crypto));
  const current = join(options.certDir, 'kubelet-client-current.pem');
  await writeFileAtomic(
    { path: options.kubeconfig, content: kubeletKubeconfig({ server: bootstrap.server, caPem: connection.ca, certificateFile: current, keyFile: current }), mode: 0o600 },
    { overwrite: true },
  );
  await rm(pendingKeyPath, { force: true }).catch((cause: unknown) => Promise.reject(ioError(pendingKeyPath, 'cannot be removed', cause)));
  return { bootstrapped: true, certificate: Certificate.from(pem) };
}

async function pendingKey(store: { certDir: string; prefix: string; now: () => Date }, path: string, now: Date, crypto: CryptoOptions): Promise<KeyPair> {
  const current = await loadCurrentPair(store).catch(() => undefined);
  if (current && current.certificate.notAfter > now) return importPrivateKeyPem(current.keyPem, crypto);
  const saved = await readIfExists(path);
  if (saved !== undefined) return importPrivateKeyPem(saved, { ...crypto, field: path });
  const keyPair = await generateKeyPair('ecdsa-p256', crypto);
  await writeFileAtomic({ path, content: await exportPrivateKeyPem(keyPair, undefined, crypto), mode: 0o600 });
  return keyPair;
}

/**
 * Options of renewing a kubelet's client certificate with its current one.
 *
 * @category Bootstrap a node
 */
export interface ClientRenewalOptions extends CryptoOptions {
  /** The kubelet's own kubeconfig, whose client certificate authenticates the request. */
  kubeconfig: string;
  /** The kubelet's certificate directory, e.g. /var/lib/kubelet/pki: the new pair goes to kubelet-client-current.pem. */
  certDir: string;
  /** The node's name: the certificate's subject is CN=system:node:<nodeName>, O=system:nodes. */
  nodeName: string;
  /** How long to wait for approval and issuance, in ms; ERR_TIMEOUT after. Default 3600000 (one hour). */
  timeoutMs?: number;
  /** The clock, for the stored pair's file name. Default: the system clock. */
  now?: () => Date;
}

/**
 * Renews the kubelet's client certificate as client-go's certificate manager does: a new key, a CSR
 * (random `csr-` name) sent with the current certificate, which the approver grants as selfnodeclient;
 * the new pair becomes `kubelet-client-current.pem`, which the kubeconfig already points at.
 */
export async function renewClientCertificate(options: ClientRenewalOptions): Promise<Certificate> {
  return requestWithKubeletCredential(options, 'kubelet-client', { signerName: SIGNERS.kubeApiserverClientKubelet, usages: CLIENT_USAGES });
}

/**
 * Options of requestServingCertificate: the kubelet's credential, its certificate directory and the node's addresses.
 *
 * @category Bootstrap a node
 */
export interface ServingCertificateOptions extends CryptoOptions {
  /** The kubelet's own kubeconfig (client certificate), after bootstrap. */
  kubeconfig: string;
  /** The kubelet's certificate directory, e.g. /var/lib/kubelet/pki: the new pair goes to kubelet-server-current.pem. */
  certDir: string;
  /** The node's name: the certificate's subject is CN=system:node:<nodeName>, O=system:nodes. */
  nodeName: string;
  /** The node's addresses: IPs become IP SANs, names DNS SANs (the kubelet's template, §14). */
  addresses: readonly string[];
  /** How long to wait for approval and issuance, in ms; ERR_TIMEOUT after. Default 3600000 (one hour). */
  timeoutMs?: number;
  /** The clock, for the stored pair's file name. Default: the system clock. */
  now?: () => Date;
}

/**
 * Asks for a kubelet serving certificate (signer kubelet-serving) and stores it as `kubelet-server-current.pem`.
 *
 * @category Bootstrap a node
 */
export async function requestServingCertificate(options: ServingCertificateOptions): Promise<Certificate> {
  const sans = sansFromHosts(options.addresses, 'addresses');
  return requestWithKubeletCredential(options, 'kubelet-server', {
    sans: { dns: [...sans.dns].sort(), ips: sans.ips },
    signerName: SIGNERS.kubeletServing,
    // With key encipherment, as kubelets before 1.27 asked: older signers accept only the 3-usage set (§9).
    usages: ['digital signature', 'key encipherment', 'server auth'],
  });
}

/**
 * A new key and a certificate for it, asked for with the kubelet's own client certificate (its kubeconfig,
 * read afresh: a renewal just before may have replaced the pair), stored as `<prefix>-current.pem`.
 */
async function requestWithKubeletCredential(
  options: ClientRenewalOptions,
  prefix: string,
  request: Pick<RequestCertificateOptions, 'signerName' | 'usages' | 'sans'>,
): Promise<Certificate> {
  const crypto = cryptoOf(options);
  const config = parseKubeconfig((await readIfExists(options.kubeconfig)) ?? '', options.kubeconfig);
  const connection = await connectionFromKubeconfig(config, options.kubeconfig);
  const keyPair = await generateKeyPair('ecdsa-p256', crypto);
  const pem = await requestCertificate({ ...crypto, ...request, connection, keyPair, subject: nodeSubject(options.nodeName), timeoutMs: options.timeoutMs });
  await storeCertificatePair({ certDir: options.certDir, prefix, now: options.now }, pem, await exportPrivateKeyPem(keyPair, undefined, crypto));
  return Certificate.from(pem);
}

function cryptoOf(options: CryptoOptions): CryptoOptions {
  return options.crypto ? { crypto: options.crypto } : {};
}
