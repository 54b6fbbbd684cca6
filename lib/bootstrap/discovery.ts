import { request } from 'node:https';
import { parse } from 'yaml';
import { PkiError, type PkiErrorCode } from '../errors.js';
import { stringifyKubeconfig } from '../cluster/kubeconfig.js';
import { Certificate } from '../x509/certificate.js';
import { CLUSTER_INFO_PATH, caPublicKeyPin, formatBootstrapToken, parseBootstrapToken, verifyClusterInfo, verifyDetachedJws, type BootstrapToken } from './token.js';

/**
 * Options of discoverCluster (kubeadm's token discovery): the endpoint, the bootstrap token and the CA pins.
 *
 * @category Bootstrap a node
 */
export interface DiscoverClusterOptions {
  /** The API endpoint as `kubeadm join` takes it: `HOST:PORT` (`[::1]:6443` for IPv6). */
  server: string;
  /** The bootstrap token, `<id>.<secret>` or parsed. */
  token: string | BootstrapToken;
  /** kubeadm's `--discovery-token-ca-cert-hash` values, `sha256:<hex>` over the CA's SubjectPublicKeyInfo: any one matching is enough; at least one is required. */
  caCertHashes: readonly string[];
  /** The time a pinned CA must be valid at; default now. */
  now?: Date;
  /** Each of the two requests; default 30 s. */
  timeoutMs?: number;
}

/**
 * What token discovery found and verified: the API server's URL and CA bundle from kube-public/cluster-info.
 *
 * @category Bootstrap a node
 */
export interface DiscoveredCluster {
  /** The API server URL cluster-info names. */
  readonly server: string;
  /** The CA bundle of cluster-info (one of its CAs matched a pin). */
  readonly caPem: string;
}

/** Largest cluster-info answer read (a kubeconfig with a few CAs and a JWS per token is a few KiB). */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * `kubeadm join`'s token discovery: fetches `kube-public/cluster-info` anonymously from `HOST:PORT`, trusts
 * its kubeconfig only if the token's detached JWS over it verifies and one of its CAs matches a pin, then
 * fetches it again over TLS verified with that CA and requires the same kubeconfig. Refusals: no signature
 * for the token or one that does not verify (a wrong token, a changed ConfigMap) ERR_TOKEN; no CA matching a
 * pin ERR_CERTIFICATE; a pinned CA not valid at `now` ERR_EXPIRED; a server certificate the pinned CA does not
 * verify ERR_UNKNOWN_AUTHORITY (ERR_NAME_MISMATCH for another host); a second kubeconfig that differs
 * ERR_CONFLICT; a malformed pin or endpoint ERR_ARGUMENT.
 *
 * @category Bootstrap a node
 */
export async function discoverCluster(options: DiscoverClusterOptions): Promise<DiscoveredCluster> {
  const token = typeof options.token === 'string' ? parseBootstrapToken(options.token) : parseBootstrapToken(formatBootstrapToken(options.token));
  const pins = parsePins(options.caCertHashes);
  const endpoint = endpointUrl(options.server);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const configMap = await fetchClusterInfo(endpoint, 'content-verified-after', timeoutMs);
  const data: unknown = isRecord(configMap) ? configMap.data : undefined;
  const key = `jws-kubeconfig-${token.id}`;
  const kubeconfig = isRecord(data) && typeof data.kubeconfig === 'string' ? data.kubeconfig : undefined;
  const jws = isRecord(data) && Object.hasOwn(data, key) ? data[key] : undefined;
  if (typeof jws !== 'string' || jws === '' || !kubeconfig) {
    throw new PkiError('ERR_TOKEN', `cluster-info has no signature for token ${token.id}: the token is unknown to this cluster, expired, or not for signing`, { field: key });
  }
  if (!verifyDetachedJws(jws, kubeconfig, token)) throw new PkiError('ERR_TOKEN', 'the cluster-info signature does not verify with this token: a wrong token or a changed cluster-info; this server is not trusted', { field: key });
  const cluster = readClusterInfoKubeconfig(kubeconfig);
  const cas = Certificate.fromPemBundle(cluster.caPem, 'cluster-info.certificate-authority-data');
  const verified = verifyClusterInfo({ data: data as Record<string, string> }, token, cas, pins);
  const now = options.now ?? new Date();
  const pinned = cas.filter((ca) => pins.includes(caPublicKeyPin(ca)));
  if (!pinned.some((ca) => ca.notBefore <= now && now <= ca.notAfter)) throw new PkiError('ERR_EXPIRED', 'the pinned CA in cluster-info is expired or not yet valid', { field: 'cluster-info.certificate-authority-data' });
  // Now that the CA is known, the endpoint must prove it holds a certificate from it, and say the same.
  const again = await fetchClusterInfo(endpoint, { ca: cluster.caPem }, timeoutMs);
  const secondKubeconfig = isRecord(again) && isRecord(again.data) ? again.data.kubeconfig : undefined;
  if (secondKubeconfig !== verified) throw new PkiError('ERR_CONFLICT', 'the cluster-info fetched over verified TLS differs from the first one', { field: 'cluster-info' });
  return { server: cluster.server, caPem: cluster.caPem };
}

/**
 * The kubeconfig `kubeadm join` writes for the TLS bootstrap (`bootstrap-kubelet.conf`): the server, its CA and the token.
 *
 * @category Bootstrap a node
 */
