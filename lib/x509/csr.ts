import { assertDer, children, concatBytes, contentOf, decodeOid, elementBytes, encodeElement, encodeOid, encodeSequence, encodeSmallInteger, TAG, type DerElement } from '../crypto/der.js';
import { checkedPublicKeyInfo, exportPairSpki, keySpecOfSpki, keySpecOfSpkiStructure, type KeyPair, type KeySpec, type PublicKeyInfo } from '../crypto/keys.js';
import { encodePem, looksLikePem, readPemBlock } from '../crypto/pem.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../crypto/signature-algorithms.js';
import { PkiError } from '../errors.js';
import type { RawExtension } from './certificate.js';
import { decodeExtensions, encodeExtension, OID, subjectAltName, type ExtensionValue } from './extensions.js';
import { encodeSigned, signWithPair, verifySignatureWithNewKey } from './signature.js';
import { checkUnambiguousSubject, encodeName, reencodeSubject, subjectOfAttributes, validateSubject, type NameAttribute, type Subject } from './names.js';
import { checkProfileRequest, type CertificateProfile } from './profile.js';
import { decodeGeneralNames, encodeGeneralNames, hasSans, NO_SANS, normalizeSans, type SanInput, type SubjectAltNames } from './sans.js';

/**
 * A PKCS#10 certificate signing request whose self-signature has been verified.
 *
 * @category Certificates, keys and CSRs
 */
export interface CertificateSigningRequest {
  /** The request as DER, exactly as read or created. */
  readonly der: Uint8Array;
  /** The request as one `CERTIFICATE REQUEST` PEM block. */
  readonly pem: string;
  /** The subject's CN and O as read. */
  readonly subject: Subject;
  /** The subject Name exactly as encoded in the request. */
  readonly subjectDer: Uint8Array;
  /** The subject a signer writes: the Name as read, re-encoded as Go's CreateCertificate does (never bytes it did not read). */
  readonly certifiedSubjectDer: Uint8Array;
  /** The SANs the requester asked for (from the extensionRequest attribute), not normalised. */
  readonly sans: SubjectAltNames;
  /** The key to be certified: the request's self-signature verified with it. */
  readonly publicKey: PublicKeyInfo;
  /** Every extension the requester asked for; a signer decides what, if anything, to honour. */
  readonly requestedExtensions: readonly RawExtension[];
  /** The OID of the self-signature's algorithm; ERR_CSR when weaker than SHA-256. */
  readonly signatureAlgorithmOid: string;
}

/**
 * What createCsr signs into a PKCS#10 request: the subject, SANs and key pair.
 *
 * @category Certificates, keys and CSRs
 */
export interface CreateCsrRequest extends CryptoOptions {
  /** The CN and O to request. */
  readonly subject: Subject;
  /** The SANs to request, in an extensionRequest attribute. Default: none. */
  readonly sans?: SanInput;
  /** The key pair being certified: its public key goes into the request and its private key signs it. */
  readonly keyPair: KeyPair;
  /** When given, the subject, SANs and key are checked against it before anything is signed. */
  readonly profile?: CertificateProfile;
}

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';

/**
 * Builds and signs a PKCS#10 CSR (subject and SANs only; usages travel beside it, as in Kubernetes' CSR API).
 *
 * @category Certificates, keys and CSRs
 */
export async function createCsr(request: CreateCsrRequest): Promise<CertificateSigningRequest> {
  const subject = validateSubject(request.subject);
  const sans = normalizeSans(request.sans);
  const { keyPair } = request;
  if (request.profile) checkProfileRequest(request.profile, { subject, sans, keySpec: keyPair.spec });
  const crypto = resolveCrypto(request);
  const spki = await exportPairSpki(keyPair, request);
  const info = encodeCertificationRequestInfo(encodeName(subject), spki, hasSans(sans) ? [subjectAltName(encodeGeneralNames(sans))] : []);
  const { scheme, signature, native } = await signWithPair(keyPair, info, crypto, 'keyPair');
  // A signature made in-thread by node:crypto is not checked again; a provider's (an HSM's) is.
  const parsed = readCsr(encodeSigned(info, scheme, signature), 'csr', keyPair.spec);
  if (!native) await verifyNewKeySignature(parsed, 'csr');
  return verified(parsed);
}

