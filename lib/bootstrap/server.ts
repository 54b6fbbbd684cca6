import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { PkiError, type PkiErrorCode } from '../errors.js';
import { certificateIdentity } from '../x509/identity.js';
import { verifyCertificate } from '../x509/verify.js';
import { CSR_API_PATH, CSR_NAME, type CertificateSigningRequestCondition, type CertificateSigningRequestObject } from './csr-object.js';
import { decodeProtobufCsr, encodeProtobuf, encodeProtobufWatchEvent, PROTOBUF } from './protobuf.js';
import type { CsrRegistry, CsrWriteOptions, WatchEvent } from './registry.js';
import type { RevocationSource } from './revocation.js';
import { authenticateBootstrapToken, BOOTSTRAPPERS_GROUP, CLUSTER_INFO_PATH, clusterInfoConfigMap, clusterInfoKubeconfig, signingTokens, type TokenStore, type UserInfo } from './token.js';

/**
 * Options of startBootstrapServer: the registry, TLS material, token store, address and limits.
 *
 * @category Run the CSR controllers
 */
export interface BootstrapServerOptions {
  /** Where CSR objects are stored and watched: the server serves the certificates.k8s.io/v1 API over it. */
  registry: CsrRegistry;
  /** The serving certificate and key (PEM) and the CA bundle that client certificates must chain to. */
  tls: {
    /** The serving certificate chain, PEM. */
    cert: string;
    /** The serving certificate's private key, PEM (unencrypted). */
    key: string;
    /** The CA bundle, PEM, that client certificates must chain to; a client without one authenticates with a token. */
    clientCa: string;
  };
  /** The bootstrap token Secrets that authenticate a client without a certificate (a joining kubelet). */
  tokens: TokenStore;
  /** Default 127.0.0.1, port 0 (an ephemeral port). */
  host?: string;
  /** The port to listen on; default 0 (an ephemeral port, see `BootstrapServer.port`). */
  port?: number;
  /** Largest request body accepted. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Groups allowed to approve and set status. Default system:masters and kubeadm:cluster-admins. */
  adminGroups?: readonly string[];
  /** Revocation lists of the client CA (`pki/ca.crl`, see revocationListFile): a revoked certificate gets 401. */
  revocationLists?: RevocationSource;
  /** Told of each client certificate refused, with the reason (never a secret). */
  onRefusal?: (reason: string) => void;
  /** Told of each request once answered: method, path and query, content types and status (never a credential). */
  onRequest?: (entry: RequestLogEntry) => void;
  /**
   * The server URL the `kube-public/cluster-info` kubeconfig names (with `tls.clientCa` as its CA, signed for
   * each signing token of `tokens`); default this endpoint's URL.
   */
  clusterInfoServer?: string;
  /** How often a watch that allows bookmarks gets one; default 60 s, as kube-apiserver. */
  bookmarkIntervalMs?: number;
  /** The clock, for token expiry. Default: the system clock. */
  now?: () => Date;
}

/**
 * One answered request, for `onRequest`: never a credential or a body.
 *
 * @category Run the CSR controllers
 */
export interface RequestLogEntry {
  /** The HTTP method, e.g. GET or POST. */
  readonly method: string;
  /** The path and query as sent (taken from the request: escape it before printing). */
  readonly path: string;
  /** The request body's content type, '' without a body. */
  readonly contentType: string;
  /** The content type of the answer. */
  readonly responseType: string;
  /** The HTTP status answered, e.g. 201 or 409. */
  readonly status: number;
}

/**
 * A running bootstrap server: a minimal certificates.k8s.io/v1 API for kubelet TLS bootstrap without a kube-apiserver.
 *
 * @category Run the CSR controllers
 */
export interface BootstrapServer {
  /** The base URL clients use, e.g. https://127.0.0.1:41623. */
  readonly url: string;
  /** The port listened on (the ephemeral one when `port` was 0). */
  readonly port: number;
  /** Stops listening, ends open watches and connections; resolves when the server is closed. */
  close(): Promise<void>;
}

/**
 * Problems of the request body the HTTP layer finds before there is an object to validate: PkiErrors of
 * code ERR_CSR_OBJECT (as the library reports them) that the wire tells apart by status.
 */
type BodyProblem = 'BodyTooLarge' | 'UnsupportedMediaType' | 'MalformedBody';

/**
 * The HTTP status and Kubernetes Status reason of each error, in one place. Any other PkiError is
 * 400 BadRequest; anything else 500 InternalError (its message never sent).
 */
