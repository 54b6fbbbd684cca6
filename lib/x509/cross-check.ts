import type * as Pkijs from 'pkijs';
import type { Certificate } from './certificate.js';
import { refuseCertificate } from './verify.js';

/**
 * A second, independent RFC 5280 validation of a chain `verifyCertificate` chose, with pkijs (dates,
 * signatures, name chaining, CA flags): it adds to verifyCertificate's checks, never replaces them, and
 * costs about 4 ms a chain (`kubepki verify` and the audit run it). pkijs cannot validate Ed25519
 * signatures, so chains with an Ed25519 key rely on verifyCertificate alone (node:crypto checked them).
 *
 * @category Verify and audit
 */
export async function crossCheckChain(chain: readonly Certificate[], time: Date = new Date()): Promise<void> {
  if (chain.some((c) => c.signatureAlgorithmOid === '1.3.101.112' || c.keySpec === 'ed25519')) return;
  // Loaded on first use: pkijs costs about 200 ms of import time that plain verification never needs.
  const pkijs: typeof Pkijs = await import('pkijs');
  const toPkijs = (c: Certificate): Pkijs.Certificate => pkijs.Certificate.fromBER(c.der as Uint8Array<ArrayBuffer>);
  const root = chain[chain.length - 1]!;
  // pkijs validates the LAST element of certs as the end entity (dependencies.md).
  const engine = new pkijs.CertificateChainValidationEngine({
    trustedCerts: [toPkijs(root)],
    certs: [...chain.slice(1, -1).reverse().map(toPkijs), toPkijs(chain[0]!)],
    checkDate: time,
  });
  const result = await engine.verify();
  if (!result.result) refuseCertificate('ERR_INVALID_CHAIN', `RFC 5280 path validation failed: ${result.resultMessage}`, chain[0]!);
}
