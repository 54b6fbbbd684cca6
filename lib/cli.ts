#!/usr/bin/env node
// The `kubepki` command. It grows with each area of the library; today it inspects PEM files.
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importPrivateKeyPem, publicKeyInfo } from './crypto/keys.js';
import { encodePem, readPemBlocks, type PemBlock } from './crypto/pem.js';
import { PkiError } from './errors.js';
import { Certificate } from './x509/certificate.js';
import { parseCsr } from './x509/csr.js';
import { describeCertificate } from './x509/describe.js';

const USAGE = `usage: kubepki <command> [options]

commands:
  inspect <file> [--json]   describe the certificates, CSRs and keys in a PEM file (never prints key material)
  version                   print the version
  help                      print this text
`;

/** Runs the command with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], out: (line: string) => void = console.log, err: (line: string) => void = console.error): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'inspect':
        return await inspect(rest, out);
      case 'version':
      case '--version':
        out(await version());
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        err(`kubepki: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof PkiError) {
      err(`kubepki: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

async function inspect(args: readonly string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...args], allowPositionals: true, options: { json: { type: 'boolean', default: false } } });
  const file = positionals[0];
  if (!file || positionals.length > 1) throw new PkiError('ERR_ARGUMENT', 'inspect takes exactly one file', { field: 'file' });
  const content = await readFile(file).catch((cause: unknown) => {
    throw new PkiError('ERR_ARGUMENT', 'cannot be read', { field: file, cause });
  });
  const items = [];
  for (const [i, block] of readPemBlocks(content, { field: file }).entries()) items.push(await describeBlock(block, `${file}[${i}]`));
  if (values.json) out(JSON.stringify(items, null, 2));
  else for (const item of items) out(Object.entries(item).map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(', ') : String(value)}`).join('\n  ') + '\n');
  return 0;
}

async function describeBlock(block: PemBlock, field: string): Promise<Record<string, unknown>> {
  switch (block.label) {
    case 'CERTIFICATE':
      return { type: 'certificate', ...describeCertificate(Certificate.from(block.der, field)) };
    case 'CERTIFICATE REQUEST': {
      const csr = await parseCsr(block.der, { field });
      const sans = [...csr.sans.dns.map((v) => `DNS:${v}`), ...csr.sans.ips.map((v) => `IP:${v}`), ...csr.sans.emails.map((v) => `email:${v}`), ...csr.sans.uris.map((v) => `URI:${v}`)];
      return { type: 'certificate request', signature: 'verified', commonName: csr.subject.commonName, organizations: csr.subject.organizations ?? [], sans, keySpec: csr.publicKey.spec };
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

async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `kubepki ${pkg.version}`;
}

// Run only when executed (directly or through npm's bin symlink), not when imported by tests.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
