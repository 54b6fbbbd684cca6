/**
 * Options shared by every call that uses cryptography.
 *
 * @category Certificates, keys and CSRs
 */
export interface CryptoOptions {
  /**
   * The WebCrypto implementation to use (for example `new (await import('@peculiar/webcrypto')).Crypto()`
   * or a PKCS#11 provider). Default: Node's native `globalThis.crypto`.
   */
  crypto?: Crypto;
}

/** The provider a call should use: the injected one, else Node's native WebCrypto. */
export function resolveCrypto(options?: CryptoOptions): Crypto {
  return options?.crypto ?? globalThis.crypto;
}
