import { request } from 'node:https';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PkiError, type PkiErrorCode } from '../errors.js';
import { ioError } from '../cluster/files.js';
import type { Kubeconfig } from '../cluster/kubeconfig.js';
import type { WatchEvent } from './registry.js';

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
