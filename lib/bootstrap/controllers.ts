import { decideApproval, type ApprovalDecision, type ApproverOptions } from './approver.js';
import type { CertificateSigningRequestObject } from './csr-object.js';
import type { CsrRegistry } from './registry.js';
import { signCsrObject, type SignerOptions, type SignOutcome } from './signer.js';

/** A running controller: `stop()` ends it, `idle()` resolves once every queued CSR has been handled. */
export interface Controller {
  stop(): void;
  idle(): Promise<void>;
}

/** Runs `handle` for every CSR the registry has or gets, one at a time; errors go to `onError`. */
async function runController(registry: CsrRegistry, handle: (csr: CertificateSigningRequestObject) => Promise<void>, onError: (error: unknown) => void): Promise<Controller> {
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const stop = await registry.watch((event) => {
    if (event.type === 'DELETED' || stopped) return;
    chain = chain.then(() => (stopped ? undefined : handle(event.object).catch(onError)));
  });
  return {
    stop: () => {
      stopped = true;
      stop();
    },
    idle: () => chain,
  };
}

/** The approver as a controller: approves or denies each undecided kubelet CSR (decideApproval). */
export function startApprover(registry: CsrRegistry, options: ApproverOptions & { onDecision?: (name: string, decision: ApprovalDecision) => void; onError?: (error: unknown) => void } = {}): Promise<Controller> {
  return runController(
    registry,
    async (csr) => {
      const decision = await decideApproval(csr, options);
      options.onDecision?.(csr.metadata.name, decision);
      if (decision.decision === 'ignore') return;
      await registry.setApproval(csr.metadata.name, { type: decision.decision === 'approve' ? 'Approved' : 'Denied', status: 'True', reason: decision.reason, message: decision.message });
    },
    options.onError ?? (() => undefined),
  );
}

/** The signer as a controller: signs each approved CSR for its signerName, or marks it Failed. */
export function startSigner(registry: CsrRegistry, options: SignerOptions & { onOutcome?: (name: string, outcome: SignOutcome) => void; onError?: (error: unknown) => void }): Promise<Controller> {
  return runController(
    registry,
    async (csr) => {
      const outcome = await signCsrObject(csr, options);
      options.onOutcome?.(csr.metadata.name, outcome);
      if (outcome.outcome === 'issued') await registry.setStatus(csr.metadata.name, { certificate: outcome.statusCertificate });
      if (outcome.outcome === 'failed') await registry.setStatus(csr.metadata.name, { condition: { type: 'Failed', status: 'True', reason: outcome.reason, message: outcome.message } });
    },
    options.onError ?? (() => undefined),
  );
}
