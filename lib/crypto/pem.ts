import { PkiError } from '../errors.js';
import { assertDer, CRL_LIMITS } from './der.js';

/** The PEM labels kubepki reads. Anything else is refused. */
export const PEM_LABELS = [
  'CERTIFICATE',
  'CERTIFICATE REQUEST',
  'X509 CRL',
  'PRIVATE KEY',
  'EC PRIVATE KEY',
  'RSA PRIVATE KEY',
  'PUBLIC KEY',
  // `openssl ecparam -genkey` writes this before the key; Kubernetes' key parsers skip it (docs/kubernetes-pki.md §3).
  'EC PARAMETERS',
  // Recognised only to be refused with a clear ERR_KEY.
  'ENCRYPTED PRIVATE KEY',
] as const;

/**
 * A PEM label kubepki reads, e.g. CERTIFICATE, PRIVATE KEY or X509 CRL; ENCRYPTED PRIVATE KEY is recognised only to be refused (ERR_KEY).
 *
 * @category Certificates, keys and CSRs
 * @useDeclaredType
 */
export type PemLabel = (typeof PEM_LABELS)[number];

/**
 * One decoded PEM block: its label and DER.
 *
 * @category Certificates, keys and CSRs
 */
export interface PemBlock {
  /** The block's label, e.g. `CERTIFICATE` (the text between `-----BEGIN ` and `-----`). */
  readonly label: PemLabel;
  /** The decoded DER, checked to be one well-formed DER element. */
  readonly der: Uint8Array;
}

/**
 * Limits and naming for reading PEM: input size, block count, and the name used in errors.
 *
 * @category Certificates, keys and CSRs
 */
export interface PemReadOptions {
  /** Largest input accepted, in bytes. Default 4 MiB (a large CA bundle). */
  maxBytes?: number;
  /** Most blocks accepted in one input. Default 1,000. */
  maxBlocks?: number;
  /** Name of the input in error messages. Default `pem`. */
  field?: string;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;
const BEGIN = /^-----BEGIN ([A-Z0-9 ]+)-----$/;
const END = /^-----END ([A-Z0-9 ]+)-----$/;
const BASE64_LINE = /^[A-Za-z0-9+/=]+$/;
const KNOWN = new Set<string>(PEM_LABELS);

/**
 * Reads every PEM block of `input`. Text outside blocks is ignored (as Go's pem.Decode does), but
 * every block must have a known label, a matching END line, no headers (kube-apiserver refuses PEM
 * headers in certificates and CSR status, and encrypted legacy keys carry them), canonical base64 and
 * a well-formed DER body.
 */
export function readPemBlocks(input: string | Uint8Array, options: PemReadOptions = {}): PemBlock[] {
  const field = options.field ?? 'pem';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxBlocks = options.maxBlocks ?? 1000;
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new PkiError('ERR_PEM', `input is ${size} bytes, more than the limit of ${maxBytes}`, { field });
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
  const lines = text.split(/\r?\n/);
  const blocks: PemBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trimEnd();
    if (!line.startsWith('-----')) continue;
    const begin = BEGIN.exec(line);
    if (!begin) throw new PkiError('ERR_PEM', `line ${i + 1} is not a BEGIN line`, { field });
    const label = begin[1]!;
    const at = `${field}[${blocks.length}]`;
    if (!KNOWN.has(label)) throw new PkiError('ERR_PEM', `unknown PEM label "${label}"`, { field: at });
    if (blocks.length >= maxBlocks) throw new PkiError('ERR_PEM', `more than ${maxBlocks} PEM blocks`, { field });
    const body: string[] = [];
    let closed = false;
    for (i++; i < lines.length; i++) {
      const inner = lines[i]!.trim();
      if (inner.startsWith('-----')) {
        const end = END.exec(inner);
        if (!end) throw new PkiError('ERR_PEM', `nested or malformed boundary on line ${i + 1}`, { field: at });
        if (end[1] !== label) throw new PkiError('ERR_PEM', `BEGIN ${label} closed by END ${end[1]}`, { field: at });
        closed = true;
        break;
      }
      if (inner.includes(':')) throw headerError(inner, label, at);
      if (inner === '') continue;
      if (!BASE64_LINE.test(inner)) throw new PkiError('ERR_PEM', `invalid base64 on line ${i + 1}`, { field: at });
      body.push(inner);
    }
    if (!closed) throw new PkiError('ERR_PEM', `BEGIN ${label} has no END line`, { field: at });
    const der = decodeBase64(body.join(''), at);
    assertDer(der, at, label === 'X509 CRL' ? CRL_LIMITS : {});
    blocks.push({ label: label as PemLabel, der });
  }
  if (blocks.length === 0) throw new PkiError('ERR_PEM', 'no PEM block found', { field });
  return blocks;
}

/**
 * Reads the one block of `input` whose label is in `expected`; blocks labelled `EC PARAMETERS` are
 * skipped, any other label is refused.
 */
export function readPemBlock(input: string | Uint8Array, expected: readonly PemLabel[], options: PemReadOptions = {}): PemBlock {
  const field = options.field ?? 'pem';
  const wanted = readPemBlocks(input, options).filter((block) => block.label !== 'EC PARAMETERS' || expected.includes('EC PARAMETERS'));
  for (const block of wanted) {
    if (block.label === 'ENCRYPTED PRIVATE KEY') throw new PkiError('ERR_KEY', 'encrypted private keys are not supported; decrypt it first', { field });
    if (!expected.includes(block.label)) {
      throw new PkiError('ERR_PEM', `expected ${expected.join(' or ')}, found ${block.label}`, { field });
    }
  }
  if (wanted.length !== 1) throw new PkiError('ERR_PEM', `expected one ${expected.join(' or ')} block, found ${wanted.length}`, { field });
  return wanted[0]!;
}

/** Encodes DER as PEM with 64-character lines and a trailing newline. */
export function encodePem(label: PemLabel, der: Uint8Array): string {
  const base64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let body = base64 ? '' : '\n';
  for (let at = 0; at < base64.length; at += 64) body += `${base64.slice(at, at + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

const PEM_BEGIN = Buffer.from('-----BEGIN ', 'latin1');

/** True when `input` looks like PEM text rather than DER bytes. */
export function looksLikePem(input: string | Uint8Array): boolean {
  if (typeof input === 'string') return true;
  // The first 1 KiB searched in place: no copy, no string.
  return Buffer.from(input.buffer, input.byteOffset, Math.min(input.byteLength, 1024)).includes(PEM_BEGIN);
}

function headerError(line: string, label: string, field: string): PkiError {
  if (/^Proc-Type:\s*4,\s*ENCRYPTED/i.test(line)) {
    return new PkiError('ERR_KEY', 'encrypted private keys are not supported; decrypt it first', { field });
  }
  return new PkiError('ERR_PEM', `PEM headers are not accepted in a ${label} block`, { field });
}

function decodeBase64(text: string, field: string): Uint8Array {
  if (text.length === 0) throw new PkiError('ERR_PEM', 'empty PEM block', { field });
  if (text.length % 4 !== 0 || /=[^=]/.test(text) || /={3,}$/.test(text)) {
    throw new PkiError('ERR_PEM', 'base64 body has a bad length or padding', { field });
  }
  const bytes = Buffer.from(text, 'base64');
  // Buffer ignores junk bits in the last quantum; a round trip makes the encoding canonical.
  if (bytes.toString('base64') !== text) throw new PkiError('ERR_PEM', 'base64 body is not canonical', { field });
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
