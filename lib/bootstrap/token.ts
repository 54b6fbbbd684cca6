import { createHash, createHmac, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';
import { stringify } from 'yaml';
import { PkiError } from '../errors.js';
import type { Certificate } from '../x509/certificate.js';

// docs/kubernetes-pki.md §7 (cluster-bootstrap token/api/types.go, token/util/helpers.go).
const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const EXTRA_GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const BOOTSTRAP_TOKEN_SECRET_TYPE = 'bootstrap.kubernetes.io/token';
export const BOOTSTRAPPERS_GROUP = 'system:bootstrappers';
/** The group kubeadm puts its node tokens in, bound by the RBAC manifests. */
export const DEFAULT_NODE_TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';

/**
 * A bootstrap token `<id>.<secret>`. The secret part is a credential: never log it.
 *
 * @category Bootstrap a node
 */
export interface BootstrapToken {
  /** The public token id: 6 characters of [a-z0-9]; it names the Secret bootstrap-token-<id>. */
  readonly id: string;
  /** The 16-character [a-z0-9] secret part: a credential, never logged. */
  readonly secret: string;
}

/**
 * Generates a token; each character uniform over [a-z0-9] from a cryptographic source.
 *
 * @category Bootstrap a node
 */
export function generateBootstrapToken(randomBytes: (size: number) => Uint8Array = nodeRandomBytes): BootstrapToken {
  const chars: string[] = [];
  while (chars.length < 22) {
    for (const byte of randomBytes(32)) {
      // 252 = 7 * 36: rejecting the top 4 values keeps every character equally likely.
      if (byte < 252 && chars.length < 22) chars.push(ALPHABET[byte % 36]!);
    }
  }
  return { id: chars.slice(0, 6).join(''), secret: chars.slice(6).join('') };
}

/**
 * Parses `<id>.<secret>`; anything else is ERR_TOKEN (the message never repeats the input).
 *
 * @category Bootstrap a node
 */
export function parseBootstrapToken(text: string, field = 'token'): BootstrapToken {
  const match = typeof text === 'string' ? TOKEN.exec(text) : null;
  if (!match) throw new PkiError('ERR_TOKEN', 'is not a bootstrap token of the form [a-z0-9]{6}.[a-z0-9]{16}', { field });
  return { id: match[1]!, secret: match[2]! };
}

/**
 * The token as `kubeadm join --token` takes it: `<id>.<secret>`. It is a credential: do not log it.
 *
 * @category Bootstrap a node
 */
export function formatBootstrapToken(token: BootstrapToken): string {
  return `${token.id}.${token.secret}`;
}

/**
 * A Secret as the API returns it (only the fields bootstrap tokens use).
 *
 * @category Bootstrap a node
 */
export interface SecretObject {
  /** Always v1. */
  apiVersion: 'v1';
  /** Always Secret. */
  kind: 'Secret';
  /** The Secret's name, namespace and deletion state. */
  metadata: {
    /** `bootstrap-token-<id>` for a bootstrap token. */
    name: string;
    /** kube-system for a bootstrap token. */
    namespace: string;
    /** Set, RFC 3339, while the Secret is being deleted: its token no longer authenticates. */
    deletionTimestamp?: string;
  };
  /** bootstrap.kubernetes.io/token for a bootstrap token; a Secret of another type never authenticates. */
  type: string;
  /** The Secret's data, each value base64: token-id, token-secret, expiration, usage-bootstrap-*, auth-extra-groups, description. */
  data?: Record<string, string>;
}

/**
 * Options of bootstrapTokenSecret: the token's expiry, usages, extra groups and description.
 *
 * @category Bootstrap a node
 */
export interface TokenSecretOptions {
  /** Absolute expiry; default now + 24 h (kubeadm's TTL). */
  expiration?: Date;
  /** The time `ttlSeconds` counts from. Default: now. */
  now?: Date;
  /** The token's lifetime in seconds when `expiration` is not given; ERR_TOKEN unless positive. Default 86400 (24 h). */
  ttlSeconds?: number;
  /** Default both: authentication and signing (cluster-info). */
  usages?: readonly ('authentication' | 'signing')[];
  /** Default kubeadm's `system:bootstrappers:kubeadm:default-node-token`. */
  extraGroups?: readonly string[];
  /** A note stored in the Secret's description field, for humans. Default: none. */
  description?: string;
}

/**
 * The `kube-system/bootstrap-token-<id>` Secret, with extra groups checked against their pattern.
 *
 * @category Bootstrap a node
 */
export function bootstrapTokenSecret(token: BootstrapToken, options: TokenSecretOptions = {}): SecretObject {
  const extraGroups = options.extraGroups ?? [DEFAULT_NODE_TOKEN_GROUP];
  extraGroups.forEach((group, i) => {
    if (!EXTRA_GROUP.test(group)) throw new PkiError('ERR_TOKEN', `"${group}" does not match system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`, { field: `extraGroups[${i}]` });
  });
  const ttl = options.ttlSeconds ?? 24 * 3600;
  if (!Number.isFinite(ttl) || ttl <= 0) throw new PkiError('ERR_TOKEN', 'must be a positive number of seconds', { field: 'ttlSeconds' });
  const expiration = options.expiration ?? new Date((options.now ?? new Date()).getTime() + ttl * 1000);
  const usages = options.usages ?? ['authentication', 'signing'];
  const data: Record<string, string> = {
    'token-id': token.id,
    'token-secret': token.secret,
    expiration: expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...Object.fromEntries(usages.map((u) => [`usage-bootstrap-${u}`, 'true'])),
    ...(extraGroups.length ? { 'auth-extra-groups': extraGroups.join(',') } : {}),
    ...(options.description ? { description: options.description } : {}),
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `bootstrap-token-${token.id}`, namespace: 'kube-system' },
    type: BOOTSTRAP_TOKEN_SECRET_TYPE,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  };
}