const HTTP_STATUS: Partial<Record<PkiErrorCode | BodyProblem, readonly [code: number, reason: string]>> = {
  ERR_UNAUTHORIZED: [401, 'Unauthorized'],
  ERR_TOKEN: [401, 'Unauthorized'],
  ERR_FORBIDDEN: [403, 'Forbidden'],
  ERR_NOT_FOUND: [404, 'NotFound'],
  ERR_METHOD_NOT_ALLOWED: [405, 'MethodNotAllowed'],
  ERR_ALREADY_EXISTS: [409, 'AlreadyExists'],
  ERR_CONFLICT: [409, 'Conflict'],
  // kube-apiserver's reason for a watch from a resource version it no longer keeps.
  ERR_GONE: [410, 'Expired'],
  ERR_CSR_OBJECT: [422, 'Invalid'],
  ERR_CSR: [422, 'Invalid'],
  ERR_CSR_SIGNATURE: [422, 'Invalid'],
  ERR_PEM: [422, 'Invalid'],
  ERR_DER: [422, 'Invalid'],
  ERR_NAME: [422, 'Invalid'],
  ERR_KEY: [422, 'Invalid'],
  MalformedBody: [400, 'BadRequest'],
  BodyTooLarge: [413, 'RequestEntityTooLarge'],
  UnsupportedMediaType: [415, 'UnsupportedMediaType'],
};

function bodyError(problem: BodyProblem, message: string, cause?: unknown): PkiError & { bodyProblem: BodyProblem } {
  return Object.assign(new PkiError('ERR_CSR_OBJECT', message, cause === undefined ? {} : { cause }), { bodyProblem: problem });
}

/**
 * The certificates.k8s.io/v1 subset a kubelet and client-go use, over HTTPS, for the embedded registry:
 * create (with generateName), get, list and watch CSRs (resourceVersion, timeoutSeconds, bookmarks), the
 * approval and status subresources, /healthz and /version; JSON or Kubernetes protobuf, as negotiated.
 * Bootstrappers and nodes may create CSRs and read only their own; only admins approve and set status.
 * Errors are Kubernetes Status objects.
 *
 * It serves no core API: a real kubelet asks for its serving certificate only after its Node status
 * update succeeds, so against this endpoint it gets its client certificate (and rotates it) but never a
 * serving one. For serving certificates use a real control plane with `kubepki approve`, or
 * `kubepki kubelet-bootstrap --address` against this endpoint.
 *
 * @category Run the CSR controllers
 */
