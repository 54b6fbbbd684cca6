import { isAbsolute, relative, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { PkiError } from '../errors.js';

/**
 * The parts of a kubeconfig kubepki writes and reads (client-go's clientcmd v1 Config).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface Kubeconfig {
  /** The name of the kubeconfig's one cluster entry, e.g. kubernetes. */
  readonly clusterName: string;
  /** The API server URL, e.g. https://10.0.0.1:6443. */
  readonly server: string;
  /** PEM of the CA bundle the client trusts (`certificate-authority-data`). */
  readonly caPem?: string;
  /** A file path instead of embedded data (`certificate-authority`). */
  readonly caFile?: string;
  /** The name of the one user entry, e.g. kubernetes-admin. */
  readonly userName: string;
  /** Embedded client certificate and key PEM (`client-certificate-data`, `client-key-data`). */
  readonly clientCertificatePem?: string;
  /** The client key's PEM (`client-key-data`), with `clientCertificatePem`. */
  readonly clientKeyPem?: string;
  /** Or file paths (`client-certificate`, `client-key`), as a kubelet's rotating `kubelet-client-current.pem`. */
  readonly clientCertificateFile?: string;
  /** The client key's file path (`client-key`), with `clientCertificateFile`. */
  readonly clientKeyFile?: string;
  /** A bearer token (bootstrap kubeconfigs). */
  readonly token?: string;
  /** The context's name, also the current-context. Default when writing: `<userName>@<clusterName>`. */
  readonly contextName?: string;
}

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/**
 * Serialises a kubeconfig as YAML, in the shape kubeadm writes.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function stringifyKubeconfig(config: Kubeconfig): string {
  const contextName = config.contextName ?? `${config.userName}@${config.clusterName}`;
  const cluster: Record<string, string> = { server: config.server };
  if (config.caPem) cluster['certificate-authority-data'] = b64(config.caPem);
  if (config.caFile) cluster['certificate-authority'] = config.caFile;
  const user: Record<string, string> = {};
  if (config.clientCertificatePem) user['client-certificate-data'] = b64(config.clientCertificatePem);
  if (config.clientKeyPem) user['client-key-data'] = b64(config.clientKeyPem);
  if (config.clientCertificateFile) user['client-certificate'] = config.clientCertificateFile;
  if (config.clientKeyFile) user['client-key'] = config.clientKeyFile;
  if (config.token) user.token = config.token;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: config.clusterName, cluster }],
    contexts: [{ name: contextName, context: { cluster: config.clusterName, user: config.userName } }],
    'current-context': contextName,
    preferences: {},
    users: [{ name: config.userName, user }],
  });
}

/**
 * Reads a kubeconfig: the current context's cluster and user. Missing fields, wrong types and files
 * that cannot be parsed are ERR_KUBECONFIG naming the field.
 */
/** A kubeconfig with a few embedded bundles is tens of KiB; the limit keeps the YAML parser's work bounded. */
const MAX_KUBECONFIG_CHARS = 1024 * 1024;

/**
 * Options of parseKubeconfig.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface KubeconfigReadOptions {
  /**
   * Confine file references (`certificate-authority`, `client-certificate`, `client-key`) to this folder:
   * relative ones resolve against it, and one that leads outside it is ERR_KUBECONFIG. For kubeconfigs
   * from a source that should not name arbitrary files of this machine.
   */
  readonly filesWithin?: string;
}

