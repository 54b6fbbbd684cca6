// Rotation of each CA of the directory (cluster, front-proxy, etcd): in every phase the bundles, the kubeconfigs'
// CA data (node kubeconfigs under nodes/ too) and the files componentFlags names hold exactly the CAs the phase
// trusts; reissued leaves chain to the new CA; after finish the old CA is in no file but <ca>-old.crt.
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  auditSetup,
  Certificate,
  componentFlags,
  exportPrivateKeyPem,
  generateKeyPair,
  initPkiDirectory,
  loadPkiDirectory,
  parseKubeconfig,
  planCluster,
  readRotation,
  renewCertificates,
  rotateAuthority,
  verifyCertificate,
  type ClusterConfig,
  type ComponentFlags,
  type RotatableCa,
  type RotationPhase,
} from '../../lib/index.js';
import { exportSpki } from '../../lib/crypto/keys.js';
import { kubeletSigningAuthorities } from '../../lib/cluster/kubelet-signing.js';
import { BUNDLES, bundleFile, type BundleName } from '../../lib/cluster/bundles.js';
import { kubeletKubeconfig } from '../../lib/cluster/kubeconfig.js';
import { CERTIFICATE_LAYOUT } from '../../lib/cluster/layout.js';
import { ROTATABLE_CAS, rotationFiles } from '../../lib/cluster/rotation-state.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';
import { failureOf } from '../helpers/fixtures.js';

const CONFIG: ClusterConfig = { nodeName: 'cp-1', advertiseAddress: '127.0.0.1' };
const PHASES: readonly RotationPhase[] = ['add', 'reissue', 'finish'];

/** The flags that trust each CA, by component. */
const TRUST_FLAGS: Record<RotatableCa, readonly [keyof ComponentFlags, string][]> = {
  cluster: [
    ['kubeApiserver', '--client-ca-file'],
    ['kubeApiserver', '--kubelet-certificate-authority'],
    ['kubeControllerManager', '--root-ca-file'],
    ['kubeControllerManager', '--client-ca-file'],
    ['kubelet', '--client-ca-file'],
    ['konnectivityServer', '--server-ca-cert'],
    ['konnectivityServer', '--cluster-ca-cert'],
    ['konnectivityAgent', '--ca-cert'],
  ],
  'front-proxy': [
    ['kubeApiserver', '--requestheader-client-ca-file'],
    ['kubeControllerManager', '--requestheader-client-ca-file'],
  ],
  etcd: [
    ['etcd', '--trusted-ca-file'],
    ['etcd', '--peer-trusted-ca-file'],
    ['kubeApiserver', '--etcd-cafile'],
  ],
};

const der = (c: Certificate): string => Buffer.from(c.der).toString('base64');
const casIn = (pem: string): string[] => Certificate.fromPemBundle(pem).map(der).sort();
const flag = (list: readonly string[], name: string): string | undefined => list.find((f) => f.startsWith(`${name}=`))?.slice(name.length + 1);
const caFile = (ca: RotatableCa): string => `${rotationFiles(ca).entry.path}.crt`;

/** Every file under `dir` (relative path -> text). */
async function files(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (folder: string): Promise<void> => {
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.set(relative(dir, path), await readFile(path, 'utf8'));
    }
  };
  await walk(dir);
  return out;
}

/** Whether `text` holds `ca`: as PEM, or as base64 of a PEM (a kubeconfig's *-data field). */
function holds(text: string, ca: Certificate): boolean {
  const body = ca.pem.split('\n').slice(1, -2).join('\n');
  if (text.includes(body)) return true;
  return [...text.matchAll(/[A-Za-z0-9+/=]{200,}/g)].some((m) => Buffer.from(m[0], 'base64').toString('utf8').includes(body));
}

