import { createPublicKey, KeyObject, randomBytes as nodeRandomBytes, type webcrypto } from 'node:crypto';
import { publicKeyInfo, type PublicKeyInfo, type PublicKeyInput } from '../crypto/keys.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { encodeSigned, signatureSchemeOf, signBytes } from './signature.js';
import { Certificate, keyIdentifier, type CertificateInput } from './certificate.js';
import { lintCertificate } from './lint.js';
import type { Subject } from './names.js';
import type { CertificateProfile } from './profile.js';
import { cachedTbsTemplate, encodeTbsCertificate } from './tbs.js';
import { encodeGeneralNames, hasSans, type SanInput } from './sans.js';
import { templateFromProfile, type IssuanceTemplate } from './template.js';
import type { ValidityOptions } from './validity.js';

/**
 * A CA that signs: its certificate and private key.
 *
 * @category Certificates, keys and CSRs
 */
export interface Issuer {
  /** The CA's certificate (a Certificate, PEM or DER); refused with ERR_CERTIFICATE when it is not a CA or lacks keyCertSign. */
  readonly certificate: CertificateInput;
  /** The CA's signing key; ERR_KEY when it is not the key of `certificate`. */
  readonly privateKey: CryptoKey;
  /** The WebCrypto provider that holds `privateKey` (a PKCS#11 token), when it is not the request's. */
  readonly crypto?: Crypto;
}

/**
 * What issueCertificate certifies: a profile, a subject, SANs and a public key, signed by `issuer` or self-signed.
 *
 * @category Certificates, keys and CSRs
 */
