// Creates a cluster CA, a kubelet client certificate and a kubelet serving certificate for one node,
// writes them to the folder given on the command line, and prints a summary of each.
//
//   npx tsx examples/issue-node-certs.ts <dir> [--node node-1] [--ip 10.0.0.11] [--dns node-1.cluster.example] [--key ecdsa-p256]
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createCertificateAuthority,
  describeCertificate,
  exportPrivateKeyPem,
  generateKeyPair,
  isKeySpec,
  issueCertificate,
  nodeSubject,
  PkiError,
  PROFILES,
  type Certificate,
} from '../lib/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    node: { type: 'string', default: 'node-1' },
    ip: { type: 'string', default: '10.0.0.11' },
    dns: { type: 'string' },
    key: { type: 'string', default: 'ecdsa-p256' },
    force: { type: 'boolean', default: false },
  },
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: npx tsx examples/issue-node-certs.ts <dir> [--node NAME] [--ip IP] [--dns NAME] [--key SPEC] [--force]');
  process.exit(2);
}
const keySpec = values.key;
if (!isKeySpec(keySpec)) throw new PkiError('ERR_ARGUMENT', `unknown key spec ${keySpec}`, { field: '--key' });
const nodeName = values.node;
const dnsName = values.dns ?? nodeName;

const ca = await createCertificateAuthority({ commonName: 'kubernetes', keySpec });
const clientKey = await generateKeyPair(keySpec);
const client = await issueCertificate({
  profile: PROFILES.kubeletClient,
  subject: nodeSubject(nodeName),
  publicKey: clientKey.publicKey,
  issuer: ca,
});
const servingKey = await generateKeyPair(keySpec);
const serving = await issueCertificate({
  profile: PROFILES.kubeletServing,
  subject: nodeSubject(nodeName),
  sans: { dns: [dnsName], ips: [values.ip] },
  publicKey: servingKey.publicKey,
  issuer: ca,
});

const files: [string, string, number][] = [
  ['ca.crt', ca.certificate.pem, 0o644],
  ['ca.key', await exportPrivateKeyPem(ca.keyPair), 0o600],
  ['kubelet-client.crt', client.pem, 0o644],
  ['kubelet-client.key', await exportPrivateKeyPem(clientKey), 0o600],
  ['kubelet.crt', serving.pem, 0o644],
  ['kubelet.key', await exportPrivateKeyPem(servingKey), 0o600],
];
await mkdir(dir, { recursive: true, mode: 0o755 });
const existing = files.map(([name]) => name).filter((name) => existsSync(join(dir, name)));
if (existing.length > 0 && !values.force) {
  console.error(`refusing to overwrite ${existing.join(', ')} in ${dir} (pass --force)`);
  process.exit(1);
}
// Keys are created 0600 from the first byte; `wx` makes a file that appeared meanwhile an error, not an overwrite.
for (const [name, content, mode] of files) {
  // Removing first means an overwritten key never keeps the wider mode of the file it replaces.
  if (values.force) await rm(join(dir, name), { force: true });
  await writeFile(join(dir, name), content, { mode, flag: 'wx' });
}

const show = (label: string, certificate: Certificate): void => {
  const s = describeCertificate(certificate);
  console.log(`${label}`);
  console.log(`  subject:   ${s.subject}`);
  console.log(`  issuer:    ${s.issuer}`);
  console.log(`  SANs:      ${s.sans.join(', ') || '(none)'}`);
  console.log(`  usages:    ${[...s.keyUsages, ...s.extendedKeyUsages].join(', ')}${s.isCA ? ' (CA)' : ''}`);
  console.log(`  key:       ${s.keySpec}`);
  console.log(`  validity:  ${s.notBefore} .. ${s.notAfter}`);
};
show(`ca.crt`, ca.certificate);
show(`kubelet-client.crt`, client);
show(`kubelet.crt`, serving);
console.log(`wrote ${files.length} files to ${dir}`);
