import type { CryptoOptions } from '../crypto/provider.js';
import { Certificate } from '../x509/certificate.js';
import type { Issuer } from '../x509/issue.js';
import { resolveServingPolicy, type ApprovalDecision, type NodeAddressLookup, type ServingPolicyOptions } from './approver.js';
import { createWorkerPool } from '../workers/pool.js';
import { startCsrCleaner } from './cleaner.js';
import { startApprover, startSigner, type Controller } from './controllers.js';
import { SIGNERS } from './csr-object.js';
import { endpointServingCertificate } from './endpoint-certificate.js';
import { memoryRegistry, type CsrRegistry } from './registry.js';
import { startBootstrapServer, type BootstrapServer, type RequestLogEntry } from './server.js';
import type { RevocationSource } from './revocation.js';
import type { SignOutcome } from './signer.js';
import type { TokenStore } from './token.js';

/**
 * Options of startEmbeddedBootstrap: the CAs, tokens, endpoint address, approval policy, signing limits and hooks.
 *
 * @category Run the CSR controllers
 */
export interface EmbeddedBootstrapOptions extends CryptoOptions {
  /**
   * The cluster CA: it signs kubelet client certificates and the endpoint's serving certificate. Any Issuer,
   * `loadAuthority()`'s included (a CA key in a PKCS#11 token signs through its token).
   */
  issuer: Issuer;
  /** The CA for kubelet serving certificates; default the cluster CA. */
  servingIssuer?: Issuer;
  /** The bootstrap tokens; a store that lists them (memoryTokenStore, directoryTokenStore) also signs cluster-info with them. */
  tokens: TokenStore;
  /** The server URL the served `kube-public/cluster-info` names; default the endpoint's URL. */
  clusterInfoServer?: string;
  /** Persist the registry here; default in memory only. */
  registryDir?: string;
  /** Default 127.0.0.1 and an ephemeral port. */
  host?: string;
  /** The port to listen on. Default 0 (an ephemeral port, see `server.port`). */
  port?: number;
  /** The addresses each node owns, for approving serving certificates; without it they are denied. */
  nodeAddresses?: NodeAddressLookup;
  /** The cluster owner's policy for kubelet serving certificates (allowed CIDRs and DNS suffixes, the reserved names). */
  servingPolicy?: ServingPolicyOptions;
  /** Told of each approver decision, by CSR name. */
  onDecision?: (name: string, decision: ApprovalDecision) => void;
  /** Told of each signer outcome, by CSR name. */
  onOutcome?: (name: string, outcome: SignOutcome) => void;
  /** Every error of the approver, the signers and the cleaner (a failed lookup, a registry write); default: a KubepkiControllerError process warning. */
  onError?: (error: unknown) => void;
  /** Pending CSRs one requester may hold (memoryRegistry's maxPendingPerRequester); default 100. */
  maxPendingPerRequester?: number;
  /** The clock of the registry and the CSR cleaner; default the system clock. */
  now?: () => Date;
  /** Time between the CSR cleaner's sweeps (csrcleaner rules, cleaner.ts); default 1 hour. */
  cleanerIntervalMs?: number;
  /** Told of each CSR the cleaner deletes, with the reason. */
  onCleaned?: (name: string, reason: string) => void;
  /** The cluster CA's revocation lists (revocationListFile('pki/ca.crl')): a revoked client certificate gets 401. */
  revocationLists?: RevocationSource;
  /** Told of each client certificate the endpoint refuses, with the reason. */
  onRefusal?: (reason: string) => void;
  /** Worker threads the two signers share, signing in batches; default 0 (sign in this thread). */
  signerWorkers?: number;
  /**
   * The longest lifetime the two kubelet signers give a certificate (startSigner's maxLifetimeSeconds, like
   * kube-controller-manager's --cluster-signing-duration); a CSR's spec.expirationSeconds can only shorten it,
   * never below 600 seconds. Default one year.
   */
  maxLifetimeSeconds?: number;
  /**
   * Told of each request the endpoint answers (method, path and query, content types, status), for a request
   * log; handed to startBootstrapServer's onRequest.
   */
  onRequest?: (entry: RequestLogEntry) => void;
}

/**
 * The running control-plane side of the TLS bootstrap, as startEmbeddedBootstrap returns it.
 *
 * @category Run the CSR controllers
 */
export interface EmbeddedBootstrap {
  /** The HTTPS endpoint kubelets bootstrap against. */
  readonly server: BootstrapServer;
  /** The embedded CSR registry the endpoint and the controllers share. */
  readonly registry: CsrRegistry;
  /** The approver, the two kubelet signers and the CSR cleaner. */
  readonly controllers: readonly Controller[];
  /** Stops the controllers and the endpoint; resolves once all are stopped. */
  close(): Promise<void>;
}

/**
 * The whole control-plane side of the TLS bootstrap in one process: the embedded registry, the HTTPS
 * endpoint (with its own serving certificate from the cluster CA), the approver, the two kubelet signers and
 * the CSR cleaner; `close()` stops them all.
 *
 * @category Run the CSR controllers
 */
export async function startEmbeddedBootstrap(options: EmbeddedBootstrapOptions): Promise<EmbeddedBootstrap> {
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const host = options.host ?? '127.0.0.1';
  resolveServingPolicy(options.servingPolicy);
  const registry = await memoryRegistry({
    ...crypto,
    dir: options.registryDir,
    ...(options.now ? { now: options.now } : {}),
    ...(options.maxPendingPerRequester === undefined ? {} : { maxPendingPerRequester: options.maxPendingPerRequester }),
  });
  const server = await startBootstrapServer({
    registry,
    tokens: options.tokens,
    tls: { ...(await endpointServingCertificate(options.issuer, [host], crypto)), clientCa: Certificate.from(options.issuer.certificate, 'issuer.certificate').pem },
    host,
    port: options.port,
    ...(options.revocationLists ? { revocationLists: options.revocationLists } : {}),
    ...(options.onRefusal ? { onRefusal: options.onRefusal } : {}),
    ...(options.onRequest ? { onRequest: options.onRequest } : {}),
    ...(options.clusterInfoServer ? { clusterInfoServer: options.clusterInfoServer } : {}),
  });
  const pool = options.signerWorkers ? createWorkerPool(options.signerWorkers) : undefined;
  const signing = {
    ...crypto,
    onOutcome: options.onOutcome,
    onError: options.onError,
    ...(pool ? { pool } : {}),
    ...(options.maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds: options.maxLifetimeSeconds }),
  };
  const controllers = [
    await startApprover(registry, { ...crypto, ...options.servingPolicy, nodeAddresses: options.nodeAddresses, onDecision: options.onDecision, onError: options.onError }),
    await startSigner(registry, { ...signing, signerName: SIGNERS.kubeApiserverClientKubelet, issuer: options.issuer }),
    await startSigner(registry, { ...signing, signerName: SIGNERS.kubeletServing, issuer: options.servingIssuer ?? options.issuer }),
    startCsrCleaner(registry, { now: options.now, intervalMs: options.cleanerIntervalMs, onDeleted: options.onCleaned, onError: options.onError }),
  ];
  return {
    server,
    registry,
    controllers,
    close: async () => {
      for (const controller of controllers) controller.stop();
      await pool?.close();
      await server.close();
    },
  };
}