/**
 * `CertificationRequestInfo ::= SEQUENCE { version 0, subject, spki, [0] attributes }`, the requested
 * extensions in one extensionRequest attribute (none: an empty attribute set, as Go writes it).
 */
export function encodeCertificationRequestInfo(subjectDer: Uint8Array, spki: Uint8Array, extensions: readonly ExtensionValue[]): Uint8Array {
  const attributes = extensions.length
    ? [encodeSequence(encodeOid(OID_EXTENSION_REQUEST), encodeElement(TAG.SET, encodeSequence(...extensions.map(encodeExtension))))]
    : [];
  return encodeSequence(encodeSmallInteger(0), subjectDer, spki, encodeElement(0xa0, concatBytes(attributes)));
}

/**
 * Parses a CSR (PEM `CERTIFICATE REQUEST` or DER) and verifies its self-signature, the requester's
 * proof of possession of the key. A bad signature is ERR_CSR_SIGNATURE; nothing unverified is returned.
 *
 * @category Certificates, keys and CSRs
 */
export async function parseCsr(input: string | Uint8Array, options: CryptoOptions & { field?: string } = {}): Promise<CertificateSigningRequest> {
  const field = options.field ?? 'csr';
  const parsed = readCsr(csrDer(input, field), field);
  await verifyNewKeySignature(parsed, field);
  return verified(parsed);
}

const csrDer = (input: string | Uint8Array, field: string): Uint8Array =>
  typeof input === 'string' || looksLikePem(input) ? readPemBlock(input, ['CERTIFICATE REQUEST'], { field }).der : Uint8Array.from(input);

async function verifyNewKeySignature(parsed: ReadCsr, field: string): Promise<void> {
  const { signatureAlgorithmOid, spki, info, signatureValue } = parsed.fields;
  if (!(await verifySignatureWithNewKey(signatureAlgorithmOid, spki, info, signatureValue))) refuseSignature(spki, field);
}

// A key that fails is parsed whole first, so that a malformed key is ERR_KEY rather than a bad signature.
function refuseSignature(spki: Uint8Array, field: string): never {
  keySpecOfSpki(spki, `${field}.publicKey`);
  throw new PkiError('ERR_CSR_SIGNATURE', 'the self-signature does not verify with the enclosed public key', { field });
}

/**
 * Parses a CSR whose self-signature (and key, of `spec`) this process has verified already, in another
 * thread: never for input from outside. The batched signer uses it so that its workers do not verify each request again.
 */
export function parseVerifiedCsr(input: string | Uint8Array, spec: KeySpec, field = 'csr'): CertificateSigningRequest {
  return verified(readCsr(csrDer(input, field), field, spec));
}

interface ReadCsr {
  readonly der: Uint8Array;
  readonly fields: CsrFields;
  readonly spec: KeySpec;
  readonly subject: Subject;
  readonly subjectAttributes: readonly NameAttribute[];
  readonly sans: SubjectAltNames;
}

/**
 * Parses a CSR without verifying its signature: the callers above verify it (or, with `knownSpec`, know
 * it for one kubepki just made or another thread verified). The key is read from its structure and
 * proved valid by verifying with it; only a key in a form kubepki does not take is parsed whole here.
 */
function readCsr(der: Uint8Array, field: string, knownSpec?: KeySpec): ReadCsr {
  const fields = csrFields(der, field);
  const { subjectDer, spki, signatureAlgorithmOid, requestedExtensions } = fields;
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(signatureAlgorithmOid)) {
    throw new PkiError('ERR_CSR', `signature algorithm ${signatureAlgorithmOid} is not accepted; use SHA-256 or stronger`, { field: `${field}.signatureAlgorithm` });
  }
  const spec = knownSpec ?? keySpecOfSpkiStructure(spki) ?? keySpecOfSpki(spki, `${field}.publicKey`);
  // A subject two readers could take for different identities is refused here, before anything trusts it.
  const subjectAttributes = checkUnambiguousSubject(subjectDer, `${field}.subject`);
  const subject = subjectOfAttributes(subjectAttributes);
  const sanExtensions = requestedExtensions.filter((e) => e.oid === OID.subjectAltName);
  if (sanExtensions.length > 1) throw new PkiError('ERR_CSR', 'requests subjectAltName twice', { field: `${field}.extensions` });
  const sans = sanExtensions[0] ? decodeGeneralNames(sanExtensions[0].value, `${field}.subjectAltName`) : NO_SANS;
  return { der, fields, spec, subject, subjectAttributes, sans };
}

