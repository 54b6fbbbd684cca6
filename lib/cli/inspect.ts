import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importPrivateKeyPem, publicKeyInfo } from '../crypto/keys.js';
import { encodePem, looksLikePem, readPemBlocks, type PemBlock } from '../crypto/pem.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../crypto/signature-algorithms.js';
import { PkiError } from '../errors.js';
import { ioError } from '../cluster/files.js';
import { Certificate } from '../x509/certificate.js';
import { parseCsr } from '../x509/csr.js';
import { describeCertificate, formatSans } from '../x509/describe.js';
import { JSON_OPTION, printable, type Verb } from './io.js';

const DAY_MS = 24 * 3600 * 1000;

export const inspectVerb: Verb = {
  name: 'inspect',
  summary: 'describe the certificates, CSRs and keys in a PEM or DER file (never prints key material)',
  usage: 'kubepki inspect FILE [--json]',
  options: { json: JSON_OPTION },
  arguments: [{ name: 'FILE', description: 'a PEM file (any number of blocks) or one DER certificate, CSR, PKCS#8 private key or public key' }],
  example: ['kubepki inspect /etc/kubernetes/pki/apiserver.crt', 'kubepki inspect node.csr --json'],
  async run({ values, positionals }, io) {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new PkiError('ERR_ARGUMENT', 'inspect takes exactly one file', { field: 'FILE' });
    const content = await readFile(file).catch((cause: unknown) => {
      throw ioError(file, 'cannot be read', cause);
    });
    // DER is one ASN.1 SEQUENCE (0x30); anything else is read as PEM, whose errors say what is wrong.
    const blocks = content[0] === 0x30 && !looksLikePem(content) ? [await derBlock(content, file)] : readPemBlocks(content, { field: file });
    const items = [];
    for (const [i, block] of blocks.entries()) items.push(await describeBlock(block, `${file}[${i}]`));
    if (values.json) io.out(JSON.stringify(items, null, 2));
    // Subjects and SANs come from the file: escaped, so that a name cannot forge or rearrange lines.
    else for (const item of items) io.out(Object.entries(item).map(([key, value]) => `${key}: ${printable(Array.isArray(value) ? value.join(', ') : String(value))}`).join('\n  ') + '\n');
    return 0;
  },
};

/** A DER file as the block it would be in PEM: the first of certificate, CSR, private key, public key that parses. */
async function derBlock(der: Uint8Array, field: string): Promise<PemBlock> {
  const readers: [PemBlock['label'], (der: Uint8Array) => unknown][] = [
    ['CERTIFICATE', (d) => Certificate.from(d, field)],
    ['CERTIFICATE REQUEST', (d) => parseCsr(d, { field })],
    ['PRIVATE KEY', (d) => importPrivateKeyPem(encodePem('PRIVATE KEY', d), { field })],
    ['PUBLIC KEY', (d) => publicKeyInfo(d, { field })],
  ];
  for (const [label, read] of readers) {
    try {
      await read(der);
      return { label, der } as PemBlock;
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
    }
  }
  throw new PkiError('ERR_DER', 'is neither PEM nor a DER certificate, certificate request, PKCS#8 private key or public key', { field });
}

/** `AB:CD:...`, as openssl prints fingerprints and key identifiers. */
const colonHex = (bytes: Uint8Array): string => (Buffer.from(bytes).toString('hex').toUpperCase().match(/../g) ?? []).join(':');

function certificateFields(certificate: Certificate, now = new Date()): Record<string, unknown> {
  const oid = certificate.signatureAlgorithmOid;
  return {
    type: 'certificate',
    ...describeCertificate(certificate),
    daysLeft: Math.floor((certificate.notAfter.getTime() - now.getTime()) / DAY_MS),
    signatureAlgorithm: ACCEPTED_SIGNATURE_ALGORITHMS.get(oid)?.name ?? oid,
    subjectKeyIdentifier: certificate.subjectKeyId ? colonHex(certificate.subjectKeyId) : null,
    authorityKeyIdentifier: certificate.authorityKeyId ? colonHex(certificate.authorityKeyId) : null,
    sha256Fingerprint: colonHex(createHash('sha256').update(certificate.der).digest()),
  };
}

async function describeBlock(block: PemBlock, field: string): Promise<Record<string, unknown>> {
  switch (block.label) {
    case 'CERTIFICATE':
      return certificateFields(Certificate.from(block.der, field));
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
