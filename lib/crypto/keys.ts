import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, webcrypto, type JsonWebKey as NodeJsonWebKey } from 'node:crypto';
import { PkiError } from '../errors.js';
import { assertDer, children, concatBytes, contentOf, decodeOid, encodeElement, encodeUnsignedInteger, readElement, type DerElement } from './der.js';
import { encodePem, looksLikePem, readPemBlock, type PemLabel } from './pem.js';
import { resolveCrypto, type CryptoOptions } from './provider.js';
import { signingAlgorithmOf } from './signature-algorithms.js';

/** The key types kubepki generates and accepts. */
export const KEY_SPECS = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const;
/**
 * A key type kubepki generates and certifies: ecdsa-p256 (the default), ecdsa-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519.
 *
 * @category Certificates, keys and CSRs
 * @useDeclaredType
 */
export type KeySpec = (typeof KEY_SPECS)[number];

/** ECDSA P-256: what the kubelet generates and kubepki's default. */
export const DEFAULT_KEY_SPEC: KeySpec = 'ecdsa-p256';

/**
 * A key pair and the spec it was made or loaded as.
 *
 * @category Certificates, keys and CSRs
 */
export interface KeyPair {
  /**
   * The key type, e.g. `ecdsa-p256`: what {@link exportPrivateKeyPem} and the issuers read to pick the
   * signature algorithm.
   */
  readonly spec: KeySpec;
  /**
   * The private key, a WebCrypto key of the provider that made or imported it (a PKCS#11 token's key never
   * leaves the token).
   */
  readonly privateKey: CryptoKey;
  /** The public key that goes into a CSR or a certificate. */
  readonly publicKey: CryptoKey;
}

/**
 * How a private key is written: PKCS#8 `PRIVATE KEY`, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`.
 *
 * @category Certificates, keys and CSRs
 */
export type PrivateKeyFormat = 'pkcs8' | 'sec1' | 'pkcs1';

/**
 * Options of generateKeyPair and importPrivateKeyPem: the WebCrypto provider and whether the private key is extractable.
 *
 * @category Certificates, keys and CSRs
 */
export interface KeyOptions extends CryptoOptions {
  /** Whether the private key may be exported later. Default true: kubepki writes keys to files. */
  extractable?: boolean;
}

const PRIVATE_KEY_LABELS: readonly PemLabel[] = ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY'];
const FORMAT_OF_LABEL = { 'PRIVATE KEY': 'pkcs8', 'EC PRIVATE KEY': 'sec1', 'RSA PRIVATE KEY': 'pkcs1' } as const;
const LABEL_OF_FORMAT = { pkcs8: 'PRIVATE KEY', sec1: 'EC PRIVATE KEY', pkcs1: 'RSA PRIVATE KEY' } as const;

/**
 * True when `value` names a key type kubepki generates and accepts: `ecdsa-p256`, `ecdsa-p384`, `rsa-2048`,
 * `rsa-3072`, `rsa-4096` or `ed25519`. For checking a key type read from a flag or a file.
 *
 * @category Certificates, keys and CSRs
 */
export function isKeySpec(value: unknown): value is KeySpec {
  return typeof value === 'string' && (KEY_SPECS as readonly string[]).includes(value);
}

const rsa = (bits: number): RsaHashedKeyGenParams => ({
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: bits,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
});

// Per spec: how the key is generated and imported (which also chooses how it signs: signingAlgorithmOf).
const KEY_ALGORITHMS: Record<KeySpec, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  'ecdsa-p256': { name: 'ECDSA', namedCurve: 'P-256' } as EcKeyGenParams,
  'ecdsa-p384': { name: 'ECDSA', namedCurve: 'P-384' } as EcKeyGenParams,
  'rsa-2048': rsa(2048),
  'rsa-3072': rsa(3072),
  'rsa-4096': rsa(4096),
  ed25519: { name: 'Ed25519' },
};

/** The WebCrypto algorithm a key of `spec` is generated and imported with. */
export function keyAlgorithm(spec: KeySpec): RsaHashedKeyGenParams | EcKeyGenParams | Algorithm {
  return KEY_ALGORITHMS[spec];
}

/** The signature algorithm a key of `spec` signs certificates and CSRs with (the hash of RSA keys is bound at import). */
export function signatureAlgorithm(spec: KeySpec): Algorithm | EcdsaParams {
  return signingAlgorithmOf(keyAlgorithm(spec))!.webCrypto;
}

/** True when `spec` is an RSA key (which adds keyEncipherment to a leaf certificate's key usages). */
export function isRsa(spec: KeySpec): boolean {
  return spec.startsWith('rsa-');
}