export function joinKubeconfig(cluster: DiscoveredCluster, token: string | BootstrapToken): string {
  const text = typeof token === 'string' ? formatBootstrapToken(parseBootstrapToken(token)) : formatBootstrapToken(token);
  return stringifyKubeconfig({ clusterName: 'kubernetes', server: cluster.server, caPem: cluster.caPem, userName: 'tls-bootstrap-token-user', token: text });
}

function parsePins(hashes: readonly string[]): string[] {
  if (!Array.isArray(hashes) || hashes.length === 0) throw new PkiError('ERR_ARGUMENT', 'at least one CA pin (sha256:<hex>) is required; kubepki does not join unpinned', { field: 'caCertHashes' });
  return hashes.map((hash, i) => {
    const match = typeof hash === 'string' ? /^sha256:([0-9a-f]{64})$/i.exec(hash.trim()) : null;
    if (!match) throw new PkiError('ERR_ARGUMENT', 'is not sha256:<64 hex digits> (kubeadm\'s --discovery-token-ca-cert-hash)', { field: `caCertHashes[${i}]` });
    return `sha256:${match[1]!.toLowerCase()}`;
  });
}

function endpointUrl(server: string): URL {
  const match = typeof server === 'string' ? /^(?:https:\/\/)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})\/?$/.exec(server) : null;
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new PkiError('ERR_ARGUMENT', 'must be HOST:PORT, the API endpoint', { field: 'server' });
  return new URL(`https://${match[1]}:${match[2]}`);
}

/** The cluster of a cluster-info kubeconfig, as kubeadm picks it: the unnamed one, else the current context's. */
function readClusterInfoKubeconfig(text: string): { server: string; caPem: string } {
  const field = 'cluster-info.kubeconfig';
  const fail = (reason: string): never => {
    throw new PkiError('ERR_KUBECONFIG', reason, { field });
  };
  if (text.length > MAX_ANSWER_BYTES) fail('is too large');
  let root: unknown;
  try {
    root = parse(text, { maxAliasCount: 10, logLevel: 'error' });
  } catch {
    fail('is not valid YAML');
  }
  if (!isRecord(root) || !Array.isArray(root.clusters)) return fail('has no clusters');
  const clusters = root.clusters.filter(isRecord);
  const context = Array.isArray(root.contexts) ? root.contexts.filter(isRecord).find((c) => c.name === root['current-context']) : undefined;
  const contextCluster = isRecord(context?.context) ? context.context.cluster : undefined;
  const wanted = clusters.find((c) => c.name === '') ?? (typeof contextCluster === 'string' ? clusters.find((c) => c.name === contextCluster) : undefined);
  const cluster = isRecord(wanted?.cluster) ? wanted.cluster : fail('has no unnamed cluster and no current context');
  const server = typeof cluster.server === 'string' && /^https:\/\//.test(cluster.server) ? cluster.server : fail('has no https:// server');
  const data = cluster['certificate-authority-data'];
  if (typeof data !== 'string' || data === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) return fail('has no certificate-authority-data');
  return { server, caPem: Buffer.from(data, 'base64').toString('utf8') };
}

/**
 * One GET of cluster-info, anonymous, JSON. With 'content-verified-after' the server's certificate is NOT
 * verified: before discovery the node has no CA to verify it with. This is kubeadm's discovery model and the
 * one place kubepki connects unverified: nothing is sent (no credential), and nothing received is used until
 * the token's JWS over the kubeconfig verifies and its CA matches a pin; the second GET then verifies the
 * server with that CA. No option reaches this from outside the module.
 */
function fetchClusterInfo(endpoint: URL, trust: 'content-verified-after' | { ca: string }, timeoutMs: number): Promise<unknown> {
  const url = new URL(CLUSTER_INFO_PATH, endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { accept: 'application/json' },
        timeout: timeoutMs,
        agent: false,
        minVersion: 'TLSv1.2',
        ...(trust === 'content-verified-after' ? { rejectUnauthorized: false } : { ca: trust.ca, rejectUnauthorized: true }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new PkiError('ERR_IO', `cluster-info answer over ${MAX_ANSWER_BYTES} bytes`, { field: endpoint.host }));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            const code: PkiErrorCode = status === 404 ? 'ERR_NOT_FOUND' : status === 401 ? 'ERR_UNAUTHORIZED' : status === 403 ? 'ERR_FORBIDDEN' : 'ERR_IO';
            return reject(new PkiError(code, `GET ${CLUSTER_INFO_PATH}: ${status}`, { field: endpoint.host }));
          }
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (cause) {
            reject(new PkiError('ERR_IO', 'cluster-info is not JSON', { field: endpoint.host, cause }));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new PkiError('ERR_TIMEOUT', `GET ${CLUSTER_INFO_PATH} timed out`, { field: endpoint.host })));
    req.on('error', (cause: Error & { code?: string }) => reject(cause instanceof PkiError ? cause : new PkiError(tlsCode(cause.code), `GET ${CLUSTER_INFO_PATH}: ${cause.message}`, { field: endpoint.host, cause })));
    req.end();
  });
}

/** The code of a failed connection: the verification failures OpenSSL and Node report, else ERR_IO. */
function tlsCode(code: string | undefined): PkiErrorCode {
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'ERR_NAME_MISMATCH';
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return 'ERR_EXPIRED';
  if (code && /CERT|ISSUER|SIGNATURE|VERIFY/.test(code)) return 'ERR_UNKNOWN_AUTHORITY';
  return 'ERR_IO';
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
