import { Agent, request, type RequestOptions } from 'node:https';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as ClientNodeModule from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node';
import { PkiError, type PkiErrorCode } from '../errors.js';
import { ioError } from '../cluster/files.js';
import type { Kubeconfig } from '../cluster/kubeconfig.js';
import { CSR_API_PATH } from './csr-object.js';
import type { WatchEvent } from './registry.js';

/**
 * How to reach an API server. Either the credentials themselves (server, CA, and a token or a client
 * certificate), or a kubeconfig file or the pod's service account as their `source`, read by
 * @kubernetes/client-node as kubectl reads them (exec credential plugins, auth providers, token files).
 * Every request goes through client-node's KubeConfig; the server is always verified against `ca`.
 *
 * @category Run the CSR controllers
 */
export interface KubeConnection {
  /** The API server's URL, e.g. https://10.0.0.1:6443. */
  readonly server: string;
  /** PEM bundle the server certificate must chain to; there is no way to skip verification. */
  readonly ca: string;
  /** A bearer token (a bootstrap token, or a service account's), when authenticating with one. */
  readonly token?: string;
  /** A client certificate chain, PEM, when authenticating with one (with `key`). */
  readonly cert?: string;
  /** The client certificate's private key, PEM. */
  readonly key?: string;
  /** Where the credentials were read from: a copy of the connection reads them again from there (a rotated token or certificate). */
  readonly source?: KubeconfigSource;
  /** Retries of a request the server asked to repeat (429, or 5xx with Retry-After) or a read the connection dropped; default 5. */
  readonly maxRetries?: number;
}

/**
 * Where a connection's credentials come from: a kubeconfig file (and context), or the pod's service account.
 *
 * @category Run the CSR controllers
 */
export type KubeconfigSource =
  | {
      /** The kubeconfig file's path; read again for each copy of the connection. */
      readonly kubeconfig: string;
      /** The context to use. Default: the kubeconfig's current-context. */
      readonly context?: string;
    }
  | {
      /** The pod's service account: its token (re-read as the kubelet rotates it) and ca.crt. */
      readonly inCluster: true;
      /** A directory the service account path is under, for tests. Default: / (the real path). */
      readonly root?: string;
    };

type ClientNode = typeof ClientNodeModule;

let clientNode: Promise<ClientNode> | undefined;

/** @kubernetes/client-node is an optional peer dependency: only the cluster backend loads it. */
export function loadClientNode(): Promise<ClientNode> {
  clientNode ??= import('@kubernetes/client-node').catch((cause: unknown) => {
    clientNode = undefined;
    throw new PkiError('ERR_DEPENDENCY', 'talking to a Kubernetes API server needs the optional package @kubernetes/client-node (npm install @kubernetes/client-node)', { field: '@kubernetes/client-node', cause });
  });
  return clientNode;
}

/**
 * The connection a parsed kubeconfig describes; file paths are read relative to the kubeconfig's folder.
 *
 * @category Run the CSR controllers
 */
export async function connectionFromKubeconfig(config: Kubeconfig, kubeconfigPath?: string): Promise<KubeConnection> {
  const base = kubeconfigPath ? dirname(kubeconfigPath) : process.cwd();
  const read = (file: string): Promise<string> =>
    readFile(isAbsolute(file) ? file : resolve(base, file), 'utf8').catch((cause: unknown) => {
      throw ioError(file, 'cannot be read', cause);
    });
  const ca = config.caPem ?? (config.caFile ? await read(config.caFile) : undefined);
  if (!ca) throw new PkiError('ERR_KUBECONFIG', 'has no certificate authority: kubepki never falls back to the system trust store', { field: 'certificate-authority-data' });
  return {
    server: config.server,
    ca,
    token: config.token,
    cert: config.clientCertificatePem ?? (config.clientCertificateFile ? await read(config.clientCertificateFile) : undefined),
    key: config.clientKeyPem ?? (config.clientKeyFile ? await read(config.clientKeyFile) : undefined),
  };
}

