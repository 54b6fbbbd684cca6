import { createPublicKey, KeyObject, randomBytes as nodeRandomBytes, type webcrypto } from 'node:crypto';
import { publicKeyInfo, type PublicKeyInput } from '../crypto/keys.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { encodeSigned, signatureSchemeOf, signBytes, signsNatively } from './signature.js';
import { Certificate, keyIdentifier, type CertificateInput } from './certificate.js';
import { lintCertificate } from './lint.js';
import { encodeName, validateSubject, type Subject } from './names.js';
import { checkProfileRequest, type CertificateProfile } from './profile.js';
import { encodeTbsCertificate, tbsTemplate, type TbsTemplate, type TemplateOptions } from './tbs.js';
import { encodeGeneralNames, hasSans, normalizeSans, type SanInput } from './sans.js';
import { computeValidity, type ValidityOptions } from './validity.js';

/** A CA that signs: its certificate and private key. */
export interface Issuer {
  readonly certificate: CertificateInput;
  readonly privateKey: CryptoKey;
  /** The WebCrypto provider that holds `privateKey` (a PKCS#11 token), when it is not the request's. */
  readonly crypto?: Crypto;
}

export interface IssueRequest extends CryptoOptions {
  /** The kind of certificate: decides CA flag, usages, subject and SAN rules, default lifetime. */
  readonly profile: CertificateProfile;
  /** CN and O; with `der`, that Name is used (a signer passes the CSR's subject as read and re-encoded). */
  readonly subject: Subject & { readonly der?: Uint8Array };
  readonly sans?: SanInput;
  /** The key being certified. */
  readonly publicKey: PublicKeyInput;
  /** The signing CA. Omit for a self-signed root, then give `selfSigningKey`. */
  readonly issuer?: Issuer;
  /** The private key matching `publicKey`, for a self-signed root. */
  readonly selfSigningKey?: CryptoKey;
  readonly validity?: ValidityOptions;
  /** For CA profiles: overrides the profile's basicConstraints path length. */
  readonly pathLength?: number;
  /** The issuing time. Default: now. */
  readonly now?: Date;
  /** Source of the serial number's randomness. Default: node:crypto randomBytes. */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/**
 * Builds, lints and signs one certificate: the one place kubepki makes a certificate. The issuer's
 * subject Name bytes are copied exactly; the authority key id is the issuer's subject key id; every
 * certificate carries basicConstraints, a subject key id and a random positive 128-bit serial.
 */
export async function issueCertificate(request: IssueRequest): Promise<Certificate> {
  const { profile } = request;
  const crypto = resolveCrypto(request);
  const subject = validateSubject(request.subject);
  const sans = normalizeSans(request.sans);
  const key = await publicKeyInfo(request.publicKey, request);
  const issuer = request.issuer ? Certificate.from(request.issuer.certificate, 'issuer.certificate') : undefined;
  const signingKey = request.issuer?.privateKey ?? request.selfSigningKey;
  checkIssuer(profile, issuer, request);
  checkProfileRequest(profile, { subject, sans, keySpec: key.spec });
  const pathLength = resolvePathLength(profile, issuer, request.pathLength);
  const now = request.now ?? new Date();
  const { notBefore, notAfter } = computeValidity(now, profile.lifetimeSeconds, request.validity, issuer);

  const signingField = issuer ? 'issuer.privateKey' : 'selfSigningKey';
  const scheme = signatureSchemeOf(signingKey!, signingField);
  const template = cachedTemplate({ profile, keySpec: key.spec, pathLength, issuer, scheme });
  const tbs = encodeTbsCertificate(template, {
    serial: randomSerial(request.randomBytes ?? pooledRandomBytes),
    notBefore,
    notAfter,
    subjectDer: request.subject.der ?? encodeName(subject),
    spki: key.spki,
    subjectKeyId: keyIdentifier(key.spki),
    ...(hasSans(sans) ? { sans: encodeGeneralNames(sans) } : {}),
  });
  const signingCrypto = request.issuer?.crypto ?? crypto;
  checkKeyMatchesBeforeSigning(issuer?.spki ?? key.spki, signingKey!, issuer !== undefined, signingField);
  const { signature } = await signBytes(signingKey!, tbs, signingCrypto, signingField);
  const certificate = Certificate.from(encodeSigned(tbs, scheme, signature));
  checkKeyMatches(certificate, issuer ?? certificate, signingKey!, signsNatively(signingKey!, signingCrypto), signingField);
  lintCertificate(certificate, { profile, issuer: issuer ?? certificate, subject, sans, keySpec: key.spec, pathLength });
  return certificate;
}

// Templates per issuer certificate, profile, certified key type, path length and signature scheme.
const templates = new WeakMap<Certificate, WeakMap<CertificateProfile, Map<string, TbsTemplate>>>();

function cachedTemplate(options: TemplateOptions): TbsTemplate {
  if (!options.issuer) return tbsTemplate(options);
  let byProfile = templates.get(options.issuer);
  if (!byProfile) templates.set(options.issuer, (byProfile = new WeakMap()));
  let byKey = byProfile.get(options.profile);
  if (!byKey) byProfile.set(options.profile, (byKey = new Map()));
  const id = `${options.keySpec}/${options.pathLength ?? ''}/${options.scheme.oid}`;
  let template = byKey.get(id);
  if (!template) byKey.set(id, (template = tbsTemplate(options)));
  return template;
}

// Pairs of (private key, signer certificate key) already shown to match. A key of Node's WebCrypto is
// checked on its first signature only; a provider's signature (an HSM's) is verified every time, as Go's
// CreateCertificate does, to catch a faulty module.
const matchingKeys = new WeakMap<CryptoKey, Set<string>>();

// A Node key whose public half is not the signer certificate's is refused before it signs anything. Keys
// of another provider (an HSM's) cannot show their public half: checkKeyMatches catches them after signing.
const preChecked = new WeakMap<CryptoKey, Set<string>>();

function checkKeyMatchesBeforeSigning(signerSpki: Uint8Array, key: CryptoKey, issued: boolean, field: string): void {
  const id = Buffer.from(signerSpki).toString('base64');
  if (preChecked.get(key)?.has(id)) return;
  // Both public keys re-encoded by OpenSSL and compared as bytes (KeyObject.equals on keys of two types
  // leaves an OpenSSL error queued that fails the next key import).
  let derived: Buffer;
  let certified: Buffer;
  try {
    derived = createPublicKey(KeyObject.from(key as webcrypto.CryptoKey)).export({ format: 'der', type: 'spki' });
    certified = createPublicKey({ key: Buffer.from(signerSpki), format: 'der', type: 'spki' }).export({ format: 'der', type: 'spki' });
  } catch {
    return;
  }
  if (!derived.equals(certified)) {
    throw new PkiError('ERR_KEY', issued ? 'the private key does not match the CA certificate' : 'the self-signing key does not match the public key', { field });
  }
  if (!preChecked.has(key)) preChecked.set(key, new Set());
  preChecked.get(key)!.add(id);
}

function checkKeyMatches(certificate: Certificate, signer: Certificate, key: CryptoKey, native: boolean, field: string): void {
  const id = Buffer.from(signer.spki).toString('base64');
  if (native && matchingKeys.get(key)?.has(id)) return;
  if (!certificate.isIssuedBy(signer)) {
    throw new PkiError('ERR_KEY', signer === certificate ? 'the self-signing key does not match the public key' : 'the private key does not match the CA certificate', { field });
  }
  if (native) {
    if (!matchingKeys.has(key)) matchingKeys.set(key, new Set());
    matchingKeys.get(key)!.add(id);
  }
}

function checkIssuer(profile: CertificateProfile, issuer: Certificate | undefined, request: IssueRequest): void {
  if (profile.issuer === 'self') {
    if (issuer) throw new PkiError('ERR_PROFILE', `profile ${profile.name} is self-signed; do not give an issuer`, { field: 'issuer' });
    if (!request.selfSigningKey) throw new PkiError('ERR_ARGUMENT', 'a self-signed certificate needs the private key of its public key', { field: 'selfSigningKey' });
    return;
  }
  if (!issuer || !request.issuer?.privateKey) {
    throw new PkiError('ERR_ARGUMENT', `profile ${profile.name} is signed by a ${profile.issuer} CA: give its certificate and private key`, { field: 'issuer' });
  }
  if (!issuer.isCA) throw new PkiError('ERR_CERTIFICATE', 'is not a CA certificate (basicConstraints cA is not set)', { field: 'issuer.certificate' });
  const usages = issuer.keyUsages;
  if (usages.length > 0 && !usages.includes('keyCertSign')) {
    throw new PkiError('ERR_CERTIFICATE', 'CA certificate lacks the keyCertSign key usage', { field: 'issuer.certificate' });
  }
}

function resolvePathLength(profile: CertificateProfile, issuer: Certificate | undefined, requested: number | undefined): number | undefined {
  if (!profile.isCA) {
    if (requested !== undefined) throw new PkiError('ERR_ARGUMENT', `profile ${profile.name} is not a CA`, { field: 'pathLength' });
    return undefined;
  }
  const pathLength = requested ?? profile.pathLength;
  if (pathLength !== undefined && (!Number.isInteger(pathLength) || pathLength < 0 || pathLength > 16)) {
    throw new PkiError('ERR_ARGUMENT', 'must be an integer from 0 to 16', { field: 'pathLength' });
  }
  const parentLimit = issuer?.basicConstraints?.pathLength;
  if (parentLimit !== undefined) {
    if (parentLimit === 0) throw new PkiError('ERR_PROFILE', 'the CA has path length 0 and cannot sign another CA', { field: 'issuer.certificate' });
    if (pathLength === undefined || pathLength >= parentLimit) {
      throw new PkiError('ERR_PROFILE', `must be below the CA's path length ${parentLimit}`, { field: 'pathLength' });
    }
  }
  return pathLength;
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

/** A random positive serial of 128 bits, as the in-tree signer draws it (kubernetes-pki.md §11). */
function randomSerial(randomBytes: (size: number) => Uint8Array): Uint8Array {
  for (;;) {
    const bytes = randomBytes(16);
    if (bytes.length !== 16) throw new PkiError('ERR_ARGUMENT', 'must return the requested number of bytes', { field: 'randomBytes' });
    if (bytes.some((b) => b !== 0)) return bytes;
  }
}