/**
 * Generates a key pair of `spec` (default ECDSA P-256) with the given provider.
 *
 * @category Certificates, keys and CSRs
 */
export async function generateKeyPair(spec: KeySpec = DEFAULT_KEY_SPEC, options: KeyOptions = {}): Promise<KeyPair> {
  if (!isKeySpec(spec)) throw new PkiError('ERR_KEY', `unknown key spec "${String(spec)}"; use one of ${KEY_SPECS.join(', ')}`, { field: 'spec' });
  const crypto = resolveCrypto(options);
  if (crypto === globalThis.crypto && TO_CRYPTO_KEY && !isRsa(spec)) return inThreadKeyPair(spec, options.extractable ?? true);
  let pair: CryptoKeyPair;
  try {
    pair = (await crypto.subtle.generateKey(keyAlgorithm(spec), options.extractable ?? true, ['sign', 'verify'])) as CryptoKeyPair;
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `the provider could not generate a ${spec} key`, { field: 'spec', cause });
  }
  return { spec, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

// WebCrypto's generateKey makes the key in the thread pool: for an EC or Ed25519 key (20-30 µs of work) the
// round trip costs more than the work. Where node:crypto can hand a KeyObject over as a CryptoKey (Node
// 22.10 and later), such keys are made in this thread; RSA keys (tens of milliseconds each) stay in the pool.
const TO_CRYPTO_KEY = typeof (KeyObject.prototype as { toCryptoKey?: unknown }).toCryptoKey === 'function';

type ToCryptoKey = (algorithm: Algorithm | EcKeyImportParams, extractable: boolean, usages: KeyUsage[]) => CryptoKey;

/** The node:crypto keys behind a pair made in this thread, and whether its private key may be exported. */
export interface NativeKeys {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly extractable: boolean;
}

const nativePairs = new WeakMap<KeyPair, NativeKeys>();

/** The node:crypto keys of a pair generateKeyPair made in this thread; undefined for any other pair. */
export function nativeKeysOf(pair: KeyPair): NativeKeys | undefined {
  return nativePairs.get(pair);
}

/**
 * An ECDSA or Ed25519 key of `spec` (its WebCrypto algorithm names the curve), made with node:crypto.
 * node:crypto checks a key as it becomes a CryptoKey (for an EC private key a scalar multiplication,
 * about 24 µs, more than half the generation): each CryptoKey is made when it is first read, so a pair
 * that only goes through kubepki (into a CSR, a certificate, a key file) never pays for the check.
 */
function inThreadKeyPair(spec: KeySpec, extractable: boolean): KeyPair {
  const algorithm = keyAlgorithm(spec);
  let keys: { privateKey: KeyObject; publicKey: KeyObject };
  try {
    keys = algorithm.name === 'Ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: (algorithm as EcKeyGenParams).namedCurve });
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `node:crypto could not generate a ${spec} key`, { field: 'spec', cause });
  }
  const madeWhenRead = (key: KeyObject, usable: boolean, usages: KeyUsage[]): PropertyDescriptor => {
    let made: CryptoKey | undefined;
    return { enumerable: true, get: () => (made ??= (key as KeyObject & { toCryptoKey: ToCryptoKey }).toCryptoKey(algorithm, usable, usages)) };
  };
  // As WebCrypto's generateKey: the public key is always extractable, the private one as asked.
  const pair = Object.defineProperties({ spec }, { privateKey: madeWhenRead(keys.privateKey, extractable, ['sign']), publicKey: madeWhenRead(keys.publicKey, true, ['verify']) }) as KeyPair;
  nativePairs.set(pair, { ...keys, extractable });
  return pair;
}

// createPublicKey costs a fraction of a millisecond; a CA's key and the keys being checked recur, so
// parsed public keys are kept (a small, bounded cache keyed by the DER bytes).
const publicKeys = new Map<string, KeyObject>();

/** A Node KeyObject for DER SubjectPublicKeyInfo (cached); ERR_KEY when it does not parse. */
export function publicKeyObject(spki: Uint8Array, field = 'publicKey'): KeyObject {
  const id = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength).toString('base64');
  let key = publicKeys.get(id);
  if (!key) {
    key = uncachedPublicKeyObject(spki, field);
    if (publicKeys.size >= 1024) publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(id, key);
  }
  return key;
}

/** {@link publicKeyObject} for a key seen once: made each time, never cached. */
export function uncachedPublicKeyObject(spki: Uint8Array, field = 'publicKey'): KeyObject {
  return keyObjectOfParts(readSpki(spki), field);
}

