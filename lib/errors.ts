/**
 * Stable error codes. Callers branch on `code`, never on the message.
 */
export const PKI_ERROR_CODES = {
  ERR_ARGUMENT: 'an option or argument given by the caller is invalid',
  ERR_PEM: 'PEM text is malformed, too large, has an unexpected label or carries headers',
  ERR_DER: 'DER bytes are malformed, truncated, not canonical or followed by trailing bytes',
  ERR_KEY: 'a key is of an unsupported type or size, encrypted, malformed or does not match',
  ERR_NAME: 'a subject name or subject alternative name is not valid',
  ERR_CERTIFICATE: 'a certificate cannot be used for what was asked of it',
  ERR_CSR: 'a certificate signing request is malformed',
  ERR_CSR_SIGNATURE: "a certificate signing request's self-signature does not verify",
  ERR_PROFILE: 'a request breaks the rules of its certificate profile',
  ERR_LINT: 'a built certificate failed the pre-issuance lint and was not returned',
  ERR_VALIDITY: 'a validity period is empty, in the past, or outside the issuer',
  ERR_CRYPTO: 'the WebCrypto provider failed or does not support an operation',
  ERR_KUBECONFIG: 'a kubeconfig is malformed, lacks a field or has a field of the wrong type',
  ERR_EXISTS: 'a file exists and differs from what would be written; nothing was changed (use force to replace it)',
  ERR_DIRECTORY: 'a PKI directory is incomplete or inconsistent',
  ERR_IO: 'a file could not be read or written',
  ERR_GONE: 'a watch asked to resume from a resource version older than the server keeps; list again',
  ERR_LOCKED: 'another writer holds the PKI directory (its lock file names the pid); nothing was changed',
  ERR_TOKEN: 'a bootstrap token is malformed, unknown, expired or not usable for authentication',
  ERR_CSR_OBJECT: 'a CertificateSigningRequest object breaks the certificates.k8s.io/v1 validation rules',
  ERR_INVALID_OBJECT: 'the API server refused an object as invalid (422) under its validation rules (the message names the field)',
  ERR_NOT_FOUND: 'the named object does not exist',
  ERR_METHOD_NOT_ALLOWED: 'the resource exists but does not serve that HTTP method',
  ERR_ALREADY_EXISTS: 'an object of that name exists already',
  ERR_CONFLICT: 'the change conflicts with the object as it is (a certificate is already set, a condition cannot change)',
  ERR_UNAUTHORIZED: 'the request carries no valid credentials',
  ERR_FORBIDDEN: 'the requester may not do this',
  ERR_TIMEOUT: 'waiting for something took longer than allowed',
  ERR_DENIED: 'a certificate signing request was denied or failed',
  ERR_UNKNOWN_AUTHORITY: 'no chain leads from the certificate to a trusted root',
  ERR_EXPIRED: 'a certificate in the chain is expired or not yet valid at the verification time',
  ERR_NAME_MISMATCH: 'the certificate is not valid for the requested DNS name or IP address',
  ERR_PURPOSE: 'the chain does not allow the requested purpose (extended key usage)',
  ERR_REVOKED: 'the certificate is listed in a revocation list of its issuer',
  ERR_PKCS11: 'a PKCS#11 module, token, PIN or key could not be used',
  ERR_WORKER: 'a worker thread failed, or was stopped before it answered',
  ERR_DEPENDENCY: 'an optional package the feature needs is not installed (the message names it)',
  ERR_CRITICAL_EXTENSION: 'a certificate of the chain has a critical extension the verifier does not process (RFC 5280 4.2), or critical name constraints on a name form it does not check, so it cannot be used',
  ERR_NAME_CONSTRAINTS: 'a name of a certificate in the chain is outside the name constraints of a CA above it',
  ERR_MALFORMED_CERTIFICATE: 'a certificate of the chain breaks a rule of RFC 5280 that Go refuses it for (an extension twice, a critical key identifier or authority information access, an empty authority information access, a negative serial, malformed name constraints)',
  ERR_INVALID_CHAIN: 'a CA in the chain may not sign it (not a CA, no keyCertSign, path length, weak signature)',
} as const;