export async function startBootstrapServer(options: BootstrapServerOptions): Promise<BootstrapServer> {
  // The URL is known once listening: cluster-info names it unless told otherwise.
  const served: BootstrapServerOptions = { ...options };
  const server: Server = createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      ca: options.tls.clientCa,
      // Client certificates are optional (bootstrap tokens need none), so the handshake cannot require
      // one; a certificate that is presented but does not verify is refused with 401 in authenticate().
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      if (options.onRequest) {
        const log = options.onRequest;
        let logged = false;
        // A watch the client ends never finishes: it is logged when it closes.
        const once = (): void => {
          if (logged) return;
          logged = true;
          log({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'] ?? '', responseType: String(res.getHeader('content-type') ?? ''), status: res.statusCode });
        };
        res.once('finish', once);
        res.once('close', once);
      }
      handle(req, res, served).catch((error: unknown) => sendError(req, res, error));
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const url = `https://${address.includes(':') ? `[${address}]` : address}:${port}`;
  served.clusterInfoServer ??= url;
  return {
    port,
    url,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** What an authenticated caller may do: admins approve and set status; bootstrappers and nodes create and read their own. */
interface Caller {
  readonly user: UserInfo;
  readonly admin: boolean;
  readonly mayCreate: boolean;
  mayRead(csr: CertificateSigningRequestObject): boolean;
}

/** A request to the CSR API, its caller known. */
interface ApiCall {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly options: BootstrapServerOptions;
  readonly caller: Caller;
}

/** A request to one CSR (or its subresource) the caller may read. */
interface ObjectCall extends ApiCall {
  readonly name: string;
  readonly subresource: 'approval' | 'status' | undefined;
  readonly current: CertificateSigningRequestObject;
}

type Route<Call> = (call: Call) => Promise<void>;

/** GET routes answered without authentication. */
const PUBLIC_ROUTES = new Map<string, (req: IncomingMessage, res: ServerResponse) => void>([
  ['/healthz', (_, res) => sendText(res, 200, 'ok')],
  ['/readyz', (_, res) => sendText(res, 200, 'ok')],
  ['/version', (req, res) => send(req, res, 200, { major: '1', minor: '20', gitVersion: 'v1.20.0-kubepki', platform: 'embedded' }, 'json')],
]);

/** The collection's routes, by method. */
const COLLECTION_ROUTES = new Map<string, Route<ApiCall>>([
  ['POST', createCsr],
  ['GET', (call) => (isWatch(call.url) ? watchCsrs(call) : listCsrs(call))],
]);

/** One CSR's routes, by method and subresource (a GET of a subresource reads the object). */
const OBJECT_ROUTES = new Map<string, Route<ObjectCall>>([
  ['GET ', getCsr],
  ['GET approval', getCsr],
  ['GET status', getCsr],
  ['PUT approval', putApproval],
  ['PUT status', putStatus],
]);

const notAllowed = (): Promise<void> => Promise.reject(new PkiError('ERR_METHOD_NOT_ALLOWED', 'method not allowed'));

async function handle(req: IncomingMessage, res: ServerResponse, options: BootstrapServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const open = req.method === 'GET' ? PUBLIC_ROUTES.get(url.pathname) : undefined;
  if (open) return open(req, res);
  if (req.method === 'GET' && url.pathname === CLUSTER_INFO_PATH) return sendClusterInfo(req, res, options);
  const call: ApiCall = { req, res, url, options, caller: callerOf(await authenticate(req, options), options) };
  const { name, subresource } = csrPath(url.pathname);
  if (name === undefined) return (COLLECTION_ROUTES.get(req.method ?? '') ?? notAllowed)(call);
  // Every method on a CSR the caller may not read is refused as such, before a 405.
  const current = await readableCsr(call, name);
  return (OBJECT_ROUTES.get(`${req.method ?? ''} ${subresource ?? ''}`) ?? notAllowed)({ ...call, name, subresource, current });
}

/**
 * `kube-public/cluster-info`, to anyone (kube-apiserver lets anonymous requests read it, as kubeadm sets it
 * up): the CA bundle clients are verified with and the server URL, signed for each signing token as
 * kube-controller-manager's bootstrapsigner does, so a joining node verifies it with its token and CA pin.
 */
async function sendClusterInfo(req: IncomingMessage, res: ServerResponse, options: BootstrapServerOptions): Promise<void> {
  const kubeconfig = clusterInfoKubeconfig(options.clusterInfoServer ?? '', options.tls.clientCa);
  const tokens = await signingTokens(options.tokens, options.now?.() ?? new Date());
  send(req, res, 200, clusterInfoConfigMap(kubeconfig, tokens), 'json');
}

function callerOf(user: UserInfo, options: BootstrapServerOptions): Caller {
  const admin = user.groups.some((g) => (options.adminGroups ?? ['system:masters', 'kubeadm:cluster-admins']).includes(g));
  const mayCreate = admin || user.groups.includes(BOOTSTRAPPERS_GROUP) || user.groups.includes('system:nodes');
  return { user, admin, mayCreate, mayRead: (csr) => admin || (mayCreate && csr.spec.username === user.username) };
}

/** The CSR name and subresource a path names (neither for the collection); any other path is ERR_NOT_FOUND. */
function csrPath(pathname: string): { name?: string; subresource?: 'approval' | 'status' } {
  if (pathname !== CSR_API_PATH && !pathname.startsWith(`${CSR_API_PATH}/`)) throw new PkiError('ERR_NOT_FOUND', `the server could not find the requested resource ${pathname}`);
  const [name, subresource, ...rest] = pathname.slice(CSR_API_PATH.length).split('/').filter(Boolean).map(decodedSegment);
  if (rest.length > 0 || (name !== undefined && !CSR_NAME.test(name)) || (subresource !== undefined && subresource !== 'approval' && subresource !== 'status')) {
    throw new PkiError('ERR_NOT_FOUND', 'no such resource');
  }
  return { name, subresource };
}

async function readableCsr({ options, caller }: ApiCall, name: string): Promise<CertificateSigningRequestObject> {
  const current = await options.registry.get(name);
  if (current && caller.mayRead(current)) return current;
  // A CSR the requester may not read is reported as forbidden, never its content.
  if (current) throw new PkiError('ERR_FORBIDDEN', `user "${caller.user.username}" cannot get certificatesigningrequest "${name}"`);
  throw new PkiError('ERR_NOT_FOUND', `certificatesigningrequests.certificates.k8s.io "${name}" not found`);
}

const isWatch = (url: URL): boolean => url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';

async function createCsr({ req, res, options, caller }: ApiCall): Promise<void> {
  if (!caller.mayCreate) throw new PkiError('ERR_FORBIDDEN', `user "${caller.user.username}" cannot create certificatesigningrequests`);
  const body = await readObject(req, options.maxBodyBytes ?? 64 * 1024);
  send(req, res, 201, await options.registry.create(body, caller.user));
}

async function watchCsrs({ req, res, url, options, caller }: ApiCall): Promise<void> {
  const only = fieldSelectorName(url);
  if (only !== undefined) {
    const target = await options.registry.get(only);
    if (target && !caller.mayRead(target)) throw new PkiError('ERR_FORBIDDEN', `user "${caller.user.username}" cannot watch certificatesigningrequest "${only}"`);
  } else if (!caller.mayCreate) throw new PkiError('ERR_FORBIDDEN', `user "${caller.user.username}" cannot watch certificatesigningrequests`);
  return watch(req, res, url, options, (event) => (only === undefined || event.object.metadata.name === only) && caller.mayRead(event.object));
}

async function listCsrs({ req, res, url, options: { registry }, caller }: ApiCall): Promise<void> {
  const only = fieldSelectorName(url);
  if (!caller.mayCreate) throw new PkiError('ERR_FORBIDDEN', `user "${caller.user.username}" cannot list certificatesigningrequests`);
  const { items, resourceVersion } = registry.versionedList ? await registry.versionedList() : { items: await registry.list(), resourceVersion: undefined };
  const visible = items.filter((csr) => (only === undefined || csr.metadata.name === only) && caller.mayRead(csr));
  send(req, res, 200, { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequestList', metadata: resourceVersion === undefined ? {} : { resourceVersion }, items: visible });
}

async function getCsr({ req, res, current }: ObjectCall): Promise<void> {
  send(req, res, 200, current);
}

async function putApproval(call: ObjectCall): Promise<void> {
  const { body, added } = await subresourceUpdate(call);
  let result = call.current;
  // As kube-apiserver: a body naming a resourceVersion is written only on that version (else 409).
  let write = preconditionOf(body);
  for (const condition of added) {
    result = await call.options.registry.setApproval(call.name, condition, write);
    write = undefined;
  }
  send(call.req, call.res, 200, result);
}

async function putStatus(call: ObjectCall): Promise<void> {
  const { body, added } = await subresourceUpdate(call);
  const failed = added.find((c) => c.type === 'Failed');
  send(call.req, call.res, 200, await call.options.registry.setStatus(call.name, { certificate: body.status?.certificate, ...(failed ? { condition: failed } : {}) }, preconditionOf(body)));
}

const preconditionOf = (body: CertificateSigningRequestObject): CsrWriteOptions | undefined => {
  const resourceVersion = body.metadata?.resourceVersion;
  return typeof resourceVersion === 'string' && resourceVersion !== '' ? { resourceVersion } : undefined;
};

/** The body of an admin's PUT to a subresource, and the conditions it adds to the stored object. */
async function subresourceUpdate({ req, options, caller, name, subresource, current }: ObjectCall): Promise<{ body: CertificateSigningRequestObject; added: CertificateSigningRequestCondition[] }> {
  if (!caller.admin) throw new PkiError('ERR_FORBIDDEN', `user "${caller.user.username}" cannot update certificatesigningrequests/${subresource}`);
  const body = await readObject(req, options.maxBodyBytes ?? 64 * 1024);
  if (body?.metadata?.name !== name) throw new PkiError('ERR_CSR_OBJECT', 'metadata.name must match the URL', { field: 'metadata.name' });
  const known = new Set((current.status?.conditions ?? []).map((c) => c.type));
  return { body, added: (body.status?.conditions ?? []).filter((c) => !known.has(c.type)) };
}

async function authenticate(req: IncomingMessage, options: BootstrapServerOptions): Promise<UserInfo> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer (.+)$/.exec(header);
    if (!match) throw new PkiError('ERR_UNAUTHORIZED', 'Unauthorized');
    try {
      const user = await authenticateBootstrapToken(match[1]!, options.tokens, options.now?.());
      return { username: user.username, groups: [...user.groups, 'system:authenticated'] };
    } catch (error) {
      if (error instanceof PkiError) throw new PkiError('ERR_UNAUTHORIZED', 'Unauthorized');
      throw error;
    }
  }
  const socket = req.socket as TLSSocket;
  const peer = socket.getPeerCertificate(true);
  if (!peer?.raw || !socket.authorized) throw new PkiError('ERR_UNAUTHORIZED', 'Unauthorized');
  // The TLS stack verified the chain; kubepki verifies it again as Go does (client auth along the chain,
  // revocation) and reads the identity from its own decoding of the raw certificate, the same reading
  // the approver and the signers use: never from OpenSSL's, which reads names Go does not.
  const chain = peer.issuerCertificate && peer.issuerCertificate !== peer ? [peer.issuerCertificate.raw] : [];
  try {
    const { chain: verified } = await verifyCertificate(peer.raw, {
      roots: [options.tls.clientCa],
      intermediates: chain,
      purpose: 'client',
      now: options.now?.() ?? new Date(),
      crls: (await options.revocationLists?.()) ?? [],
    });
    const identity = certificateIdentity(verified[0]!);
    if (!identity) throw new PkiError('ERR_UNAUTHORIZED', 'the client certificate has no common name');
    return { username: identity.username, groups: [...identity.groups, 'system:authenticated'] };
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    options.onRefusal?.(`client certificate refused: ${error.code}: ${error.message}`);
    throw new PkiError('ERR_UNAUTHORIZED', 'Unauthorized');
  }
}

/** A path segment as clients escape it (csrApiPath, client-go: a name's ':' is %3A); one that does not decode stays as sent. */
function decodedSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function fieldSelectorName(url: URL): string | undefined {
  const selector = url.searchParams.get('fieldSelector');
  if (!selector) return undefined;
  const match = /^metadata\.name=(.*)$/s.exec(selector);
  if (!match || !CSR_NAME.test(match[1]!)) throw new PkiError('ERR_CSR_OBJECT', `unsupported field selector "${selector}"`, { field: 'fieldSelector' });
  return match[1];
}

/** The request body as a CSR object: JSON or Kubernetes protobuf, by Content-Type (415 otherwise). */
async function readObject(req: IncomingMessage, limit: number): Promise<CertificateSigningRequestObject> {
  const type = mediaType(req.headers['content-type'] ?? '');
  if (type !== 'application/json' && type !== PROTOBUF) {
    await drain(req, limit);
    throw bodyError('UnsupportedMediaType', `content type ${JSON.stringify(req.headers['content-type'] ?? '')} is neither application/json nor ${PROTOBUF}`);
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw bodyError('BodyTooLarge', `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw bodyError('BodyTooLarge', `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  if (type === PROTOBUF) {
    try {
      return decodeProtobufCsr(body);
    } catch (error) {
      // Every failure to decode is a malformed body; the validation of what decodes comes later.
      if (error instanceof PkiError) throw bodyError('MalformedBody', error.message, error);
      throw error;
    }
  }
  try {
    return JSON.parse(body.toString('utf8')) as CertificateSigningRequestObject;
  } catch {
    throw bodyError('MalformedBody', 'the request body is not valid JSON');
  }
}

async function drain(req: IncomingMessage, limit: number): Promise<void> {
  let size = 0;
  for await (const chunk of req) if ((size += (chunk as Buffer).length) > limit) break;
}

const mediaType = (header: string): string => header.split(';')[0]!.trim().toLowerCase();

type Encoding = 'json' | 'protobuf';

/** The answer's encoding from the Accept header, in its order: protobuf when asked for first, else JSON. */
function negotiate(req: IncomingMessage): Encoding {
  for (const entry of (req.headers.accept ?? '').split(',')) {
    const type = mediaType(entry);
    if (type === PROTOBUF) return 'protobuf';
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return 'json';
  }
  return 'json';
}

/**
 * A watch, as kube-apiserver streams one: from `resourceVersion` (the changes since, or ADDED for what
 * exists when unset or "0"; an ERROR event with a 410 Status when that version is too old), ended after
 * `timeoutSeconds`, with BOOKMARK events when `allowWatchBookmarks` is set. JSON lines, or protobuf
 * WatchEvent frames (`;stream=watch`).
 */
async function watch(req: IncomingMessage, res: ServerResponse, url: URL, options: BootstrapServerOptions, visible: (event: WatchEvent) => boolean): Promise<void> {
  const { from, timeoutSeconds, bookmarks } = watchParameters(url);
  const stream = watchStream(req, res);
  // The registry replays what it has before it returns: those events wait until the watch is known to be
  // valid, so that a refused one (a resourceVersion this server never gave) is still a Status with its code.
  const replayed: WatchEvent[] = [];
  let streaming = false;
  let lastVersion = from ?? '0';
  let stop: () => void;
  try {
    stop = await options.registry.watch((event) => {
      lastVersion = event.object.metadata.resourceVersion ?? lastVersion;
      if (!visible(event)) return;
      if (streaming) stream.write(event.type, event.object);
      else replayed.push(event);
    }, from === undefined ? {} : { resourceVersion: from });
  } catch (error) {
    if (!(error instanceof PkiError) || error.code !== 'ERR_GONE') throw error;
    // client-go's reflector lists again on this 410 (an ERROR event, as kube-apiserver sends it).
    stream.answer();
    stream.write('ERROR', statusOf(error));
    res.end();
    return;
  }
  stream.answer();
  for (const event of replayed) stream.write(event.type, event.object);
  streaming = true;
  const bookmark = (): void => stream.write('BOOKMARK', { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { resourceVersion: lastVersion } });
  keepWatching(req, res, stop, timeoutSeconds, bookmarks ? { send: bookmark, intervalMs: options.bookmarkIntervalMs ?? 60_000 } : undefined);
}

function watchParameters(url: URL): { from: string | undefined; timeoutSeconds: number; bookmarks: boolean } {
  const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 0);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) throw new PkiError('ERR_CSR_OBJECT', 'timeoutSeconds must be a whole number of seconds', { field: 'timeoutSeconds' });
  return { from: url.searchParams.get('resourceVersion') ?? undefined, timeoutSeconds, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true' };
}

/** A watch's answer: `answer()` sends the headers, `write` one event, as JSON lines or protobuf frames as negotiated. */
function watchStream(req: IncomingMessage, res: ServerResponse): { answer(): void; write(type: string, object: object): void } {
  const encoding = negotiate(req);
  return {
    answer() {
      res.setHeader('content-type', encoding === 'protobuf' ? `${PROTOBUF};stream=watch` : 'application/json');
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      // Node holds the headers until the first body bytes; a client waits for them before it reads events, so
      // a watch with nothing to say yet must still answer at once (client-go's reflector times out otherwise).
      res.flushHeaders();
    },
    write(type, object) {
      res.write(encoding === 'protobuf' ? encodeProtobufWatchEvent(type, object as Record<string, unknown>) : `${JSON.stringify({ type, object })}\n`);
    },
  };
}

/** Keeps a watch open until the client leaves or `timeoutSeconds` (0: no limit) pass, with bookmarks if asked for; then `stop`s it. */
function keepWatching(req: IncomingMessage, res: ServerResponse, stop: () => void, timeoutSeconds: number, bookmarks: { send: () => void; intervalMs: number } | undefined): void {
  const timers: NodeJS.Timeout[] = [];
  const release = (): void => {
    stop();
    for (const timer of timers) clearTimeout(timer);
  };
  if (timeoutSeconds > 0) {
    timers.push(
      setTimeout(() => {
        release();
        res.end();
      }, timeoutSeconds * 1000),
    );
  }
  if (bookmarks) timers.push(setInterval(bookmarks.send, bookmarks.intervalMs));
  req.on('close', () => {
    release();
    res.end();
  });
  res.on('close', release);
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.setHeader('content-type', 'text/plain');
  res.writeHead(status, { 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** An API object in the encoding the client accepts (`force` for answers that have no protobuf form). */
function send(req: IncomingMessage, res: ServerResponse, status: number, body: object, force?: Encoding): void {
  const encoding = force ?? negotiate(req);
  const bytes = encoding === 'protobuf' ? encodeProtobuf(body as Record<string, unknown>) : Buffer.from(JSON.stringify(body));
  res.setHeader('content-type', encoding === 'protobuf' ? PROTOBUF : 'application/json');
  res.writeHead(status, { 'content-length': bytes.length });
  res.end(bytes);
}

function statusOf(error: unknown): { kind: 'Status'; apiVersion: 'v1'; metadata: object; status: 'Failure'; message: string; reason: string; code: number } {
  if (!(error instanceof PkiError)) return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'internal error', reason: 'InternalError', code: 500 };
  const [code, reason] = HTTP_STATUS[(error as { bodyProblem?: BodyProblem }).bodyProblem ?? error.code] ?? [400, 'BadRequest'];
  const message = error.message;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function sendError(req: IncomingMessage, res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const status = statusOf(error);
  send(req, res, status.code, status);
}
