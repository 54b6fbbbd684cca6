import { verify as nodeVerify } from 'node:crypto';
import { publicKeyObject } from '../crypto/keys.js';

// Signature algorithm OID -> the hash node:crypto verifies with (null: pure Ed25519).
const HASH_OF: Readonly<Record<string, string | null>> = {
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.3.101.112': null,
};

/**
 * Verifies a signature over `signed` with a public key (DER SPKI), synchronously with node:crypto:
 * verification needs no private key, so it never has to go through an injected provider, and doing it
 * in-thread avoids a thread-pool round trip per check. Unknown algorithms (SHA-1 included) are false.
 */
export function verifySignature(algorithmOid: string, spki: Uint8Array, signed: Uint8Array, signature: Uint8Array): boolean {
  const hash = HASH_OF[algorithmOid];
  if (hash === undefined) return false;
  try {
    return nodeVerify(hash, signed, publicKeyObject(spki), signature);
  } catch {
    return false;
  }
}