export interface IssueRequest extends CryptoOptions {
  /** The kind of certificate: decides CA flag, usages, subject and SAN rules, default lifetime. */
  readonly profile: CertificateProfile;
  /** CN and O; with `der`, that Name is used (a signer passes the CSR's subject as read and re-encoded). */
  readonly subject: Subject & {
    /** The subject Name as DER, written byte for byte instead of encoding CN and O. */
    readonly der?: Uint8Array;
  };
  /** The subject alternative names; each must be allowed by the profile's SAN rule (ERR_PROFILE otherwise). Default: none. */
  readonly sans?: SanInput;
  /** The key being certified. */
  readonly publicKey: PublicKeyInput;
  /** The signing CA. Omit for a self-signed root, then give `selfSigningKey`. */
  readonly issuer?: Issuer;
  /** The private key matching `publicKey`, for a self-signed root. */
  readonly selfSigningKey?: CryptoKey;
  /** NotBefore and NotAfter; default: backdated 5 minutes, for the profile's lifetime. */
  readonly validity?: ValidityOptions;
  /** For CA profiles: overrides the profile's basicConstraints path length. */
  readonly pathLength?: number;
  /** The issuing time. Default: now. */
  readonly now?: Date;
  /** Source of the serial number's randomness. Default: node:crypto randomBytes. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/**
 * A self-signed root's signer: the private key of the key being certified.
 *
 * @category Certificates, keys and CSRs
 */
export interface SelfSigner {
  /** The private key of the certificate's own public key: the root signs itself with it. */
  readonly selfSigningKey: CryptoKey;
}

/**
 * Options of signCertificate besides the template, the key and the signer.
 *
 * @category Certificates, keys and CSRs
 */
export interface SignOptions extends CryptoOptions {
  /** Source of the serial number's randomness. Default: node:crypto randomBytes. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/**
 * Builds, lints and signs one certificate of a profile: templateFromProfile, then signCertificate. The
 * issuer's subject Name bytes are copied exactly; the authority key id is the issuer's subject key id;
 * every certificate carries basicConstraints, a subject key id and a random positive 128-bit serial.
 *
 * @category Certificates, keys and CSRs
 */
export async function issueCertificate(request: IssueRequest): Promise<Certificate> {
  const key = await publicKeyInfo(request.publicKey, request);
  const issuer = request.issuer ? Certificate.from(request.issuer.certificate, 'issuer.certificate') : undefined;
  const { subject, sans, validity, now, pathLength } = request;
  const template = templateFromProfile(request.profile, { subject, sans, keySpec: key.spec, validity, now, issuer, pathLength });
  return signTemplate(template, key, request.issuer ?? { selfSigningKey: request.selfSigningKey! }, issuer, request);
}

/**
 * Signs what `template` says for `publicKey`: a random serial, the issuer's Name and key id, then the
 * signature, one check that the signing key is the issuer's, and the pre-issuance lint against the
 * template. Self-signed when `issuer` is a SelfSigner. Knows no profile and no policy: the template
 * decided the content.
 *
 * @category Certificates, keys and CSRs
 */
export async function signCertificate(template: IssuanceTemplate, publicKey: PublicKeyInput, issuer: Issuer | SelfSigner, options: SignOptions = {}): Promise<Certificate> {
  const key = await publicKeyInfo(publicKey, options);
  return signTemplate(template, key, issuer, 'certificate' in issuer ? Certificate.from(issuer.certificate, 'issuer.certificate') : undefined, options);
}

/** signCertificate with the key resolved and the issuer's certificate parsed (`issuer`, undefined when self-signed). */
async function signTemplate(template: IssuanceTemplate, key: PublicKeyInfo, signer: Issuer | SelfSigner, issuer: Certificate | undefined, options: SignOptions): Promise<Certificate> {
  const issued = issuer !== undefined;
  const signingKey = 'certificate' in signer ? signer.privateKey : signer.selfSigningKey;
  const field = issued ? 'issuer.privateKey' : 'selfSigningKey';
  if (!signingKey) {
    throw issued
      ? new PkiError('ERR_ARGUMENT', 'the issuer has no private key: give its certificate and private key', { field: 'issuer' })
      : new PkiError('ERR_ARGUMENT', 'a self-signed certificate needs the private key of its public key', { field: 'selfSigningKey' });
  }
  const scheme = signatureSchemeOf(signingKey, field);
  const fixed = cachedTbsTemplate(template, issuer, scheme);
  const tbs = encodeTbsCertificate(fixed, {
    serial: randomSerial(options.randomBytes ?? pooledRandomBytes),
    notBefore: template.notBefore,
    notAfter: template.notAfter,
    subjectDer: template.subjectDer,
    spki: key.spki,
    subjectKeyId: keyIdentifier(key.spki),
    ...(hasSans(template.sans) ? { sans: encodeGeneralNames(template.sans) } : {}),
  });
  const signingCrypto = ('certificate' in signer ? signer.crypto : undefined) ?? resolveCrypto(options);
  const matched = keyMatchesBeforeSigning(issuer?.spki ?? key.spki, signingKey, issued, field);
  const { signature, native } = await signBytes(signingKey, tbs, signingCrypto, field);
  const certificate = Certificate.from(encodeSigned(tbs, scheme, signature));
  if (!matched || !native) checkSignatureVerifies(certificate, issuer ?? certificate, field);
  lintCertificate(certificate, { template, issuer: issuer ?? certificate });
  return certificate;
}

// The signing key is checked once per certificate, by whichever of two checks can see it:
// - keyMatchesBeforeSigning, for a key of Node's WebCrypto: its public half is derived and compared with
//   the signer certificate's before anything is signed, once per (key, certificate key);
// - checkSignatureVerifies, for a key of another provider (an HSM's), whose public half cannot be read, or
//   one that signs through a provider: the signature is verified with the signer certificate's key every
//   time, as Go's CreateCertificate does, which also catches a faulty module.
const preChecked = new WeakMap<CryptoKey, Set<string>>();

/** True when the key is shown to be the signer certificate's; throws ERR_KEY when it is not; false when it cannot tell. */
function keyMatchesBeforeSigning(signerSpki: Uint8Array, key: CryptoKey, issued: boolean, field: string): boolean {
  const id = Buffer.from(signerSpki).toString('base64');
  if (preChecked.get(key)?.has(id)) return true;
  // Both public keys re-encoded by OpenSSL and compared as bytes (KeyObject.equals on keys of two types
  // leaves an OpenSSL error queued that fails the next key import).
  let derived: Buffer;
  let certified: Buffer;
  try {
    derived = createPublicKey(KeyObject.from(key as webcrypto.CryptoKey)).export({ format: 'der', type: 'spki' });
    certified = createPublicKey({ key: Buffer.from(signerSpki), format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
  } catch {
    return false;
  }
  if (!derived.equals(certified)) throw keyMismatch(issued, field);
  if (!preChecked.has(key)) preChecked.set(key, new Set());
  preChecked.get(key)!.add(id);
  return true;
}

function checkSignatureVerifies(certificate: Certificate, signer: Certificate, field: string): void {
  if (!certificate.isIssuedBy(signer)) throw keyMismatch(signer !== certificate, field);
}

function keyMismatch(issued: boolean, field: string): PkiError {
  return new PkiError('ERR_KEY', issued ? 'the private key does not match the CA certificate' : 'the self-signing key does not match the public key', { field });
}

// Serials draw from a pool refilled 4 KiB at a time: one call into the CSPRNG per 256 certificates.
let pool = new Uint8Array(0);
let poolOffset = 0;

function pooledRandomBytes(size: number): Uint8Array {
  if (poolOffset + size > pool.length) {
    pool = nodeRandomBytes(4096);
    poolOffset = 0;
  }
  poolOffset += size;
  return pool.slice(poolOffset - size, poolOffset);
}

/** A random positive serial of 128 bits, as the in-tree signer draws it (docs/kubernetes-pki.md §11). */
function randomSerial(randomBytes: (size: number) => Uint8Array): Uint8Array {
  for (;;) {
    const bytes = randomBytes(16);
    if (bytes.length !== 16) throw new PkiError('ERR_ARGUMENT', 'must return the requested number of bytes', { field: 'randomBytes' });
    if (bytes.some((b) => b !== 0)) return bytes;
  }
}
