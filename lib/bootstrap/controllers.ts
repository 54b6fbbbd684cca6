import { resolveCrypto } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { createWorkerPool, type WorkerPool } from '../workers/pool.js';
import { Certificate } from '../x509/certificate.js';
import { signsNatively } from '../x509/signature.js';
import { decideApproval, decideValidatedApproval, resolveServingPolicy, type ApprovalDecision, type ApproverOptions } from './approver.js';
import { hasCondition } from './csr-object.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import type { CertificateSigningRequestObject } from './csr-object.js';
import type { CsrRegistry, CsrWriteOptions, WatchEvent } from './registry.js';
import { signCsrObject, signValidatedCsr, workerCsr, type SignerOptions, type SignOutcome, type WorkerSignerOptions, type WorkerSignOutcome } from './signer.js';

/**
 * A running controller: `stop()` ends it (with leader election, what it returns resolves once the Lease is
 * released), `idle()` resolves once every queued CSR has been handled.
 *
 * @category Run the CSR controllers
 */
export interface Controller {
  /** Stops watching and acting; with leader election, the returned promise resolves once the Lease is released. */
  stop(): void | Promise<void>;
  /** Resolves once every CSR queued so far has been handled (useful in tests and before exiting). */
  idle(): Promise<void>;
}

/**
 * What every controller may be given besides its own options.
 *
 * @category Run the CSR controllers
 */
export interface ControllerOptions {
  /** Told of each error (a failed write, a lost watch); the controller goes on. Default: a process warning of type KubepkiControllerError. */
  onError?: (error: unknown) => void;
  /**
   * A write refused with ERR_CONFLICT: the CSR changed since the version the work was done on (another
   * replica acted first). The work is dropped; this is no error.
   */
  onConflict?: (name: string) => void;
  /** Watch and act only while holding this Lease (LeaderElector); without it the controller always acts. */
  leaderElection?: LeaderElectionOptions;
}

/** The write precondition for work done on `csr`: its resourceVersion, and the object to write from. */
const decidedOn = (csr: CertificateSigningRequestObject): CsrWriteOptions => ({ resourceVersion: csr.metadata.resourceVersion, current: csr });

const isConflict = (error: unknown): boolean => error instanceof PkiError && error.code === 'ERR_CONFLICT';

/**
 * Runs the controller `start` makes only while `leaderElection`'s Lease is held: started on acquiring it,
 * stopped at once on losing it (then leaderElection.onStoppedLeading). Its `stop()` ends the election and
 * releases the Lease. As client-go's candidates, it leads at most once.
 *
 * @category Run the CSR controllers
 */
export async function runWhileLeading(leaderElection: LeaderElectionOptions, start: () => Promise<Controller>, onError?: (error: unknown) => void): Promise<Controller> {
  const report = reportingErrors(onError);
  let running: Controller | undefined;
  let starting: Promise<void> = Promise.resolve();
  const elector: LeaderElector = new LeaderElector({
    onError: report,
    ...leaderElection,
    onStartedLeading: () => {
      starting = start().then((controller) => {
        // Leadership may have ended while it started.
        if (elector.isLeader) running = controller;
        else void controller.stop();
      }, report);
      leaderElection.onStartedLeading?.();
    },
    onStoppedLeading: () => {
      void running?.stop();
      running = undefined;
      leaderElection.onStoppedLeading?.();
    },
  });
  elector.start();
  return {
    // The work stops before the Lease is released, so that no successor overlaps it.
    stop: async () => {
      const stopping = running?.stop();
      running = undefined;
      const ending = elector.stop();
      await Promise.all([stopping, ending, starting]);
    },
    idle: async () => {
      await starting;
      await running?.idle();
    },
  };
}

/**
 * Without an `onError` a controller's error becomes a process warning (type `KubepkiControllerError`, which
 * Node prints to standard error and `process.on('warning')` hears): none is dropped silently.
 */
export function warnControllerError(error: unknown): void {
  const code = error instanceof PkiError ? error.code : undefined;
  process.emitWarning(`controller error: ${JSON.stringify(error instanceof Error ? error.message : String(error))}`, { type: 'KubepkiControllerError', ...(code ? { code } : {}) });
}

/**
 * `onError` (default warnControllerError) made safe to call: an `onError` that throws is reported as a
 * warning, with the error it could not take, so that one failure never stops a controller.
 */
export function reportingErrors(onError: ((error: unknown) => void) | undefined): (error: unknown) => void {
  const report = onError ?? warnControllerError;
  return (error) => {
    try {
      report(error);
    } catch (failure) {
      warnControllerError(failure);
      warnControllerError(error);
    }
  };
}

