import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { ioError, NAME_MAX, writeFileAtomic } from '../cluster/files.js';
import { hasCondition, revalidated, validateConditions, validateCsr, type CertificateSigningRequestCondition, type CertificateSigningRequestObject, type ValidatedCsr } from './csr-object.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import type { UserInfo } from './token.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent {
  readonly type: WatchEventType;
  readonly object: CertificateSigningRequestObject;
  /**
   * The object with the request its registry validated on create, for a CSR the approver or a signer may
   * still act on; absent where the registry cannot vouch for it (a real API server), and the reader validates.
   */
  readonly validated?: ValidatedCsr;
}

export interface WatchOptions {
  /**
   * Resume after this resource version: the changes made since are replayed, then each new one (a version
   * older than the registry keeps is ERR_GONE). Unset or "0": ADDED for every existing CSR first.
   */
  readonly resourceVersion?: string;
}

/** The CertificateSigningRequest store the approver, the signer and the endpoint work against. */
export interface CsrRegistry {
  /** Stores a validated CSR; the requester becomes spec.username/groups. A taken name is ERR_ALREADY_EXISTS. */
  create(csr: CertificateSigningRequestObject, requester: UserInfo): Promise<CertificateSigningRequestObject>;
  get(name: string): Promise<CertificateSigningRequestObject | undefined>;
  list(): Promise<CertificateSigningRequestObject[]>;
  /**
   * Calls `listener` with ADDED for every existing CSR, then with each change; returns a stop function.
   * Events carry one deeply frozen copy of the stored object: every listener shares it, no one can change it.
   */
  watch(listener: (event: WatchEvent) => void, options?: WatchOptions): Promise<() => void>;
  /** The objects and the resource version they were read at (a list's metadata.resourceVersion), where the registry versions its objects. */
  versionedList?(): Promise<{ items: CertificateSigningRequestObject[]; resourceVersion: string }>;
  /** Adds an Approved or Denied condition (the /approval subresource). */
  setApproval(name: string, condition: CertificateSigningRequestCondition): Promise<CertificateSigningRequestObject>;
  /** Sets status.certificate (once) and/or adds a Failed condition (the /status subresource). */
  setStatus(name: string, status: { certificate?: string; condition?: CertificateSigningRequestCondition }): Promise<CertificateSigningRequestObject>;
}

/** The embedded registry: a CsrRegistry that can also delete (the CSR cleaner, cleaner.ts, does). */
export interface MemoryRegistry extends CsrRegistry {
  /** Removes a CSR (and its file), telling watchers DELETED; an unknown name is ERR_NOT_FOUND. */
  delete(name: string): Promise<void>;
  versionedList(): Promise<{ items: CertificateSigningRequestObject[]; resourceVersion: string }>;
}

/** Pending CSRs (no condition, no certificate) one requester may hold by default; more are refused. */
export const DEFAULT_MAX_PENDING_PER_REQUESTER = 100;

export interface MemoryRegistryOptions extends CryptoOptions {
  /** Persist every CSR as `<dir>/<name>.json`, written atomically, and load them at start. */
  dir?: string;
  now?: () => Date;
  /**
   * Pending CSRs (neither approved, denied, failed nor issued) one requester (spec.username) may hold;
   * a create beyond it is ERR_FORBIDDEN, as kube-apiserver refuses one over a ResourceQuota. Default
   * DEFAULT_MAX_PENDING_PER_REQUESTER (100); Infinity for no cap. Many nodes sharing one bootstrap token
   * and joining at once share it too (kubepki's kubelet-bootstrap retries a 403 with backoff).
   */
  maxPendingPerRequester?: number;
  /** How many recent changes a watch can resume from (older resource versions are ERR_GONE); default 1000. */
  watchHistory?: number;
}

// kube-apiserver's SimpleNameGenerator: a generateName prefix cut to 58 characters, then 5 characters
// from an alphabet without vowels or look-alikes (k8s.io/apiserver/pkg/storage/names, k8s.io/apimachinery/pkg/util/rand).
const GENERATED_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const MAX_GENERATE_NAME_PREFIX = 58;

function generatedName(prefix: string): string {
  const bytes = randomBytes(5);
  return prefix.slice(0, MAX_GENERATE_NAME_PREFIX) + [...bytes].map((b) => GENERATED_SUFFIX_ALPHABET[b % GENERATED_SUFFIX_ALPHABET.length]).join('');
}

