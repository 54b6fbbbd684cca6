import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PkiError, type PkiErrorCode } from '../errors.js';
import { ioError } from '../cluster/files.js';
import type { Kubeconfig } from '../cluster/kubeconfig.js';
import { CSR_API_PATH, csrApiPath, type CertificateSigningRequestCondition, type CertificateSigningRequestObject } from './csr-object.js';
import type { CsrRegistry, WatchEvent } from './registry.js';
import { BOOTSTRAP_TOKEN_SECRET_TYPE, type SecretObject, type TokenStore } from './token.js';

/** How to reach an API server: its URL, the CA to verify it with, and one credential. */
export interface KubeConnection {
  readonly server: string;
  /** PEM bundle the server certificate must chain to; there is no way to skip verification. */
  readonly ca: string;
  readonly token?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** The connection a kubeconfig describes; file paths are read relative to the kubeconfig's folder. */
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

const CODE_OF_STATUS: Record<number, PkiErrorCode> = { 401: 'ERR_UNAUTHORIZED', 403: 'ERR_FORBIDDEN', 404: 'ERR_NOT_FOUND', 405: 'ERR_METHOD_NOT_ALLOWED', 409: 'ERR_CONFLICT', 422: 'ERR_CSR_OBJECT' };

/** A JSON request to the API server; non-2xx answers become PkiErrors carrying the Status message. */
export function kubeRequest<T>(connection: KubeConnection, method: string, path: string, body?: unknown): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      new URL(path, connection.server),
      {
        method,
        ca: connection.ca,
        cert: connection.cert,
        key: connection.key,
        headers: {
          accept: 'application/json',
          ...(connection.token ? { authorization: `Bearer ${connection.token}` } : {}),
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (status >= 200 && status < 300) return resolvePromise(parsed as T);
          const statusObject = parsed as { message?: string; reason?: string } | undefined;
          const code = statusObject?.reason === 'AlreadyExists' ? 'ERR_ALREADY_EXISTS' : (CODE_OF_STATUS[status] ?? 'ERR_IO');
          reject(new PkiError(code, `${method} ${path}: ${status} ${statusObject?.message ?? text.slice(0, 200)}`, { field: connection.server }));
        });
      },
    );
    req.on('timeout', () => req.destroy(new PkiError('ERR_TIMEOUT', `${method} ${path} timed out`, { field: connection.server })));
    req.on('error', (cause) => reject(cause instanceof PkiError ? cause : new PkiError('ERR_IO', `${method} ${path}: ${cause.message}`, { field: connection.server, cause })));
    req.end(payload);
  });
}

/** Streams watch events (one JSON object per line) until `stop` is called or the server ends the stream. */
export function kubeWatch(connection: KubeConnection, path: string, onEvent: (event: WatchEvent) => void, onEnd: (error?: Error) => void): () => void {
  const req = request(new URL(path, connection.server), {
    method: 'GET',
    ca: connection.ca,
    cert: connection.cert,
    key: connection.key,
    headers: { accept: 'application/json', ...(connection.token ? { authorization: `Bearer ${connection.token}` } : {}) },
  });
  let stopped = false;
  req.on('response', (res) => {
    if ((res.statusCode ?? 0) >= 300) {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => onEnd(new PkiError(CODE_OF_STATUS[res.statusCode ?? 0] ?? 'ERR_IO', `watch ${path}: ${res.statusCode} ${text.slice(0, 200)}`, { field: connection.server })));
      return;
    }
    let buffer = '';
    res.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) onEvent(JSON.parse(line) as WatchEvent);
      }
    });
    res.on('end', () => !stopped && onEnd());
    res.on('error', (error) => !stopped && onEnd(error));
  });
  req.on('error', (error) => !stopped && onEnd(error));
  req.end();
  return () => {
    stopped = true;
    req.destroy();
  };
}

