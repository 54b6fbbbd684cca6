import { KeyObject, sign as nodeSign, verify as nodeVerify, webcrypto } from 'node:crypto';
import { concatBytes, encodeElement, encodeOid, encodeSequence, encodeUnsignedInteger, TAG } from '../crypto/der.js';
import { keyAlgorithm, nativeKeysOf, newPublicKey, publicKeyObject, type KeyPair } from '../crypto/keys.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS, signingAlgorithmOf } from '../crypto/signature-algorithms.js';
import { PkiError } from '../errors.js';

/**
 * Verifies a signature over `signed` with a public key (DER SPKI), synchronously with node:crypto:
 * verification needs no private key, so it never has to go through an injected provider, and doing it
 * in-thread avoids a thread-pool round trip per check. Unknown algorithms (SHA-1 included) are false.
 * The key's KeyObject is cached: this is for keys that recur (CAs'); see verifySignatureWithNewKey.
 */
export function verifySignature(algorithmOid: string, spki: Uint8Array, signed: Uint8Array, signature: Uint8Array): boolean {
  const hash = ACCEPTED_SIGNATURE_ALGORITHMS.get(algorithmOid)?.hash;
  if (hash === undefined) return false;
  try {
    return nodeVerify(hash, signed, publicKeyObject(spki), signature);
  } catch {
    return false;
  }
}

/**
 * {@link verifySignature} for a key seen once (a CSR's), which is not cached (where it would push out the
 * CA keys that recur), imported the cheaper way on this OpenSSL (see newPublicKey).
 */
export async function verifySignatureWithNewKey(algorithmOid: string, spki: Uint8Array, signed: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const hash = ACCEPTED_SIGNATURE_ALGORITHMS.get(algorithmOid)?.hash;
  if (hash === undefined) return false;
  try {
    return nodeVerify(hash, signed, await newPublicKey(spki), signature);
  } catch {
    return false;
  }
}

/** How a private key signs certificates, CSRs and CRLs, as Go's crypto/x509 chooses it. */
export interface SignatureScheme {
  readonly oid: string;
  /** The DER AlgorithmIdentifier written into the TBS and beside the signature. */
  readonly algorithmIdentifier: Uint8Array;
  /** node:crypto's hash name; null for Ed25519. */
  readonly hash: string | null;
  /** What WebCrypto's `sign` is called with. */
  readonly webCrypto: Algorithm | EcdsaParams;
  readonly ecdsa: boolean;
}

const NULL = Uint8Array.of(0x05, 0x00);

// Built once per algorithm kubepki signs with, so that every signature reuses one AlgorithmIdentifier.
const SCHEMES: ReadonlyMap<string, SignatureScheme> = new Map(
  [...ACCEPTED_SIGNATURE_ALGORITHMS.values()]
    .filter((algorithm) => algorithm.signer)
    .map(({ oid, hash, webCrypto, nullParameters }) => [
      oid,
      { oid, algorithmIdentifier: encodeSequence(encodeOid(oid), ...(nullParameters ? [NULL] : [])), hash, webCrypto, ecdsa: webCrypto.name === 'ECDSA' },
    ]),
);

/** The scheme a WebCrypto private key signs with: ECDSA P-256/SHA-256, P-384/SHA-384, RSA PKCS#1 v1.5 with its bound hash, Ed25519. */
export function signatureSchemeOf(key: CryptoKey, field: string): SignatureScheme {
  const algorithm = signingAlgorithmOf(key?.algorithm as (KeyAlgorithm & { namedCurve?: string; hash?: { name: string } }) | undefined);
  const found = algorithm && SCHEMES.get(algorithm.oid);
  if (!found || key.type !== 'private') {
    throw new PkiError('ERR_KEY', `is not a private key kubepki signs with (ECDSA P-256/P-384, RSA PKCS#1 v1.5 with SHA-256/384/512, Ed25519)`, { field });
  }
  return found;
}

// Keys of Node's own WebCrypto sign in-thread through a KeyObject: no promise, no thread-pool hop.
const keyObjects = new WeakMap<CryptoKey, KeyObject | null>();

function nativeKeyObject(key: CryptoKey, crypto: Crypto): KeyObject | null {
  if (crypto.subtle !== webcrypto.subtle) return null;
  let keyObject = keyObjects.get(key);
  if (keyObject === undefined) {
    try {
      keyObject = KeyObject.from(key as webcrypto.CryptoKey);
    } catch {
      keyObject = null;
    }
    keyObjects.set(key, keyObject);
  }
  return keyObject;
}

/** True when `key` signs in-thread with node:crypto rather than through the provider's `subtle.sign`. */
export function signsNatively(key: CryptoKey, crypto: Crypto): boolean {
  return nativeKeyObject(key, crypto) !== null;
}

/** A signature, the scheme it was made with, and whether node:crypto made it in this thread (no provider to check). */
export interface SignedBytes {
  readonly scheme: SignatureScheme;
  readonly signature: Uint8Array;
  readonly native: boolean;
}

/**
 * Signs `data` as X.509 wants it (ECDSA as a DER SEQUENCE of r and s). Keys of Node's WebCrypto sign
 * synchronously with node:crypto; keys of any other provider (an HSM, @peculiar/webcrypto) go through
 * that provider's `sign`, whose IEEE P1363 ECDSA output is converted.
 */
export async function signBytes(key: CryptoKey, data: Uint8Array, crypto: Crypto, field: string): Promise<SignedBytes> {
  const chosen = signatureSchemeOf(key, field);
  const keyObject = nativeKeyObject(key, crypto);
  if (keyObject) return signedInThread(chosen, keyObject, data, key.algorithm.name, field);
  try {
    const raw = new Uint8Array(await crypto.subtle.sign(chosen.webCrypto, key, data as Uint8Array<ArrayBuffer>));
    return { scheme: chosen, signature: chosen.ecdsa ? ecdsaDer(raw) : raw, native: false };
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `signing with the ${key.algorithm.name} key failed`, { field, cause });
  }
}

/**
 * {@link signBytes} with a pair's private key; a pair generateKeyPair made in this thread signs with its
 * node:crypto key, without making its CryptoKey.
 */
export async function signWithPair(pair: KeyPair, data: Uint8Array, crypto: Crypto, field: string): Promise<SignedBytes> {
  const native = crypto.subtle === webcrypto.subtle ? nativeKeysOf(pair) : undefined;
  if (!native) return signBytes(pair.privateKey, data, crypto, field);
  return signedInThread(SCHEMES.get(signingAlgorithmOf(keyAlgorithm(pair.spec))!.oid)!, native.privateKey, data, pair.spec, field);
}

function signedInThread(scheme: SignatureScheme, keyObject: KeyObject, data: Uint8Array, keyName: string, field: string): SignedBytes {
  try {
    return { scheme, signature: nodeSign(scheme.hash, data, keyObject), native: true };
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `signing with the ${keyName} key failed`, { field, cause });
  }
}

/** IEEE P1363 `r || s` to `SEQUENCE { INTEGER r, INTEGER s }`. */
function ecdsaDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return encodeSequence(encodeUnsignedInteger(raw.subarray(0, half)), encodeUnsignedInteger(raw.subarray(half)));
}

/** `SEQUENCE { tbs, algorithm, BIT STRING signature }`: a signed certificate, CSR or CRL. */
export function encodeSigned(tbs: Uint8Array, scheme: SignatureScheme, signature: Uint8Array): Uint8Array {
  return encodeSequence(tbs, scheme.algorithmIdentifier, encodeElement(TAG.BIT_STRING, concatBytes([Uint8Array.of(0), signature])));
}
