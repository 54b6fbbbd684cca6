import { PkiError } from '../errors.js';
import { kubeRequest, kubeWatch, type KubeConnection } from './kube-client.js';

/**
 * What listAndWatch needs of an object: its name and version.
 *
 * @category Run the CSR controllers
 */
export interface ListedObject {
  /** The object's metadata (other fields are kept as served). */
  readonly metadata: {
    /** The object's name. */
    readonly name: string;
    /** The object's version, which a watch resumes from. */
    readonly resourceVersion?: string;
  };
}

/**
 * The kind of a list-and-watch event: an object listed or created, changed, or removed.
 *
 * @category Run the CSR controllers
 */
export type ListWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * Options of listAndWatch.
 *
 * @category Run the CSR controllers
 */
export interface ListWatchOptions {
  /** Told of every error the watch recovers from (a dropped stream, a refused request, a relist). */
  onError?: (error: unknown) => void;
}

/**
 * A collection's objects as client-go's reflector keeps them: a list, then a watch from the list's
 * resourceVersion that resumes from the last version it saw whenever the server ends the stream; a
 * 410 Gone (the version was compacted away) lists again and reports only what changed meanwhile (ADDED,
 * MODIFIED, DELETED with the last object seen, against what the listener was already told). Bookmarks move
 * the resume point.
 * Resolves once the first list has been delivered; returns the stop function.
 *
 * @category Run the CSR controllers
 */
export async function listAndWatch<T extends ListedObject>(
  connection: KubeConnection,
  collectionPath: string,
  onEvent: (type: ListWatchEventType, object: T) => void,
  options: ListWatchOptions = {},
): Promise<() => void> {
  const reflector = new Reflector<T>(connection, collectionPath, onEvent, options);
  await reflector.relist();
  reflector.open();
  return () => reflector.stop();
}

/** The state of one listAndWatch: what the listener was told, and the version the next watch resumes from. */
class Reflector<T extends ListedObject> {
  readonly #known = new Map<string, T>();
  #resourceVersion = '';
  #stopped = false;
  #stopWatch = (): void => undefined;
  #failures = 0;

  readonly #connection: KubeConnection;
  readonly #collectionPath: string;
  readonly #onEvent: (type: ListWatchEventType, object: T) => void;
  readonly #options: ListWatchOptions;

  constructor(connection: KubeConnection, collectionPath: string, onEvent: (type: ListWatchEventType, object: T) => void, options: ListWatchOptions) {
    this.#connection = connection;
    this.#collectionPath = collectionPath;
    this.#onEvent = onEvent;
    this.#options = options;
  }

  stop(): void {
    this.#stopped = true;
    this.#stopWatch();
  }

  /** Lists the collection and tells the listener what differs from what it was told before. */
  async relist(): Promise<void> {
    const list = await kubeRequest<{ items?: T[]; metadata?: { resourceVersion?: string } }>(this.#connection, 'GET', this.#collectionPath);
    const seen = new Set<string>();
    for (const item of list.items ?? []) {
      seen.add(item.metadata.name);
      const before = this.#known.get(item.metadata.name);
      if (before && before.metadata.resourceVersion === item.metadata.resourceVersion) continue;
      this.#known.set(item.metadata.name, item);
      this.#tell(before ? 'MODIFIED' : 'ADDED', item);
    }
    for (const [name, last] of [...this.#known]) {
      if (seen.has(name)) continue;
      this.#known.delete(name);
      this.#tell('DELETED', last);
    }
    this.#resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  /** Opens a watch from the last version seen; it is opened again however it ends, until stop(). */
  open(): void {
    if (this.#stopped) return;
    const separator = this.#collectionPath.includes('?') ? '&' : '?';
    const query = `watch=true&allowWatchBookmarks=true${this.#resourceVersion ? `&resourceVersion=${encodeURIComponent(this.#resourceVersion)}` : ''}`;
    this.#stopWatch = kubeWatch(
      this.#connection,
      `${this.#collectionPath}${separator}${query}`,
      (event) => this.#received(event.type as ListWatchEventType | 'BOOKMARK', event.object as unknown as T),
      (error) => this.#ended(error),
    );
  }

  #received(type: ListWatchEventType | 'BOOKMARK', object: T): void {
    this.#failures = 0;
    if (object.metadata?.resourceVersion) this.#resourceVersion = object.metadata.resourceVersion;
    if (type === 'BOOKMARK') return;
    if (type === 'DELETED') this.#known.delete(object.metadata.name);
    else this.#known.set(object.metadata.name, object);
    this.#tell(type, object);
  }

  #ended(error: Error | undefined): void {
    if (this.#stopped) return;
    if (!error) return this.#reopen(0);
    this.#options.onError?.(error);
    if (!(error instanceof PkiError && error.code === 'ERR_GONE')) return this.#reopen(delayAfter(++this.#failures));
    this.relist().then(
      () => this.#reopen(0),
      (listError: unknown) => {
        this.#options.onError?.(listError);
        this.#reopen(delayAfter(++this.#failures));
      },
    );
  }

  #reopen(delay: number): void {
    if (!this.#stopped) setTimeout(() => this.open(), delay).unref();
  }

  #tell(type: ListWatchEventType, object: T): void {
    if (!this.#stopped) this.#onEvent(type, object);
  }
}

function delayAfter(failures: number): number {
  return Math.min(500 * 2 ** (failures - 1), 10_000);
}