// Keys go to OpenSSL as JWKs: OpenSSL 3.0 (Node 20) decodes a DER SubjectPublicKeyInfo in 100-140 µs, a
// JWK in 60 µs; OpenSSL 3.5 (Node 22.23, 24.22) takes 13-17 µs either way (the CA step is no faster with
// the DER). OpenSSL before 3.5 checks an EC key imported from a JWK by multiplying it by the group order,
// about 30 µs that P-256 and P-384 (of cofactor 1) do not need: there a key read once for one verification
// goes in as its bare point through WebCrypto's raw import, which checks only that it is on the curve
// (53 µs); from 3.5 on, WebCrypto's wrapping costs more than the JWK import (29 µs against 17 µs).
const SLOW_EC_IMPORT = /^3\.[0-4]\./.test(process.versions.openssl ?? '');

function keyObjectOfParts(parts: SpkiParts | undefined, field: string): KeyObject {
  try {
    // Only the forms Go's crypto/x509 parses (named P-256/P-384 with an uncompressed point, RSA with NULL
    // parameters, Ed25519): anything else never reaches OpenSSL's decoder.
    if (!parts) throw new PkiError('ERR_KEY', 'not a SubjectPublicKeyInfo of a supported key (RSA, ECDSA P-256 or P-384 uncompressed, Ed25519)', { field });
    if (parts.kty === 'RSA' && !isF4(parts.e)) throw new PkiError('ERR_KEY', 'the RSA public exponent is not 65537; only 65537 is accepted', { field });
    return createPublicKey({ key: jwkOf(parts), format: 'jwk' });
  } catch (cause) {
    if (cause instanceof PkiError) throw cause;
    throw new PkiError('ERR_KEY', 'not a valid SubjectPublicKeyInfo', { field, cause });
  }
}

/** A public key read once, for verifying: {@link uncachedPublicKeyObject}, by the cheaper import on this OpenSSL. */
export async function newPublicKey(spki: Uint8Array, field = 'publicKey'): Promise<KeyObject> {
  const parts = readSpki(spki);
  if (parts?.kty !== 'EC' || !SLOW_EC_IMPORT) return keyObjectOfParts(parts, field);
  try {
    // A KeyObject, not the CryptoKey: node:crypto deprecates CryptoKeys as its keys (DEP0203, Node 24).
    return KeyObject.from(await webcrypto.subtle.importKey('raw', parts.point, { name: 'ECDSA', namedCurve: parts.crv }, false, ['verify']));
  } catch (cause) {
    throw new PkiError('ERR_KEY', 'not a valid SubjectPublicKeyInfo', { field, cause });
  }
}

