import { statSync, readFileSync } from 'node:fs';
import { Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { createRequire } from 'node:module';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import type * as Undici from 'undici';
import type { Agent as UndiciAgent, Dispatcher, buildConnector } from 'undici';
import { PkiError, type PkiErrorCode } from '../errors.js';
import { Certificate } from '../x509/certificate.js';
import { parseIp } from '../x509/ip.js';
import { checkName } from '../x509/verify.js';

/**
 * What one side of a path presents and trusts. Read each time a connection opens, so rotated files count at once.
 *
 * @category Verified agents, one per path
 */
export interface TlsMaterial {
  /** PEM bundle the peer must chain to. Required: there is no fallback to the system trust store. */
  ca: string;
  /** The client certificate chain to present, PEM; omit when this side does not authenticate with a certificate. */
  cert?: string;
  /** The private key of `cert`, PEM. */
  key?: string;
}

/**
 * Options of verifiedAgents: the TLS material and the name the server must prove.
 *
 * @category Verified agents, one per path
 */
export interface VerifiedAgentOptions {
  /** The material, or a function giving the current material (re-read on rotation). */
  material: TlsMaterial | (() => TlsMaterial);
  /** The name the server certificate must carry: a DNS name (also sent as SNI) or an IP (no SNI, IP SAN checked). */
  serverName: string;
}

/**
 * A Node https.Agent and an undici Agent that verify the peer for one communication path.
 *
 * @category Verified agents, one per path
 */
export interface VerifiedAgents {
  /** A node:https Agent that verifies the peer against `ca` and `serverName`, for https.request. */
  readonly https: HttpsAgent;
  /**
   * An undici dispatcher (an Agent, replaced by a fresh one when the client certificate rotates), built on
   * first use. undici is an optional peer dependency: without it, reading this throws ERR_DEPENDENCY.
   */
  readonly undici: Dispatcher;
  /** The name the server certificate is checked for. */
  readonly serverName: string;
  /** Destroys the agents' pooled connections. */
  close(): Promise<void>;
}

/**
 * Server identity as Go checks it: SANs only, never the CN; an IP against IP SANs. The certificate is read
 * by kubepki's own parser and name check (the ones `verifyCertificate` uses), not OpenSSL's.
 */
export function checkServerIdentity(serverName: string, peer: PeerCertificate): Error | undefined {
  if (!peer?.raw) return new PkiError('ERR_NAME_MISMATCH', 'the server presented no certificate', { field: serverName });
  try {
    checkName(Certificate.from(new Uint8Array(peer.raw), 'server certificate'), serverName);
    return undefined;
  } catch (error) {
    return error instanceof PkiError ? new PkiError(error.code, `the server certificate is not valid for ${serverName}: ${error.message}`, { field: serverName, cause: error }) : (error as Error);
  }
}

/** The TLS options of one connection; verification cannot be turned off. */
export function tlsOptions(options: VerifiedAgentOptions): ConnectionOptions {
  const material = typeof options.material === 'function' ? options.material() : options.material;
  if (!material?.ca) throw new PkiError('ERR_ARGUMENT', 'a CA bundle is required: kubepki never trusts the system store for cluster paths', { field: 'ca' });
  const isIp = parseIp(options.serverName.replace(/^\[|\]$/g, '')) !== undefined;
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    // SNI must not be an IP address (RFC 6066); the IP SAN is checked instead.
    ...(isIp ? {} : { servername: options.serverName }),
    checkServerIdentity: (_host, peer) => checkServerIdentity(options.serverName, peer),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

/** Builds the pair of agents for one path. */
export function verifiedAgents(options: VerifiedAgentOptions): VerifiedAgents {
  tlsOptions(options);
  const fingerprint = (o: ConnectionOptions): string => `${String(o.cert ?? '').length}:${String(o.cert ?? '').slice(-64)}:${String(o.ca ?? '').length}`;
  class PathAgent extends HttpsAgent {
    override createConnection(connectOptions: AgentOptions & ConnectionOptions, callback?: unknown): TLSSocket {
      void callback;
      const tls = tlsOptions(options);
      return tlsConnect({ ...connectOptions, ...tls });
    }

    // Connections are pooled per client certificate: after a rotation the next request gets a new
    // connection (and handshake) with the new certificate, and the idle ones of the old certificate are
    // closed, as the kubelet closes its connections on rotation.
    override getName(connectOptions?: Parameters<HttpsAgent['getName']>[0]): string {
      const current = fingerprint(tlsOptions(options));
      for (const [name, sockets] of Object.entries(this.freeSockets)) {
        if (!name.endsWith(`|${current}`)) for (const socket of sockets ?? []) socket.destroy();
      }
      return `${super.getName(connectOptions)}|${current}`;
    }
  }
  const https = new PathAgent({ keepAlive: true });
  const connect: buildConnector.connector = (connectOptions, callback) => {
    let socket: TLSSocket;
    try {
      socket = tlsConnect({ host: connectOptions.hostname, port: Number(connectOptions.port), ...tlsOptions(options) });
    } catch (error) {
      callback(error as Error, null);
      return undefined as never;
    }
    socket.once('secureConnect', () => callback(null, socket));
    socket.once('error', (error) => callback(explainTlsError(error, options.serverName), null));
    return socket;
  };
  let undici: Dispatcher | undefined;
  return {
    https,
    get undici(): Dispatcher {
      const { Agent, RotatingDispatcher } = undiciClasses();
      undici ??= new RotatingDispatcher(() => new Agent({ connect }), () => fingerprint(tlsOptions(options)));
      return undici;
    },
    serverName: options.serverName,
    close: async () => {
      https.destroy();
      await undici?.close();
    },
  };
}

// undici is loaded when a path's dispatcher is first asked for: it is a third of the memory and import
// time of everything else, and a signer, a registry or a worker thread never needs it.
const require = createRequire(import.meta.url);
let loaded: { Agent: typeof UndiciAgent; RotatingDispatcher: new (make: () => UndiciAgent, current: () => string) => Dispatcher } | undefined;

function undiciClasses(): NonNullable<typeof loaded> {
  if (!loaded) {
    let undici: typeof Undici;
    try {
      undici = require('undici') as typeof Undici;
    } catch (cause) {
      throw new PkiError('ERR_DEPENDENCY', 'an undici dispatcher needs the optional package undici (npm install undici); the https.Agent needs nothing', { field: 'undici', cause });
    }
    loaded = { Agent: undici.Agent, RotatingDispatcher: rotatingDispatcherClass(undici.Dispatcher) };
  }
  return loaded;
}

const REASONS: Record<string, [PkiErrorCode, string]> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ['ERR_UNKNOWN_AUTHORITY', 'the server certificate is signed by an unknown authority'],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ['ERR_UNKNOWN_AUTHORITY', 'the server certificate is signed by an unknown authority'],
  SELF_SIGNED_CERT_IN_CHAIN: ['ERR_UNKNOWN_AUTHORITY', 'the server chain ends in an untrusted self-signed CA'],
  DEPTH_ZERO_SELF_SIGNED_CERT: ['ERR_UNKNOWN_AUTHORITY', 'the server certificate is self-signed and not trusted'],
  CERT_SIGNATURE_FAILURE: ['ERR_UNKNOWN_AUTHORITY', 'the server certificate signature does not verify with a trusted CA'],
  CERT_HAS_EXPIRED: ['ERR_EXPIRED', 'the server certificate has expired'],
  CERT_NOT_YET_VALID: ['ERR_EXPIRED', 'the server certificate is not yet valid'],
  INVALID_PURPOSE: ['ERR_PURPOSE', 'the server certificate is not for server authentication'],
  ERR_TLS_CERT_ALTNAME_INVALID: ['ERR_NAME_MISMATCH', 'the server certificate does not name this host'],
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: ['ERR_UNAUTHORIZED', 'the server requires a client certificate and none was presented'],
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: ['ERR_UNAUTHORIZED', 'the server refused the handshake (a client certificate is probably required)'],
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: ['ERR_UNAUTHORIZED', 'the server refused the client certificate'],
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: ['ERR_UNAUTHORIZED', 'the server does not trust the client certificate'],
};

/**
 * Turns a TLS failure into a PkiError that says why: unknown authority, name mismatch, expired, purpose, no client certificate.
 *
 * @category Verified agents, one per path
 */
export function explainTlsError(error: unknown, serverName: string): Error {
  if (error instanceof PkiError) return error;
  const code = (error as { code?: string }).code ?? '';
  const reason = REASONS[code];
  if (reason) return new PkiError(reason[0], `${reason[1]} (${code})`, { field: serverName, cause: error });
  return error instanceof Error ? error : new PkiError('ERR_IO', String(error), { field: serverName });
}

/** Reads a file again only when it changed (mtime or size), as a rotated `kubelet-client-current.pem` does. */
export function watchedFile(path: string): () => string {
  let stamp = '';
  let content = '';
  return () => {
    const info = statSync(path);
    const now = `${info.mtimeMs}:${info.size}:${info.ino}`;
    if (now !== stamp) {
      content = readFileSync(path, 'utf8');
      stamp = now;
    }
    return content;
  };
}

/**
 * An undici dispatcher that hands each request to an Agent made for the current client certificate: when
 * the certificate rotates, the next request goes through a new Agent (new connections, new handshake)
 * and the old one is closed once its requests are done.
 */
function rotatingDispatcherClass(Base: typeof Dispatcher) {
  return class RotatingDispatcher extends Base {
    #agent: UndiciAgent;
    #fingerprint: string;
    readonly #make: () => UndiciAgent;
    readonly #current: () => string;

    constructor(make: () => UndiciAgent, current: () => string) {
      super();
      this.#make = make;
      this.#current = current;
      this.#agent = make();
      this.#fingerprint = current();
    }

    override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
      const now = this.#current();
      if (now !== this.#fingerprint) {
        const previous = this.#agent;
        this.#agent = this.#make();
        this.#fingerprint = now;
        void previous.close();
      }
      return this.#agent.dispatch(options, handler);
    }

    override close(): Promise<void>;
    override close(callback: () => void): void;
    override close(callback?: () => void): Promise<void> | void {
      const done = this.#agent.close();
      if (!callback) return done;
      void done.then(callback);
    }

    override destroy(): Promise<void>;
    override destroy(error: Error | null): Promise<void>;
    override destroy(callback: () => void): void;
    override destroy(error: Error | null, callback: () => void): void;
    override destroy(first?: Error | null | (() => void), second?: () => void): Promise<void> | void {
      const callback = typeof first === 'function' ? first : second;
      const done = this.#agent.destroy(typeof first === 'function' ? null : (first ?? null));
      if (!callback) return done;
      void done.then(callback);
    }
  };
}