/** The parsed CSR, once its signature is verified: only then is its key recorded as checked. */
function verified({ der, fields, spec, subject, subjectAttributes, sans }: ReadCsr): CertificateSigningRequest {
  // Only a signer reads the re-encoded subject; the registry and the approver, which parse the same CSR, do not.
  let certified: Uint8Array | undefined;
  return {
    der,
    get pem() {
      return encodePem('CERTIFICATE REQUEST', der);
    },
    subject,
    subjectDer: fields.subjectDer,
    get certifiedSubjectDer() {
      return (certified ??= reencodeSubject(subjectAttributes, fields.subjectDer));
    },
    sans,
    publicKey: checkedPublicKeyInfo(spec, fields.spki),
    requestedExtensions: fields.requestedExtensions,
    signatureAlgorithmOid: fields.signatureAlgorithmOid,
  };
}

interface CsrFields {
  subjectDer: Uint8Array;
  spki: Uint8Array;
  signatureAlgorithmOid: string;
  info: Uint8Array;
  signatureValue: Uint8Array;
  requestedExtensions: RawExtension[];
}

/** CertificationRequest ::= SEQUENCE { info SEQUENCE { version, subject, spki, [0] attributes }, algorithm, signature } */
function csrFields(der: Uint8Array, field: string): CsrFields {
  const top = assertDer(der, field);
  const parts = top.tag === TAG.SEQUENCE ? children(der, top, field) : [];
  const [info, algorithm, signature] = parts;
  if (parts.length !== 3 || info!.tag !== TAG.SEQUENCE || algorithm!.tag !== TAG.SEQUENCE || signature!.tag !== TAG.BIT_STRING) {
    throw new PkiError('ERR_CSR', 'a CSR is a SEQUENCE of info, algorithm and signature', { field });
  }
  const [version, subject, spki, attributes, extra] = children(der, info!, field);
  if (version?.tag !== TAG.INTEGER || subject?.tag !== TAG.SEQUENCE || spki?.tag !== TAG.SEQUENCE || attributes?.tag !== 0xa0 || extra) {
    throw new PkiError('ERR_CSR', 'CertificationRequestInfo is missing fields or has fields of the wrong type', { field });
  }
  if (contentOf(der, version).length !== 1 || contentOf(der, version)[0] !== 0) throw new PkiError('ERR_CSR', 'unsupported CSR version', { field: `${field}.version` });
  const oid = children(der, algorithm!, field)[0];
  if (!oid || oid.tag !== TAG.OID) throw new PkiError('ERR_CSR', 'malformed signature algorithm', { field: `${field}.signatureAlgorithm` });
  const bits = contentOf(der, signature!);
  if (bits[0] !== 0) throw new PkiError('ERR_CSR', 'the signature BIT STRING has unused bits', { field: `${field}.signature` });
  return {
    subjectDer: elementBytes(der, subject),
    spki: elementBytes(der, spki),
    signatureAlgorithmOid: decodeOid(contentOf(der, oid), `${field}.signatureAlgorithm`),
    info: elementBytes(der, info!),
    signatureValue: bits.subarray(1),
    requestedExtensions: requestedExtensions(der, attributes, `${field}.extensions`),
  };
}

/** The extensions of the extensionRequest attribute (PKCS#9); other attributes are ignored. */
function requestedExtensions(der: Uint8Array, attributes: DerElement, field: string): RawExtension[] {
  const found: RawExtension[][] = [];
  for (const attribute of children(der, attributes, field)) {
    const [type, values, extra] = attribute.tag === TAG.SEQUENCE ? children(der, attribute, field) : [];
    if (type?.tag !== TAG.OID || values?.tag !== TAG.SET || extra) throw new PkiError('ERR_CSR', 'an attribute is a SEQUENCE of type and SET of values', { field });
    if (decodeOid(contentOf(der, type), field) !== OID_EXTENSION_REQUEST) continue;
    const [extensions, more] = children(der, values, field);
    if (!extensions || more) throw new PkiError('ERR_CSR', 'the extensionRequest attribute has one value', { field });
    found.push(decodeExtensions(der, extensions, field));
  }
  if (found.length > 1) throw new PkiError('ERR_CSR', 'the extensionRequest attribute appears twice', { field });
  return found[0] ?? [];
}
