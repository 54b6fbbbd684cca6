import { deserialize, serialize } from 'node:v8';
import { PkiError } from '../errors.js';
import type { CertificateSigningRequest as ParsedCsr } from '../x509/csr.js';
import { hasCondition, revalidated, type CertificateSigningRequestObject } from './csr-object.js';
import type { WatchEvent, WatchEventType } from './registry.js';

/**
 * The embedded registry's objects, versioned, with what its rules need at hand: the request each active
 * CSR was validated with, and each requester's pending CSRs. Every object it hands out is a fresh copy.
 */
export class CsrStore {
  // Objects are kept encoded, as etcd keeps them: thousands of CSRs then cost their bytes outside the
  // JavaScript heap instead of an object graph in it, and a read decodes one fresh copy.
  readonly #objects = new Map<string, Uint8Array>();
  // The request, as validated on create, of each CSR the approver or a signer may still act on (not
  // issued, denied or failed): it travels with every event, so that they never parse it again.
  readonly #requests = new Map<string, ParsedCsr>();
  // The pending CSRs of each requester (spec.username -> names), kept up to date on every write, so that
  // the quota costs no scan of the registry.
  readonly #pending = new Map<string, Set<string>>();
  #version = 0;

  /** The last resource version given out. */
  get version(): number {
    return this.#version;
  }

  has(name: string): boolean {
    return this.#objects.has(name);
  }

  /** A copy of the named CSR; an unknown name is ERR_NOT_FOUND. */
  existing(name: string): CertificateSigningRequestObject {
    const bytes = this.#objects.get(name);
    if (!bytes) throw new PkiError('ERR_NOT_FOUND', `certificatesigningrequests "${name}" not found`, { field: 'name' });
    return decode(bytes);
  }

  all(): CertificateSigningRequestObject[] {
    return [...this.#objects.values()].map(decode);
  }

  /** ADDED for every CSR held, each decoded as it is asked for. */
  *addedEvents(): Generator<WatchEvent> {
    for (const bytes of this.#objects.values()) yield this.eventOf('ADDED', decode(bytes));
  }

  /** How many pending CSRs (no condition, no certificate) `requester` holds. */
  pendingOf(requester: string): number {
    return this.#pending.get(requester)?.size ?? 0;
  }

  /** Takes in a CSR read back at start, as it was stored (its resource version included). */
  load(object: CertificateSigningRequestObject, request: ParsedCsr | undefined): void {
    this.#keep(object, request);
    this.#version = Math.max(this.#version, Number(object.metadata.resourceVersion ?? 0));
  }

  /** Gives `object` the next resource version. */
  stamp(object: CertificateSigningRequestObject): void {
    object.metadata.resourceVersion = String(++this.#version);
  }

  /** Keeps a stamped object (with the request it was validated with on create); returns a copy. */
  put(object: CertificateSigningRequestObject, request?: ParsedCsr): CertificateSigningRequestObject {
    return decode(this.#keep(object, request));
  }

  remove(object: CertificateSigningRequestObject): void {
    const name = object.metadata.name;
    this.#objects.delete(name);
    this.#requests.delete(name);
    this.#untrack(object.spec?.username ?? '', name);
  }

  /** The event of a change to `object`, which it freezes: every listener shares it, no one can change it. */
  eventOf(type: WatchEventType, object: CertificateSigningRequestObject): WatchEvent {
    deepFreeze(object);
    const request = this.#requests.get(object.metadata.name);
    return request ? { type, object, validated: revalidated(object, request) } : { type, object };
  }

  #keep(object: CertificateSigningRequestObject, request: ParsedCsr | undefined): Uint8Array {
    const name = object.metadata.name;
    const bytes = serialize(object);
    this.#objects.set(name, bytes);
    const requester = object.spec?.username ?? '';
    if (isPending(object)) {
      const names = this.#pending.get(requester);
      if (names) names.add(name);
      else this.#pending.set(requester, new Set([name]));
    } else this.#untrack(requester, name);
    if (request) this.#requests.set(name, request);
    if (!stillActive(object)) this.#requests.delete(name);
    return bytes;
  }

  #untrack(requester: string, name: string): void {
    const names = this.#pending.get(requester);
    if (names?.delete(name) && names.size === 0) this.#pending.delete(requester);
  }
}

/** Not yet issued, denied or failed: the approver or a signer may still act on it. */
export function stillActive(csr: CertificateSigningRequestObject): boolean {
  return !csr.status?.certificate && !hasCondition(csr, 'Denied') && !hasCondition(csr, 'Failed');
}

/** Pending as kubectl shows it: no condition yet and no certificate. */
function isPending(csr: CertificateSigningRequestObject): boolean {
  return (csr.status?.conditions ?? []).length === 0 && !csr.status?.certificate;
}

const decode = (bytes: Uint8Array): CertificateSigningRequestObject => deserialize(bytes) as CertificateSigningRequestObject;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