/**
 * Where bootstrap token Secrets are looked up (by name in kube-system).
 *
 * @category Bootstrap a node
 */
export interface TokenStore {
  /** The Secret of that name (bootstrap-token-<id>) in kube-system, or undefined when there is none. */
  getSecret(name: string): Promise<SecretObject | undefined>;
  /** Every stored Secret: a store that lists them gets cluster-info signed for its signing tokens. */
  listSecrets?(): Promise<SecretObject[]>;
}

/**
 * An in-memory token store over Secret objects.
 *
 * @category Bootstrap a node
 */
export function memoryTokenStore(secrets: readonly SecretObject[]): TokenStore & {
  /** Stores a Secret, replacing one of the same name. */
  add(secret: SecretObject): void;
  /** Removes the Secret of that name; true when there was one. */
  delete(name: string): boolean;
} {
  const byName = new Map(secrets.map((s) => [s.metadata.name, s]));
  return {
    getSecret: async (name) => byName.get(name),
    listSecrets: async () => [...byName.values()],
    add: (secret) => void byName.set(secret.metadata.name, secret),
    delete: (name) => byName.delete(name),
  };
}

/** A bootstrap token Secret decoded, without its secret part (what `token list` shows). */
export interface TokenDescription {
  readonly id: string;
  /** Undefined: the token never expires. */
  readonly expiration: Date | undefined;
  readonly usages: readonly string[];
  readonly extraGroups: readonly string[];
  readonly description: string | undefined;
}

/** Decodes a token Secret's public fields; a Secret that is no bootstrap token is ERR_TOKEN. */
export function describeTokenSecret(secret: SecretObject): TokenDescription {
  const data: unknown = isRecord(secret) ? secret.data : undefined;
  const name = isRecord(secret) && isRecord(secret.metadata) && typeof secret.metadata.name === 'string' ? secret.metadata.name : 'Secret';
  if (secret?.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || !isRecord(data)) throw new PkiError('ERR_TOKEN', 'is not a bootstrap token Secret', { field: name });
  const value = (key: string): string | undefined => {
    const raw = Object.hasOwn(data, key) ? data[key] : undefined;
    return typeof raw === 'string' ? Buffer.from(raw, 'base64').toString('utf8') : undefined;
  };
  const id = value('token-id');
  if (id === undefined || !/^[a-z0-9]{6}$/.test(id)) throw new PkiError('ERR_TOKEN', 'has no valid token-id', { field: name });
  const expiration = value('expiration');
  const at = expiration === undefined ? undefined : new Date(Date.parse(expiration));
  return {
    id,
    // An unparsable expiry counts as expired, as the authenticator reads it.
    expiration: at && Number.isNaN(at.getTime()) ? new Date(0) : at,
    usages: Object.keys(data).filter((k) => k.startsWith('usage-bootstrap-') && value(k) === 'true').map((k) => k.slice('usage-bootstrap-'.length)).sort(),
    extraGroups: (value('auth-extra-groups') ?? '').split(',').map((g) => g.trim()).filter(Boolean),
    description: value('description'),
  };
}

