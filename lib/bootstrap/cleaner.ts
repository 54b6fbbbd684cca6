import { Certificate } from '../x509/certificate.js';
import { reportingErrors, type Controller } from './controllers.js';
import type { CertificateSigningRequestObject } from './csr-object.js';
import type { MemoryRegistry } from './registry.js';

/**
 * How long kube-controller-manager's csrcleaner keeps a CSR (k/k pkg/controller/certificates/cleaner/
 * cleaner.go): an issued CSR 1 hour after its Approved condition, a Denied or Failed one 1 hour after that
 * condition, a pending one (no condition) 24 hours after its creation; a CSR whose certificate has
 * expired goes at once. An approved CSR that never got a certificate (and did not fail) is kept, as upstream.
 */
export const CSR_CLEANER_DEFAULTS = {
  approvedSeconds: 3600,
  deniedSeconds: 3600,
  failedSeconds: 3600,
  pendingSeconds: 24 * 3600,
  /** Upstream polls hourly. */
  intervalMs: 3600_000,
} as const;

/** Why the csrcleaner would delete this CSR at `now`, or undefined to keep it. */
export function csrCleanupReason(csr: CertificateSigningRequestObject, now: Date): string | undefined {
  const conditions = csr.status?.conditions ?? [];
  const issued = Boolean(csr.status?.certificate);
  // metav1.Time parses RFC 3339; a missing or unreadable time is Go's zero time, which never counts as old.
  const olderThan = (time: string | undefined, seconds: number): boolean => {
    const at = time === undefined ? NaN : Date.parse(time);
    return Number.isFinite(at) && now.getTime() - at > seconds * 1000;
  };
  for (const condition of conditions) {
    if (condition.type === 'Approved' && issued && olderThan(condition.lastUpdateTime, CSR_CLEANER_DEFAULTS.approvedSeconds)) return 'issued more than 1 hour ago';
    if (condition.type === 'Denied' && olderThan(condition.lastUpdateTime, CSR_CLEANER_DEFAULTS.deniedSeconds)) return 'denied more than 1 hour ago';
    if (condition.type === 'Failed' && olderThan(condition.lastUpdateTime, CSR_CLEANER_DEFAULTS.failedSeconds)) return 'failed more than 1 hour ago';
  }
  if (conditions.length === 0 && olderThan(csr.metadata.creationTimestamp, CSR_CLEANER_DEFAULTS.pendingSeconds)) return 'pending for more than 24 hours';
  if (issued && conditions.some((c) => c.type === 'Approved') && certificateExpired(csr.status!.certificate!, now)) return 'its certificate has expired';
  return undefined;
}

// As upstream's isExpired: the first PEM block's NotAfter; a certificate that does not parse is not expired.
function certificateExpired(statusCertificate: string, now: Date): boolean {
  try {
    const [leaf] = Certificate.fromPemBundle(Buffer.from(statusCertificate, 'base64').toString('utf8'), 'status.certificate');
    return leaf !== undefined && now.getTime() > leaf.notAfter.getTime();
  } catch {
    return false;
  }
}

/**
 * Options of startCsrCleaner: the clock, the interval between sweeps and the hooks.
 *
 * @category Run the CSR controllers
 */
export interface CsrCleanerOptions {
  /** The clock the ages are measured against; default the system clock. */
  now?: () => Date;
  /** Time between sweeps; default 1 hour, as upstream. A sweep also runs at start. */
  intervalMs?: number;
  /** Told of each CSR deleted, with why (e.g. its age past the limit for its state). */
  onDeleted?: (name: string, reason: string) => void;
  /** Errors of a sweep; default a KubepkiControllerError warning (controllers.ts). */
  onError?: (error: unknown) => void;
}

/**
 * A running cleaner: `sweep()` runs one pass now and resolves with the names it deleted.
 *
 * @category Run the CSR controllers
 */
export interface CsrCleaner extends Controller {
  /** Runs one pass now (after a pass in progress) and resolves with the names of the CSRs it deleted. */
  sweep(): Promise<string[]>;
}

/**
 * The csrcleaner for the embedded registry: deletes finished and abandoned CSRs (csrCleanupReason) at
 * start and then every `intervalMs`, so that the registry and its folder do not grow without end.
 *
 * @category Run the CSR controllers
 */
export function startCsrCleaner(registry: Pick<MemoryRegistry, 'list' | 'delete'>, options: CsrCleanerOptions = {}): CsrCleaner {
  const now = options.now ?? (() => new Date());
  const report = reportingErrors(options.onError);
  let stopped = false;
  let running: Promise<string[]> = Promise.resolve([]);
  const pass = async (): Promise<string[]> => {
    const deleted: string[] = [];
    const at = now();
    for (const csr of await registry.list()) {
      if (stopped) break;
      const reason = csrCleanupReason(csr, at);
      if (!reason) continue;
      try {
        await registry.delete(csr.metadata.name);
        deleted.push(csr.metadata.name);
        options.onDeleted?.(csr.metadata.name, reason);
      } catch (error) {
        report(error);
      }
    }
    return deleted;
  };
  // One sweep at a time: a timer firing during a long sweep waits for it.
  const sweep = (): Promise<string[]> => {
    running = running.then(pass, pass);
    return running.catch((error: unknown) => {
      report(error);
      return [];
    });
  };
  void sweep();
  const timer = setInterval(() => void sweep(), options.intervalMs ?? CSR_CLEANER_DEFAULTS.intervalMs);
  timer.unref();
  return {
    sweep,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    idle: () => running.then(
      () => undefined,
      () => undefined,
    ),
  };
}