/**
 * Reads a kubeconfig's current context: its cluster's server and CA, and its user's client certificate and
 * key (embedded `-data` or file references) or token. Files are not read, only named. Throws `ERR_KUBECONFIG`
 * (with the offending key as `field`) for text that is not YAML, a missing current context, cluster or user,
 * a server that is not `https://`, or `insecure-skip-tls-verify: true`, which kubepki refuses.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function parseKubeconfig(text: string, field = 'kubeconfig', options: KubeconfigReadOptions = {}): Kubeconfig {
  const read = new KubeconfigReader(field, options);
  if (typeof text !== 'string') read.fail('', 'must be text');
  if (text.length > MAX_KUBECONFIG_CHARS) read.fail('', `is larger than ${MAX_KUBECONFIG_CHARS} characters`);
  const root = asObject(parseYaml(text, field)) ?? read.fail('', 'is not a YAML mapping');
  if (root.kind !== undefined && root.kind !== 'Config') read.fail('kind', typeof root.kind === 'string' ? `must be Config, not ${root.kind.slice(0, 64)}` : 'must be Config');
  const contextName = root['current-context'];
  if (typeof contextName !== 'string' || contextName === '') return read.fail('current-context', 'is missing');
  const context = read.named(root, 'contexts', contextName, 'context');
  const clusterName = str(context.cluster) ?? read.fail('contexts.context.cluster', 'is missing');
  const userName = str(context.user) ?? read.fail('contexts.context.user', 'is missing');
  const cluster = read.named(root, 'clusters', clusterName, 'cluster');
  const user = read.named(root, 'users', userName, 'user');
  const at = { cluster: `clusters[${clusterName}].cluster`, user: `users[${userName}].user` };
  const server = str(cluster.server) ?? read.fail(`${at.cluster}.server`, 'is missing');
  if (!/^https:\/\//.test(server)) read.fail(`${at.cluster}.server`, 'must be an https:// URL');
  if (cluster['insecure-skip-tls-verify'] === true) read.fail(`${at.cluster}.insecure-skip-tls-verify`, 'turns verification off; kubepki refuses it');
  return {
    clusterName,
    server,
    userName,
    contextName,
    caPem: read.data(cluster, 'certificate-authority-data', at.cluster),
    caFile: read.file(cluster, 'certificate-authority', at.cluster),
    clientCertificatePem: read.data(user, 'client-certificate-data', at.user),
    clientKeyPem: read.data(user, 'client-key-data', at.user),
    clientCertificateFile: read.file(user, 'client-certificate', at.user),
    clientKeyFile: read.file(user, 'client-key', at.user),
    token: read.text(user, 'token', at.user),
  };
}

function parseYaml(text: string, field: string): unknown {
  try {
    // Warnings (an unknown tag) would go to process warnings; the checks judge the values instead.
    return parse(text, { maxAliasCount: 10, logLevel: 'error' });
  } catch (error) {
    // The parser's message quotes the offending lines (a token, key data): only its code and position are kept.
    const { code, linePos } = error as { code?: string; linePos?: [{ line: number; col: number }] };
    const at = linePos ? ` at line ${linePos[0].line}, column ${linePos[0].col}` : '';
    throw new PkiError('ERR_KUBECONFIG', `not valid YAML (${code ?? 'error'}${at})`, { field });
  }
}

/** Reads the fields of one kubeconfig, each refusal naming its path under `field`. */
class KubeconfigReader {
  constructor(
    private readonly field: string,
    private readonly options: KubeconfigReadOptions,
  ) {}

  fail(at: string, reason: string): never {
    throw new PkiError('ERR_KUBECONFIG', reason, { field: at ? `${this.field}.${at}` : this.field });
  }

  /** The `inner` mapping of the entry called `name` in the list `list` (contexts, clusters, users). */
  named(root: Record<string, unknown>, list: string, name: string, inner: string): Record<string, unknown> {
    const entries = root[list];
    if (!Array.isArray(entries)) this.fail(list, 'must be a list');
    const entry = (entries as unknown[]).map(asObject).find((e) => e?.name === name) ?? this.fail(list, `has no entry named "${name}"`);
    return asObject(entry[inner]) ?? this.fail(`${list}[${name}].${inner}`, 'must be a mapping');
  }

  /** A `*-data` field: base64 as Go decodes it; empty means none, as in client-go. */
  data(object: Record<string, unknown>, key: string, at: string): string | undefined {
    const value = object[key];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string' || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) this.fail(`${at}.${key}`, 'must be base64 text (padded, as Go decodes it)');
    return Buffer.from(value as string, 'base64').toString('utf8');
  }

  text(object: Record<string, unknown>, key: string, at: string): string | undefined {
    const value = object[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') this.fail(`${at}.${key}`, 'must be a non-empty string');
    return value as string;
  }

  /** A file reference, confined to `filesWithin` when it is given. */
  file(object: Record<string, unknown>, key: string, at: string): string | undefined {
    const value = this.text(object, key, at);
    if (value === undefined || this.options.filesWithin === undefined) return value;
    if (value.includes('\0')) this.fail(`${at}.${key}`, 'contains a NUL byte');
    const within = resolve(this.options.filesWithin);
    const path = resolve(within, value);
    const inside = relative(within, path);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) this.fail(`${at}.${key}`, `points outside ${within}`);
    return path;
  }
}

/**
 * The kubeconfig a node's kubelet uses after TLS bootstrap: certificate and key read from the rotating file.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export function kubeletKubeconfig(options: { server: string; caPem: string; clusterName?: string; certificateFile?: string; keyFile?: string }): string {
  const current = '/var/lib/kubelet/pki/kubelet-client-current.pem';
  return stringifyKubeconfig({
    clusterName: options.clusterName ?? 'default-cluster',
    server: options.server,
    caPem: options.caPem,
    userName: 'default-auth',
    contextName: 'default-context',
    clientCertificateFile: options.certificateFile ?? current,
    clientKeyFile: options.keyFile ?? options.certificateFile ?? current,
  });
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
