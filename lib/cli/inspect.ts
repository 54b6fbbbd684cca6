import { readFile } from 'node:fs/promises';
import { importPrivateKeyPem, publicKeyInfo } from '../crypto/keys.js';
import { encodePem, readPemBlocks, type PemBlock } from '../crypto/pem.js';
import { PkiError } from '../errors.js';
import { ioError } from '../cluster/files.js';
import { Certificate } from '../x509/certificate.js';
import { parseCsr } from '../x509/csr.js';
import { describeCertificate, formatSans } from '../x509/describe.js';
import { printable, type Verb } from './io.js';

export const inspectVerb: Verb = {
  name: 'inspect',
  summary: 'describe the certificates, CSRs and keys in a PEM file (never prints key material)',
  usage: 'kubepki inspect FILE [--json]',
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, io) {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new PkiError('ERR_ARGUMENT', 'inspect takes exactly one file', { field: 'FILE' });
    const content = await readFile(file).catch((cause: unknown) => {
      throw ioError(file, 'cannot be read', cause);
    });
    const items = [];
    for (const [i, block] of readPemBlocks(content, { field: file }).entries()) items.push(await describeBlock(block, `${file}[${i}]`));
    if (values.json) io.out(JSON.stringify(items, null, 2));
    // Subjects and SANs come from the file: escaped, so that a name cannot forge or rearrange lines.
    else for (const item of items) io.out(Object.entries(item).map(([key, value]) => `${key}: ${printable(Array.isArray(value) ? value.join(', ') : String(value))}`).join('\n  ') + '\n');
    return 0;
  },
};

async function describeBlock(block: PemBlock, field: string): Promise<Record<string, unknown>> {
  switch (block.label) {
    case 'CERTIFICATE':
      return { type: 'certificate', ...describeCertificate(Certificate.from(block.der, field)) };
    case 'CERTIFICATE REQUEST': {
      const csr = await parseCsr(block.der, { field });
      return { type: 'certificate request', signature: 'verified', commonName: csr.subject.commonName, organizations: csr.subject.organizations ?? [], sans: formatSans(csr.sans), keySpec: csr.publicKey.spec };
    }
    case 'PRIVATE KEY':
    case 'EC PRIVATE KEY':
    case 'RSA PRIVATE KEY':
      return { type: 'private key', format: block.label, keySpec: (await importPrivateKeyPem(encodePem(block.label, block.der), { field })).spec };
    case 'PUBLIC KEY':
      return { type: 'public key', keySpec: (await publicKeyInfo(block.der, { field })).spec };
    default:
      return { type: block.label.toLowerCase() };
  }
}