/**
 * The file a persisted CSR is kept in: `<name>.json`, or for a name too long for one path segment (a
 * valid CSR name has up to 253 characters, and NAME_MAX is 255 bytes) its first 180 characters and a
 * hash of the whole name. Loading reads the name from the object, never from the file name.
 */
export function registryFileName(name: string): string {
  const plain = `${name}.json`;
  if (Buffer.byteLength(plain) <= NAME_MAX) return plain;
  return `${name.slice(0, 180)}-${createHash('sha256').update(name).digest('hex').slice(0, 32)}.json`;
}

/**
 * The embedded registry: in memory, optionally persisted to a folder so that a restart loses nothing.
 * Changes to one CSR are serialised; every object handed out is a fresh copy.
 */
export async function memoryRegistry(options: MemoryRegistryOptions = {}): Promise<MemoryRegistry> {
  const now = options.now ?? (() => new Date());
  const maxPending = options.maxPendingPerRequester ?? DEFAULT_MAX_PENDING_PER_REQUESTER;
  if (!(maxPending >= 0)) throw new PkiError('ERR_ARGUMENT', 'must be a number from 0, or Infinity', { field: 'maxPendingPerRequester' });
  // The pending CSRs of each requester (spec.username -> names), kept up to date on every write, so that
  // the quota costs no scan of the registry.
  const pendingOf = new Map<string, Set<string>>();
  const track = (object: CertificateSigningRequestObject): void => {
    const requester = object.spec?.username ?? '';
    const name = object.metadata.name;
    const names = pendingOf.get(requester);
    if (isPending(object)) {
      if (names) names.add(name);
      else pendingOf.set(requester, new Set([name]));
    } else if (names?.delete(name) && names.size === 0) pendingOf.delete(requester);
  };
  // Objects are kept encoded, as etcd keeps them: thousands of CSRs then cost their bytes outside the
  // JavaScript heap instead of an object graph in it, and a read decodes one fresh copy.
  const objects = new Map<string, Uint8Array>();
  const decode = (bytes: Uint8Array): CertificateSigningRequestObject => deserialize(bytes) as CertificateSigningRequestObject;
  // The request, as validated on create, of each CSR the approver or a signer may still act on (not
  // issued, denied or failed): it travels with every event, so that they never parse it again.
  const requests = new Map<string, ParsedCsr>();
  const eventOf = (type: WatchEventType, object: CertificateSigningRequestObject): WatchEvent => {
    const request = requests.get(object.metadata.name);
    return request ? { type, object, validated: revalidated(object, request) } : { type, object };
  };
  const listeners = new Set<(event: WatchEvent) => void>();
  let version = 0;
  // The recent changes, oldest first, for watches that resume from a resource version; `horizon` is the
  // oldest version one can resume from (what came before it is no longer kept).
  const historySize = options.watchHistory ?? 1000;
  const history: { readonly version: number; readonly event: WatchEvent }[] = [];
  let horizon = 0;
  if (options.dir) {
    const dir = options.dir;
    const files = await readdir(dir).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? [] : Promise.reject(ioError(dir, 'cannot be listed', cause))));
    for (const file of files.filter((f) => f.endsWith('.json'))) {
      const path = join(dir, file);
      const text = await readFile(path, 'utf8').catch((cause: unknown) => Promise.reject(ioError(path, 'cannot be read', cause)));
      const object = JSON.parse(text) as CertificateSigningRequestObject;
      objects.set(object.metadata.name, serialize(object));
      track(object);
      // A file is input like a request body: what is still to be decided or signed is validated as it is
      // read. One that fails goes on without its request, and the approver or signer refuses it.
      if (stillActive(object)) {
        try {
          requests.set(object.metadata.name, (await validateCsr(object, options)).request);
        } catch (error) {
          if (!(error instanceof PkiError)) throw error;
        }
      }
      version = Math.max(version, Number(object.metadata.resourceVersion ?? 0));
    }
  }
  horizon = version;
  // The version lists report: the last change everyone can see. A change takes its number before its file is
  // written and is seen only after, so a list during the write must not claim the new number yet (a watch
  // from it would then skip the change).
  let published = version;
  const publish = (event: WatchEvent): void => {
    published = Number(event.object.metadata.resourceVersion);
    history.push({ version: published, event });
    if (history.length > historySize) horizon = history.shift()!.version;
    for (const listener of listeners) listener(event);
  };
  // Changes run one at a time, so that two writers never both see "no certificate yet".
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(change: () => Promise<T>): Promise<T> => {
    const next = queue.then(change, change);
    queue = next.catch(() => undefined);
    return next;
  };
  const save = async (type: WatchEventType, object: CertificateSigningRequestObject, request?: ParsedCsr): Promise<CertificateSigningRequestObject> => {
    object.metadata.resourceVersion = String(++version);
    if (options.dir) {
      await writeFileAtomic({ path: join(options.dir, registryFileName(object.metadata.name)), content: JSON.stringify(object), mode: 0o600 }, { overwrite: true });
    }
    const bytes = serialize(object);
    objects.set(object.metadata.name, bytes);
    track(object);
    if (request) requests.set(object.metadata.name, request);
    if (!stillActive(object)) requests.delete(object.metadata.name);
    publish(eventOf(type, deepFreeze(object)));
    return decode(bytes);
  };
  const existing = (name: string): CertificateSigningRequestObject => {
    const bytes = objects.get(name);
    if (!bytes) throw new PkiError('ERR_NOT_FOUND', `certificatesigningrequests "${name}" not found`, { field: 'name' });
    return decode(bytes);
  };
  const create = async (csr: CertificateSigningRequestObject, requester: UserInfo): Promise<CertificateSigningRequestObject> => {
    const { request } = await validateCsr(csr, options);
    let name = csr.metadata?.name ?? '';
    const prefix = csr.metadata?.generateName;
    if (name === '' && typeof prefix === 'string' && prefix !== '') {
      // As kube-apiserver: a generated name that is taken is drawn again, never a 409.
      for (let attempt = 0; attempt < 16 && (name === '' || objects.has(name)); attempt++) name = generatedName(prefix);
      if (objects.has(name)) throw new PkiError('ERR_CONFLICT', 'no free name could be generated; retry', { field: 'metadata.generateName' });
    }
    if (objects.has(name)) throw new PkiError('ERR_ALREADY_EXISTS', `certificatesigningrequests "${name}" already exists`, { field: 'metadata.name' });
    const pending = pendingOf.get(requester.username)?.size ?? 0;
    if (pending >= maxPending) {
      throw new PkiError('ERR_FORBIDDEN', `exceeded quota: user ${JSON.stringify(requester.username)} has ${pending} pending certificatesigningrequests, the most allowed; wait until they are decided or cleaned up`);
    }
    // As kube-apiserver: only the fields of the v1 schema a client may set are kept (unknown ones are
    // dropped); spec.username, uid, groups and extra come from the authenticated requester, never the body.
    const stored: CertificateSigningRequestObject = {
      apiVersion: 'certificates.k8s.io/v1',
      kind: 'CertificateSigningRequest',
      metadata: { name, ...clientMetadata(csr.metadata), uid: randomUUID(), creationTimestamp: now().toISOString().replace(/\.\d{3}Z$/, 'Z') },
      spec: {
        request: csr.spec.request,
        signerName: csr.spec.signerName,
        ...(csr.spec.expirationSeconds === undefined ? {} : { expirationSeconds: csr.spec.expirationSeconds }),
        usages: [...csr.spec.usages],
        username: requester.username,
        groups: [...requester.groups],
        uid: '',
      },
      status: {},
    };
    return save('ADDED', stored, request);
  };
  const remove = async (name: string): Promise<void> => {
    const object = existing(name);
    if (options.dir) {
      const path = join(options.dir, registryFileName(name));
      await unlink(path).catch((cause: NodeJS.ErrnoException) => (cause.code === 'ENOENT' ? undefined : Promise.reject(ioError(path, 'cannot be removed', cause))));
    }
    objects.delete(name);
    requests.delete(name);
    const names = pendingOf.get(object.spec?.username ?? '');
    if (names?.delete(name) && names.size === 0) pendingOf.delete(object.spec?.username ?? '');
    object.metadata.resourceVersion = String(++version);
    publish({ type: 'DELETED', object: deepFreeze(object) });
  };
  const setApproval = async (name: string, condition: CertificateSigningRequestCondition): Promise<CertificateSigningRequestObject> => {
    const object = existing(name);
    if (condition.type !== 'Approved' && condition.type !== 'Denied') throw new PkiError('ERR_CSR_OBJECT', 'the approval subresource sets Approved or Denied', { field: 'status.conditions' });
    const conditions = [...(object.status?.conditions ?? [])];
    if (conditions.some((c) => c.type === condition.type)) return object;
    conditions.push(stamp(condition, now()));
    validateConditions(conditions);
    object.status = { ...object.status, conditions };
    return save('MODIFIED', object);
  };
  const setStatus = async (name: string, status: { certificate?: string; condition?: CertificateSigningRequestCondition }): Promise<CertificateSigningRequestObject> => {
    const object = existing(name);
    const conditions = [...(object.status?.conditions ?? [])];
    if (status.condition) {
      if (status.condition.type !== 'Failed') throw new PkiError('ERR_CSR_OBJECT', 'the status subresource sets only the Failed condition', { field: 'status.conditions' });
      if (!conditions.some((c) => c.type === 'Failed')) conditions.push(stamp(status.condition, now()));
    }
    if (status.certificate !== undefined) {
      if (object.status?.certificate && object.status.certificate !== status.certificate) throw new PkiError('ERR_CONFLICT', 'status.certificate is already set', { field: 'status.certificate' });
      if (!conditions.some((c) => c.type === 'Approved')) throw new PkiError('ERR_CONFLICT', 'a certificate may only be set on an approved CSR', { field: 'status.certificate' });
    }
    validateConditions(conditions);
    object.status = { ...object.status, conditions, ...(status.certificate !== undefined ? { certificate: status.certificate } : {}) };
    return save('MODIFIED', object);
  };
  return {
    create: (csr, requester) => serial(() => create(csr, requester)),
    async get(name) {
      return objects.has(name) ? existing(name) : undefined;
    },
    async list() {
      return [...objects.values()].map(decode);
    },
    async versionedList() {
      return { items: [...objects.values()].map(decode), resourceVersion: String(published) };
    },
    async watch(listener, watchOptions = {}) {
      const from = watchOptions.resourceVersion;
      if (from === undefined || from === '' || from === '0') {
        for (const bytes of objects.values()) listener(eventOf('ADDED', deepFreeze(decode(bytes))));
      } else {
        const after = /^\d{1,15}$/.test(from) ? Number(from) : NaN;
        if (Number.isNaN(after)) throw new PkiError('ERR_CSR_OBJECT', `resourceVersion ${JSON.stringify(from)} is not one this server gave`, { field: 'resourceVersion' });
        if (after < horizon) throw new PkiError('ERR_GONE', `too old resource version: ${after} (${horizon})`, { field: 'resourceVersion' });
        for (const entry of history) if (entry.version > after) listener(entry.event);
      }
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    setApproval: (name, condition) => serial(() => setApproval(name, condition)),
    setStatus: (name, status) => serial(() => setStatus(name, status)),
    delete: (name) => serial(() => remove(name)),
  };
}

