import { resolve, join, dirname } from 'node:path';
import { PkiError } from '../errors.js';
import type { ClusterConfig } from '../cluster/config.js';
import { writeCertificateRequests } from '../cluster/external.js';
import { readIfExists } from '../cluster/files.js';
import { componentFlags, egressSelectorConfiguration } from '../cluster/flags.js';
import { readRotation } from '../cluster/rotation-state.js';
import { initPkiDirectory } from '../cluster/init.js';
import { describeChanges } from '../cluster/transaction.js';
import { layoutFile } from '../cluster/layout.js';
import { planCluster } from '../cluster/plan.js';
import { PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { clusterConfigFromFile, clusterConfigFromFlags, CLUSTER_FLAG_OPTIONS } from './cluster-flags.js';
import { optional, required, type Io, type Verb } from './io.js';

/** `--config`: the cluster config from kubeadm's file, and the directory from --dir or the file's certificatesDir. */
async function kubeadmConfig(values: Record<string, unknown>, io: Io): Promise<{ config: ClusterConfig; dir: string }> {
  const parsed = await clusterConfigFromFile(values, io);
  const given = optional(values, 'dir');
  const certificatesDir = parsed.certificatesDir?.replace(/\/+$/, '');
  if (given !== undefined) {
    const dir = resolve(given);
    if (certificatesDir !== undefined && join(dir, 'pki') !== resolve(certificatesDir)) io.err(`kubepki: warning: --dir ${dir} overrides the file's certificatesDir ${certificatesDir}`);
    return { config: parsed.config, dir };
  }
  if (certificatesDir === undefined) throw new PkiError('ERR_ARGUMENT', 'is required: the kubeadm file sets no certificatesDir', { field: '--dir' });
  if (!certificatesDir.endsWith('/pki')) {
    throw new PkiError('ERR_ARGUMENT', `kubepki writes DIR/pki (kubeadm's certificatesDir) and kubeconfigs in DIR: "${certificatesDir}" does not end in /pki, so give --dir`, { field: 'ClusterConfiguration.certificatesDir' });
  }
  return { config: parsed.config, dir: dirname(resolve(certificatesDir)) };
}

export const initVerb: Verb = {
  name: 'init',
  summary: "write a cluster's whole PKI in kubeadm's layout, and print the component flags",
  usage: `kubepki init --dir DIR --node-name NAME --advertise-address IP [--control-plane-endpoint HOST[:PORT]]
             [--apiserver-bind-port PORT] [--service-cidr CIDR] [--dns-domain DOMAIN] [--apiserver-cert-extra-sans A,B] [--key-type TYPE] [--kubernetes-version V]
             [--separate-kubelet-serving-ca] [--no-konnectivity] [--csr-only] [--force] [--dry-run] [--json]
             [--ca-pkcs11 ${PKCS11_OPTION_HELP}]
       kubepki init --config KUBEADM.yaml [--dir DIR] [--node-name NAME] [--advertise-address IP] [--separate-kubelet-serving-ca]
             [--no-konnectivity] [--csr-only] [--force] [--dry-run] [--json] [--ca-pkcs11 ...]
         kubeadm's InitConfiguration + ClusterConfiguration (kubeadm.k8s.io/v1beta2, v1beta3, v1beta4); DIR defaults to
         the parent of its certificatesDir (/etc/kubernetes/pki -> /etc/kubernetes); --node-name and --advertise-address
         only for a file that does not set them`,
  options: {
    ...CLUSTER_FLAG_OPTIONS,
    dir: { type: 'string' },
    'separate-kubelet-serving-ca': { type: 'boolean' },
    'no-konnectivity': { type: 'boolean' },
    'csr-only': { type: 'boolean' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    json: { type: 'boolean' },
    'ca-pkcs11': { type: 'string' },
  },
  async run({ values }, io) {
    const fromFile = optional(values, 'config') === undefined ? undefined : await kubeadmConfig(values, io);
    const dir = fromFile?.dir ?? resolve(required(values, 'dir'));
    const config: ClusterConfig = {
      ...(fromFile?.config ?? clusterConfigFromFlags(values)),
      separateKubeletServingCa: values['separate-kubelet-serving-ca'] === true,
      konnectivity: values['no-konnectivity'] !== true,
    };
    const force = values.force === true;
    if (values['csr-only']) {
      const files = await writeCertificateRequests(dir, config, { force });
      if (values.json) io.out(JSON.stringify({ files }, null, 2));
      else io.out(`wrote ${files.length} keys and CSRs to ${dir}; place the CA certificates and keys there and run: kubepki sign --dir ${dir}`);
      return 0;
    }
    const plan = planCluster(config);
    for (const skipped of plan.config.skippedSans) io.err(`kubepki: warning: skipping apiserver SAN "${skipped}": neither an IP address nor a DNS name`);
    const pkcs11 = pkcs11Option(values);
    const dryRun = values['dry-run'] === true;
    const result = await initPkiDirectory(dir, config, { force, dryRun, ...(pkcs11 ? { pkcs11: { ca: pkcs11 } } : {}) });
    const caKeyInToken = pkcs11 !== undefined || (await readIfExists(join(dir, layoutFile('ca', '.pkcs11.json')))) !== undefined;
    const rotation = await readRotation(dir);
    const flags = componentFlags(result.plan, { dir, caKeyInToken, rotation });
    const egress = result.plan.config.konnectivity ? egressSelectorConfiguration(result.plan, { dir, rotation }) : undefined;
    if (dryRun) {
      if (values.json) io.out(JSON.stringify({ dir, dryRun: true, changes: describeChanges(result.changes) }, null, 2));
      else for (const line of describeChanges(result.changes)) io.out(`would ${line}`);
      return 0;
    }
    if (values.json) {
      io.out(JSON.stringify({ dir, created: result.created, reused: result.reused, replaced: result.replaced, files: result.files, flags, egressSelectorConfiguration: egress }, null, 2));
      return 0;
    }
    io.out(`kubepki: PKI in ${dir}: ${result.created.length} created, ${result.reused.length} kept, ${result.replaced.length} replaced`);
    for (const file of [...result.files].sort()) io.out(`  wrote ${file}`);
    for (const [component, list] of Object.entries(flags)) io.out(`\n${component}:\n  ${list.join(' \\\n  ')}`);
    return 0;
  },
};
