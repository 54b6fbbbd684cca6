import { PkiError } from '../errors.js';
import type { WatchEvent } from './registry.js';

type Listener = (event: WatchEvent) => void;

/**
 * The watchers of the embedded registry: each change goes to every listener and into a buffer of the
 * recent ones, from which a watch that names a resource version is replayed.
 */
export class WatchHub {
  readonly #listeners = new Set<Listener>();
  // The recent changes, oldest first; `#horizon` is the oldest version one can resume from (what came
  // before it is no longer kept).
  readonly #history: { readonly version: number; readonly event: WatchEvent }[] = [];
  readonly #size: number;
  #horizon: number;
  // The version lists report: the last change everyone can see. A change takes its number before its file is
  // written and is seen only after, so a list during the write must not claim the new number yet (a watch
  // from it would then skip the change).
  #published: number;

  /** `version`: the last one the store holds at start; `size`: how many changes are kept for replay. */
  constructor(version: number, size: number) {
    this.#horizon = version;
    this.#published = version;
    this.#size = size;
  }

  /** The resource version of the last change published. */
  get published(): number {
    return this.#published;
  }

  publish(event: WatchEvent): void {
    this.#published = Number(event.object.metadata.resourceVersion);
    this.#history.push({ version: this.#published, event });
    if (this.#history.length > this.#size) this.#horizon = this.#history.shift()!.version;
    for (const listener of this.#listeners) listener(event);
  }

  /**
   * Replays to `listener` the changes after `from` (or, when unset, '' or "0", the events `existing`
   * yields), then adds it; returns the function that removes it. A version older than the buffer is ERR_GONE.
   */
  subscribe(listener: Listener, from: string | undefined, existing: () => Iterable<WatchEvent>): () => void {
    if (from === undefined || from === '' || from === '0') {
      for (const event of existing()) listener(event);
    } else {
      const after = /^\d{1,15}$/.test(from) ? Number(from) : NaN;
      if (Number.isNaN(after)) throw new PkiError('ERR_CSR_OBJECT', `resourceVersion ${JSON.stringify(from)} is not one this server gave`, { field: 'resourceVersion' });
      if (after < this.#horizon) throw new PkiError('ERR_GONE', `too old resource version: ${after} (${this.#horizon})`, { field: 'resourceVersion' });
      for (const entry of this.#history) if (entry.version > after) listener(entry.event);
    }
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }
}