/**
 * A kubeconfig file read as kubectl reads it (its current context, or `context`): any user it can hold,
 * exec credential plugins included. A cluster that skips TLS verification, is not https, or names no CA
 * is refused: kubepki never falls back to the system trust store.
 *
 * @category Run the CSR controllers
 */
export async function kubeConnectionFromFile(path: string, options: { context?: string; maxRetries?: number } = {}): Promise<KubeConnection> {
  const source: KubeconfigSource = { kubeconfig: path, ...(options.context ? { context: options.context } : {}) };
  return verifiedConnection(await kubeConfigFromSource(source), source, options.maxRetries);
}

/**
 * The pod's service account, as client-go's InClusterConfig: KUBERNETES_SERVICE_HOST/PORT, and the token
 * (re-read as the kubelet rotates it) and ca.crt under `root` + /var/run/secrets/kubernetes.io/serviceaccount.
 *
 * @category Run the CSR controllers
 */
export async function kubeConnectionInCluster(options: { root?: string; maxRetries?: number } = {}): Promise<KubeConnection> {
  if (!process.env.KUBERNETES_SERVICE_HOST || !process.env.KUBERNETES_SERVICE_PORT) {
    throw new PkiError('ERR_KUBECONFIG', 'not running in a pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set', { field: 'KUBERNETES_SERVICE_HOST' });
  }
  const source: KubeconfigSource = { inCluster: true, ...(options.root ? { root: options.root } : {}) };
  return verifiedConnection(await kubeConfigFromSource(source), source, options.maxRetries);
}

/** The client-node KubeConfig a kubeconfig file (and context) or the pod's service account describes; ERR_KUBECONFIG when it cannot be read. */
async function kubeConfigFromSource(source: KubeconfigSource): Promise<KubeConfig> {
  const { KubeConfig } = await loadClientNode();
  const config = new KubeConfig();
  try {
    if ('kubeconfig' in source) {
      config.loadFromFile(source.kubeconfig);
      if (source.context) config.setCurrentContext(source.context);
    } else config.loadFromCluster(source.root);
  } catch (cause) {
    const [what, field] = 'kubeconfig' in source ? ['cannot be read', source.kubeconfig] : ['no in-cluster configuration', 'KUBERNETES_SERVICE_HOST'];
    throw new PkiError('ERR_KUBECONFIG', `${what}: ${(cause as Error).message}`, { field, cause });
  }
  return config;
}

