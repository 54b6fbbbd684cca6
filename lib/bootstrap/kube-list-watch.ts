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
  const known = new Map<string, T>();
  let resourceVersion = '';
  let stopped = false;
  let stopWatch = (): void => undefined;
  let failures = 0;
  const separator = collectionPath.includes('?') ? '&' : '?';

  const relist = async (): Promise<void> => {
    const list = await kubeRequest<{ items?: T[]; metadata?: { resourceVersion?: string } }>(connection, 'GET', collectionPath);
    const seen = new Set<string>();
    for (const item of list.items ?? []) {
      seen.add(item.metadata.name);
      const wasKnown = known.has(item.metadata.name);
      if (wasKnown && known.get(item.metadata.name)!.metadata.resourceVersion === item.metadata.resourceVersion) continue;
      known.set(item.metadata.name, item);
      if (!stopped) onEvent(wasKnown ? 'MODIFIED' : 'ADDED', item);
    }
    for (const [name, last] of [...known]) {
      if (seen.has(name)) continue;
      known.delete(name);
      if (!stopped) onEvent('DELETED', last);
    }
    resourceVersion = list.metadata?.resourceVersion ?? '';
  };

  const reopen = (delay: number): void => {
    if (!stopped) setTimeout(() => void open(), delay).unref();
  };

  const open = async (): Promise<void> => {
    if (stopped) return;
    const query = `watch=true&allowWatchBookmarks=true${resourceVersion ? `&resourceVersion=${encodeURIComponent(resourceVersion)}` : ''}`;
    stopWatch = kubeWatch(
      connection,
      `${collectionPath}${separator}${query}`,
      (event) => {
        failures = 0;
        const object = event.object as unknown as T;
        if (object.metadata?.resourceVersion) resourceVersion = object.metadata.resourceVersion;
        if ((event.type as string) === 'BOOKMARK') return;
        if (event.type === 'DELETED') known.delete(object.metadata.name);
        else known.set(object.metadata.name, object);
        onEvent(event.type, object);
      },
      (error) => {
        if (stopped) return;
        if (!error) return reopen(0);
        options.onError?.(error);
        if (error instanceof PkiError && error.code === 'ERR_GONE') {
          relist().then(
            () => reopen(0),
            (listError: unknown) => {
              options.onError?.(listError);
              reopen(delayAfter(++failures));
            },
          );
          return;
        }
        reopen(delayAfter(++failures));
      },
    );
  };

  await relist();
  void open();
  return () => {
    stopped = true;
    stopWatch();
  };
}

function delayAfter(failures: number): number {
  return Math.min(500 * 2 ** (failures - 1), 10_000);
}