const CURVES: Readonly<Record<string, { crv: 'P-256' | 'P-384'; size: number; order: bigint }>> = {
  '1.2.840.10045.3.1.7': { crv: 'P-256', size: 32, order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  '1.3.132.0.34': { crv: 'P-384', size: 48, order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n },
};
const b64url = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');

/** The key inside a SubjectPublicKeyInfo of a supported form, as views into its bytes. */
type SpkiParts =
  | { readonly kty: 'EC'; readonly crv: 'P-256' | 'P-384'; readonly size: number; /** 0x04, x, y */ readonly point: Uint8Array }
  | { readonly kty: 'RSA'; /** unsigned, big-endian */ readonly n: Uint8Array; readonly e: Uint8Array }
  | { readonly kty: 'OKP'; readonly x: Uint8Array };

/**
 * The key of a P-256, P-384, RSA or Ed25519 SubjectPublicKeyInfo in its plain form (a named curve and an
 * uncompressed point; RSA with NULL parameters and positive INTEGERs; Ed25519 without parameters), or
 * undefined for anything else.
 */
function readSpki(spki: Uint8Array): SpkiParts | undefined {
  try {
    const top = assertDer(spki, 'publicKey');
    const [algorithm, bits, extra] = top.tag === 0x30 ? children(spki, top, 'publicKey') : [];
    if (algorithm?.tag !== 0x30 || bits?.tag !== 0x03 || extra || spki[bits.start] !== 0) return undefined;
    const [oid, parameters, more] = children(spki, algorithm, 'publicKey');
    if (oid?.tag !== 0x06 || more) return undefined;
    const key = spki.subarray(bits.start + 1, bits.end);
    switch (decodeOid(spki.subarray(oid.start, oid.end), 'publicKey')) {
      case '1.2.840.10045.2.1': {
        const curve = parameters?.tag === 0x06 ? CURVES[decodeOid(spki.subarray(parameters.start, parameters.end), 'publicKey')] : undefined;
        if (!curve || key.length !== 1 + 2 * curve.size || key[0] !== 0x04) return undefined;
        return { kty: 'EC', crv: curve.crv, size: curve.size, point: key };
      }
      case '1.2.840.113549.1.1.1': {
        if (parameters?.tag !== 0x05 || parameters.end !== parameters.start) return undefined;
        const rsa = readElement(key, 0, 'publicKey');
        const [n, e, rest] = rsa.tag === 0x30 && rsa.end === key.length ? children(key, rsa, 'publicKey') : [];
        if (n?.tag !== 0x02 || e?.tag !== 0x02 || rest || (key[n.start]! & 0x80) || (key[e.start]! & 0x80)) return undefined;
        const unsigned = (start: number, end: number): Uint8Array => key.subarray(key[start] === 0 ? start + 1 : start, end);
        return { kty: 'RSA', n: unsigned(n.start, n.end), e: unsigned(e.start, e.end) };
      }
      case '1.3.101.112':
        return parameters === undefined && key.length === 32 ? { kty: 'OKP', x: key } : undefined;
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function jwkOf(parts: SpkiParts): NodeJsonWebKey {
  switch (parts.kty) {
    case 'EC':
      return { kty: 'EC', crv: parts.crv, x: b64url(parts.point.subarray(1, 1 + parts.size)), y: b64url(parts.point.subarray(1 + parts.size)) };
    case 'RSA':
      return { kty: 'RSA', n: b64url(parts.n), e: b64url(parts.e) };
    case 'OKP':
      return { kty: 'OKP', crv: 'Ed25519', x: b64url(parts.x) };
  }
}

// RSA keys must have the public exponent 65537 (F4), as every key generator writes it: an exponent of 1
// (or any small one) makes a "signature" anyone can forge without a private key.
const F4 = Uint8Array.of(0x01, 0x00, 0x01);
const isF4 = (exponent: Uint8Array): boolean => Buffer.from(exponent).equals(F4);

/** The spec of a public key given as DER SubjectPublicKeyInfo; ERR_KEY for anything kubepki does not support. */
export function keySpecOfSpki(spki: Uint8Array, field = 'publicKey'): KeySpec {
  return keySpecOfKeyObject(publicKeyObject(spki, field), field);
}

/** The spec of a Node KeyObject (private or public). */
export function keySpecOfKeyObject(key: KeyObject, field: string): KeySpec {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return 'ecdsa-p256';
      if (details.namedCurve === 'secp384r1') return 'ecdsa-p384';
      throw new PkiError('ERR_KEY', `unsupported elliptic curve ${details.namedCurve ?? '(explicit parameters)'}; use P-256 or P-384`, { field });
    case 'rsa': {
      if (details.publicExponent !== 65537n) throw new PkiError('ERR_KEY', `the RSA public exponent is ${details.publicExponent ?? 'unknown'}; only 65537 is accepted`, { field });
      const spec = `rsa-${details.modulusLength}`;
      if (isKeySpec(spec)) return spec;
      throw new PkiError('ERR_KEY', `unsupported RSA modulus of ${details.modulusLength} bits; use 2048, 3072 or 4096`, { field });
    }
    case 'ed25519':
      return 'ed25519';
    default:
      throw new PkiError('ERR_KEY', `unsupported key type ${key.asymmetricKeyType ?? 'unknown'}`, { field });
  }
}

/**
 * Exports a private key as PEM; `format` defaults to what Kubernetes writes: PKCS#1 for RSA, SEC1 for ECDSA, PKCS#8 for Ed25519.
 *
 * @category Certificates, keys and CSRs
 */
export async function exportPrivateKeyPem(pair: KeyPair, format?: PrivateKeyFormat, options: CryptoOptions = {}): Promise<string> {
  const chosen = format ?? defaultPrivateKeyFormat(pair.spec);
  if (!privateKeyFormats(pair.spec).includes(chosen)) {
    throw new PkiError('ERR_ARGUMENT', `a ${pair.spec} key cannot be written as ${chosen}`, { field: 'format' });
  }
  const crypto = resolveCrypto(options);
  const native = crypto.subtle === webcrypto.subtle ? nativePrivateKeyDer(pair, chosen) : undefined;
  if (native) return encodePem(LABEL_OF_FORMAT[chosen], native);
  let pkcs8: ArrayBuffer;
  try {
    pkcs8 = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
  } catch (cause) {
    throw new PkiError('ERR_KEY', 'the provider refused to export the private key (not extractable?)', { field: 'privateKey', cause });
  }
  if (chosen === 'pkcs8') return encodePem('PRIVATE KEY', new Uint8Array(pkcs8));
  return encodePem(LABEL_OF_FORMAT[chosen], unwrapPkcs8(new Uint8Array(pkcs8), chosen));
}

// node:crypto writes every format itself, synchronously: SEC1 and PKCS#1 through OpenSSL's legacy
// encoders (about 13 µs), where WebCrypto's PKCS#8 export costs about 185 µs of CPU, half of it in the
// thread pool.
function nativePrivateKeyDer(pair: KeyPair, format: PrivateKeyFormat): Uint8Array | undefined {
  const native = nativeKeysOf(pair);
  if (native ? !native.extractable : !pair.privateKey.extractable) return undefined;
  try {
    return new Uint8Array((native?.privateKey ?? KeyObject.from(pair.privateKey as webcrypto.CryptoKey)).export({ format: 'der', type: format }));
  } catch {
    return undefined;
  }
}

/**
 * PKCS#8 to the traditional encoding without a round trip through OpenSSL's decoders (which cost more
 * than the key generation): PKCS#1 is the wrapped key as is; SEC1 is the wrapped ECPrivateKey with the
 * curve OID put back as its [0] parameters, byte for byte what OpenSSL writes.
 */
function unwrapPkcs8(pkcs8: Uint8Array, format: 'sec1' | 'pkcs1'): Uint8Array {
  const field = 'privateKey';
  const [, algorithm, wrapped] = children(pkcs8, readElement(pkcs8, 0, field), field);
  if (!algorithm || !wrapped || wrapped.tag !== 0x04) throw new PkiError('ERR_KEY', 'not a PKCS#8 private key', { field });
  const inner = pkcs8.subarray(wrapped.start, wrapped.end);
  if (format === 'pkcs1') return Uint8Array.from(inner);
  const curve = children(pkcs8, algorithm, field)[1];
  const parts = children(inner, readElement(inner, 0, field), field);
  if (!curve || curve.tag !== 0x06 || parts.length < 2) throw new PkiError('ERR_KEY', 'not a PKCS#8 EC private key with a named curve', { field });
  if (parts.some((part) => part.tag === 0xa0)) return Uint8Array.from(inner);
  const bytes = (from: number, to: number): Uint8Array => inner.subarray(from, to);
  const [version, secret, ...rest] = parts;
  return encodeElement(
    0x30,
    concatBytes([bytes(version!.headerStart, secret!.end), encodeElement(0xa0, pkcs8.subarray(curve.headerStart, curve.end)), ...rest.map((part) => bytes(part.headerStart, part.end))]),
  );
}

/** The encodings a private key of `spec` can be written in: PKCS#8 always, SEC1 for ECDSA, PKCS#1 for RSA. */
export function privateKeyFormats(spec: KeySpec): PrivateKeyFormat[] {
  if (isRsa(spec)) return ['pkcs8', 'pkcs1'];
  return spec === 'ed25519' ? ['pkcs8'] : ['pkcs8', 'sec1'];
}

export function defaultPrivateKeyFormat(spec: KeySpec): PrivateKeyFormat {
  if (isRsa(spec)) return 'pkcs1';
  return spec === 'ed25519' ? 'pkcs8' : 'sec1';
}

/**
 * Imports a private key from PEM (`PRIVATE KEY`, `EC PRIVATE KEY` or `RSA PRIVATE KEY`; an `EC
 * PARAMETERS` block beside it is skipped) into the provider, with its public key.
 *
 * @category Certificates, keys and CSRs
 */
export async function importPrivateKeyPem(pem: string | Uint8Array, options: KeyOptions & { field?: string } = {}): Promise<KeyPair> {
  const field = options.field ?? 'privateKey';
  const block = readPemBlock(pem, [...PRIVATE_KEY_LABELS], { field });
  const format = FORMAT_OF_LABEL[block.label as keyof typeof FORMAT_OF_LABEL];
  assertKeyStructure(block.der, format, block.label, field);
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: Buffer.from(block.der), format: 'der', type: format });
  } catch (cause) {
    throw new PkiError('ERR_KEY', `${block.label} block is not a valid ${format} private key`, { field, cause });
  }
  const spec = keySpecOfKeyObject(keyObject, field);
  if (spec === 'ecdsa-p256' || spec === 'ecdsa-p384') assertEcPublicKeyMatches(keyObject, spec, block.label, field);
  const pkcs8 = keyObject.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(keyObject).export({ format: 'der', type: 'spki' });
  const crypto = resolveCrypto(options);
  try {
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, keyAlgorithm(spec), options.extractable ?? true, ['sign']);
    const publicKey = await crypto.subtle.importKey('spki', spki, keyAlgorithm(spec), true, ['verify']);
    return { spec, privateKey, publicKey };
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `the provider could not import the ${spec} key`, { field, cause });
  }
}

