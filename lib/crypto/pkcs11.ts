import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { PkiError } from '../errors.js';
import { keyAlgorithm, keySpecOfSpki, type KeyPair, type KeySpec } from './keys.js';

/**
 * Where a key that never leaves a PKCS#11 token lives. This is what a PKI directory stores instead of a
 * key file (`<ca>.pkcs11.json`); the PIN itself is never part of it.
 *
 * @category Certificates, keys and CSRs
 */
export interface Pkcs11KeyReference {
  /** Absolute path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`. */
  readonly module: string;
  /** Label of the token that holds the key. */
  readonly token: string;
  /** Label (CKA_LABEL) of the key pair. A new key gets this label. */
  readonly key?: string;
  /** Or (and) the key pair's CKA_ID, in hex, to load an existing key by id. */
  readonly id?: string;
  /** Where the user PIN is read: an environment variable, or a file (first line). */
  readonly pin:
    | {
        /** Name of the environment variable that holds the PIN. */
        readonly env: string;
      }
    | {
        /** Absolute path of a file whose first line is the PIN. */
        readonly file: string;
      };
}

/**
 * An open, logged-in token: a WebCrypto provider whose keys stay inside it.
 *
 * @category Certificates, keys and CSRs
 */
export interface Pkcs11Token {
  /** The token as a WebCrypto provider: pass it as `{ crypto }` to sign with the keys it holds. */
  readonly crypto: Crypto;
  /** The token's label. */
  readonly label: string;
}

// node-webcrypto-p11's Crypto, as far as kubepki uses it.
interface P11Crypto extends Crypto {
  readonly info?: { name?: string };
  readonly keyStorage: { keys(): Promise<string[]>; getItem(index: string): Promise<CryptoKey> };
  close(): void;
}
type P11Constructor = new (params: { library: string; slot: number; readWrite?: boolean; pin?: string }) => P11Crypto;

const MAX_SLOTS = 64;
const open = new Map<string, Promise<Pkcs11Token>>();

/** Checks a reference read from a file or built by a caller. */
export function validatePkcs11Reference(value: unknown, field = 'pkcs11'): Pkcs11KeyReference {
  const ref = value as Partial<Pkcs11KeyReference> | undefined;
  const text = (name: 'module' | 'token' | 'key' | 'id'): string => {
    const v = ref?.[name];
    if (typeof v !== 'string' || v.length === 0 || v.length > 4096) throw new PkiError('ERR_PKCS11', 'is required (a non-empty string)', { field: `${field}.${name}` });
    return v;
  };
  if (!ref || typeof ref !== 'object') throw new PkiError('ERR_PKCS11', 'must be an object with module, token, key and pin', { field });
  const module = text('module');
  if (!isAbsolute(module)) throw new PkiError('ERR_PKCS11', 'must be an absolute path', { field: `${field}.module` });
  const pin = ref.pin as { env?: unknown; file?: unknown } | undefined;
  const env = typeof pin?.env === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(pin.env) ? pin.env : undefined;
  const file = typeof pin?.file === 'string' && isAbsolute(pin.file) ? pin.file : undefined;
  if (!pin || typeof pin !== 'object' || (env === undefined) === (file === undefined) || Object.keys(pin).length !== 1) {
    throw new PkiError('ERR_PKCS11', 'must be { "env": "VARIABLE" } or { "file": "/absolute/path" }; the PIN itself is never stored', { field: `${field}.pin` });
  }
  if (ref.key === undefined && ref.id === undefined) throw new PkiError('ERR_PKCS11', 'name the key by label (key) or CKA_ID (id)', { field: `${field}.key` });
  const key = ref.key === undefined ? undefined : text('key');
  const id = ref.id === undefined ? undefined : text('id').toLowerCase();
  if (id !== undefined && !/^([0-9a-f]{2})+$/.test(id)) throw new PkiError('ERR_PKCS11', 'must be hexadecimal bytes', { field: `${field}.id` });
  return { module, token: text('token'), ...(key ? { key } : {}), ...(id ? { id } : {}), pin: env ? { env } : { file: file! } };
}

