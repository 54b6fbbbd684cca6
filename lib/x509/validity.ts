import { PkiError } from '../errors.js';
import type { Certificate } from './certificate.js';

/**
 * How long a certificate is valid. Every field is optional; defaults follow kubeadm (docs/kubernetes-pki.md §3).
 *
 * @category Certificates, keys and CSRs
 */
export interface ValidityOptions {
  /** Explicit start; default: now minus `backdateSeconds`. */
  notBefore?: Date;
  /** Explicit end; default: now plus `lifetimeSeconds`. */
  notAfter?: Date;
  /** Default: the profile's lifetime. */
  lifetimeSeconds?: number;
  /** How far NotBefore is moved into the past to absorb clock skew. Default 300 (5 minutes). */
  backdateSeconds?: number;
}

export const DEFAULT_BACKDATE_SECONDS = 300;

/**
 * A certificate's validity period, as resolved from ValidityOptions.
 *
 * @category Certificates, keys and CSRs
 */
export interface Validity {
  /** The certificate's NotBefore. */
  readonly notBefore: Date;
  /** The certificate's NotAfter. */
  readonly notAfter: Date;
}

/**
 * The validity of a new certificate: NotBefore = now - backdate, NotAfter = now + lifetime (as kubeadm
 * counts from its start time), both to whole seconds, then kept inside the issuer's validity: NotAfter
 * is truncated to the CA's NotAfter as the in-tree signer does (§11), NotBefore raised to the CA's.
 */
export function computeValidity(now: Date, defaultLifetimeSeconds: number, options: ValidityOptions = {}, issuer?: Certificate): Validity {
  const lifetime = options.lifetimeSeconds ?? defaultLifetimeSeconds;
  const backdate = options.backdateSeconds ?? DEFAULT_BACKDATE_SECONDS;
  if (!Number.isFinite(lifetime) || lifetime <= 0) throw new PkiError('ERR_VALIDITY', 'must be a positive number of seconds', { field: 'validity.lifetimeSeconds' });
  if (!Number.isFinite(backdate) || backdate < 0) throw new PkiError('ERR_VALIDITY', 'must be zero or more seconds', { field: 'validity.backdateSeconds' });
  for (const key of ['notBefore', 'notAfter'] as const) {
    const value = options[key];
    if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) {
      throw new PkiError('ERR_VALIDITY', 'must be a valid Date', { field: `validity.${key}` });
    }
  }
  let notBefore = options.notBefore?.getTime() ?? now.getTime() - backdate * 1000;
  let notAfter = options.notAfter?.getTime() ?? now.getTime() + lifetime * 1000;
  if (issuer) {
    if (issuer.notAfter.getTime() <= now.getTime()) {
      throw new PkiError('ERR_VALIDITY', `the CA expired at ${issuer.notAfter.toISOString()}`, { field: 'issuer.certificate' });
    }
    notAfter = Math.min(notAfter, issuer.notAfter.getTime());
    notBefore = Math.max(notBefore, issuer.notBefore.getTime());
  }
  notBefore = Math.ceil(notBefore / 1000) * 1000;
  notAfter = Math.floor(notAfter / 1000) * 1000;
  if (notAfter <= notBefore) {
    throw new PkiError('ERR_VALIDITY', `empty validity: NotAfter ${new Date(notAfter).toISOString()} is not after NotBefore ${new Date(notBefore).toISOString()}`, { field: 'validity' });
  }
  if (notAfter <= now.getTime()) throw new PkiError('ERR_VALIDITY', 'the certificate would already be expired', { field: 'validity.notAfter' });
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}