// An EC private key may carry its public key; OpenSSL takes it as it is, and WebCrypto's import then
// refuses the pair. A public key that is not the private scalar times the base point is a damaged key.
function assertEcPublicKeyMatches(keyObject: KeyObject, spec: 'ecdsa-p256' | 'ecdsa-p384', label: string, field: string): void {
  const jwk = keyObject.export({ format: 'jwk' });
  const derived = createECDH(spec === 'ecdsa-p256' ? 'prime256v1' : 'secp384r1');
  derived.setPrivateKey(Buffer.from(jwk.d!, 'base64url'));
  const embedded = Buffer.concat([Uint8Array.of(4), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  if (!derived.getPublicKey().equals(embedded)) throw new PkiError('ERR_KEY', `${label} block holds a public key that does not belong to its private key`, { field });
}

// The second element tells the three encodings apart: PKCS#8 has an AlgorithmIdentifier SEQUENCE, SEC1
// the key OCTET STRING, PKCS#1 the modulus INTEGER. OpenSSL's decoder accepts any of them under any
// label; Go's (and so Kubernetes') parsers do not, so neither does kubepki.
const SECOND_ELEMENT_TAG = { pkcs8: 0x30, sec1: 0x04, pkcs1: 0x02 } as const;

function assertKeyStructure(der: Uint8Array, format: PrivateKeyFormat, label: string, field: string): void {
  const top = readElement(der, 0, field);
  const parts = top.tag === 0x30 ? children(der, top, field) : [];
  if (parts[1]?.tag !== SECOND_ELEMENT_TAG[format]) {
    throw new PkiError('ERR_KEY', `${label} block does not hold a ${format} private key`, { field });
  }
  if (format === 'sec1') assertEcPrivateKey(der, top, undefined, field);
  if (format === 'pkcs8') assertPkcs8Algorithm(der, parts, field);
}

// OpenSSL decodes far more than kubepki uses, and a few of its inconsistent keys (a PKCS#8 curve that
// differs from the inner ECPrivateKey's) abort Node when their details are read. So the algorithm and
// the curve are checked here, before OpenSSL sees the key: the algorithms and curves Go accepts.
function assertPkcs8Algorithm(der: Uint8Array, parts: readonly DerElement[], field: string): void {
  const refuse = (reason: string): never => {
    throw new PkiError('ERR_KEY', reason, { field });
  };
  const [version, algorithm, privateKey] = parts;
  if (version?.tag !== 0x02 || algorithm?.tag !== 0x30 || privateKey?.tag !== 0x04) refuse('not a PKCS#8 PrivateKeyInfo');
  // RFC 5958: version 0 (v1) or 1 (v2, which may add the public key); Go's parser takes those only.
  const versionBytes = contentOf(der, version!);
  if (versionBytes.length !== 1 || versionBytes[0]! > 1) refuse('unsupported PKCS#8 version (only 0 and 1 exist)');
  const [oid, parameters, more] = children(der, algorithm!, field);
  if (oid?.tag !== 0x06 || more) refuse('malformed PKCS#8 algorithm');
  switch (decodeOid(contentOf(der, oid!), field)) {
    case '1.2.840.113549.1.1.1':
      if (parameters && (parameters.tag !== 0x05 || parameters.end !== parameters.start)) refuse('RSA parameters must be NULL');
      return;
    case '1.3.101.112':
      if (parameters) refuse('Ed25519 takes no parameters');
      return;
    case '1.2.840.10045.2.1': {
      const curve = parameters?.tag === 0x06 ? decodeOid(contentOf(der, parameters), field) : undefined;
      if (!curve || !CURVES[curve]) refuse(`unsupported elliptic curve ${curve ?? '(explicit parameters)'}; use P-256 or P-384`);
      const inner = contentOf(der, privateKey!);
      assertEcPrivateKey(inner, readElement(inner, 0, field), curve, field);
      return;
    }
    default:
      return refuse(`unsupported private key algorithm ${decodeOid(contentOf(der, oid!), field)}`);
  }
}

/** ECPrivateKey (RFC 5915) on P-256 or P-384: the curve named once (or agreeing), the scalar of its size. */
function assertEcPrivateKey(der: Uint8Array, top: DerElement, outerCurve: string | undefined, field: string): void {
  const refuse = (reason: string): never => {
    throw new PkiError('ERR_KEY', reason, { field });
  };
  if (top.tag !== 0x30 || top.end !== der.length) refuse('not an ECPrivateKey');
  const [version, scalar, ...rest] = children(der, top, field);
  if (version?.tag !== 0x02 || scalar?.tag !== 0x04) refuse('not an ECPrivateKey');
  const named = rest.find((element) => element.tag === 0xa0);
  let curve = outerCurve;
  if (named) {
    const [oid] = children(der, named, field);
    const inner = oid?.tag === 0x06 ? decodeOid(contentOf(der, oid), field) : undefined;
    if (!inner || !CURVES[inner]) refuse(`unsupported elliptic curve ${inner ?? '(explicit parameters)'}; use P-256 or P-384`);
    if (outerCurve && inner !== outerCurve) refuse('the ECPrivateKey names another curve than its PKCS#8 algorithm');
    curve = inner;
  }
  if (!curve) refuse('the ECPrivateKey does not name its curve');
  const { size, crv, order } = CURVES[curve!]!;
  if (scalar!.end - scalar!.start !== size) refuse(`the private scalar is not ${size} bytes for ${crv}`);
  const value = BigInt(`0x${Buffer.from(contentOf(der, scalar!)).toString('hex')}`);
  if (value === 0n || value >= order) refuse(`the private scalar is out of range for ${crv}`);
}

/** The DER SubjectPublicKeyInfo of a public key. */
export async function exportSpki(publicKey: CryptoKey, options: CryptoOptions = {}): Promise<Uint8Array> {
  const crypto = resolveCrypto(options);
  const native = crypto.subtle === webcrypto.subtle && publicKey.extractable !== false ? nativeSpki(publicKey) : undefined;
  if (native) return native.slice();
  try {
    return new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
  } catch (cause) {
    throw new PkiError('ERR_KEY', 'the provider could not export the public key', { field: 'publicKey', cause });
  }
}

/** The DER SubjectPublicKeyInfo of a pair's public key (of a pair made in this thread, without its CryptoKey). */
export async function exportPairSpki(pair: KeyPair, options: CryptoOptions = {}): Promise<Uint8Array> {
  const native = nativeKeysOf(pair);
  const spki = native && resolveCrypto(options).subtle === webcrypto.subtle ? encodeKeyObjectSpki(native.publicKey) : undefined;
  return spki ?? exportSpki(pair.publicKey, options);
}

/**
 * Exports a public key as PEM `PUBLIC KEY` (PKIX), the format of kubeadm's `sa.pub`.
 *
 * @category Certificates, keys and CSRs
 */
export async function exportPublicKeyPem(publicKey: CryptoKey, options: CryptoOptions = {}): Promise<string> {
  return encodePem('PUBLIC KEY', await exportSpki(publicKey, options));
}

/**
 * A public key given as a CryptoKey, DER SubjectPublicKeyInfo, PEM `PUBLIC KEY`, or a parsed CSR's `publicKey`.
 *
 * @category Certificates, keys and CSRs
 */
export type PublicKeyInput = CryptoKey | Uint8Array | string | PublicKeyInfo;

/**
 * A public key resolved to its DER SubjectPublicKeyInfo and spec.
 *
 * @category Certificates, keys and CSRs
 */
export interface PublicKeyInfo {
  /** The key type the SubjectPublicKeyInfo holds. */
  readonly spec: KeySpec;
  /** The DER SubjectPublicKeyInfo, as it goes into a certificate. */
  readonly spki: Uint8Array;
}

// PublicKeyInfos whose key this process has already proved valid (a CSR whose self-signature verified):
// issuing from one does not parse the key a third time.
const checkedPublicKeys = new WeakSet<PublicKeyInfo>();

/** A PublicKeyInfo for a key that verified a signature in this process; only for keys proved valid. */
export function checkedPublicKeyInfo(spec: KeySpec, spki: Uint8Array): PublicKeyInfo {
  const info = Object.freeze({ spec, spki });
  checkedPublicKeys.add(info);
  return info;
}

/** Resolves any public key input to SPKI bytes and a supported spec. */
export async function publicKeyInfo(input: PublicKeyInput, options: CryptoOptions & { field?: string } = {}): Promise<PublicKeyInfo> {
  const field = options.field ?? 'publicKey';
  if (checkedPublicKeys.has(input as PublicKeyInfo)) return input as PublicKeyInfo;
  let spki: Uint8Array;
  if (isPublicKeyInfo(input)) {
    spki = input.spki;
  } else if (typeof input === 'string' || (input instanceof Uint8Array && looksLikePem(input))) {
    spki = readPemBlock(input as string | Uint8Array, ['PUBLIC KEY'], { field }).der;
  } else if (input instanceof Uint8Array) {
    spki = input;
  } else {
    // A CryptoKey is a valid key already: its spec is read from its algorithm, not by parsing its SPKI
    // again, and a key of Node's own provider is exported without a round trip through the thread pool.
    const known = keySpecOfAlgorithm(input.algorithm);
    spki = await exportSpki(input, options);
    if (known) return { spec: known, spki };
  }
  return { spec: keySpecOfSpki(spki, field), spki };
}

function isPublicKeyInfo(input: PublicKeyInput): input is PublicKeyInfo {
  return typeof input === 'object' && !(input instanceof Uint8Array) && (input as PublicKeyInfo).spki instanceof Uint8Array && typeof (input as PublicKeyInfo).spec === 'string';
}

function keySpecOfAlgorithm(algorithm: KeyAlgorithm): KeySpec | undefined {
  if (algorithm.name === 'Ed25519') return 'ed25519';
  if (algorithm.name === 'ECDSA') {
    const curve = (algorithm as EcKeyAlgorithm).namedCurve;
    return curve === 'P-256' ? 'ecdsa-p256' : curve === 'P-384' ? 'ecdsa-p384' : undefined;
  }
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') {
    if (!isF4((algorithm as RsaHashedKeyAlgorithm).publicExponent.subarray(-3)) || (algorithm as RsaHashedKeyAlgorithm).publicExponent.subarray(0, -3).some((b) => b !== 0)) return undefined;
    const spec = `rsa-${(algorithm as RsaHashedKeyAlgorithm).modulusLength}`;
    return isKeySpec(spec) ? spec : undefined;
  }
  return undefined;
}

// OpenSSL 3's DER encoder costs about 90 µs a key; the JWK export is a copy of the coordinates, and the
// SubjectPublicKeyInfo around them is fixed bytes (EC, Ed25519) or two INTEGERs (RSA).
const SPKI_PREFIX: Readonly<Record<string, Uint8Array>> = {
  'P-256': Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex'),
  'P-384': Buffer.from('3076301006072a8648ce3d020106052b81040022036200', 'hex'),
  Ed25519: Buffer.from('302a300506032b6570032100', 'hex'),
};
const RSA_ALGORITHM = Buffer.from('300d06092a864886f70d0101010500', 'hex');

// A CryptoKey never changes, and the same key is exported again and again (for its CSR, then to check
// the certificate issued for it): the export is kept with the key object.
const nativeSpkis = new WeakMap<CryptoKey, Uint8Array>();

function nativeSpki(key: CryptoKey): Uint8Array | undefined {
  let spki = nativeSpkis.get(key);
  if (!spki) {
    spki = encodeNativeSpki(key);
    if (spki) nativeSpkis.set(key, spki);
  }
  return spki;
}

function encodeNativeSpki(key: CryptoKey): Uint8Array | undefined {
  try {
    return encodeKeyObjectSpki(KeyObject.from(key as webcrypto.CryptoKey));
  } catch {
    return undefined;
  }
}

function encodeKeyObjectSpki(key: KeyObject): Uint8Array | undefined {
  try {
    const jwk = key.export({ format: 'jwk' });
    const bytes = (value: string | undefined): Buffer => Buffer.from(value ?? '', 'base64url');
    if (jwk.kty === 'EC' && SPKI_PREFIX[jwk.crv!]) return concatBytes([SPKI_PREFIX[jwk.crv!]!, Uint8Array.of(4), bytes(jwk.x), bytes(jwk.y)]);
    if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return concatBytes([SPKI_PREFIX.Ed25519!, bytes(jwk.x)]);
    if (jwk.kty === 'RSA') {
      const rsaKey = encodeElement(0x30, concatBytes([encodeUnsignedInteger(bytes(jwk.n)), encodeUnsignedInteger(bytes(jwk.e))]));
      return encodeElement(0x30, concatBytes([RSA_ALGORITHM, encodeElement(0x03, concatBytes([Uint8Array.of(0), rsaKey]))]));
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/**
 * The spec of a SubjectPublicKeyInfo read from its structure alone (algorithm, curve, modulus size),
 * without importing the key; for keys that are known to be valid (one kubepki just certified).
 */
export function keySpecOfSpkiStructure(spki: Uint8Array): KeySpec | undefined {
  const parts = readSpki(spki);
  if (parts?.kty === 'EC') return parts.crv === 'P-256' ? 'ecdsa-p256' : 'ecdsa-p384';
  if (parts?.kty === 'OKP') return 'ed25519';
  if (parts?.kty === 'RSA' && isF4(parts.e)) {
    const spec = `rsa-${parts.n.length * 8 - Math.clz32(parts.n[0] ?? 0) + 24}`;
    return isKeySpec(spec) ? spec : undefined;
  }
  return undefined;
}
