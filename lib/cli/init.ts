import { resolve, join, dirname } from 'node:path';
import { isKeySpec } from '../crypto/keys.js';
import { PkiError } from '../errors.js';
import type { ClusterConfig } from '../cluster/config.js';
import { clusterConfigFromKubeadm } from '../cluster/kubeadm-config.js';
import { writeCertificateRequests } from '../cluster/external.js';
import { readIfExists } from '../cluster/files.js';
import { componentFlags, egressSelectorConfiguration } from '../cluster/flags.js';
import { initPkiDirectory } from '../cluster/init.js';
import { describeChanges } from '../cluster/transaction.js';
import { layoutFile } from '../cluster/layout.js';
import { planCluster } from '../cluster/plan.js';
import { PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { list, optional, required, type Io, type Verb } from './io.js';

function port(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new PkiError('ERR_ARGUMENT', `"${text}" is not a port number`, { field: '--apiserver-bind-port' });
  return Number(text);
}

/** Flags that say what the kubeadm file says: refused with --config, as kubeadm refuses mixing --config with them. */
const FILE_FLAGS = ['control-plane-endpoint', 'apiserver-bind-port', 'service-cidr', 'dns-domain', 'apiserver-cert-extra-sans', 'key-type'] as const;

/** `--config`: the cluster config from kubeadm's file, and the directory from --dir or the file's certificatesDir. */
async function kubeadmConfig(values: Record<string, unknown>, io: Io): Promise<{ config: ClusterConfig; dir: string }> {
  for (const flag of FILE_FLAGS) {
    if (values[flag] !== undefined) throw new PkiError('ERR_ARGUMENT', 'cannot be mixed with --config: set it in the kubeadm configuration file', { field: `--${flag}` });
  }
  const path = resolve(required(values, 'config'));
  const text = await readIfExists(path);
  if (text === undefined) throw new PkiError('ERR_ARGUMENT', `${path} does not exist`, { field: '--config' });
  const parsed = clusterConfigFromKubeadm(text, { nodeName: optional(values, 'node-name'), advertiseAddress: optional(values, 'advertise-address') });
  for (const kind of parsed.skipped) io.err(`kubepki: note: skipping ${kind}`);
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
             [--apiserver-bind-port PORT] [--service-cidr CIDR] [--dns-domain DOMAIN] [--apiserver-cert-extra-sans A,B] [--key-type TYPE]
             [--separate-kubelet-serving-ca] [--no-konnectivity] [--csr-only] [--force] [--dry-run] [--json]
             [--ca-pkcs11 ${PKCS11_OPTION_HELP}]
       kubepki init --config KUBEADM.yaml [--dir DIR] [--node-name NAME] [--advertise-address IP] [--separate-kubelet-serving-ca]
             [--no-konnectivity] [--csr-only] [--force] [--dry-run] [--json] [--ca-pkcs11 ...]
         kubeadm's InitConfiguration + ClusterConfiguration (kubeadm.k8s.io/v1beta2, v1beta3, v1beta4); DIR defaults to
         the parent of its certificatesDir (/etc/kubernetes/pki -> /etc/kubernetes); --node-name and --advertise-address
         only for a file that does not set them`,
  options: {
    config: { type: 'string' },
    dir: { type: 'string' },
    'node-name': { type: 'string' },
    'advertise-address': { type: 'string' },
    'control-plane-endpoint': { type: 'string' },
    'apiserver-bind-port': { type: 'string' },
    'service-cidr': { type: 'string' },
    'dns-domain': { type: 'string' },
    'apiserver-cert-extra-sans': { type: 'string' },
    'key-type': { type: 'string' },
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
    const keyType = optional(values, 'key-type');
    if (keyType !== undefined && !isKeySpec(keyType)) throw new PkiError('ERR_ARGUMENT', `unknown key type "${keyType}"`, { field: '--key-type' });
    const config: ClusterConfig = {
      ...(fromFile?.config ?? {
        nodeName: required(values, 'node-name'),
        advertiseAddress: required(values, 'advertise-address'),
        controlPlaneEndpoint: optional(values, 'control-plane-endpoint'),
        apiServerPort: port(optional(values, 'apiserver-bind-port')),
        serviceCidr: optional(values, 'service-cidr'),
        dnsDomain: optional(values, 'dns-domain'),
        apiServerCertSans: list(values, 'apiserver-cert-extra-sans'),
        keySpec: keyType,
      }),
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
    const flags = componentFlags(result.plan, { dir, caKeyInToken });
    const egress = result.plan.config.konnectivity ? egressSelectorConfiguration(result.plan, { dir }) : undefined;
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