async function verifiedConnection(config: KubeConfig, source: KubeconfigSource, maxRetries: number | undefined): Promise<KubeConnection> {
  const cluster = config.getCurrentCluster();
  const field = 'kubeconfig' in source ? source.kubeconfig : 'in-cluster';
  if (!cluster) throw new PkiError('ERR_KUBECONFIG', 'its current context names no cluster', { field });
  if (cluster.skipTLSVerify) throw new PkiError('ERR_KUBECONFIG', `cluster "${cluster.name}" sets insecure-skip-tls-verify: kubepki always verifies the API server`, { field: 'insecure-skip-tls-verify' });
  if (!/^https:\/\//i.test(cluster.server)) throw new PkiError('ERR_KUBECONFIG', `cluster "${cluster.name}" is not an https:// server`, { field: 'server' });
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64').toString('utf8') : cluster.caFile ? await readFile(cluster.caFile, 'utf8').catch((cause: unknown) => Promise.reject(ioError(cluster.caFile!, 'cannot be read', cause))) : undefined;
  if (!ca) throw new PkiError('ERR_KUBECONFIG', `cluster "${cluster.name}" has no certificate authority: kubepki never falls back to the system trust store`, { field: 'certificate-authority-data' });
  const connection: KubeConnection = { server: cluster.server, ca, source, ...(maxRetries === undefined ? {} : { maxRetries }) };
  configs.set(connection, Promise.resolve(config));
  return connection;
}

const configs = new WeakMap<KubeConnection, Promise<KubeConfig>>();

/** The client-node KubeConfig behind a connection: its source's, or one holding exactly its credentials. */
export function kubeConfigOf(connection: KubeConnection): Promise<KubeConfig> {
  let config = configs.get(connection);
  if (!config) {
    config = buildKubeConfig(connection);
    configs.set(connection, config);
  }
  return config;
}

async function buildKubeConfig(connection: KubeConnection): Promise<KubeConfig> {
  // A copy of a connection (`{ ...connection, maxRetries }`) reads its source again, never goes unauthenticated.
  if (connection.source) return kubeConfigFromSource(connection.source);
  const { KubeConfig } = await loadClientNode();
  const config = new KubeConfig();
  const base64 = (text: string | undefined): string | undefined => (text === undefined ? undefined : Buffer.from(text).toString('base64'));
  config.loadFromOptions({
    clusters: [{ name: 'cluster', server: connection.server, caData: base64(connection.ca), skipTLSVerify: false }],
    users: [{ name: 'user', token: connection.token, certData: base64(connection.cert), keyData: base64(connection.key) }],
    contexts: [{ name: 'context', cluster: 'cluster', user: 'user' }],
    currentContext: 'context',
  });
  return config;
}

const CODE_OF_STATUS: Record<number, PkiErrorCode> = { 401: 'ERR_UNAUTHORIZED', 403: 'ERR_FORBIDDEN', 404: 'ERR_NOT_FOUND', 405: 'ERR_METHOD_NOT_ALLOWED', 409: 'ERR_CONFLICT', 410: 'ERR_GONE' };

interface Answer {
  readonly status: number;
  readonly retryAfter?: number;
  readonly text: string;
}

/**
 * A JSON request to the API server; non-2xx answers become PkiErrors carrying the Status message.
 * As client-go's rest.Request: a 429, or a 5xx with Retry-After, is sent again after the wait it names (any
 * verb: the server did not act on it); a read whose connection was refused or reset, or that got a 5xx, is
 * sent again after a backoff. At most `maxRetries` (5) times.
 */
export async function kubeRequest<T>(connection: KubeConnection, method: string, path: string, body?: unknown): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const maxRetries = connection.maxRetries ?? 5;
  for (let attempt = 0; ; attempt++) {
    let answer: Answer;
    try {
      answer = await send(connection, method, path, payload);
    } catch (error) {
      // A kept-alive connection the server closed as the request left: the server saw nothing, any verb is sent again.
      if (error instanceof StaleConnectionError && attempt < maxRetries) continue;
      const dropped = (error as NodeJS.ErrnoException).code === 'ECONNREFUSED' || (error as NodeJS.ErrnoException).code === 'ECONNRESET';
      if (method === 'GET' && dropped && attempt < maxRetries) {
        await sleep(backoff(attempt));
        continue;
      }
      throw error instanceof PkiError ? error : new PkiError('ERR_IO', `${method} ${path}: ${(error as Error).message}`, { field: connection.server, cause: error });
    }
    const { status, text } = answer;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    const askedToWait = (status === 429 || status >= 500) && answer.retryAfter !== undefined;
    if (attempt < maxRetries && (askedToWait || status === 429 || (method === 'GET' && status >= 500))) {
      await sleep(askedToWait ? Math.min(answer.retryAfter! * 1000, 30_000) : backoff(attempt));
      continue;
    }
    throw statusError(status, text, `${method} ${path}`, connection.server);
  }
}

/** 250 ms doubling to 8 s, with jitter so that replicas do not retry in step. */
function backoff(attempt: number): number {
  return Math.min(250 * 2 ** attempt, 8000) * (0.8 + Math.random() * 0.4);
}

function statusError(status: number, text: string, what: string, server: string): PkiError {
  let statusObject: { message?: string; reason?: string } | undefined;
  try {
    statusObject = text ? (JSON.parse(text) as typeof statusObject) : undefined;
  } catch {
    statusObject = undefined;
  }
  const invalid = status === 422 ? (what.includes(CSR_API_PATH) ? 'ERR_CSR_OBJECT' : 'ERR_INVALID_OBJECT') : undefined;
  const code = statusObject?.reason === 'AlreadyExists' ? 'ERR_ALREADY_EXISTS' : (invalid ?? CODE_OF_STATUS[status] ?? 'ERR_IO');
  return new PkiError(code, `${what}: ${status} ${statusObject?.message ?? text.slice(0, 200)}`, { field: server });
}