/** Parses the JSON of a `<ca>.pkcs11.json` reference file. */
export function parsePkcs11Reference(json: string, field = 'pkcs11'): Pkcs11KeyReference {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    // JSON.parse quotes the text around the error, which may be a PIN written where it should not be.
    throw new PkiError('ERR_PKCS11', 'is not JSON', { field });
  }
  return validatePkcs11Reference(value, field);
}

export function formatPkcs11Reference(reference: Pkcs11KeyReference): string {
  return `${JSON.stringify(validatePkcs11Reference(reference), null, 2)}\n`;
}

async function readPin(reference: Pkcs11KeyReference, field: string): Promise<string> {
  if ('env' in reference.pin) {
    const pin = process.env[reference.pin.env];
    if (!pin) throw new PkiError('ERR_PKCS11', `the environment variable ${reference.pin.env} holding the PIN is not set`, { field: `${field}.pin` });
    return pin;
  }
  try {
    const pin = (await readFile(reference.pin.file, 'utf8')).split(/\r?\n/)[0]!;
    if (!pin) throw new PkiError('ERR_PKCS11', 'the PIN file is empty', { field: `${field}.pin` });
    return pin;
  } catch (cause) {
    if (cause instanceof PkiError) throw cause;
    throw new PkiError('ERR_PKCS11', `the PIN file ${reference.pin.file} cannot be read`, { field: `${field}.pin`, cause });
  }
}

async function loadProvider(field: string): Promise<P11Constructor> {
  try {
    const module = (await import('node-webcrypto-p11')) as unknown as { Crypto: P11Constructor };
    return module.Crypto;
  } catch (cause) {
    throw new PkiError('ERR_PKCS11', 'PKCS#11 needs the optional package node-webcrypto-p11 (npm install node-webcrypto-p11)', { field, cause });
  }
}

/**
 * Opens the reference's token (found by label among the module's slots) and logs in with the PIN.
 * Tokens stay open for the process (one session per module and token); `closePkcs11Tokens()` ends them.
 */
export function openPkcs11Token(reference: Pkcs11KeyReference, field = 'pkcs11'): Promise<Pkcs11Token> {
  const ref = validatePkcs11Reference(reference, field);
  const id = `${ref.module}\0${ref.token}`;
  let token = open.get(id);
  if (!token) {
    token = login(ref, field);
    open.set(id, token);
    token.catch(() => open.delete(id));
  }
  return token;
}

async function login(ref: Pkcs11KeyReference, field: string): Promise<Pkcs11Token> {
  const P11Crypto = await loadProvider(field);
  const pin = await readPin(ref, field);
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    let probe: P11Crypto;
    try {
      probe = new P11Crypto({ library: ref.module, slot });
    } catch (cause) {
      const message = String((cause as Error)?.message ?? cause);
      if (/not found/i.test(message)) break;
      if (/TOKEN_NOT_RECOGNIZED|TOKEN_NOT_PRESENT/.test(message)) continue;
      throw new PkiError('ERR_PKCS11', `the PKCS#11 module ${ref.module} cannot be loaded`, { field: `${field}.module`, cause });
    }
    const label = probe.info?.name;
    probe.close();
    if (label !== ref.token) continue;
    try {
      return { crypto: new P11Crypto({ library: ref.module, slot, readWrite: true, pin }), label };
    } catch (cause) {
      const code = /CKR_\w+/.exec(String((cause as Error)?.message))?.[0] ?? 'an error';
      throw new PkiError('ERR_PKCS11', `token ${ref.token} refused the login (${code})`, { field: `${field}.pin` });
    }
  }
  throw new PkiError('ERR_PKCS11', `no token labelled ${ref.token} in ${ref.module}`, { field: `${field}.token` });
}