/** Checks the directory against the phase: bundles, kubeconfigs, the files the flags name. */
async function assertPhase(dir: string, ca: RotatableCa, phase: RotationPhase, old: Certificate, next: Certificate): Promise<void> {
  const label = `${ca}/${phase}`;
  const want = (phase === 'finish' ? [next] : [old, next]).map(der).sort();
  const authority = ROTATABLE_CAS[ca];
  const loaded = await loadPkiDirectory(dir);
  assert.equal([loaded.missing, loaded.problems], [[], []], `${label}: the directory loads clean`);
  for (const name of Object.keys(BUNDLES) as BundleName[]) {
    if (BUNDLES[name][0] !== authority && !(name === 'kubelet-certificate-authority' && authority === 'ca')) continue;
    assert.equal(casIn(await readFile(join(dir, bundleFile(name)), 'utf8')), want, `${label}: ${bundleFile(name)}`);
  }
  const kubeconfigs = [...CERTIFICATE_LAYOUT.filter((e) => e.kubeconfig).map((e) => e.path), 'nodes/node-1/kubelet.conf'];
  for (const path of kubeconfigs) {
    const caPem = parseKubeconfig(await readFile(join(dir, path), 'utf8')).caPem!;
    if (ca === 'cluster') assert.equal(casIn(caPem), want, `${label}: ${path} certificate-authority-data`);
    else assert.not.ok(holds(caPem, next), `${label}: ${path} does not trust the ${ca} CA`);
  }
  const plan = planCluster(CONFIG);
  const rotation = await readRotation(dir);
  assert.is(rotation?.phase, phase === 'finish' ? undefined : phase === 'add' ? 'added' : 'reissued', `${label}: readRotation`);
  const flags = componentFlags(plan, { dir, rotation });
  for (const other of Object.keys(TRUST_FLAGS) as RotatableCa[]) {
    for (const [component, name] of TRUST_FLAGS[other]) {
      const path = flag(flags[component], name)!;
      if (other !== ca || phase === 'finish') {
        assert.is(path, join(dir, caFile(other)), `${label}: ${component} ${name} names kubeadm's file`);
        continue;
      }
      assert.match(path, /\/bundles\/[a-z-]+\.crt$/, `${label}: ${component} ${name} names a bundle`);
      assert.equal(casIn(await readFile(path, 'utf8')), want, `${label}: ${component} ${name}=${path} holds old and new`);
    }
  }
  const kcm = flags.kubeControllerManager;
  const signing = flag(kcm, '--cluster-signing-cert-file')!;
  const signer = Certificate.from(await readFile(signing, 'utf8'));
  const signsWithNew = ca === 'cluster' && phase !== 'add';
  assert.is(der(signer), der(signsWithNew ? next : ca === 'cluster' ? old : loaded.authorities.get('ca')!.certificate), `${label}: --cluster-signing-cert-file=${signing}`);
  const keyPair = await readFile(flag(kcm, '--cluster-signing-key-file')!, 'utf8');
  assert.ok(keyPair.includes('PRIVATE KEY'), `${label}: the signing key file exists`);
  const egress = parse(await readFile(join(dir, 'egress-selector-configuration.yaml'), 'utf8'));
  const caBundle = egress.egressSelections[0].connection.transport.tcp.tlsConfig.caBundle as string;
  assert.is(caBundle, flag(flags.konnectivityServer, '--server-ca-cert'), `${label}: the egress selector's caBundle follows the cluster CA`);
  for (const path of Object.values(flags).flat().map((f) => f.split('=').slice(1).join('=')).filter((v) => v.startsWith(`${dir}/`))) {
    assert.ok(await stat(path).then(() => true, () => false), `${label}: ${path} (named by a flag) exists`);
  }
}