async function send(connection: KubeConnection, method: string, path: string, payload: string | undefined): Promise<Answer> {
  const options: RequestOptions = {
    method,
    headers: {
      accept: 'application/json',
      ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
    },
    timeout: 30_000,
  };
  await authenticate(connection, options);
  return new Promise((resolvePromise, reject) => {
    const req = request(new URL(path, connection.server), options, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        const retryAfter = Number.parseInt(String(res.headers['retry-after'] ?? ''), 10);
        resolvePromise({ status: res.statusCode ?? 0, text, ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfter } : {}) });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new PkiError('ERR_TIMEOUT', `${method} ${path} timed out`, { field: connection.server })));
    req.on('error', (error: NodeJS.ErrnoException) => reject(req.reusedSocket && error.code === 'ECONNRESET' ? new StaleConnectionError(error) : error));
    req.end(payload);
  });
}

class StaleConnectionError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

// client-node makes a new Agent for every request, so every request would be a new TLS handshake with the
// client certificate. A connection's requests share one keep-alive agent instead, which pools its sockets
// by their TLS options (CA, certificate, key, server name): an exec plugin's renewed certificate gets
// connections of its own. Idle sockets are closed after 30 s, before kube-apiserver drops them; one it
// closed as a request left is retried (Node's `reusedSocket`).
const agents = new WeakMap<KubeConnection, Agent>();

function agentOf(connection: KubeConnection): Agent {
  let agent = agents.get(connection);
  if (!agent) {
    agent = new Agent({ keepAlive: true, timeout: 30_000, maxFreeSockets: 4 });
    agents.set(connection, agent);
  }
  return agent;
}

/** client-node fills in the TLS options (CA, client certificate) and the Authorization header (token, exec plugin). */
async function authenticate(connection: KubeConnection, options: RequestOptions): Promise<void> {
  const config = await kubeConfigOf(connection);
  try {
    await config.applyToHTTPSOptions(options);
  } catch (cause) {
    throw new PkiError('ERR_UNAUTHORIZED', `no credentials for ${connection.server}: ${(cause as Error).message}`, { field: 'user', cause });
  }
  // The connection's CA is the one kubepki checked; a kubeconfig cannot turn verification off.
  options.ca = connection.ca;
  options.rejectUnauthorized = true;
  // A proxy's agent (the kubeconfig's proxy-url) stays as client-node made it.
  if (options.agent?.constructor === Agent) options.agent = agentOf(connection);
}

/** Streams watch events (one JSON object per line) until `stop` is called or the server ends the stream. */
export function kubeWatch(connection: KubeConnection, path: string, onEvent: (event: WatchEvent) => void, onEnd: (error?: Error) => void): () => void {
  let stopped = false;
  let ended = false;
  let abort: AbortController | undefined;
  // An ERROR event ends the watch; the stream closing after it is the same end.
  const end = (error?: Error): void => {
    if (stopped || ended) return;
    ended = true;
    abort?.abort();
    onEnd(error);
  };
  void (async () => {
    const { Watch } = await loadClientNode();
    const config = await kubeConfigOf(connection);
    if (stopped) return;
    abort = await new Watch(config).watch(
      path,
      {},
      (type, object) => {
        if (stopped || ended) return;
        if (type === 'ERROR') {
          const status = object as { code?: number; message?: string };
          return end(new PkiError(CODE_OF_STATUS[status.code ?? 0] ?? 'ERR_IO', `watch ${path}: ${status.code ?? ''} ${status.message ?? ''}`, { field: connection.server }));
        }
        onEvent({ type, object } as WatchEvent);
      },
      (error: unknown) => {
        if (!error) return end();
        const status = (error as { statusCode?: number }).statusCode;
        end(status ? statusError(status, (error as Error).message, `watch ${path}`, connection.server) : error instanceof Error ? error : new PkiError('ERR_IO', String(error)));
      },
    );
    if (stopped) abort.abort();
  })().catch((error: unknown) => end(error instanceof Error ? error : new PkiError('ERR_IO', String(error))));
  return () => {
    stopped = true;
    abort?.abort();
  };
}
