// Judges: the real kube-apiserver and kube-controller-manager 1.20.2 (bootstrapsigner, tokencleaner, the CSR
// approver and signer) and the real kubeadm 1.20.2's `token` verbs, against `kubepki join` and `kubepki token
// --kubeconfig`. cluster-info and its RBAC are created as kubeadm's bootstrap-token phase creates them.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { caPublicKeyPin, Certificate, createCertificateAuthority, parseKubeconfig } from '../../../lib/index.js';
import { kubeRequest, type KubeConnection } from '../../../lib/bootstrap/kube-client.js';
import { runCli as cli } from '../../helpers/cli.js';
import type { Daemon } from '../../helpers/processes.js';
import { startJoinableCluster, type ControlPlane, type JoinableCluster } from './cluster.js';

let cluster: JoinableCluster;
let cp: ControlPlane;
let superAdmin: KubeConnection;
let kcm: Daemon;
let pin: string;
let endpoint: string;
let adminConf: string;

const runKubeadm = (...args: string[]): Promise<string> => cluster.runKubeadm(...args);
const entries = (path: string): Promise<string[]> => readdir(path).catch(() => []);

test.before(async () => {
  cluster = await startJoinableCluster('kubepki-join-');
  ({ cp, superAdmin, kcm, pin, endpoint, adminConf } = cluster);
});

test.after(async () => {
  if (cp) await cp.stop();
});

/** Waits until the bootstrapsigner has signed cluster-info for token `id` (KUBEPKI_TIMINGS prints how long it took). */
async function signedFor(id: string): Promise<void> {
  const seconds = await cluster.signedFor(id);
  if (process.env.KUBEPKI_TIMINGS) console.log(`bootstrapsigner: jws-kubeconfig-${id} after ${seconds.toFixed(2)}s`);
}

async function createToken(...flags: string[]): Promise<string> {
  const created = await cli('token', 'create', '--kubeconfig', adminConf, '--json', ...flags);
  assert.is(created.code, 0, created.err);
  return (JSON.parse(created.out) as { token: string }).token;
}

