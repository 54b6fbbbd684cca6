import { generateKeyPair, DEFAULT_KEY_SPEC, type KeyPair, type KeySpec } from '../crypto/keys.js';
import type { CryptoOptions } from '../crypto/provider.js';
import { PROFILES } from './kinds.js';
import type { Certificate } from '../x509/certificate.js';
import { issueCertificate, type Issuer } from '../x509/issue.js';
import { isDnsName } from '../x509/names.js';
import type { CertificateProfile } from '../x509/profile.js';
import type { ValidityOptions } from '../x509/validity.js';

/**
 * A CA ready to sign: its certificate and key pair. Usable wherever an `Issuer` is expected.
 *
 * @category Certificates, keys and CSRs
 */
export interface CertificateAuthority extends Issuer {
  readonly certificate: Certificate;
  readonly privateKey: CryptoKey;
  /** The CA's key pair: `privateKey` is its private half. */
  readonly keyPair: KeyPair;
}

/**
 * Options of createCertificateAuthority: the CA's name, key and lifetime.
 *
 * @category Certificates, keys and CSRs
 */
export interface CreateAuthorityOptions extends CryptoOptions {
  /** Default `kubernetes`, kubeadm's cluster CA name. */
  commonName?: string;
  /** The O values of the CA's subject. Default: none. */
  organizations?: readonly string[];
  /** Default ecdsa-p256. */
  keySpec?: KeySpec;
  /** An existing key pair to certify instead of generating one. */
  keyPair?: KeyPair;
  /** Default: the cluster CA profile (10 years). */
  profile?: CertificateProfile;
  /** NotBefore and NotAfter; default: backdated 5 minutes, for the profile's lifetime. */
  validity?: ValidityOptions;
  /** The issuing time. Default: now. */
  now?: Date;
}

/**
 * Creates a self-signed root CA. As kubeadm does, the CA carries its CN as a DNS SAN when the CN is a
 * valid DNS name (docs/kubernetes-pki.md §3).
 *
 * @category Certificates, keys and CSRs
 */
export function createCertificateAuthority(options: CreateAuthorityOptions = {}): Promise<CertificateAuthority> {
  return createAuthority(options, 'kubernetes', options.profile ?? PROFILES.clusterCa);
}

/**
 * Options of createIntermediateAuthority: those of a root, and the CA that signs it.
 *
 * @category Certificates, keys and CSRs
 */
export interface CreateIntermediateOptions extends CreateAuthorityOptions {
  /** The CA that signs the intermediate. */
  issuer: Issuer;
  /** basicConstraints path length. Default 0: it signs leaves only. */
  pathLength?: number;
}

/**
 * Creates an intermediate CA signed by `issuer`.
 *
 * @category Certificates, keys and CSRs
 */
export function createIntermediateAuthority(options: CreateIntermediateOptions): Promise<CertificateAuthority> {
  return createAuthority(options, 'kubernetes-intermediate', options.profile ?? PROFILES.intermediateCa, options.issuer, options.pathLength);
}

async function createAuthority(
  options: CreateAuthorityOptions,
  defaultCommonName: string,
  profile: CertificateProfile,
  issuer?: Issuer,
  pathLength?: number,
): Promise<CertificateAuthority> {
  const commonName = options.commonName ?? defaultCommonName;
  const crypto = options.crypto ? { crypto: options.crypto } : {};
  const keyPair = options.keyPair ?? (await generateKeyPair(options.keySpec ?? DEFAULT_KEY_SPEC, crypto));
  const certificate = await issueCertificate({
    ...crypto,
    profile,
    subject: { commonName, organizations: options.organizations ?? [] },
    sans: isDnsName(commonName) ? { dns: [commonName] } : undefined,
    publicKey: keyPair.publicKey,
    ...(issuer ? { issuer, pathLength } : { selfSigningKey: keyPair.privateKey }),
    validity: options.validity,
    now: options.now,
  });
  return { certificate, privateKey: keyPair.privateKey, keyPair };
}