/**
 * Closes every token opened by this process.
 *
 * @category Certificates, keys and CSRs
 */
export async function closePkcs11Tokens(): Promise<void> {
  const tokens = [...open.values()];
  open.clear();
  for (const token of await Promise.allSettled(tokens)) if (token.status === 'fulfilled') (token.value.crypto as P11Crypto).close();
}

const nameOf = (reference: Pkcs11KeyReference): string => (reference.key ? `labelled ${reference.key}` : `with id ${reference.id}`);

/** The key pair labelled `reference.key` (and/or with CKA_ID `reference.id`) in the token, or undefined when there is none. */
export async function findPkcs11KeyPair(reference: Pkcs11KeyReference, field = 'pkcs11'): Promise<KeyPair | undefined> {
  const token = await openPkcs11Token(reference, field);
  const storage = (token.crypto as P11Crypto).keyStorage;
  let privateKey: CryptoKey | undefined;
  let publicKey: CryptoKey | undefined;
  for (const index of await storage.keys()) {
    const key = await storage.getItem(index);
    if (reference.key !== undefined && (key.algorithm as { label?: string }).label !== reference.key) continue;
    if (reference.id !== undefined && !index.endsWith(`-${reference.id}`)) continue;
    if (key.type === 'private') privateKey = key;
    if (key.type === 'public') publicKey = key;
  }
  if (!privateKey && !publicKey) return undefined;
  if (!privateKey || !publicKey) throw new PkiError('ERR_PKCS11', `token ${reference.token} holds only the ${privateKey ? 'private' : 'public'} key ${nameOf(reference)}`, { field: `${field}.key` });
  const spki = new Uint8Array(await token.crypto.subtle.exportKey('spki', publicKey));
  return { spec: keySpecOfSpki(spki, `${field}.key`), privateKey, publicKey };
}

/**
 * Like findPkcs11KeyPair, but a missing key is ERR_PKCS11.
 *
 * @category Certificates, keys and CSRs
 */
export async function loadPkcs11KeyPair(reference: Pkcs11KeyReference, field = 'pkcs11'): Promise<KeyPair> {
  const pair = await findPkcs11KeyPair(reference, field);
  if (!pair) throw new PkiError('ERR_PKCS11', `token ${reference.token} holds no key ${nameOf(reference)}`, { field: `${field}.key` });
  return pair;
}

/**
 * Generates a key pair inside the token, private key sensitive and not extractable, labelled
 * `reference.key`; a key of that label already there is ERR_EXISTS (use it with loadPkcs11KeyPair).
 *
 * @category Certificates, keys and CSRs
 */
export async function generatePkcs11KeyPair(reference: Pkcs11KeyReference, spec: KeySpec, field = 'pkcs11'): Promise<KeyPair> {
  if (!reference.key) throw new PkiError('ERR_PKCS11', 'a new key needs a label (key)', { field: `${field}.key` });
  if (spec === 'ed25519') throw new PkiError('ERR_PKCS11', 'PKCS#11 keys are ECDSA or RSA; Ed25519 is not supported by the provider', { field: 'keySpec' });
  if (await findPkcs11KeyPair(reference, field)) throw new PkiError('ERR_EXISTS', `token ${reference.token} already holds a key ${nameOf(reference)}`, { field: `${field}.key` });
  const token = await openPkcs11Token(reference, field);
  try {
    const pair = (await token.crypto.subtle.generateKey({ ...keyAlgorithm(spec), label: reference.key, token: true, sensitive: true } as unknown as Algorithm, false, ['sign', 'verify'])) as CryptoKeyPair;
    return { spec, privateKey: pair.privateKey, publicKey: pair.publicKey };
  } catch (cause) {
    throw new PkiError('ERR_PKCS11', `token ${reference.token} could not generate a ${spec} key`, { field: `${field}.key`, cause });
  }
}