/**
 * The tokens kube-controller-manager's bootstrapsigner signs cluster-info with: Secrets of the bootstrap
 * token type, not being deleted, with a well-formed id and secret, `usage-bootstrap-signing: "true"` and
 * not expired at `now`.
 */
export async function signingTokens(store: TokenStore, now: Date = new Date()): Promise<BootstrapToken[]> {
  const secrets = (await store.listSecrets?.()) ?? [];
  const tokens: BootstrapToken[] = [];
  for (const secret of secrets) {
    if (!isRecord(secret) || secret.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || !isRecord(secret.data)) continue;
    if (isRecord(secret.metadata) && secret.metadata.deletionTimestamp) continue;
    const data = secret.data;
    const value = (key: string): string | undefined => (Object.hasOwn(data, key) && typeof data[key] === 'string' ? Buffer.from(data[key], 'base64').toString('utf8') : undefined);
    const id = value('token-id');
    const tokenSecret = value('token-secret');
    if (id === undefined || tokenSecret === undefined || !TOKEN.test(`${id}.${tokenSecret}`)) continue;
    if (secret.metadata?.name !== `bootstrap-token-${id}`) continue;
    if (value('usage-bootstrap-signing') !== 'true') continue;
    const expiration = value('expiration');
    if (expiration !== undefined) {
      const at = Date.parse(expiration);
      if (Number.isNaN(at) || at <= now.getTime()) continue;
    }
    tokens.push({ id, secret: tokenSecret });
  }
  return tokens.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/**
 * Who a request is.
 *
 * @category Bootstrap a node
 */
export interface UserInfo {
  /** The user name, e.g. system:bootstrap:<token id> for a bootstrap token. */
  readonly username: string;
  /** The groups, e.g. system:bootstrappers and the token's extra groups. */
  readonly groups: readonly string[];
}

/**
 * Authenticates a presented token as the apiserver's bootstrap authenticator does, in its order: it
 * parses; its Secret exists, is not being deleted and has the right type; the secret matches (constant
 * time); the id matches; it has not expired (an unparsable expiry counts as expired); the
 * authentication usage is exactly "true"; the extra groups are valid. Any failure is ERR_TOKEN.
 */
export async function authenticateBootstrapToken(presented: string, store: TokenStore, now: Date = new Date()): Promise<UserInfo> {
  const token = parseBootstrapToken(presented);
  const secret = await store.getSecret(`bootstrap-token-${token.id}`);
  const refuse = (reason: string): never => {
    throw new PkiError('ERR_TOKEN', reason, { field: `token ${token.id}` });
  };
  if (!secret || typeof secret !== 'object') refuse('no such token');
  if (isRecord(secret!.metadata) && secret!.metadata.deletionTimestamp) refuse('the token is being deleted');
  if (secret!.type !== BOOTSTRAP_TOKEN_SECRET_TYPE || !isRecord(secret!.data)) refuse('the Secret is not a bootstrap token');
  const value = (key: string): string | undefined => {
    const raw: unknown = Object.hasOwn(secret!.data!, key) ? secret!.data![key] : undefined;
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string') refuse(`the Secret's data.${key} is not a string`);
    return Buffer.from(raw as string, 'base64').toString('utf8');
  };
  const stored = Buffer.from(value('token-secret') ?? '');
  const given = Buffer.from(token.secret);
  if (stored.length !== given.length || !timingSafeEqual(stored, given)) refuse('the token secret does not match');
  if (value('token-id') !== token.id) refuse('the token id does not match its Secret');
  const expiration = value('expiration');
  if (expiration !== undefined) {
    const at = Date.parse(expiration);
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(expiration) || Number.isNaN(at) || at <= now.getTime()) refuse('the token has expired');
  }
  if (value('usage-bootstrap-authentication') !== 'true') refuse('the token may not be used for authentication');
  const extra = (value('auth-extra-groups') ?? '').split(',').map((g) => g.trim()).filter(Boolean);
  if (extra.some((group) => !EXTRA_GROUP.test(group))) refuse('the token has an invalid extra group');
  return { username: `system:bootstrap:${token.id}`, groups: [...new Set([BOOTSTRAPPERS_GROUP, ...extra])].sort() };
}

/**
 * `sha256:<hex>` over the CA certificate's SubjectPublicKeyInfo: kubeadm join's `--discovery-token-ca-cert-hash`.
 *
 * @category Bootstrap a node
 */
export function caPublicKeyPin(ca: Certificate): string {
  return `sha256:${createHash('sha256').update(ca.spki).digest('hex')}`;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** The detached JWS (HS256, kid = token id) kube-controller-manager's bootstrapsigner puts in cluster-info. */
export function detachedJws(payload: string, token: BootstrapToken): string {
  const header = base64url(JSON.stringify({ alg: 'HS256', kid: token.id }));
  const signature = createHmac('sha256', token.secret).update(`${header}.${base64url(payload)}`).digest();
  return `${header}..${base64url(signature)}`;
}

/** Checks a detached JWS over `payload` with the token, as `kubeadm join` does before trusting cluster-info. */
export function verifyDetachedJws(jws: string, payload: string, token: BootstrapToken): boolean {
  if (typeof jws !== 'string' || typeof payload !== 'string') return false;
  const [header, empty, signature] = jws.split('.');
  if (header === undefined || empty !== '' || signature === undefined) return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
  } catch {
    return false;
  }
  if (!isRecord(parsed) || parsed.alg !== 'HS256' || parsed.kid !== token.id) return false;
  const expected = createHmac('sha256', token.secret).update(`${header}.${base64url(payload)}`).digest();
  const given = Buffer.from(signature, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Where the API serves the `kube-public/cluster-info` ConfigMap, to anonymous GETs. */
export const CLUSTER_INFO_PATH = '/api/v1/namespaces/kube-public/configmaps/cluster-info';

/** The kubeconfig kubeadm puts in cluster-info: one unnamed cluster (server and CA bundle), no user, no context. */
export function clusterInfoKubeconfig(server: string, caPem: string): string {
  return stringify({
    apiVersion: 'v1',
    clusters: [{ cluster: { 'certificate-authority-data': Buffer.from(caPem).toString('base64'), server }, name: '' }],
    contexts: null,
    'current-context': '',
    kind: 'Config',
    preferences: {},
    users: null,
  });
}

/**
 * The `kube-public/cluster-info` ConfigMap: a CA-only kubeconfig and one JWS per signing token.
 *
 * @category Bootstrap a node
 */
export function clusterInfoConfigMap(kubeconfig: string, signingTokens: readonly BootstrapToken[]): {
  /** Always v1. */
  apiVersion: 'v1';
  /** Always ConfigMap. */
  kind: 'ConfigMap';
  /** Always kube-public/cluster-info, which anonymous clients may read. */
  metadata: {
    /** Always cluster-info. */
    name: 'cluster-info';
    /** Always kube-public. */
    namespace: 'kube-public';
  };
  /** `kubeconfig` (the CA-only kubeconfig) and `jws-kubeconfig-<token id>` (a detached JWS of it) per signing token. */
  data: Record<string, string>;
} {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'cluster-info', namespace: 'kube-public' },
    data: { kubeconfig, ...Object.fromEntries(signingTokens.map((t) => [`jws-kubeconfig-${t.id}`, detachedJws(kubeconfig, t)])) },
  };
}

/**
 * kubeadm join's token discovery: the cluster-info kubeconfig is trusted only if the token's JWS over it
 * verifies and its CA's public key matches one of the pins. Returns the kubeconfig text; ERR_TOKEN or
 * ERR_CERTIFICATE otherwise.
 *
 * @category Bootstrap a node
 */
export function verifyClusterInfo(configMap: { data?: Record<string, string> }, token: BootstrapToken, caCertificates: readonly Certificate[], pins: readonly string[]): string {
  const data: unknown = isRecord(configMap) ? configMap.data : undefined;
  const kubeconfig = isRecord(data) && Object.hasOwn(data, 'kubeconfig') ? data.kubeconfig : undefined;
  const jws = isRecord(data) && Object.hasOwn(data, `jws-kubeconfig-${token.id}`) ? data[`jws-kubeconfig-${token.id}`] : undefined;
  if (typeof kubeconfig !== 'string' || typeof jws !== 'string' || !kubeconfig || !jws) throw new PkiError('ERR_TOKEN', `cluster-info has no signature for token ${token.id}`, { field: 'cluster-info' });
  if (!verifyDetachedJws(jws, kubeconfig, token)) throw new PkiError('ERR_TOKEN', 'the cluster-info signature does not verify with this token', { field: 'cluster-info' });
  if (pins.length === 0) throw new PkiError('ERR_ARGUMENT', 'at least one CA pin (sha256:<hex>) is required; kubepki does not join unpinned', { field: 'pins' });
  if (!caCertificates.some((ca) => pins.includes(caPublicKeyPin(ca)))) throw new PkiError('ERR_CERTIFICATE', 'no CA in cluster-info matches the pinned public key', { field: 'pins' });
  return kubeconfig;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