test('kubepki join discovers the real cluster (cluster-info signed by the bootstrapsigner) and the real controllers approve and sign its CSR', async () => {
  const token = await createToken('--description', 'kubepki join test');
  const id = token.slice(0, 6);
  await signedFor(id);
  const node = join(cp.dir, 'node-j1');
  const joined = await cli('join', endpoint, '--token', token, '--discovery-token-ca-cert-hash', pin, '--node-name', 'node-j1', '--cert-dir', join(node, 'pki'), '--kubeconfig', join(node, 'kubelet.conf'), '--timeout', '60s', '--json');
  assert.is(joined.code, 0, `${joined.err}\n${kcm.output().slice(-3000)}`);
  const summary = JSON.parse(joined.out) as { server: string; client: { subject: string; bootstrapped: boolean } };
  assert.is(summary.server, cp.apiserverUrl, "cluster-info's server");
  assert.equal(summary.client, { ...summary.client, subject: 'system:node:node-j1', bootstrapped: true });
  const bootstrap = parseKubeconfig(await readFile(join(node, 'bootstrap-kubelet.conf'), 'utf8'));
  assert.is(bootstrap.token, token);
  assert.is(bootstrap.caPem, await cp.file('pki/ca.crt'));
  const kubelet = parseKubeconfig(await readFile(join(node, 'kubelet.conf'), 'utf8'));
  const pem = kubelet.clientCertificatePem ?? (await readFile(kubelet.clientCertificateFile!, 'utf8'));
  const leaf = Certificate.from(/-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/.exec(pem)![0]);
  assert.ok(leaf.isIssuedBy(Certificate.from(await cp.file('pki/ca.crt'))), 'signed with pki/ca.crt');
  assert.equal(leaf.subject, { commonName: 'system:node:node-j1', organizations: ['system:nodes'] });
  // Who approved: kube-controller-manager's csrapproving controller, for the bootstrap token's user.
  const csrs = (await kubeRequest(superAdmin, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests')) as {
    items: { spec: { username: string; signerName: string }; status: { conditions?: { type: string; reason: string }[]; certificate?: string } }[];
  };
  const mine = csrs.items.filter((c) => c.spec.username === `system:bootstrap:${id}`);
  assert.is(mine.length, 1);
  assert.is(mine[0]!.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
  assert.equal(mine[0]!.status.conditions?.map((c) => [c.type, c.reason]), [['Approved', 'AutoApproved']]);
  assert.ok(mine[0]!.status.certificate, 'kube-controller-manager signed it');
  // The new credential works: the node authorizer lets system:node:node-j1 read its CSRs' API group, not Secrets.
  const client = { server: kubelet.server, ca: await cp.file('pki/ca.crt'), cert: pem, key: kubelet.clientKeyPem ?? (await readFile(kubelet.clientKeyFile!, 'utf8')) };
  const secrets = await kubeRequest(client, 'GET', '/api/v1/namespaces/kube-system/secrets').then(() => 'allowed', (e: { code: string }) => e.code);
  assert.is(secrets, 'ERR_FORBIDDEN');
});

test('kubepki join refuses a wrong pin and a token the cluster does not know, and writes nothing', async () => {
  const token = await createToken();
  await signedFor(token.slice(0, 6));
  const foreign = caPublicKeyPin((await createCertificateAuthority({ commonName: 'kubernetes' })).certificate);
  const node = join(cp.dir, 'node-j2');
  const attempt = (...args: string[]) => cli('join', endpoint, ...args, '--node-name', 'node-j2', '--cert-dir', join(node, 'pki'), '--kubeconfig', join(node, 'kubelet.conf'), '--timeout', '30s');
  const wrongPin = await attempt('--token', token, '--discovery-token-ca-cert-hash', foreign);
  assert.is(wrongPin.code, 1, wrongPin.err);
  assert.match(wrongPin.err, /ERR_CERTIFICATE|pinned/);
  const unknown = await attempt('--token', `${'z'.repeat(6)}.${'z'.repeat(16)}`, '--discovery-token-ca-cert-hash', pin);
  assert.is(unknown.code, 1, unknown.err);
  assert.match(unknown.err, /ERR_TOKEN|no signature/);
  const wrongSecret = await attempt('--token', `${token.slice(0, 7)}${'x'.repeat(16)}`, '--discovery-token-ca-cert-hash', pin);
  assert.is(wrongSecret.code, 1, wrongSecret.err);
  assert.match(wrongSecret.err, /does not verify/);
  assert.equal(await entries(node), []);
});

test("kubeadm token list reads kubepki's token; kubepki token list reads kubeadm's; each deletes the other's", async () => {
  const ours = (await createToken('--description', 'made by kubepki', '--ttl', '2h')).slice(0, 6);
  const listedByKubeadm = await runKubeadm('token', 'list', '--kubeconfig', adminConf);
  const row = listedByKubeadm.split('\n').find((line) => line.startsWith(`${ours}.`));
  assert.ok(row, listedByKubeadm);
  assert.match(row!, /^[a-z0-9]{6}\.\S{16}\s+1h\s/, 'kubeadm rounds 2h less a moment down to 1h');
  assert.match(row!, /authentication,signing\s+made by kubepki\s+system:bootstrappers:kubeadm:default-node-token/);

  const theirs = (await runKubeadm('token', 'create', '--kubeconfig', adminConf, '--description', 'made by kubeadm', '--ttl', '3h')).trim().split('\n').pop()!;
  assert.match(theirs, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  const listed = await cli('token', 'list', '--kubeconfig', adminConf, '--json');
  assert.is(listed.code, 0, listed.err);
  const entry = (JSON.parse(listed.out) as { id: string; usages: string[]; description: string; extraGroups: string[]; expiration: string }[]).find((t) => t.id === theirs.slice(0, 6));
  assert.ok(entry, listed.out);
  assert.equal([entry!.usages, entry!.description, entry!.extraGroups], [['authentication', 'signing'], 'made by kubeadm', ['system:bootstrappers:kubeadm:default-node-token']]);
  const table = await cli('token', 'list', '--kubeconfig', adminConf);
  assert.match(table.out, new RegExp(`^${theirs.slice(0, 6)}\\s+2h\\s`, 'm'));
  assert.not.match(table.out, /[a-z0-9]{6}\.[a-z0-9]{16}/, 'no secret part printed');

  // kubeadm's token discovers the cluster through kubepki join too.
  await signedFor(theirs.slice(0, 6));
  const node = join(cp.dir, 'node-j3');
  const joined = await cli('join', endpoint, '--token', theirs, '--discovery-token-ca-cert-hash', pin, '--cert-dir', join(node, 'pki'), '--kubeconfig', join(node, 'kubelet.conf'), '--no-bootstrap');
  assert.is(joined.code, 0, joined.err);

  const deleted = await cli('token', 'delete', '--kubeconfig', adminConf, theirs);
  assert.is(deleted.code, 0, deleted.err);
  assert.is(deleted.out, `bootstrap token "${theirs.slice(0, 6)}" deleted`);
  await runKubeadm('token', 'delete', '--kubeconfig', adminConf, ours);
  const after = await runKubeadm('token', 'list', '--kubeconfig', adminConf);
  assert.not.match(after, new RegExp(`^(${ours}|${theirs.slice(0, 6)})\\.`, 'm'));
  const again = await cli('token', 'delete', '--kubeconfig', adminConf, ours);
  assert.is(again.code, 1);
  assert.match(again.err, /not found/);
});

test.run();