/**
 * Runs `handle` for every CSR the registry has or gets, one at a time; every error goes to `onError`. An
 * event without `validated` (a real API server's) is validated by the handler, once.
 */
async function runController(registry: CsrRegistry, handle: (event: WatchEvent, active: () => boolean) => Promise<void>, options: ControllerOptions): Promise<Controller> {
  const report = reportingErrors(options.onError);
  const active = (): boolean => !stopped;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const stop = await registry.watch((event) => {
    if (event.type === 'DELETED' || stopped) return;
    // A handler that throws synchronously, or an onError that throws, still leaves the chain resolved.
    chain = chain.then(async () => {
      if (stopped) return;
      try {
        await handle(event, active);
      } catch (error) {
        if (isConflict(error)) options.onConflict?.(event.object.metadata.name);
        else report(error);
      }
    });
  });
  return {
    stop: () => {
      stopped = true;
      stop();
    },
    idle: () => chain,
  };
}

/**
 * The approver as a controller: approves or denies each undecided kubelet CSR (decideApproval).
 *
 * @category Run the CSR controllers
 */
export function startApprover(registry: CsrRegistry, options: ApproverOptions & ControllerOptions & { onDecision?: (name: string, decision: ApprovalDecision) => void } = {}): Promise<Controller> {
  // A policy that does not parse stops the start, not every decision.
  resolveServingPolicy(options);
  const start = (): Promise<Controller> =>
    runController(
      registry,
      async ({ object: csr, validated }, active) => {
        const decision = validated ? await decideValidatedApproval(validated, options) : await decideApproval(csr, options);
        if (!active()) return;
        options.onDecision?.(csr.metadata.name, decision);
        if (decision.decision === 'ignore') return;
        const condition = { type: decision.decision === 'approve' ? 'Approved' : 'Denied', status: 'True', reason: decision.reason, message: decision.message } as const;
        await registry.setApproval(csr.metadata.name, condition, decidedOn(csr));
      },
      options,
    );
  return options.leaderElection ? runWhileLeading(options.leaderElection, start, options.onError) : start();
}

/**
 * Options of startSigner: the signer's CA and rules, how it signs (in this thread or in workers) and its hooks.
 *
 * @category Run the CSR controllers
 */
export interface SignerControllerOptions extends SignerOptions, ControllerOptions {
  /** Told what the signer did with each CSR, by its name. */
  onOutcome?: (name: string, outcome: SignOutcome) => void;
  /**
   * Worker threads that sign, in batches of `batchSize` CSRs. Default 0: one CSR at a time in this
   * thread. Custom `rules` and CA keys held by an injected provider always sign in this thread.
   */
  workers?: number;
  /** A pool to sign in, shared with other controllers (the caller closes it); implies batched signing. */
  pool?: WorkerPool;
  /** CSRs per message to a worker when signing in worker threads. Default 64. */
  batchSize?: number;
}

/**
 * The signer as a controller: signs each approved CSR for its signerName, or marks it Failed.
 *
 * @category Run the CSR controllers
 */
export function startSigner(registry: CsrRegistry, options: SignerControllerOptions): Promise<Controller> {
  const workers = options.pool?.size ?? options.workers ?? 0;
  const start = (): Promise<Controller> => {
    if (workers > 0 && !options.rules && signsNatively(options.issuer.privateKey, options.issuer.crypto ?? resolveCrypto(options))) return startBatchedSigner(registry, options, workers);
    return runController(
      registry,
      async ({ object: csr, validated }, active) => {
        const outcome = validated ? await signValidatedCsr(validated, options) : await signCsrObject(csr, options);
        if (active()) await applyOutcome(registry, csr, outcome, options);
      },
      options,
    );
  };
  return options.leaderElection ? runWhileLeading(options.leaderElection, start, options.onError) : start();
}

// onOutcome hears of an outcome once the registry holds it: a signer stopped in between (a crash) never
// reports as issued a certificate that no one can fetch; the CSR is signed again when it starts next.
async function applyOutcome(registry: CsrRegistry, csr: CertificateSigningRequestObject, outcome: SignOutcome, options: SignerControllerOptions): Promise<void> {
  const name = csr.metadata.name;
  if (outcome.outcome === 'issued') await registry.setStatus(name, { certificate: outcome.statusCertificate }, decidedOn(csr));
  if (outcome.outcome === 'failed') await registry.setStatus(name, { condition: { type: 'Failed', status: 'True', reason: outcome.reason, message: outcome.message } }, decidedOn(csr));
  options.onOutcome?.(name, outcome);
}

const SIGNER_MODULE = new URL('./signer.js', import.meta.url);

