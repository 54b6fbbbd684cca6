import { Crypto as PeculiarCrypto } from '@peculiar/webcrypto';
import {
  createCertificateAuthority,
  createIntermediateAuthority,
  exportPrivateKeyPem,
  importPrivateKeyPem,
  generateKeyPair,
  type CertificateAuthority,
  type KeyPair,
  type KeySpec,
} from '../../lib/index.js';
import { KEY_SPECS } from '../../lib/crypto/keys.js';

/** The providers the issuance tests run on: Node's native WebCrypto and @peculiar/webcrypto. */
export const PROVIDERS: readonly { name: string; crypto: Crypto }[] = [
  { name: 'native', crypto: globalThis.crypto },
  { name: 'peculiar', crypto: new PeculiarCrypto() as unknown as Crypto },
];

export const ALL_KEY_SPECS: readonly KeySpec[] = KEY_SPECS;

const keyCache = new Map<string, Promise<KeyPair>>();
const caCache = new Map<string, Promise<{ root: CertificateAuthority; intermediate: CertificateAuthority }>>();

/**
 * A key pair of `spec` on `crypto`, made once per process and slot: RSA-4096 generation takes seconds,
 * so tests share fixture keys instead of generating their own.
 */
export function fixtureKey(spec: KeySpec, crypto: Crypto = globalThis.crypto, slot = 0): Promise<KeyPair> {
  const id = `${providerName(crypto)}/${spec}/${slot}`;
  let key = keyCache.get(id);
  if (!key) {
    // Other providers get the native key imported: RSA-4096 generation is too slow to do twice.
    key =
      crypto === globalThis.crypto
        ? generateKeyPair(spec)
        : fixtureKey(spec, globalThis.crypto, slot).then(async (native) => importPrivateKeyPem(await exportPrivateKeyPem(native), { crypto }));
    keyCache.set(id, key);
  }
  return key;
}

/** A root CA and an intermediate under it, both with `spec` keys, made once per process. */
export function fixtureAuthorities(spec: KeySpec, crypto: Crypto = globalThis.crypto): Promise<{ root: CertificateAuthority; intermediate: CertificateAuthority }> {
  const id = `${providerName(crypto)}/${spec}`;
  let pair = caCache.get(id);
  if (!pair) {
    pair = (async () => {
      const root = await createCertificateAuthority({ keySpec: spec, keyPair: await fixtureKey(spec, crypto, 100), crypto, commonName: `root-${spec}` });
      const intermediate = await createIntermediateAuthority({
        issuer: root,
        keyPair: await fixtureKey(spec, crypto, 101),
        crypto,
        commonName: `intermediate-${spec}`,
      });
      return { root, intermediate };
    })();
    caCache.set(id, pair);
  }
  return pair;
}

function providerName(crypto: Crypto): string {
  return crypto === globalThis.crypto ? 'native' : 'injected';
}

/** Calls `fn` and returns the PkiError code it throws (or 'no error'). */
export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'no error';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : `non-PkiError: ${String(error)}`;
  }
}

/** Like codeOf, and also returns the error's field. */
export async function failureOf(fn: () => unknown): Promise<{ code: string; field?: string; message?: string }> {
  try {
    await fn();
    return { code: 'no error' };
  } catch (error) {
    const e = error as { code?: string; field?: string; message?: string; name?: string };
    return { code: e.name === 'PkiError' ? e.code! : `non-PkiError: ${String(error)}`, field: e.field, message: e.message };
  }
}

/** Flips one bit in the last byte of a signed DER structure: inside its signature value. */
export function tamperSignature(der: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(der);
  copy[copy.length - 1]! ^= 0x01;
  return copy;
}
