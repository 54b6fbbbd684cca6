import { randomBytes, randomUUID } from 'node:crypto';
import type { CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import { validateConditions, validateCsr, type CertificateSigningRequestCondition, type CertificateSigningRequestObject, type ValidatedCsr } from './csr-object.js';
import { CsrStore, stillActive } from './csr-store.js';
import { readRegistryFiles, removeRegistryFile, writeRegistryFile } from './registry-files.js';
import type { UserInfo } from './token.js';
import { WatchHub } from './watch-hub.js';

/**
 * The kind of a watch event: a CSR created (or listed at the start), changed, or removed.
 *
 * @category Run the CSR controllers
 */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
/**
 * One change to a CSR registry, as a watch delivers it.
 *
 * @category Run the CSR controllers
 */
export interface WatchEvent {
  /** What happened to the object: ADDED, MODIFIED or DELETED. */
  readonly type: WatchEventType;
  /** The object after the change (before it, for DELETED); deeply frozen. */
  readonly object: CertificateSigningRequestObject;
  /**
   * The object with the request its registry validated on create, for a CSR the approver or a signer may
   * still act on; absent where the registry cannot vouch for it (a real API server), and the reader validates.
   */
  readonly validated?: ValidatedCsr;
}

/**
 * Options of CsrRegistry.watch.
 *
 * @category Run the CSR controllers
 */
export interface WatchOptions {
  /**
   * Resume after this resource version: the changes made since are replayed, then each new one (a version
   * older than the registry keeps is ERR_GONE). Unset or "0": ADDED for every existing CSR first.
   */
  readonly resourceVersion?: string;
}

/**
 * The CertificateSigningRequest store the approver, the signer and the endpoint work against.
 *
 * @category Run the CSR controllers
 */
export interface CsrRegistry {
  /** Stores a validated CSR; the requester becomes spec.username/groups. A taken name is ERR_ALREADY_EXISTS. */
  create(csr: CertificateSigningRequestObject, requester: UserInfo): Promise<CertificateSigningRequestObject>;
  /** The CSR object of that name, or undefined. */
  get(name: string): Promise<CertificateSigningRequestObject | undefined>;
  /** Every stored CSR object. */
  list(): Promise<CertificateSigningRequestObject[]>;
  /**
   * Calls `listener` with ADDED for every existing CSR, then with each change; returns a stop function.
   * Events carry one deeply frozen copy of the stored object: every listener shares it, no one can change it.
   */
  watch(listener: (event: WatchEvent) => void, options?: WatchOptions): Promise<() => void>;
  /** The objects and the resource version they were read at (a list's metadata.resourceVersion), where the registry versions its objects. */
  versionedList?(): Promise<{
    /** Every stored CSR object. */
    items: CertificateSigningRequestObject[];
    /** The version the list was read at: a watch from it misses no change. */
    resourceVersion: string;
  }>;
  /** Adds an Approved or Denied condition (the /approval subresource). */
  setApproval(name: string, condition: CertificateSigningRequestCondition, write?: CsrWriteOptions): Promise<CertificateSigningRequestObject>;
  /** Sets status.certificate (once) and/or adds a Failed condition (the /status subresource). */
  setStatus(name: string, status: { certificate?: string; condition?: CertificateSigningRequestCondition }, write?: CsrWriteOptions): Promise<CertificateSigningRequestObject>;
}

/**
 * The precondition of an approval or status write: the version of the CSR the decision was made on.
 *
 * @category Run the CSR controllers
 */
export interface CsrWriteOptions {
  /**
   * Write only if the stored CSR is still at this metadata.resourceVersion; otherwise ERR_CONFLICT: another
   * writer changed it first, and what was decided on the old version is to be dropped.
   */
  readonly resourceVersion?: string;
  /** The CSR as read at that version (a watch event's object): kubernetesRegistry then writes without reading it again. */
  readonly current?: CertificateSigningRequestObject;
}

/**
 * The embedded registry: a CsrRegistry that can also delete (the CSR cleaner, cleaner.ts, does).
 *
 * @category Run the CSR controllers
 */
export interface MemoryRegistry extends CsrRegistry {
  /** Removes a CSR (and its file), telling watchers DELETED; an unknown name is ERR_NOT_FOUND. */
  delete(name: string): Promise<void>;
  /** The objects and the resource version they were read at (a list's metadata.resourceVersion). */
  versionedList(): Promise<{
    /** Every stored CSR object. */
    items: CertificateSigningRequestObject[];
    /** The version the list was read at: a watch from it misses no change. */
    resourceVersion: string;
  }>;
}

/** Pending CSRs (no condition, no certificate) one requester may hold by default; more are refused. */
export const DEFAULT_MAX_PENDING_PER_REQUESTER = 100;

/**
 * Options of memoryRegistry: persistence, the clock, the per-requester cap and watch history.
 *
 * @category Run the CSR controllers
 */
export interface MemoryRegistryOptions extends CryptoOptions {
  /** Persist every CSR as `<dir>/<name>.json`, written atomically, and load them at start. */
  dir?: string;
  /** The clock for creationTimestamp and the conditions' lastUpdateTime. Default: the system clock. */
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
 * The embedded registry: in memory, optionally persisted to a folder so that a restart loses nothing.
 * Changes to one CSR are serialised; every object handed out is a fresh copy.
 *
 * @category Run the CSR controllers
 */
export async function memoryRegistry(options: MemoryRegistryOptions = {}): Promise<MemoryRegistry> {
  const maxPending = options.maxPendingPerRequester ?? DEFAULT_MAX_PENDING_PER_REQUESTER;
  if (!(maxPending >= 0)) throw new PkiError('ERR_ARGUMENT', 'must be a number from 0, or Infinity', { field: 'maxPendingPerRequester' });
  const store = new CsrStore();
  if (options.dir) for await (const object of readRegistryFiles(options.dir)) store.load(object, await loadedRequest(object, options));
  const registry = new EmbeddedRegistry(store, new WatchHub(store.version, options.watchHistory ?? 1000), { ...options, maxPending, now: options.now ?? (() => new Date()) });
  return {
    create: (csr, requester) => registry.create(csr, requester),
    get: async (name) => registry.get(name),
    list: async () => store.all(),
    versionedList: async () => registry.versionedList(),
    watch: async (listener, watchOptions = {}) => registry.watch(listener, watchOptions),
    setApproval: (name, condition, write) => registry.setApproval(name, condition, write),
    setStatus: (name, status, write) => registry.setStatus(name, status, write),
    delete: (name) => registry.delete(name),
  };
}

/**
 * A file is input like a request body: what is still to be decided or signed is validated as it is read.
 * One that fails goes on without its request, and the approver or signer refuses it.
 */
async function loadedRequest(object: CertificateSigningRequestObject, options: CryptoOptions): Promise<ParsedCsr | undefined> {
  if (!stillActive(object)) return undefined;
  try {
    return (await validateCsr(object, options)).request;
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    return undefined;
  }
}

type RegistrySettings = MemoryRegistryOptions & { readonly maxPending: number; readonly now: () => Date };

/** The registry's rules over its store, its watchers and its folder. */
class EmbeddedRegistry {
  readonly #store: CsrStore;
  readonly #hub: WatchHub;
  readonly #settings: RegistrySettings;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(store: CsrStore, hub: WatchHub, settings: RegistrySettings) {
    this.#store = store;
    this.#hub = hub;
    this.#settings = settings;
  }

  get(name: string): CertificateSigningRequestObject | undefined {
    return this.#store.has(name) ? this.#store.existing(name) : undefined;
  }

  versionedList(): { items: CertificateSigningRequestObject[]; resourceVersion: string } {
    return { items: this.#store.all(), resourceVersion: String(this.#hub.published) };
  }

  watch(listener: (event: WatchEvent) => void, options: WatchOptions): () => void {
    return this.#hub.subscribe(listener, options.resourceVersion, () => this.#store.addedEvents());
  }

  create(csr: CertificateSigningRequestObject, requester: UserInfo): Promise<CertificateSigningRequestObject> {
    return this.#serial(async () => {
      const { request } = await validateCsr(csr, this.#settings);
      const name = this.#freeName(csr);
      const pending = this.#store.pendingOf(requester.username);
      if (pending >= this.#settings.maxPending) {
        throw new PkiError('ERR_FORBIDDEN', `exceeded quota: user ${JSON.stringify(requester.username)} has ${pending} pending certificatesigningrequests, the most allowed; wait until they are decided or cleaned up`);
      }
      return this.#save('ADDED', storedObject(name, csr, requester, this.#settings.now()), request);
    });
  }

  setApproval(name: string, condition: CertificateSigningRequestCondition, write?: CsrWriteOptions): Promise<CertificateSigningRequestObject> {
    return this.#serial(async () => {
      const object = this.#current(name, write);
      if (condition.type !== 'Approved' && condition.type !== 'Denied') throw new PkiError('ERR_CSR_OBJECT', 'the approval subresource sets Approved or Denied', { field: 'status.conditions' });
      const conditions = [...(object.status?.conditions ?? [])];
      if (conditions.some((c) => c.type === condition.type)) return object;
      conditions.push(stamp(condition, this.#settings.now()));
      validateConditions(conditions);
      object.status = { ...object.status, conditions };
      return this.#save('MODIFIED', object);
    });
  }

  setStatus(name: string, status: { certificate?: string; condition?: CertificateSigningRequestCondition }, write?: CsrWriteOptions): Promise<CertificateSigningRequestObject> {
    return this.#serial(async () => {
      const object = this.#current(name, write);
      const conditions = [...(object.status?.conditions ?? [])];
      if (status.condition) {
        if (status.condition.type !== 'Failed') throw new PkiError('ERR_CSR_OBJECT', 'the status subresource sets only the Failed condition', { field: 'status.conditions' });
        if (!conditions.some((c) => c.type === 'Failed')) conditions.push(stamp(status.condition, this.#settings.now()));
      }
      if (status.certificate !== undefined) {
        if (object.status?.certificate && object.status.certificate !== status.certificate) throw new PkiError('ERR_CONFLICT', 'status.certificate is already set', { field: 'status.certificate' });
        if (!conditions.some((c) => c.type === 'Approved')) throw new PkiError('ERR_CONFLICT', 'a certificate may only be set on an approved CSR', { field: 'status.certificate' });
      }
      validateConditions(conditions);
      object.status = { ...object.status, conditions, ...(status.certificate !== undefined ? { certificate: status.certificate } : {}) };
      return this.#save('MODIFIED', object);
    });
  }

  delete(name: string): Promise<void> {
    return this.#serial(async () => {
      const object = this.#store.existing(name);
      if (this.#settings.dir) await removeRegistryFile(this.#settings.dir, name);
      this.#store.remove(object);
      this.#store.stamp(object);
      this.#hub.publish(this.#store.eventOf('DELETED', object));
    });
  }

  /** The stored CSR a write changes; one no longer at the version the writer names is ERR_CONFLICT, as kube-apiserver's 409. */
  #current(name: string, write: CsrWriteOptions | undefined): CertificateSigningRequestObject {
    const object = this.#store.existing(name);
    const expected = write?.resourceVersion ?? write?.current?.metadata.resourceVersion;
    if (expected !== undefined && expected !== '' && object.metadata.resourceVersion !== expected) {
      throw new PkiError('ERR_CONFLICT', `Operation cannot be fulfilled on certificatesigningrequests.certificates.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`, { field: 'metadata.resourceVersion' });
    }
    return object;
  }

  /** The name a create stores under: the given one, or one drawn from generateName. */
  #freeName(csr: CertificateSigningRequestObject): string {
    let name = csr.metadata?.name ?? '';
    const prefix = csr.metadata?.generateName;
    if (name === '' && typeof prefix === 'string' && prefix !== '') {
      // As kube-apiserver: a generated name that is taken is drawn again, never a 409.
      for (let attempt = 0; attempt < 16 && (name === '' || this.#store.has(name)); attempt++) name = generatedName(prefix);
      if (this.#store.has(name)) throw new PkiError('ERR_CONFLICT', 'no free name could be generated; retry', { field: 'metadata.generateName' });
    }
    if (this.#store.has(name)) throw new PkiError('ERR_ALREADY_EXISTS', `certificatesigningrequests "${name}" already exists`, { field: 'metadata.name' });
    return name;
  }

  // A change takes its version, is written to its file, then is kept and published.
  async #save(type: WatchEventType, object: CertificateSigningRequestObject, request?: ParsedCsr): Promise<CertificateSigningRequestObject> {
    this.#store.stamp(object);
    if (this.#settings.dir) await writeRegistryFile(this.#settings.dir, object);
    const copy = this.#store.put(object, request);
    this.#hub.publish(this.#store.eventOf(type, object));
    return copy;
  }

  // Changes run one at a time, so that two writers never both see "no certificate yet".
  #serial<T>(change: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(change, change);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * What a create stores. As kube-apiserver: only the fields of the v1 schema a client may set are kept
 * (unknown ones are dropped); spec.username, uid, groups and extra come from the authenticated requester,
 * never the body.
 */
function storedObject(name: string, csr: CertificateSigningRequestObject, requester: UserInfo, at: Date): CertificateSigningRequestObject {
  return {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name, ...clientMetadata(csr.metadata), uid: randomUUID(), creationTimestamp: at.toISOString().replace(/\.\d{3}Z$/, 'Z') },
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

function stamp(condition: CertificateSigningRequestCondition, at: Date): CertificateSigningRequestCondition {
  const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return { ...condition, status: 'True', lastUpdateTime: time, lastTransitionTime: time };
}
