// Builds a whole cluster PKI in kubeadm's layout into the folder given on the command line, checks it,
// and prints what it wrote, the expiry report and the flags each component needs.
//
//   npx tsx examples/bootstrap-cluster.ts <dir> [--node-name cp-1] [--advertise-address 10.0.0.10] [--key-type ecdsa-p256] [--force]
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkExpiration,
  componentFlags,
  egressSelectorConfiguration,
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
  },
});
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
  const egress = egressSelectorConfiguration(result.plan, { dir });
  await writeFileAtomic({ path: join(dir, 'egress-selector-configuration.yaml'), content: egress, mode: 0o644 }, { overwrite: true });
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
} catch (error) {
  if (error instanceof PkiError) {
    console.error(`${error.code}: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