/** Items of a List come without apiVersion and kind; a CSR object always carries them here. */
function typed(object: CertificateSigningRequestObject): CertificateSigningRequestObject {
  return { ...object, apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest' };
}

/**
 * The CSR registry of a real kube-apiserver (or of kubepki's embedded endpoint), for the approver and
 * signer controllers. The server records the requester itself, so `create` ignores its second argument.
 */
export function kubernetesRegistry(connection: KubeConnection): CsrRegistry {
  const get = async (name: string): Promise<CertificateSigningRequestObject | undefined> => {
    try {
      return typed(await kubeRequest<CertificateSigningRequestObject>(connection, 'GET', csrApiPath(name)));
    } catch (error) {
      if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') return undefined;
      throw error;
    }
  };
  const addCondition = async (name: string, subresource: 'approval' | 'status', condition?: CertificateSigningRequestCondition, certificate?: string) => {
    const current = await get(name);
    if (!current) throw new PkiError('ERR_NOT_FOUND', `certificatesigningrequests "${name}" not found`, { field: 'name' });
    const conditions = [...(current.status?.conditions ?? [])];
    if (condition && !conditions.some((c) => c.type === condition.type)) conditions.push({ ...condition, lastUpdateTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
    const body = { ...current, status: { ...current.status, conditions, ...(certificate ? { certificate } : {}) } };
    return kubeRequest<CertificateSigningRequestObject>(connection, 'PUT', csrApiPath(name, subresource), body);
  };
  return {
    create: (csr) => kubeRequest(connection, 'POST', CSR_API_PATH, csr),
    get,
    list: async () => (await kubeRequest<{ items: CertificateSigningRequestObject[] }>(connection, 'GET', CSR_API_PATH)).items.map(typed),
    watch: async (listener) => {
      const list = await kubeRequest<{ items: CertificateSigningRequestObject[]; metadata?: { resourceVersion?: string } }>(connection, 'GET', CSR_API_PATH);
      for (const object of list.items) listener({ type: 'ADDED', object: typed(object) });
      let stop = (): void => undefined;
      let stopped = false;
      const open = (resourceVersion?: string): void => {
        const query = resourceVersion ? `?watch=true&resourceVersion=${encodeURIComponent(resourceVersion)}` : '?watch=true';
        stop = kubeWatch(connection, `${CSR_API_PATH}${query}`, (event) => listener({ type: event.type, object: typed(event.object) }), () => {
          if (!stopped) setTimeout(() => !stopped && open(), 1000).unref();
        });
      };
      open(list.metadata?.resourceVersion);
      return () => {
        stopped = true;
        stop();
      };
    },
    setApproval: (name, condition) => addCondition(name, 'approval', condition),
    setStatus: (name, status) => addCondition(name, 'status', status.condition, status.certificate),
  };
}

/** Where kubeadm keeps bootstrap tokens: Secrets `bootstrap-token-<id>` in kube-system. */
export const TOKEN_SECRETS_PATH = '/api/v1/namespaces/kube-system/secrets';

/**
 * The bootstrap token Secrets of a real cluster, as `kubeadm token` reads and writes them: create POSTs the
 * Secret (ERR_ALREADY_EXISTS for a taken id), listSecrets lists kube-system's Secrets of type
 * bootstrap.kubernetes.io/token, remove deletes `bootstrap-token-<id>` (ERR_NOT_FOUND when there is none).
 */
export function kubernetesTokenStore(connection: KubeConnection): TokenStore & { listSecrets(): Promise<SecretObject[]>; create(secret: SecretObject): Promise<void>; remove(id: string): Promise<void> } {
  const secretPath = (name: string): string => `${TOKEN_SECRETS_PATH}/${encodeURIComponent(name)}`;
  return {
    async getSecret(name) {
      try {
        return await kubeRequest<SecretObject>(connection, 'GET', secretPath(name));
      } catch (error) {
        if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') return undefined;
        throw error;
      }
    },
    async listSecrets() {
      const list = await kubeRequest<{ items?: SecretObject[] }>(connection, 'GET', `${TOKEN_SECRETS_PATH}?fieldSelector=${encodeURIComponent(`type=${BOOTSTRAP_TOKEN_SECRET_TYPE}`)}`);
      return (list.items ?? []).map((item) => ({ ...item, apiVersion: 'v1', kind: 'Secret' }) as SecretObject);
    },
    async create(secret) {
      await kubeRequest(connection, 'POST', TOKEN_SECRETS_PATH, secret);
    },
    async remove(id) {
      if (!/^[a-z0-9]{6}$/.test(id)) throw new PkiError('ERR_ARGUMENT', 'is not a token id ([a-z0-9]{6}) or a token', { field: 'id' });
      try {
        await kubeRequest(connection, 'DELETE', secretPath(`bootstrap-token-${id}`));
      } catch (error) {
        if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') throw new PkiError('ERR_NOT_FOUND', `bootstrap token "${id}" not found`, { field: 'id', cause: error });
        throw error;
      }
    },
  };
}