/**
 * The stable codes a {@link PkiError} carries: `ERR_ARGUMENT` for an invalid option, `ERR_PEM`/`ERR_DER` for
 * malformed encodings, `ERR_KEY`, `ERR_NAME`, `ERR_CERTIFICATE`, `ERR_CSR`, `ERR_EXPIRED` and so on; each is
 * one kind of failure, whatever the function that reports it.
 *
 * @category Errors
 * @useDeclaredType
 */
export type PkiErrorCode = keyof typeof PKI_ERROR_CODES;

/**
 * What a {@link PkiError} carries besides its code and reason.
 *
 * @category Errors
 */
export interface PkiErrorOptions {
  /** The input field at fault, e.g. `subject.commonName` or `sans.dns[1]`. */
  field?: string;
  /** The underlying error, kept for debugging; never contains key material. */
  cause?: unknown;
  /** The certificate at fault, when a certificate was refused (like Go's CertificateInvalidError.Cert). */
  certificate?: PkiErrorCertificate;
}

/**
 * The certificate a refusal is about, as plain data (it crosses thread boundaries with the error).
 *
 * @category Errors
 */
export interface PkiErrorCertificate {
  /** `CN=..., O=...`, as `describeCertificate` writes it. */
  readonly subject: string;
  /** Lowercase hex without leading zero bytes, as `Certificate.serialNumber`. */
  readonly serialNumber: string;
  /** The certificate itself, PEM-encoded. */
  readonly pem: string;
}

/**
 * A {@link PkiError} as plain, structured-clonable data ({@link PkiError.toData}), to send it to another
 * thread or process and rebuild it there with {@link PkiError.fromData}.
 *
 * @category Errors
 */
export interface PkiErrorData {
  /** The stable error code. */
  readonly code: PkiErrorCode;
  /** The message without the field. */
  readonly reason: string;
  /** The input field at fault, when there is one. */
  readonly field?: string;
  /** The certificate at fault, when a certificate was refused. */
  readonly certificate?: PkiErrorCertificate;
}

/**
 * The one error kubepki throws for every rejected input.
 *
 * @category Errors
 */
export class PkiError extends Error {
  /** Always `PkiError`. */
  override readonly name = 'PkiError';
  /** The stable code to branch on, e.g. `ERR_NAME` or `ERR_EXPIRED`; the message may change between versions. */
  readonly code: PkiErrorCode;
  /** The input field at fault (`subject.commonName`, `sans.dns[1]`, an option's name), when one is. */
  readonly field: string | undefined;
  /** The message without the field. */
  readonly reason: string;
  /** The certificate at fault: set by `verifyCertificate` and `checkName` on the certificate they refuse. */
  readonly certificate: PkiErrorCertificate | undefined;

  constructor(code: PkiErrorCode, reason: string, options: PkiErrorOptions = {}) {
    super(options.field ? `${options.field}: ${reason}` : reason, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.reason = reason;
    this.certificate = options.certificate;
  }

  /** Code, reason, field and certificate as plain data, to cross a thread or process boundary (the cause stays behind). */
  toData(): PkiErrorData {
    return { code: this.code, reason: this.reason, ...(this.field === undefined ? {} : { field: this.field }), ...(this.certificate === undefined ? {} : { certificate: this.certificate }) };
  }

  /** Rebuilds the error {@link PkiError.toData} described, in another thread or process. */
  static fromData(data: PkiErrorData): PkiError {
    return new PkiError(data.code, data.reason, { ...(data.field === undefined ? {} : { field: data.field }), ...(data.certificate === undefined ? {} : { certificate: data.certificate }) });
  }
}

/**
 * True when `error` is a PkiError, optionally with the given code.
 *
 * @category Errors
 */
export function isPkiError(error: unknown, code?: PkiErrorCode): error is PkiError {
  return error instanceof PkiError && (code === undefined || error.code === code);
}