test('cluster, front-proxy and etcd CAs in turn: every phase leaves bundles, kubeconfigs and flags in step; finish leaves the old CA only in <ca>-old.crt', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, CONFIG);
    const clusterCa = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
    await mkdir(join(dir, 'nodes/node-1'), { recursive: true });
    await writeFile(join(dir, 'nodes/node-1/kubelet.conf'), kubeletKubeconfig({ server: 'https://127.0.0.1:6443', caPem: clusterCa }), { mode: 0o600 });
    for (const ca of ['cluster', 'front-proxy', 'etcd'] as const) {
      const { entry, incoming, old: oldFile } = rotationFiles(ca);
      const old = Certificate.from(await readFile(join(dir, caFile(ca)), 'utf8'));
      let next: Certificate | undefined;
      for (const phase of PHASES) {
        const result = await rotateAuthority(dir, { ca, phase });
        assert.is(result.ca, ca);
        next ??= Certificate.from(await readFile(join(dir, `${incoming.path}.crt`), 'utf8'));
        await assertPhase(dir, ca, phase, old, next);
        assert.ok(result.restart.length > 0, `${ca}/${phase}: components to restart`);
        if (phase !== 'reissue' || ca === 'cluster') assert.ok(result.flagChanges.length > 0, `${ca}/${phase}: flags changed`);
        assert.equal((await rotateAuthority(dir, { ca, phase })).changed, [], `${ca}/${phase} run again changes nothing`);
        if (phase === 'reissue') {
          for (const leaf of CERTIFICATE_LAYOUT.filter((e) => e.ca === entry.name)) {
            const text = await readFile(join(dir, leaf.kubeconfig ? leaf.path : `${leaf.path}.crt`), 'utf8');
            const certificate = leaf.kubeconfig ? parseKubeconfig(text).clientCertificatePem! : text;
            const purpose = leaf.profile.extendedKeyUsages.includes('serverAuth') ? 'server' : 'client';
            const chain = verifyCertificate(certificate, { roots: [next], purpose }).chain;
            assert.is(der(chain[chain.length - 1]!), der(next), `${ca}: ${leaf.name} chains to the new CA`);
          }
        }
      }
      const again = await rotateAuthority(dir, { ca, phase: 'finish' });
      assert.equal([again.changed, again.restart, again.flagChanges], [[], [], []], 'a finished rotation finished again changes nothing');
      const holding = [...(await files(dir))].filter(([path, text]) => path !== oldFile && holds(text, old)).map(([path]) => path);
      assert.equal(holding, [], `the old ${ca} CA is in no file but ${oldFile}`);
      assert.ok(holds(await readFile(join(dir, oldFile), 'utf8'), old));
      assert.is(der(Certificate.from(await readFile(join(dir, caFile(ca)), 'utf8'))), der(next!));
    }
  });
});

test('each phase names the components to restart and the changed flags; add and finish say what to push to nodes', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const added = await rotateAuthority(dir, { ca: 'cluster', phase: 'add' });
    assert.equal(added.restart, ['kubeApiserver', 'kubeControllerManager', 'kubeScheduler', 'kubelet']);
    const changedFlag = (component: string, name: string) => added.flagChanges.find((c) => c.component === component && c.flag === name);
    assert.equal(changedFlag('kubeControllerManager', '--root-ca-file'), { component: 'kubeControllerManager', flag: '--root-ca-file', before: join(dir, 'pki/ca.crt'), after: join(dir, 'bundles/root-ca-file.crt') });
    assert.ok(changedFlag('kubelet', '--client-ca-file'));
    assert.is(changedFlag('kubeControllerManager', '--cluster-signing-cert-file'), undefined, 'it signs with the old CA until reissue');
    assert.ok(added.nodeActions.some((a) => a.includes('certificate-authority-data') && a.includes('bundles/client-ca-file.crt')));
    assert.ok(added.nodeActions.some((a) => a.includes('kube-root-ca.crt')));
    assert.is(added.rotation?.phase, 'added');
    const reissued = await rotateAuthority(dir, { ca: 'cluster', phase: 'reissue' });
    assert.equal(reissued.flagChanges.map((c) => [c.flag, c.after]), [
      ['--cluster-signing-cert-file', join(dir, 'pki/ca-new.crt')],
      ['--cluster-signing-key-file', join(dir, 'pki/ca-new.key')],
    ]);
    assert.ok(reissued.restart.includes('kubeApiserver'));
    const finished = await rotateAuthority(dir, { ca: 'cluster', phase: 'finish' });
    assert.is(finished.rotation, undefined);
    assert.ok(finished.flagChanges.every((c) => c.after === undefined || !c.after.includes('/bundles/')), 'every flag names a kubeadm file again');
    assert.ok(finished.nodeActions.some((a) => a.includes(join(dir, 'pki/ca.crt')) && a.includes('the new CA alone')));
    const etcd = await rotateAuthority(dir, { ca: 'etcd', phase: 'add' });
    assert.equal(etcd.restart, ['etcd', 'kubeApiserver']);
    assert.equal(etcd.flagChanges.map((c) => `${c.component} ${c.flag}`).sort(), ['etcd --peer-trusted-ca-file', 'etcd --trusted-ca-file', 'kubeApiserver --etcd-cafile']);
  });
});

