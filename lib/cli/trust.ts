import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { clusterBundles, writeClusterBundles } from '../cluster/bundles.js';
import { loadPkiDirectory } from '../cluster/directory.js';
import { ioError, writeFileAtomic } from '../cluster/files.js';
import { CLUSTER_TRUST_BUNDLE_VERSIONS, type ClusterTrustBundleVersion } from '../cluster/cluster-trust-bundle.js';
import { buildClusterTrustBundles, writeClusterTrustBundleFiles } from '../cluster/trust-bundles.js';
import { kubeconfigFlagConnection } from './kubeconfig-flag.js';
import { publishTrustBundles } from '../bootstrap/trust-bundle-publisher.js';
import { authorityEntry, AUTHORITY_LAYOUT } from '../cluster/layout.js';
import { buildCaBundle } from '../x509/bundle.js';
import { Certificate } from '../x509/certificate.js';
import { parseRevocationList } from '../x509/crl.js';
import { crossCheckChain } from '../x509/cross-check.js';
import { verifyCertificate } from '../x509/verify.js';
import { auditSetup } from '../agents/audit.js';
import { revokeCertificates } from '../cluster/revoke.js';
import { PKCS11_OPTION, PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { JSON_OPTION, optional, PKI_DIR_OPTION, printable, required, type Io, type Verb } from './io.js';

const readText = (path: string): Promise<string> =>
  readFile(path, 'utf8').catch((cause: unknown) => {
    throw ioError(path, 'cannot be read', cause);
  });

export const bundleVerb: Verb = {
  name: 'bundle',
  summary: "write the named CA bundles of a PKI directory (bundles/*.crt), publish them as ClusterTrustBundles, or build one bundle from files",
  usage: [
    'kubepki bundle --dir DIR [--json]',
    '       kubepki bundle --dir DIR --kubeconfig FILE [--out DIR] [--api-version v1|v1beta1|v1alpha1] [--no-unlinked] [--json]',
    '           (ClusterTrustBundles published; on a server without the API, written to --out, default DIR/cluster-trust-bundles)',
    '       kubepki bundle --dir DIR --out DIR [--api-version V] [--no-unlinked] [--json]   (ClusterTrustBundle YAML files only)',
    '       kubepki bundle FILE... [--out FILE]',
  ].join('\n'),
  options: {
    dir: PKI_DIR_OPTION,
    out: { type: 'string', value: 'DIR|FILE', description: 'with --dir: the folder of the ClusterTrustBundle files (default DIR/cluster-trust-bundles); with FILEs: the bundle file (default: standard output)' },
    json: JSON_OPTION,
    kubeconfig: { type: 'string', value: 'FILE', description: 'publish the bundles as ClusterTrustBundles on the cluster of this kubeconfig' },
    'api-version': { type: 'string', value: 'VERSION', description: 'the ClusterTrustBundle version of the files written', default: 'v1beta1 (published: the newest the server serves)', values: CLUSTER_TRUST_BUNDLE_VERSIONS },
    'no-unlinked': { type: 'boolean', description: 'no unlinked kubepki-cluster-ca bundle, only the signer-linked ones' },
  },
  arguments: [{ name: 'FILE...', description: 'without --dir: certificate files to make one CA bundle of' }],
  example: ['kubepki bundle --dir /etc/kubernetes', 'kubepki bundle --dir /etc/kubernetes --kubeconfig /etc/kubernetes/admin.conf'],
  async run({ values, positionals }, io) {
    const dir = optional(values, 'dir');
    if (dir && (optional(values, 'kubeconfig') || optional(values, 'out'))) return trustBundles(resolve(dir), values, io);
    if (optional(values, 'kubeconfig') || optional(values, 'api-version') || values['no-unlinked']) throw new PkiError('ERR_ARGUMENT', 'ClusterTrustBundles are built from a PKI directory: give --dir', { field: '--dir' });
    if (dir) {
      const loaded = await loadPkiDirectory(resolve(dir));
      const bundles = clusterBundles(loaded);
      const paths = await writeClusterBundles(resolve(dir), bundles);
      for (const [name, bundle] of Object.entries(bundles)) for (const d of bundle.dropped) io.err(`kubepki: warning: ${name}: dropped CN=${printable(d.certificate.subject.commonName)}: ${printable(d.reason)}`);
      if (values.json) io.out(JSON.stringify({ files: paths }, null, 2));
      else for (const path of paths) io.out(`wrote ${path}`);
      return 0;
    }
    if (positionals.length === 0) throw new PkiError('ERR_ARGUMENT', 'give --dir or one or more certificate files', { field: 'FILE' });
    const bundle = buildCaBundle(await Promise.all(positionals.map(readText)));
    for (const d of bundle.dropped) io.err(`kubepki: warning: dropped CN=${printable(d.certificate.subject.commonName)}: ${printable(d.reason)}`);
    const out = optional(values, 'out');
    if (out) await writeFileAtomic({ path: resolve(out), content: bundle.pem, mode: 0o644 }, { overwrite: true });
    else io.out(bundle.pem.trimEnd());
    return 0;
  },
};

/** `bundle --dir DIR --kubeconfig FILE | --out DIR`: the directory's bundles as ClusterTrustBundle objects, published or written. */
async function trustBundles(dir: string, values: Record<string, unknown>, io: Io): Promise<number> {
  const version = optional(values, 'api-version') ?? 'v1beta1';
  if (!(CLUSTER_TRUST_BUNDLE_VERSIONS as readonly string[]).includes(version)) throw new PkiError('ERR_ARGUMENT', `must be one of ${CLUSTER_TRUST_BUNDLE_VERSIONS.join(', ')}`, { field: '--api-version' });
  const bundles = clusterBundles(await loadPkiDirectory(dir));
  for (const [name, bundle] of Object.entries(bundles)) for (const d of bundle.dropped) io.err(`kubepki: warning: ${name}: dropped CN=${printable(d.certificate.subject.commonName)}: ${printable(d.reason)}`);
  const objects = buildClusterTrustBundles(bundles, { version: version as ClusterTrustBundleVersion, unlinked: values['no-unlinked'] !== true });
  const out = optional(values, 'out');
  const folder = out ? resolve(out) : join(dir, 'cluster-trust-bundles');
  const kubeconfig = optional(values, 'kubeconfig');
  if (kubeconfig) {
    const connection = await kubeconfigFlagConnection(kubeconfig);
    const result = await publishTrustBundles(connection, objects);
    if (result.served) {
      if (values.json) io.out(JSON.stringify(result, null, 2));
      else
        for (const [what, names] of [['created', result.created], ['updated', result.updated], ['unchanged', result.unchanged], ['deleted', result.deleted]] as const)
          for (const name of names) io.out(`${what} clustertrustbundle ${printable(name)} (certificates.k8s.io/${result.version})`);
      return 0;
    }
    const files = await writeClusterTrustBundleFiles(folder, objects);
    const server = `${printable(connection.server)} (${printable(result.serverVersion ?? 'version unknown')})`;
    if (values.json) io.out(JSON.stringify({ served: false, server: connection.server, serverVersion: result.serverVersion ?? null, files }, null, 2));
    else io.out(`kubepki: ${server} does not serve ClusterTrustBundle (certificates.k8s.io); wrote ${files.length} object(s) to ${folder} to apply later`);
    return 0;
  }
  const files = await writeClusterTrustBundleFiles(folder, objects);
  if (values.json) io.out(JSON.stringify({ files }, null, 2));
  else for (const path of files) io.out(`wrote ${path}`);
  return 0;
}

/** What `verify --purpose` checks the chain for (verifyCertificate's purposes but `any`). */
const VERIFY_PURPOSES = ['server', 'client'] as const;

export const verifyVerb: Verb = {
  name: 'verify',
  summary: 'verify a certificate as Go does: chain to the CA bundle, purpose, name or IP, time, revocation',
  usage: 'kubepki verify --ca FILE --purpose server|client [--name HOST | --ip IP] [--intermediates FILE] [--crl FILE] [--time RFC3339] CERT',
  options: {
    ca: { type: 'string', value: 'FILE', description: 'the trusted roots (a PEM bundle)' },
    purpose: { type: 'string', value: 'PURPOSE', description: 'the extended key usage the chain must allow', default: 'server', values: VERIFY_PURPOSES },
    name: { type: 'string', value: 'HOST', description: 'the DNS name the certificate must be valid for' },
    ip: { type: 'string', value: 'IP', description: 'the IP address the certificate must be valid for' },
    intermediates: { type: 'string', value: 'FILE', description: 'intermediate CA certificates (a PEM bundle)' },
    crl: { type: 'string', value: 'FILE', description: 'a revocation list of a CA of the chain', multiple: true },
    time: { type: 'string', value: 'RFC3339', description: 'verify at this time', default: 'now' },
  },
  arguments: [{ name: 'CERT', description: 'the PEM certificate to verify' }],
  example: 'kubepki verify --ca /etc/kubernetes/pki/ca.crt --purpose server --name kubernetes.default.svc /etc/kubernetes/pki/apiserver.crt',
  async run({ values, positionals }, io) {
    const file = positionals[0];
    if (!file) throw new PkiError('ERR_ARGUMENT', 'name the certificate to verify', { field: 'CERT' });
    const purpose = (optional(values, 'purpose') ?? 'server') as (typeof VERIFY_PURPOSES)[number];
    const timeText = optional(values, 'time');
    const time = timeText ? new Date(timeText) : undefined;
    if (time && Number.isNaN(time.getTime())) throw new PkiError('ERR_ARGUMENT', 'is not a time', { field: '--time' });
    const intermediates = optional(values, 'intermediates');
    const result = verifyCertificate(await readText(file), {
      roots: [await readText(required(values, 'ca'))],
      intermediates: intermediates ? [await readText(intermediates)] : [],
      purpose,
      name: optional(values, 'name') ?? optional(values, 'ip'),
      now: time,
      crls: await Promise.all(((values.crl as string[] | undefined) ?? []).map(async (path) => parseRevocationList(await readText(path), path))),
    });
    await crossCheckChain(result.chain, time);
    io.out(`${file}: OK (${result.chain.map((c) => `CN=${printable(c.subject.commonName)}`).join(' <- ')})`);
    return 0;
  },
};

export const revokeVerb: Verb = {
  name: 'revoke',
  summary: "revoke certificates (a decommissioned node's) in a CA's revocation list, pki/<ca>.crl",
  usage: `kubepki revoke --dir DIR [--ca ca|etcd-ca|front-proxy-ca|kubelet-serving-ca] [--ca-pkcs11 ${PKCS11_OPTION_HELP}] (--serial HEX | --cert FILE)...`,
  options: {
    dir: PKI_DIR_OPTION,
    ca: { type: 'string', value: 'NAME', description: 'the CA whose revocation list grows', default: 'ca', values: AUTHORITY_LAYOUT.map((e) => e.name) },
    serial: { type: 'string', value: 'HEX', description: 'the serial number of a certificate to revoke', multiple: true },
    cert: { type: 'string', value: 'FILE', description: 'a certificate to revoke (a PEM file)', multiple: true },
    'ca-pkcs11': PKCS11_OPTION,
  },
  example: 'kubepki revoke --dir /etc/kubernetes --cert nodes/node-3/pki/kubelet-client-current.pem',
  async run({ values }, io) {
    const dir = resolve(required(values, 'dir'));
    const ca = authorityEntry(optional(values, 'ca') ?? 'ca', '--ca').name;
    const pkcs11 = pkcs11Option(values);
    const serials = (values.serial as string[] | undefined) ?? [];
    const certificates = await Promise.all(((values.cert as string[] | undefined) ?? []).map(async (path) => Certificate.from(await readText(path), path)));
    if (serials.length + certificates.length === 0) throw new PkiError('ERR_ARGUMENT', 'name at least one --serial or --cert', { field: '--serial' });
    const { path, crl } = await revokeCertificates(dir, { ca, serials, certificates, ...(pkcs11 ? { pkcs11 } : {}) });
    io.out(`${path}: ${crl.serials.size} revoked`);
    return 0;
  },
};

export const auditVerb: Verb = {
  name: 'audit',
  summary: "report each communication path of a setup as verified, unverified or broken, with the reason and the fix",
  usage: 'kubepki audit --dir DIR [--apiserver-flags FILE] [--kubeconfig FILE] [--kubelet-config FILE] [--kubelet-serving CERT=ADDRESS ...] [--json]',
  options: {
    dir: PKI_DIR_OPTION,
    'apiserver-flags': { type: 'string', value: 'FILE', description: "kube-apiserver's flags as it runs (one per line, or its static Pod manifest)" },
    'kubelet-config': { type: 'string', value: 'FILE', description: "a kubelet's KubeletConfiguration" },
    'kubelet-serving': { type: 'string', value: 'CERT=ADDRESS', description: "a kubelet's serving certificate and the address kube-apiserver reaches it at", multiple: true },
    json: JSON_OPTION,
    kubeconfig: { type: 'string', value: 'FILE', description: "a live cluster to read: its Nodes, kubelet serving CSRs and kube-apiserver's mirror Pod" },
  },
  example: 'kubepki audit --dir /etc/kubernetes --apiserver-flags /etc/kubernetes/manifests/kube-apiserver.yaml',
  async run({ values }, io) {
    const flagsFile = optional(values, 'apiserver-flags');
    const kubeconfig = optional(values, 'kubeconfig');
    const kubeletServing = await Promise.all(
      ((values['kubelet-serving'] as string[] | undefined) ?? []).map(async (entry) => {
        const at = entry.lastIndexOf('=');
        if (at < 1) throw new PkiError('ERR_ARGUMENT', `"${entry}" is not CERT=ADDRESS`, { field: '--kubelet-serving' });
        return { certificate: await readText(entry.slice(0, at)), address: entry.slice(at + 1) };
      }),
    );
    const kubeletConfig = optional(values, 'kubelet-config');
    const report = await auditSetup(resolve(required(values, 'dir')), {
      apiserverFlags: flagsFile ? await readText(flagsFile) : undefined,
      kubeletConfig: kubeletConfig ? await readText(kubeletConfig) : undefined,
      kubeletServing,
      ...(kubeconfig ? { cluster: await kubeconfigFlagConnection(kubeconfig) } : {}),
    });
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else {
      for (const p of report.paths) io.out(`${String(p.path).padEnd(2)} ${p.name.padEnd(50)} ${p.status.toUpperCase()}: ${printable(p.reason)}${p.fix ? `\n   fix: ${printable(p.fix)}` : ''}`);
      for (const f of report.findings) io.out(`${f.severity}: ${printable(f.message)}\n   fix: ${printable(f.fix)}`);
    }
    return report.ok ? 0 : 1;
  },
};

export { rotateCaVerb } from './rotate-ca.js';
