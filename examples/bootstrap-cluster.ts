// Builds a whole cluster PKI in kubeadm's layout into the folder given on the command line, checks it,
// prints what it wrote, the expiry report and the flags each component needs, then runs the kubelet TLS
// bootstrap on loopback: the embedded endpoint and three nodes bootstrapping at once.
//
//   npx tsx examples/bootstrap-cluster.ts <dir> [--node-name cp-1] [--advertise-address 10.0.0.10] [--key-type ecdsa-p256] [--nodes 3] [--force]
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readFile, rm } from 'node:fs/promises';
import {
  bootstrapKubelet,
  bootstrapTokenSecret,
  formatBootstrapToken,
  generateBootstrapToken,
  importPrivateKeyPem,
  memoryTokenStore,
  requestServingCertificate,
  startEmbeddedBootstrap,
  staticNodeAddresses,
  stringifyKubeconfig,
  checkExpiration,
  componentFlags,
  formatResidual,
  initPkiDirectory,
  isKeySpec,
  loadPkiDirectory,
  PkiError,
  writeFileAtomic,
} from '../lib/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'node-name': { type: 'string', default: 'cp-1' },
    'advertise-address': { type: 'string', default: '10.0.0.10' },
    'control-plane-endpoint': { type: 'string' },
    'key-type': { type: 'string', default: 'ecdsa-p256' },
    force: { type: 'boolean', default: false },
    nodes: { type: 'string', default: '3' },
  },
});

/**
 * The TLS bootstrap on loopback: the embedded endpoint on 127.0.0.1 (ephemeral port) with its approver
 * and signers, and `count` nodes bootstrapping at once with a token, each getting a client certificate
 * and a serving certificate for its own addresses.
 */
async function bootstrapNodes(dir: string, count: number): Promise<void> {
  const read = (path: string): Promise<string> => readFile(join(dir, path), 'utf8');
  const ca = await read('pki/ca.crt');
  const caKey = (await importPrivateKeyPem(await read('pki/ca.key'))).privateKey;
  const token = generateBootstrapToken();
  // Each run bootstraps the demo nodes afresh against a new endpoint (its port changes every run).
  await rm(join(dir, 'nodes'), { recursive: true, force: true });
  const nodes = Array.from({ length: count }, (_, i) => ({ name: `node-${i + 1}`, addresses: [`10.0.1.${i + 1}`, `node-${i + 1}.cluster.example`] }));
  const embedded = await startEmbeddedBootstrap({
    issuer: { certificate: ca, privateKey: caKey },
    tokens: memoryTokenStore([bootstrapTokenSecret(token)]),
    nodeAddresses: staticNodeAddresses(Object.fromEntries(nodes.map((n) => [n.name, n.addresses]))),
  });
  const server = embedded.server;
  try {
    const started = performance.now();
    const results = await Promise.all(
      nodes.map(async (node) => {
        const nodeDir = join(dir, 'nodes', node.name);
        const bootstrapKubeconfig = join(nodeDir, 'bootstrap-kubelet.conf');
        await writeFileAtomic(
          { path: bootstrapKubeconfig, content: stringifyKubeconfig({ clusterName: 'kubernetes', server: server.url, caPem: ca, userName: 'tls-bootstrap-token-user', token: formatBootstrapToken(token) }), mode: 0o600 },
          { overwrite: true },
        );
        const common = { certDir: join(nodeDir, 'pki'), nodeName: node.name, kubeconfig: join(nodeDir, 'kubelet.conf'), timeoutMs: 30_000 };
        const client = await bootstrapKubelet({ ...common, bootstrapKubeconfig });
        const serving = await requestServingCertificate({ ...common, addresses: node.addresses });
        return { node, client: client.certificate, serving };
      }),
    );
    console.log(`\nTLS bootstrap of ${count} nodes through ${server.url} (${(performance.now() - started).toFixed(0)} ms):`);
    console.log('  node      client certificate                        serving SANs                                  files');
    for (const { node, client, serving } of results) {
      const sans = [...serving.sans.dns, ...serving.sans.ips].join(', ');
      console.log(`  ${node.name.padEnd(10)}${`${client.subject.commonName} until ${client.notAfter.toISOString().slice(0, 10)}`.padEnd(42)}${sans.padEnd(46)}nodes/${node.name}/pki/kubelet-{client,server}-current.pem`);
    }
  } finally {
    await embedded.close();
  }
}
if (!positionals[0]) {
  console.error('usage: npx tsx examples/bootstrap-cluster.ts <dir> [--node-name NAME] [--advertise-address IP] [--control-plane-endpoint HOST[:PORT]] [--key-type SPEC] [--force]');
  process.exit(2);
}
const dir = resolve(positionals[0]);
const keySpec = values['key-type'];
if (!isKeySpec(keySpec)) throw new PkiError('ERR_ARGUMENT', `unknown key type ${keySpec}`, { field: '--key-type' });

try {
  const started = performance.now();
  const result = await initPkiDirectory(
    dir,
    { nodeName: values['node-name'], advertiseAddress: values['advertise-address'], controlPlaneEndpoint: values['control-plane-endpoint'], keySpec },
    { force: values.force },
  );
  const elapsed = performance.now() - started;

  const loaded = await loadPkiDirectory(dir);
  if (loaded.missing.length || loaded.problems.length) {
    console.error('the directory does not check out:', loaded.missing, loaded.problems);
    process.exit(1);
  }
  console.log(`PKI for node ${values['node-name']} in ${dir} (${elapsed.toFixed(0)} ms): ${result.created.length} created, ${result.reused.length} kept`);
  for (const file of [...result.files].sort()) console.log(`  wrote ${file}`);

  const report = await checkExpiration(dir);
  console.log('\ncertificate                 expires            residual  CA');
  for (const row of [...report.authorities, ...report.certificates]) {
    console.log(`  ${row.name.padEnd(26)}${row.notAfter.toISOString().slice(0, 10)}         ${formatResidual(row.residualSeconds).padEnd(10)}${row.issuer ?? '(root)'}`);
  }
  const flags = componentFlags(result.plan, { dir });
  for (const [component, list] of Object.entries(flags)) console.log(`\n${component}:\n  ${list.join(' \\\n  ')}`);

  await bootstrapNodes(dir, Number(values.nodes));
} catch (error) {
  if (error instanceof PkiError) {
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