test('one rotation at a time: another CA is refused while one is unfinished, naming it', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'add' });
    const second = await failureOf(() => rotateAuthority(dir, { ca: 'cluster', phase: 'add' }));
    assert.is(second.code, 'ERR_ARGUMENT');
    assert.match(second.message!, /rotation of the etcd CA is in progress \(phase added\)/);
    assert.is((await failureOf(() => rotateAuthority(dir, { ca: 'front-proxy', phase: 'reissue' }))).code, 'ERR_ARGUMENT');
    assert.is((await failureOf(() => rotateAuthority(dir, { ca: 'etcd', phase: 'finish' }))).code, 'ERR_ARGUMENT', 'finish before reissue');
    assert.is((await failureOf(() => rotateAuthority(dir, { ca: 'nope' as RotatableCa, phase: 'add' }))).code, 'ERR_ARGUMENT');
    await rotateAuthority(dir, { ca: 'etcd', phase: 'reissue' });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'finish' });
    assert.is((await failureOf(() => rotateAuthority(dir, { ca: 'etcd', phase: 'add' }))).code, 'ERR_ARGUMENT', 'a finished rotation is not restarted by accident');
    await rotateAuthority(dir, { ca: 'cluster', phase: 'add' });
  });
});

test('renew during a rotation: leaves of the rotating CA come from the old CA after add and from the new CA after reissue; init --force is refused', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const issuerOf = async (path: string): Promise<string> => {
      const leaf = Certificate.from(await readFile(join(dir, path), 'utf8'));
      for (const ca of ['pki/etcd/ca.crt', 'pki/etcd/ca-new.crt']) {
        const pem = await readFile(join(dir, ca), 'utf8').catch(() => undefined);
        if (pem && leaf.isIssuedBy(Certificate.from(pem))) return ca;
      }
      return 'neither';
    };
    await rotateAuthority(dir, { ca: 'etcd', phase: 'add' });
    await renewCertificates(dir, ['etcd-server', 'apiserver']);
    assert.is(await issuerOf('pki/etcd/server.crt'), 'pki/etcd/ca.crt');
    await rotateAuthority(dir, { ca: 'etcd', phase: 'reissue' });
    await renewCertificates(dir, ['etcd-server', 'apiserver']);
    assert.is(await issuerOf('pki/etcd/server.crt'), 'pki/etcd/ca-new.crt');
    assert.ok(Certificate.from(await readFile(join(dir, 'pki/apiserver.crt'), 'utf8')).isIssuedBy(Certificate.from(await readFile(join(dir, 'pki/ca.crt'), 'utf8'))), 'the other CAs sign as before');
    const forced = await failureOf(() => initPkiDirectory(dir, { ...CONFIG, konnectivity: false, apiServerCertSans: ['other.example'] }, { force: true }));
    assert.is(forced.code, 'ERR_ARGUMENT', 'init --force would put leaves of the old CA back');
    assert.match(forced.message!, /rotation of the etcd CA is in progress/);
    assert.is(await issuerOf('pki/etcd/server.crt'), 'pki/etcd/ca-new.crt');
  });
});

