// One replica of kubepki's kubelet-client approver and signer against a real kube-apiserver, each under its
// Lease (kubepki-approver, kubepki-signer); run as a child process by leader-election.test.ts. It logs one JSON
// line per fact to stdout: leadership, decisions, issued certificates, writes that lost a race, errors.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importPrivateKeyPem, kubernetesRegistry, parseKubeconfig, startApprover, startSigner, type KubeConnection, type LeaderElectionOptions } from '../../../lib/index.js';

const setting = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`lease-replica: ${name} is not set`);
  return value;
};

const identity = setting('KUBEPKI_REPLICA');
const dir = setting('KUBEPKI_DIR');
const log = (event: string, fields: Record<string, unknown> = {}): void => void process.stdout.write(`${JSON.stringify({ t: Date.now(), replica: identity, event, ...fields })}\n`);
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const caPem = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
const admin = parseKubeconfig(await readFile(join(dir, 'super-admin.conf'), 'utf8'));
const connection: KubeConnection = { server: setting('KUBEPKI_SERVER'), ca: caPem, cert: admin.clientCertificatePem, key: admin.clientKeyPem };
const issuer = { certificate: caPem, privateKey: (await importPrivateKeyPem(await readFile(join(dir, 'pki/ca.key'), 'utf8'))).privateKey };

const election = (leaseName: string): LeaderElectionOptions => ({
  leaseName,
  identity,
  connection,
  leaseDurationMs: Number(setting('KUBEPKI_LEASE_MS')),
  renewDeadlineMs: Number(setting('KUBEPKI_RENEW_MS')),
  retryPeriodMs: Number(setting('KUBEPKI_RETRY_MS')),
  jitterFactor: Number(setting('KUBEPKI_JITTER')),
  onStartedLeading: () => log('leading', { lease: leaseName }),
  onStoppedLeading: () => log('lost', { lease: leaseName }),
  onError: (error) => log('election-error', { lease: leaseName, message: message(error) }),
});

const registry = kubernetesRegistry(connection);
const onError = (error: unknown): void => log('error', { message: message(error) });
const approver = await startApprover(registry, {
  leaderElection: election('kubepki-approver'),
  onDecision: (name, decision) => decision.decision !== 'ignore' && log('decision', { name, decision: decision.decision }),
  onConflict: (name) => log('approval-conflict', { name }),
  onError,
});
const signer = await startSigner(registry, {
  signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
  issuer,
  leaderElection: election('kubepki-signer'),
  onOutcome: (name, outcome) => {
    if (outcome.outcome === 'issued') log('issued', { name, serial: outcome.certificate.serialNumber });
    if (outcome.outcome === 'failed') log('failed', { name, message: outcome.message });
  },
  onConflict: (name) => log('sign-conflict', { name }),
  onError,
});
log('ready');

process.once('SIGTERM', () => {
  void Promise.all([approver.stop(), signer.stop()]).finally(() => process.exit(0));
});
