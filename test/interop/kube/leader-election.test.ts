// Judge: a real kube-apiserver 1.20 (no kube-controller-manager: only kubepki approves and signs) and three
// kubepki replicas (lease-replica.ts, each a child process running startApprover + startSigner with leader
// election over kubernetesRegistry). 200 kubelet client CSRs, each with a new key, are created while the
// signer's leader is killed with SIGKILL twice: every CSR must end approved once and issued once, and each
// takeover must come within leaseDuration + retryPeriod of the kill.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapRbacManifests,
  bootstrapTokenSecret,
  Certificate,
  createCsr,
  formatBootstrapToken,
  generateBootstrapToken,
  generateKeyPair,
  nodeSubject,
  parseKubeconfig,
  type CertificateSigningRequestObject,
  type KubeConnection,
  type Lease,
} from '../../../lib/index.js';
import { CSR_API_PATH, csrObject, SIGNERS } from '../../../lib/bootstrap/csr-object.js';
import { kubeRequest } from '../../../lib/bootstrap/kube-client.js';
import { kubernetesRegistry } from '../../../lib/bootstrap/kube-registry.js';
import { waitFor } from '../../helpers/processes.js';
import { startControlPlane, type ControlPlane } from './cluster.js';

const LEASE_MS = 4000;
const RENEW_MS = 3000;
const RETRY_MS = 1000;
// A candidate polls every retryPeriod with no jitter here, so that the bound below is leaseDuration +
// retryPeriod (with client-go's jitter 1.2 it would be leaseDuration + 2.2 retryPeriods).
const JITTER = 0;
const SLACK_MS = 1000;
const CSR_COUNT = 200;
const REPLICA_SCRIPT = fileURLToPath(new URL('./lease-replica.ts', import.meta.url));
const CLI_SCRIPT = fileURLToPath(new URL('../../../lib/cli.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface ReplicaEvent {
  readonly t: number;
  readonly replica: string;
  readonly event: string;
  readonly lease?: string;
  readonly name?: string;
  readonly serial?: string;
  readonly message?: string;
}

interface Replica {
  readonly identity: string;
  readonly child: ChildProcess;
  stderr: string;
}

let cp: ControlPlane;
let superAdmin: KubeConnection;
const children: ChildProcess[] = [];
const events: ReplicaEvent[] = [];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const leasePath = (name: string): string => `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`;
const holderOf = async (name: string): Promise<string> =>
  ((await kubeRequest<Lease>(superAdmin, 'GET', leasePath(name)).catch(() => undefined))?.spec?.holderIdentity as string | undefined) ?? '';

function startReplica(identity: string): Replica {
  const child = spawn(process.execPath, ['--import', 'tsx', REPLICA_SCRIPT], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KUBEPKI_REPLICA: identity,
      KUBEPKI_DIR: cp.dir,
      KUBEPKI_SERVER: cp.apiserverUrl,
      KUBEPKI_LEASE_MS: String(LEASE_MS),
      KUBEPKI_RENEW_MS: String(RENEW_MS),
      KUBEPKI_RETRY_MS: String(RETRY_MS),
      KUBEPKI_JITTER: String(JITTER),
    },
  });
  children.push(child);
  const replica: Replica = { identity, child, stderr: '' };
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line.trim()) events.push(JSON.parse(line) as ReplicaEvent);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (replica.stderr = (replica.stderr + chunk.toString()).slice(-10_000)));
  return replica;
}

/** Kills by pid; a process already gone is fine. */
function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, signal);
    } catch {
      // exited in between
    }
  }
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));

test.before(async () => {
  cp = await startControlPlane('kubepki-leader-election-');
  const admin = parseKubeconfig(await cp.file('super-admin.conf'));
  superAdmin = { server: cp.apiserverUrl, ca: await cp.file('pki/ca.crt'), cert: admin.clientCertificatePem, key: admin.clientKeyPem };
  for (const binding of bootstrapRbacManifests()) await kubeRequest(superAdmin, 'POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', binding);
});

test.after(async () => {
  for (const child of children) kill(child, 'SIGKILL');
  if (cp) await cp.stop();
});