/** An issued outcome from a worker; the certificate is parsed only if someone reads it (onOutcome). */
function issuedOutcome(der: Uint8Array, statusCertificate: string): SignOutcome {
  let certificate: Certificate | undefined;
  return {
    outcome: 'issued',
    statusCertificate,
    get certificate(): Certificate {
      certificate ??= Certificate.from(der);
      return certificate;
    },
  };
}

/** The signer controller over a worker pool (SigningBatches). */
async function startBatchedSigner(registry: CsrRegistry, options: SignerControllerOptions, workers: number): Promise<Controller> {
  const batches = new SigningBatches(registry, options, workers);
  const stopWatch = await registry.watch((event) => batches.offer(event));
  return {
    stop: () => {
      stopWatch();
      batches.stop();
    },
    idle: () => batches.idle(),
  };
}

/**
 * Approved CSRs for one signer collect while the event loop turns and go to the workers in batches, at
 * most two batches per worker in flight; a CSR in a batch is not queued again until its batch is back.
 */
class SigningBatches {
  readonly #registry: CsrRegistry;
  readonly #options: SignerControllerOptions;
  readonly #workers: number;
  readonly #onError: (error: unknown) => void;
  readonly #batchSize: number;
  readonly #wire: WorkerSignerOptions;
  readonly #pool: WorkerPool;
  readonly #queued = new Map<string, WatchEvent>();
  readonly #busy = new Set<string>();
  readonly #idleWaiters: (() => void)[] = [];
  #inFlight = 0;
  #scheduled = false;
  #stopped = false;

  constructor(registry: CsrRegistry, options: SignerControllerOptions, workers: number) {
    this.#registry = registry;
    this.#options = options;
    this.#workers = workers;
    this.#onError = reportingErrors(options.onError);
    this.#batchSize = Math.max(1, options.batchSize ?? 64);
    this.#wire = {
      signerName: options.signerName,
      caDer: Certificate.from(options.issuer.certificate, 'issuer.certificate').der,
      privateKey: options.issuer.privateKey,
      ...(options.maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds: options.maxLifetimeSeconds }),
    };
    this.#pool = options.pool ?? createWorkerPool(workers);
  }

  /** Queues a CSR this signer is to sign now: approved, for its signerName, neither failed, denied nor issued. */
  offer(event: WatchEvent): void {
    const csr = event.object;
    const waiting = csr.spec.signerName === this.#options.signerName && hasCondition(csr, 'Approved') && !hasCondition(csr, 'Failed') && !hasCondition(csr, 'Denied') && !csr.status?.certificate;
    if (event.type === 'DELETED' || this.#stopped || !waiting || this.#busy.has(csr.metadata.name)) return;
    this.#queued.set(csr.metadata.name, event);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#pump());
    }
  }

  idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      if (!this.#scheduled) this.#settle();
    });
  }

  stop(): void {
    this.#stopped = true;
    if (!this.#options.pool) void this.#pool.close();
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #pump(): void {
    this.#scheduled = false;
    while (!this.#stopped && this.#queued.size > 0 && this.#inFlight < this.#workers * 2) this.#send([...this.#queued.values()].slice(0, this.#batchSize));
    this.#settle();
  }

  #send(batch: WatchEvent[]): void {
    for (const { object } of batch) {
      this.#queued.delete(object.metadata.name);
      this.#busy.add(object.metadata.name);
    }
    this.#inFlight++;
    this.#pool
      .call<WorkerSignOutcome[]>(SIGNER_MODULE, 'signCsrObjectBatch', [batch.map((event) => workerCsr(event.object, event.validated)), this.#wire])
      .then((outcomes) => this.#apply(batch, outcomes), this.#onError)
      .finally(() => {
        this.#inFlight--;
        for (const { object } of batch) this.#busy.delete(object.metadata.name);
        this.#pump();
        this.#settle();
      });
  }

  async #apply(batch: WatchEvent[], outcomes: WorkerSignOutcome[]): Promise<void> {
    for (const [i, outcome] of outcomes.entries()) {
      if (this.#stopped) return;
      const csr = batch[i]!.object;
      try {
        if (outcome.outcome === 'error') throw PkiError.fromData(outcome.error);
        const signed: SignOutcome = outcome.outcome === 'issued' ? issuedOutcome(outcome.der, outcome.statusCertificate) : outcome;
        await applyOutcome(this.#registry, csr, signed, this.#options);
      } catch (error) {
        if (isConflict(error)) this.#options.onConflict?.(csr.metadata.name);
        else this.#onError(error);
      }
    }
  }

  #settle(): void {
    if (this.#queued.size === 0 && this.#inFlight === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }
}
