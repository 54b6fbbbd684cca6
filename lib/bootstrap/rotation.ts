import { sameMembers } from '../lists.js';
import type { Certificate } from '../x509/certificate.js';
import { normalizeIp } from '../x509/ip.js';

/**
 * When to rotate (client-go certificate_manager.go, docs/kubernetes-pki.md §12): a random point between 70%
 * and 90% of the certificate's lifetime, so that a fleet issued at once does not renew at once.
 */
export function rotationDeadline(certificate: { notBefore: Date; notAfter: Date }, random: () => number = Math.random): Date {
  const start = certificate.notBefore.getTime();
  const lifetime = certificate.notAfter.getTime() - start;
  return new Date(start + (0.7 + 0.2 * random()) * lifetime);
}

/**
 * What the current certificate must carry; any change (a new address, say) means rotating at once.
 *
 * @category Bootstrap a node
 */
export interface CertificateTemplate {
  /** The CN the certificate must have, e.g. system:node:worker-1. */
  readonly commonName: string;
  /** The O values the certificate must have, e.g. ['system:nodes']. */
  readonly organizations: readonly string[];
  /** The DNS SANs it must have (a serving certificate's); compared as a set. */
  readonly dns?: readonly string[];
  /** The IP SANs it must have (a serving certificate's); compared as a set. */
  readonly ips?: readonly string[];
}

export function matchesTemplate(certificate: Certificate, template: CertificateTemplate): boolean {
  const { subject, sans } = certificate;
  const ips = (list: readonly string[]): string[] => list.map((ip) => normalizeIp(ip) ?? ip);
  return (
    subject.commonName === template.commonName &&
    sameMembers(subject.organizations ?? [], template.organizations) &&
    sameMembers(sans.dns, template.dns ?? []) &&
    sameMembers(ips(sans.ips), ips(template.ips ?? []))
  );
}

/**
 * Time and waiting, injectable so that tests never sleep for real.
 *
 * @category Bootstrap a node
 */
export interface Clock {
  /** The current time. */
  now(): Date;
  /** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

// setTimeout fires at once for a delay over 2^31 - 1 ms (about 24.8 days), and a certificate's deadline
// is months away: a longer sleep ends there, and the manager simply looks again.
const LONGEST_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      // A stop that came while the manager was working (its abort event already past) ends the sleep at once.
      if (signal?.aborted) return resolve();
      const timer = setTimeout(resolve, Math.min(ms, LONGEST_TIMEOUT_MS));
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    }),
};

/**
 * Options of a certificate rotation manager: where the current certificate comes from, what it must match, how to rotate it and how to back off.
 *
 * @category Bootstrap a node
 */
export interface RotationManagerOptions {
  /** Time and sleeping. Default: the system clock. */
  clock?: Clock;
  /** Uniform in [0, 1): places each certificate's rotation deadline between 70% and 90% of its lifetime. Default Math.random. */
  random?: () => number;
  /** The certificate in use now (e.g. from the file store), or undefined when there is none. */
  current: () => Promise<Certificate | undefined>;
  /** What the certificate must look like; undefined means "nothing to ask for yet" (no addresses known). */
  template: () => CertificateTemplate | undefined;
  /** Obtains and stores a new certificate. */
  rotate: () => Promise<void>;
  /** After a failed rotation: 2 s doubling for 5 steps, then every 32 s (client-go's backoff). */
  backoff?: {
    /** The wait after the first failure, in ms (default 2000). */
    initialMs: number;
    /** What each further failure multiplies the wait by (default 2). */
    factor: number;
    /** How many failures grow the wait; after them every wait is `maxMs` (default 5). */
    steps: number;
    /** The wait once `steps` failures have passed, in ms (default 32000). */
    maxMs: number;
  };
  /** Told of each failed rotation; the manager retries after the backoff. */
  onError?: (error: unknown) => void;
}

/**
 * Keeps a certificate fresh: rotates at the deadline, or at once when it is missing or off-template.
 *
 * @category Bootstrap a node
 */
export class RotationManager {
  readonly #options: RotationManagerOptions;
  readonly #clock: Clock;
  readonly #deadlines = new Map<string, Date>();
  #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #failures = 0;

  /** A manager for `options`; nothing runs until start(). */
  constructor(options: RotationManagerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The deadline of `certificate`, drawn once per certificate as client-go does. */
  deadlineOf(certificate: Certificate): Date {
    const key = certificate.serialNumber;
    let deadline = this.#deadlines.get(key);
    if (!deadline) {
      deadline = rotationDeadline(certificate, this.#options.random);
      this.#deadlines.set(key, deadline);
    }
    return deadline;
  }

  /** One step: rotate if due (or off-template), else report how long to wait. */
  async runOnce(): Promise<'rotated' | 'waiting' | 'no-template' | 'failed'> {
    const template = this.#options.template();
    if (!template) return 'no-template';
    const current = await this.#options.current();
    const due = !current || !matchesTemplate(current, template) || this.#clock.now() >= this.deadlineOf(current);
    if (!due) return 'waiting';
    try {
      await this.#options.rotate();
      this.#failures = 0;
      return 'rotated';
    } catch (error) {
      this.#failures++;
      this.#options.onError?.(error);
      return 'failed';
    }
  }

  /** How long to wait after a step: until the deadline, or the backoff after failures. */
  async #delayAfter(step: Awaited<ReturnType<RotationManager['runOnce']>>): Promise<number> {
    if (step === 'failed') {
      const { initialMs, factor, steps, maxMs } = this.#options.backoff ?? { initialMs: 2000, factor: 2, steps: 5, maxMs: 32_000 };
      return this.#failures <= steps ? initialMs * factor ** (this.#failures - 1) : maxMs;
    }
    if (step === 'no-template') return 10_000;
    if (step === 'rotated') return 0;
    const current = await this.#options.current();
    return current ? Math.max(0, this.deadlineOf(current).getTime() - this.#clock.now().getTime()) : 0;
  }

  /** Starts rotating in the background: sleeps until the deadline, rotates, repeats. Does nothing when already started. */
  start(): void {
    if (this.#loop) return;
    this.#abort = new AbortController();
    const signal = this.#abort.signal;
    this.#loop = (async () => {
      while (!signal.aborted) {
        const step = await this.runOnce();
        if (signal.aborted) break;
        await this.#clock.sleep(await this.#delayAfter(step), signal);
      }
    })();
  }

  /** Stops the loop and waits for a rotation in progress to finish. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    this.#loop = undefined;
  }
}