test('the kubelet signers (signer, serve-bootstrap) sign with the old cluster CA after add and with the new one from reissue on', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const pem = (path: string): Promise<string> => readFile(join(dir, path), 'utf8');
    await rotateAuthority(dir, { ca: 'cluster', phase: 'add' });
    assert.is((await kubeletSigningAuthorities(dir)).ca.certificate.pem, Certificate.from(await pem('pki/ca.crt')).pem);
    await rotateAuthority(dir, { ca: 'cluster', phase: 'reissue' });
    const { ca, servingCa } = await kubeletSigningAuthorities(dir);
    assert.is(ca.certificate.pem, Certificate.from(await pem('pki/ca-new.crt')).pem);
    assert.is(servingCa, ca);
    await rotateAuthority(dir, { ca: 'cluster', phase: 'finish' });
    assert.is((await kubeletSigningAuthorities(dir)).ca.certificate.pem, ca.certificate.pem);
  });
});

test('resuming after a crash: add before its record, reissue between a key and its certificate, finish after moving the key', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const oldBundle = await readFile(join(dir, 'pki/etcd/ca.crt'), 'utf8');
    await rotateAuthority(dir, { ca: 'etcd', phase: 'add' });
    const next = await readFile(join(dir, 'pki/etcd/ca-new.crt'), 'utf8');
    // Stopped after the new CA, before the bundle and the record.
    await writeFile(join(dir, 'bundles/etcd-trusted-ca-file.crt'), oldBundle);
    await rename(join(dir, 'rotation.json'), join(dir, 'rotation.json.gone'));
    const resumed = await rotateAuthority(dir, { ca: 'etcd', phase: 'add' });
    assert.is(await readFile(join(dir, 'pki/etcd/ca-new.crt'), 'utf8'), next, 'the new CA made before the crash is kept');
    assert.ok(resumed.changed.some((f) => f.endsWith('bundles/etcd-trusted-ca-file.crt')));
    assert.is(casIn(await readFile(join(dir, 'bundles/etcd-trusted-ca-file.crt'), 'utf8')).length, 2);
    // Stopped between the new key of etcd/peer and its certificate.
    const fresh = await generateKeyPair();
    await writeFile(join(dir, 'pki/etcd/peer.key'), await exportPrivateKeyPem(fresh), { mode: 0o600 });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'reissue' });
    const peer = Certificate.from(await readFile(join(dir, 'pki/etcd/peer.crt'), 'utf8'));
    assert.ok(peer.isIssuedBy(Certificate.from(next)));
    assert.ok(Buffer.from(peer.spki).equals(Buffer.from(await exportSpki(fresh.publicKey))));
    // Stopped after finish moved the new key into place.
    await rename(join(dir, 'pki/etcd/ca-new.key'), join(dir, 'pki/etcd/ca.key'));
    await rotateAuthority(dir, { ca: 'etcd', phase: 'finish' });
    assert.is(await readFile(join(dir, 'pki/etcd/ca.crt'), 'utf8'), next);
    const loaded = await loadPkiDirectory(dir);
    assert.equal([loaded.missing, loaded.problems], [[], []]);
    assert.equal(casIn(await readFile(join(dir, 'bundles/etcd-trusted-ca-file.crt'), 'utf8')), casIn(next));
  });
});

