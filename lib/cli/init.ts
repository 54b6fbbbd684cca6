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
import { PKCS11_OPTION, PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
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

/**
 * The library's refusals in the command's terms: its `force` option is the flag --force, and the conflicts
 * (one per line in the library's message) are listed on the error's one line.
 */
function inFlagTerms(error: unknown, dir: string): unknown {
  if (!(error instanceof PkiError)) return error;
  if (error.code === 'ERR_EXISTS' && error.field === dir) {
    const [, ...conflicts] = error.reason.split('\n');
    if (conflicts.length === 0) return new PkiError('ERR_EXISTS', error.reason.replace(/\(use force\)/, '(kubepki init --force replaces them)'), { field: dir, cause: error });
    const what = conflicts.length === 1 ? '1 file conflicts' : `${conflicts.length} files conflict`;
    return new PkiError('ERR_EXISTS', `${what} with this cluster; nothing was written (kubepki init --force replaces them): ${conflicts.map((c) => c.trim()).join(' | ')}`, { field: dir, cause: error });
  }
  if (error.field === 'force') return new PkiError(error.code, error.reason.replace(/with force$/, 'with --force'), { field: '--force', cause: error });
  return error;
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
    dir: { type: 'string', value: 'DIR', description: 'where the PKI is written: kubeconfigs in DIR, certificates in DIR/pki', default: "with --config, the parent of the file's certificatesDir", directory: 'created' },
    ...CLUSTER_FLAG_OPTIONS,
    'separate-kubelet-serving-ca': { type: 'boolean', description: 'a CA of its own for the kubelets\' serving certificates (kube-apiserver\'s --kubelet-certificate-authority)' },
    'no-konnectivity': { type: 'boolean', description: 'no Konnectivity server, agent and client certificates, and no egress selector' },
    'csr-only': { type: 'boolean', description: 'external CA: write the keys and CSRs only, for `kubepki sign` once the CAs are placed' },
    force: { type: 'boolean', description: 'replace the files that conflict with this cluster (other SANs, another CA); without it nothing is written' },
    'dry-run': { type: 'boolean', description: 'print what would be created, kept or replaced, and write nothing' },
    json: { type: 'boolean', description: 'print the result as JSON' },
    'ca-pkcs11': PKCS11_OPTION,
  },
  example: 'kubepki init --dir /etc/kubernetes --node-name cp-1 --advertise-address 10.0.0.10 --apiserver-cert-extra-sans api.example.com',
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
      const files = await writeCertificateRequests(dir, config, { force }).catch((error: unknown) => Promise.reject(inFlagTerms(error, dir)));
      if (values.json) io.out(JSON.stringify({ files }, null, 2));
      else io.out(`wrote ${files.length} keys and CSRs to ${dir}; place the CA certificates and keys there and run: kubepki sign --dir ${dir}`);
      return 0;
    }
    const plan = planCluster(config);
    for (const skipped of plan.config.skippedSans) io.err(`kubepki: warning: skipping apiserver SAN "${skipped}": neither an IP address nor a DNS name`);
    const pkcs11 = pkcs11Option(values);
    const dryRun = values['dry-run'] === true;
    const result = await initPkiDirectory(dir, config, { force, dryRun, ...(pkcs11 ? { pkcs11: { ca: pkcs11 } } : {}) }).catch((error: unknown) => Promise.reject(inFlagTerms(error, dir)));
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
