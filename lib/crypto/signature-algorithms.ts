/** A WebCrypto key's algorithm (a CryptoKey's `algorithm`, or the parameters it is generated with). */
export interface SigningKeyAlgorithm {
  readonly name: string;
  readonly namedCurve?: string;
  /** The hash an RSA key is bound to. */
  readonly hash?: string | { readonly name: string };
}

/** What kubepki knows of a signature algorithm. */
export interface SignatureAlgorithm {
  readonly oid: string;
  readonly name: string;
  /** node:crypto's hash name; null for Ed25519. */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | null;
  /** What WebCrypto's `sign` is called with (an RSA key signs with the hash bound to it at import). */
  readonly webCrypto: Algorithm | EcdsaParams;
  /** Whether its AlgorithmIdentifier carries NULL parameters (RSA) rather than none. */
  readonly nullParameters: boolean;
  /** The keys kubepki signs with it; unset when it is only accepted from others. */
  readonly signer?: { readonly name: string; readonly namedCurve?: string; readonly hash?: string };
}

const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams;
const ECDSA_SHA384 = { name: 'ECDSA', hash: 'SHA-384' } as EcdsaParams;
const ECDSA_SHA512 = { name: 'ECDSA', hash: 'SHA-512' } as EcdsaParams;
const RSA_PKCS1: Algorithm = { name: 'RSASSA-PKCS1-v1_5' };

/**
 * The signature algorithms kubepki accepts, by OID: SHA-256 or stronger with ECDSA or RSA PKCS#1 v1.5,
 * and Ed25519; any other (SHA-1 included) is refused. It signs as Go's crypto/x509 does: an ECDSA key
 * with its curve's hash (kubepki has no P-521 keys, so never with ecdsa-with-SHA512), an RSA key with
 * the hash bound to it (SHA-256 for the keys kubepki makes), Ed25519 pure.
 */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithm> = new Map(
  (
    [
      { oid: '1.2.840.10045.4.3.2', name: 'ecdsa-with-SHA256', hash: 'sha256', webCrypto: ECDSA_SHA256, nullParameters: false, signer: { name: 'ECDSA', namedCurve: 'P-256' } },
      { oid: '1.2.840.10045.4.3.3', name: 'ecdsa-with-SHA384', hash: 'sha384', webCrypto: ECDSA_SHA384, nullParameters: false, signer: { name: 'ECDSA', namedCurve: 'P-384' } },
      { oid: '1.2.840.10045.4.3.4', name: 'ecdsa-with-SHA512', hash: 'sha512', webCrypto: ECDSA_SHA512, nullParameters: false },
      { oid: '1.2.840.113549.1.1.11', name: 'sha256WithRSAEncryption', hash: 'sha256', webCrypto: RSA_PKCS1, nullParameters: true, signer: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
      { oid: '1.2.840.113549.1.1.12', name: 'sha384WithRSAEncryption', hash: 'sha384', webCrypto: RSA_PKCS1, nullParameters: true, signer: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' } },
      { oid: '1.2.840.113549.1.1.13', name: 'sha512WithRSAEncryption', hash: 'sha512', webCrypto: RSA_PKCS1, nullParameters: true, signer: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' } },
      { oid: '1.3.101.112', name: 'Ed25519', hash: null, webCrypto: { name: 'Ed25519' }, nullParameters: false, signer: { name: 'Ed25519' } },
    ] satisfies SignatureAlgorithm[]
  ).map((algorithm): [string, SignatureAlgorithm] => [algorithm.oid, algorithm]),
);

/** The algorithm a key of `key`'s algorithm signs with; undefined when kubepki signs with no such key. */
export function signingAlgorithmOf(key: SigningKeyAlgorithm | undefined): SignatureAlgorithm | undefined {
  if (!key) return undefined;
  const curve = key.name === 'ECDSA' ? key.namedCurve : undefined;
  const hash = key.name !== 'RSASSA-PKCS1-v1_5' ? undefined : typeof key.hash === 'string' ? key.hash : key.hash?.name;
  for (const algorithm of ACCEPTED_SIGNATURE_ALGORITHMS.values()) {
    const signer = algorithm.signer;
    if (signer?.name === key.name && signer.namedCurve === curve && signer.hash === hash) return algorithm;
  }
  return undefined;
}