test('cross-signing works for any CA: an etcd leaf of the new CA verifies for a client trusting only the old etcd CA, given the cross certificate; finish removes it', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const old = await readFile(join(dir, 'pki/etcd/ca.crt'), 'utf8');
    await rotateAuthority(dir, { ca: 'etcd', phase: 'add', crossSign: true });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'reissue' });
    const server = await readFile(join(dir, 'pki/etcd/server.crt'), 'utf8');
    const cross = await readFile(join(dir, 'pki/etcd/ca-new-cross.crt'), 'utf8');
    assert.is(verifyCertificate(server, { roots: [old], intermediates: [cross], name: '127.0.0.1' }).chain.length, 3);
    assert.is((await failureOf(() => verifyCertificate(server, { roots: [old], name: '127.0.0.1' }))).code, 'ERR_UNKNOWN_AUTHORITY');
    const finished = await rotateAuthority(dir, { ca: 'etcd', phase: 'finish' });
    assert.not.ok(await stat(join(dir, 'pki/etcd/ca-new-cross.crt')).then(() => true, () => false));
    assert.ok(finished.changed.every((f) => !f.endsWith('ca-new-cross.crt')));
  });
});

test('rotate-ca: --help names the three CAs and the phases; --ca selects the CA; the output lists files, restarts and flags', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const help = await runCli('rotate-ca', '--help');
    for (const word of ['--ca cluster', '--ca front-proxy', '--ca etcd', 'add ', 'reissue ', 'finish ']) assert.ok(help.out.includes(word), `help names ${word}`);
    const json = await runCli('rotate-ca', '--dir', dir, '--ca', 'front-proxy', '--phase', 'add', '--json');
    assert.is(json.code, 0, json.err);
    const result = JSON.parse(json.out) as { ca: string; restart: string[]; flagChanges: { flag: string }[] };
    assert.is(result.ca, 'front-proxy');
    assert.equal(result.restart, ['kubeApiserver', 'kubeControllerManager']);
    const text = await runCli('rotate-ca', '--dir', dir, '--ca', 'front-proxy', '--phase', 'reissue');
    assert.is(text.code, 0, text.err);
    assert.match(text.out, /front-proxy CA, phase reissue: 3 file\(s\) changed\n.*pki\/front-proxy-client\.key\n.*pki\/front-proxy-client\.crt\n.*rotation\.json\n/);
    assert.match(text.out, /restart, in this order: kube-apiserver\n/);
    const refused = await runCli('rotate-ca', '--dir', dir, '--ca', 'etcd', '--phase', 'add');
    assert.is(refused.code, 2);
    assert.match(refused.err, /rotation of the front-proxy CA is in progress/);
    assert.match((await runCli('rotate-ca', '--dir', dir, '--ca', 'kubelet', '--phase', 'add')).err, /--ca: "kubelet" is not one of cluster, front-proxy, etcd/);
  });
});

test('audit during a rotation: leaves of the new CA verify, the rotation is reported, and a flag still naming the old CA alone is an error', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...CONFIG, konnectivity: false });
    const plan = planCluster({ ...CONFIG, konnectivity: false });
    const kubeadmFlags = componentFlags(plan, { dir }).kubeApiserver.join('\n');
    await rotateAuthority(dir, { ca: 'etcd', phase: 'add' });
    await rotateAuthority(dir, { ca: 'etcd', phase: 'reissue' });
    const flags = componentFlags(plan, { dir, rotation: await readRotation(dir) }).kubeApiserver.join('\n');
    const report = await auditSetup(dir, { apiserverFlags: flags });
    assert.is(report.paths.find((p) => p.path === 7)!.status, 'verified');
    assert.equal(report.findings.filter((f) => f.severity === 'error'), []);
    assert.ok(report.findings.some((f) => f.severity === 'warning' && /etcd CA is being rotated/.test(f.message) && /--phase finish/.test(f.fix)));
    const stale = await auditSetup(dir, { apiserverFlags: kubeadmFlags });
    assert.ok(stale.findings.some((f) => f.severity === 'error' && /--etcd-cafile=.*does not trust the incoming etcd CA/.test(f.message) && f.fix.includes('bundles/etcd-trusted-ca-file.crt')));
  });
});

test.run();