test('three replicas, the signer leader killed twice while 200 CSRs arrive: each CSR approved once and issued once, takeovers within leaseDuration + retryPeriod', async () => {
  const replicas = ['replica-0', 'replica-1', 'replica-2'].map(startReplica);
  try {
    const started = Date.now();
    await waitFor('every replica ready and both Leases held', async () => events.filter((e) => e.event === 'ready').length === 3 && (await holderOf('kubepki-signer')) !== '' && (await holderOf('kubepki-approver')) !== '', 120);
    const token = generateBootstrapToken();
    await kubeRequest(superAdmin, 'POST', '/api/v1/namespaces/kube-system/secrets', bootstrapTokenSecret(token));
    const bootstrapper: KubeConnection = { server: cp.apiserverUrl, ca: superAdmin.ca, token: formatBootstrapToken(token) };
    // kube-apiserver's token authenticator learns the new Secret (401 until then), and its RBAC authorizer the
    // bootstrap bindings, a moment after they are written: the first CSR waits until the token may create one.
    const review = { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { group: 'certificates.k8s.io', resource: 'certificatesigningrequests', verb: 'create' } } };
    const mayCreate = async (): Promise<boolean> => (await kubeRequest<{ status?: { allowed?: boolean } }>(bootstrapper, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', review)).status?.allowed === true;
    await waitFor('the bootstrap token allowed to create CSRs', mayCreate, 30);

    let created = 0;
    const creating = (async () => {
      const t0 = Date.now();
      for (let i = 0; i < CSR_COUNT; i++) {
        const keyPair = await generateKeyPair();
        const request = await createCsr({ keyPair, subject: nodeSubject(`node-${i}`) });
        await kubeRequest(bootstrapper, 'POST', CSR_API_PATH, csrObject(`le-node-${i}`, request.pem, SIGNERS.kubeApiserverClientKubelet, ['digital signature', 'client auth']));
        created++;
        // Spread over ~20 s, so that CSRs keep arriving through both outages.
        await sleep(Math.max(0, t0 + ((i + 1) * 20_000) / CSR_COUNT - Date.now()));
      }
    })();

    const takeovers: { lease: string; killed: string; successor: string; ms: number }[] = [];
    for (const after of [CSR_COUNT / 4, CSR_COUNT / 2]) {
      await waitFor(`${after} CSRs created`, async () => created >= after, 120);
      const leader = await holderOf('kubepki-signer');
      const approverLeader = await holderOf('kubepki-approver');
      const victim = replicas.find((r) => r.identity === leader);
      assert.ok(victim, `the signer Lease names a replica: ${leader}`);
      const killedAt = Date.now();
      kill(victim.child, 'SIGKILL');
      const leases = approverLeader === leader ? ['kubepki-signer', 'kubepki-approver'] : ['kubepki-signer'];
      for (const lease of leases) {
        let successor: ReplicaEvent | undefined;
        await waitFor(`a new leader of ${lease}`, async () => Boolean((successor = events.find((e) => e.event === 'leading' && e.lease === lease && e.t >= killedAt && e.replica !== leader))), 60);
        takeovers.push({ lease, killed: leader, successor: successor!.replica, ms: successor!.t - killedAt });
      }
    }
    await creating;

    let csrs: CertificateSigningRequestObject[] = [];
    await waitFor(
      `all ${CSR_COUNT} CSRs issued`,
      async () => {
        csrs = (await kubeRequest<{ items: CertificateSigningRequestObject[] }>(superAdmin, 'GET', CSR_API_PATH)).items.filter((c) => c.metadata.name.startsWith('le-node-'));
        return csrs.length === CSR_COUNT && csrs.every((c) => c.status?.certificate);
      },
      120,
    );
    const total = Date.now() - started;

    const ca = Certificate.from(superAdmin.ca);
    const serials = new Set<string>();
    for (const csr of csrs) {
      const conditions = csr.status?.conditions ?? [];
      assert.is(conditions.filter((c) => c.type === 'Approved').length, 1, `${csr.metadata.name}: one Approved condition`);
      assert.is(conditions.length, 1, `${csr.metadata.name}: no other condition (${conditions.map((c) => c.type).join(',')})`);
      const leaf = Certificate.from(Buffer.from(csr.status!.certificate!, 'base64').toString());
      assert.ok(leaf.isIssuedBy(ca));
      assert.is(leaf.subject.commonName, `system:node:${csr.metadata.name.slice('le-'.length)}`);
      serials.add(leaf.serialNumber);
    }
    assert.is(serials.size, CSR_COUNT, 'every serial unique');

    const count = (event: string): number => events.filter((e) => e.event === event).length;
    const issuedBy = Object.fromEntries(replicas.map((r) => [r.identity, events.filter((e) => e.event === 'issued' && e.replica === r.identity).length]));
    const approvedBy = Object.fromEntries(replicas.map((r) => [r.identity, events.filter((e) => e.event === 'decision' && e.replica === r.identity).length]));
    const figures = {
      leaseDurationMs: LEASE_MS,
      renewDeadlineMs: RENEW_MS,
      retryPeriodMs: RETRY_MS,
      bound: LEASE_MS + RETRY_MS + SLACK_MS,
      takeovers,
      totalSeconds: total / 1000,
      csrs: CSR_COUNT,
      decisions: count('decision'),
      approvalConflicts: count('approval-conflict'),
      signaturesMade: count('issued') + count('sign-conflict'),
      signatureConflicts: count('sign-conflict'),
      certificatesPublished: csrs.filter((c) => c.status?.certificate).length,
      issuedLoggedBy: issuedBy,
      decidedBy: approvedBy,
      errors: events.filter((e) => e.event === 'error' || e.event === 'election-error').map((e) => `${e.replica}: ${e.message}`).slice(0, 10),
    };
    console.log(`leader election figures: ${JSON.stringify(figures, null, 2)}`);
    assert.is(takeovers.filter((t) => t.lease === 'kubepki-signer').length, 2);
    for (const takeover of takeovers) assert.ok(takeover.ms <= LEASE_MS + RETRY_MS + SLACK_MS, `${takeover.lease} taken over after ${takeover.ms} ms`);
    assert.is(events.filter((e) => e.event === 'lost').length, 0, 'no surviving replica lost a Lease');
  } catch (error) {
    // What the replicas said about leadership, and how they ended, for the failure report.
    const told = events.filter((e) => !['decision', 'issued'].includes(e.event)).slice(-40);
    console.log(JSON.stringify({ told, replicas: replicas.map((r) => ({ identity: r.identity, exit: r.child.exitCode, signal: r.child.signalCode, stderr: r.stderr.slice(-2000) })) }, null, 2));
    throw error;
  } finally {
    for (const replica of replicas) kill(replica.child, 'SIGKILL');
    await Promise.all(replicas.map((r) => exited(r.child)));
  }
});

test('kube-apiserver answers 409 to an approval or status write on the resourceVersion a rival already changed; kubernetesRegistry reports ERR_CONFLICT', async () => {
  const registry = kubernetesRegistry(superAdmin);
  const keyPair = await generateKeyPair();
  const request = await createCsr({ keyPair, subject: { commonName: 'rv-client' } });
  const created = await registry.create(csrObject('rv-race', request.pem, 'example.com/kubepki-rv', ['digital signature', 'client auth']), { username: '', groups: [] });
  const approved = await registry.setApproval('rv-race', { type: 'Approved', status: 'True', reason: 'First', message: 'first writer' }, { current: created });
  const rival = await registry.setApproval('rv-race', { type: 'Denied', status: 'True', reason: 'Second', message: 'second writer' }, { current: created }).then(() => 'written', (e: { code: string }) => e.code);
  assert.is(rival, 'ERR_CONFLICT');
  const issue = (on: CertificateSigningRequestObject) => registry.setStatus('rv-race', { certificate: Buffer.from('not checked here').toString('base64') }, { current: on }).then(() => 'written', (e: { code: string }) => e.code);
  assert.is(await issue(created), 'ERR_CONFLICT');
  assert.is(await registry.setApproval('rv-race', { type: 'Denied', status: 'True', reason: 'Stale', message: 'by version only' }, { resourceVersion: created.metadata.resourceVersion }).then(() => 'written', (e: { code: string }) => e.code), 'ERR_CONFLICT');
  const stored = (await registry.get('rv-race'))!;
  assert.equal(stored.status?.conditions?.map((c) => c.type), ['Approved']);
  assert.not.ok(stored.status?.certificate);
  assert.is(stored.metadata.resourceVersion, approved.metadata.resourceVersion);
});

test('kubepki signer --watch --leader-elect: another holder taking the Lease ends it with one line and exit 1; SIGTERM releases it and exits 0', async () => {
  const run = (leaseName: string) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', CLI_SCRIPT, 'signer', '--kubeconfig', join(cp.dir, 'super-admin.conf'), '--dir', cp.dir, '--watch', '--leader-elect', '--leader-elect-lease-name', leaseName, '--leader-elect-lease-duration', '4s', '--leader-elect-renew-deadline', '3s', '--leader-elect-retry-period', '1s'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    const output = { err: '' };
    child.stderr!.on('data', (chunk: Buffer) => (output.err += chunk.toString()));
    return { child, output };
  };
  const lost = run('kubepki-cli-lost');
  try {
    await waitFor('the signer leading', async () => lost.output.err.includes('kubepki: leading (lease kube-system/kubepki-cli-lost)'), 60);
    const lease = await kubeRequest<Lease>(superAdmin, 'GET', leasePath('kubepki-cli-lost'));
    await kubeRequest(superAdmin, 'PUT', leasePath('kubepki-cli-lost'), { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder' } });
    assert.is(await exited(lost.child), 1);
    const lines = lost.output.err.trim().split('\n');
    assert.match(lines.at(-1)!, /^kubepki: leader election lost: lease kube-system\/kubepki-cli-lost was not renewed within 3s or another replica holds it$/);
    assert.is(await holderOf('kubepki-cli-lost'), 'intruder');
  } finally {
    kill(lost.child, 'SIGKILL');
  }
  const stopped = run('kubepki-cli-stop');
  try {
    await waitFor('the signer leading', async () => stopped.output.err.includes('kubepki: leading (lease kube-system/kubepki-cli-stop)'), 60);
    kill(stopped.child, 'SIGTERM');
    assert.is(await exited(stopped.child), 0, stopped.output.err);
    assert.is(await holderOf('kubepki-cli-stop'), '', 'released on stop');
  } finally {
    kill(stopped.child, 'SIGKILL');
  }
});

test.run();