/** Not yet issued, denied or failed: the approver or a signer may still act on it. */
function stillActive(csr: CertificateSigningRequestObject): boolean {
  return !csr.status?.certificate && !hasCondition(csr, 'Denied') && !hasCondition(csr, 'Failed');
}

/** Pending as kubectl shows it: no condition yet and no certificate. */
function isPending(csr: CertificateSigningRequestObject): boolean {
  return (csr.status?.conditions ?? []).length === 0 && !csr.status?.certificate;
}

/** The ObjectMeta fields a client may set on create: generateName, labels and annotations (string maps). */
function clientMetadata(metadata: unknown): Pick<CertificateSigningRequestObject['metadata'], 'generateName' | 'labels' | 'annotations'> {
  const given = metadata as Record<string, unknown>;
  const out: Pick<CertificateSigningRequestObject['metadata'], 'generateName' | 'labels' | 'annotations'> = {};
  if (given.generateName !== undefined) {
    if (typeof given.generateName !== 'string') throw new PkiError('ERR_CSR_OBJECT', 'must be a string', { field: 'metadata.generateName' });
    out.generateName = given.generateName;
  }
  for (const field of ['labels', 'annotations'] as const) {
    const map = given[field];
    if (map === undefined) continue;
    if (!map || typeof map !== 'object' || Array.isArray(map)) throw new PkiError('ERR_CSR_OBJECT', 'must be a map of strings to strings', { field: `metadata.${field}` });
    const entries = Object.entries(map);
    for (const [key, value] of entries) {
      if (typeof value !== 'string') throw new PkiError('ERR_CSR_OBJECT', 'must be a string', { field: `metadata.${field}[${JSON.stringify(key.slice(0, 64))}]` });
    }
    out[field] = Object.fromEntries(entries) as Record<string, string>;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function stamp(condition: CertificateSigningRequestCondition, at: Date): CertificateSigningRequestCondition {
  const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { ...condition, status: 'True', lastUpdateTime: time, lastTransitionTime: time };
}
