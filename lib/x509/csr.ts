import { assertDer, children, contentOf, decodeOid, elementBytes } from '../crypto/der.js';
import { keySpecOfSpki, signatureAlgorithm, type KeyPair, type PublicKeyInfo } from '../crypto/keys.js';
import { encodePem, looksLikePem, readPemBlock } from '../crypto/pem.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { subjectOfName, type RawExtension } from './certificate.js';
import { OID, subjectAltName } from './extensions.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS } from './lint.js';
import { verifySignature } from './signature.js';
import { encodeName, validateSubject, type Subject } from './names.js';
import * as x509 from './peculiar.js';
import { checkProfileRequest, type CertificateProfile } from './profile.js';
import { decodeGeneralNames, encodeGeneralNames, hasSans, NO_SANS, normalizeSans, type SanInput, type SubjectAltNames } from './sans.js';

/** A PKCS#10 certificate signing request whose self-signature has been verified. */
export interface CertificateSigningRequest {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly subject: Subject;
  /** The subject Name exactly as encoded in the request. */
  readonly subjectDer: Uint8Array;
  /** The SANs the requester asked for (from the extensionRequest attribute), not normalised. */
  readonly sans: SubjectAltNames;
  readonly publicKey: PublicKeyInfo;
  /** Every extension the requester asked for; a signer decides what, if anything, to honour. */
  readonly requestedExtensions: readonly RawExtension[];
  readonly signatureAlgorithmOid: string;
}

export interface CreateCsrRequest extends CryptoOptions {
  readonly subject: Subject;
  readonly sans?: SanInput;
  readonly keyPair: KeyPair;
  /** When given, the subject, SANs and key are checked against it before anything is signed. */
  readonly profile?: CertificateProfile;
}

/** Builds and signs a PKCS#10 CSR (subject and SANs only; usages travel beside it, as in Kubernetes' CSR API). */
export async function createCsr(request: CreateCsrRequest): Promise<CertificateSigningRequest> {
  const subject = validateSubject(request.subject);
  const sans = normalizeSans(request.sans);
  const { keyPair } = request;
  if (request.profile) checkProfileRequest(request.profile, { subject, sans, keySpec: keyPair.spec });
  const crypto = resolveCrypto(request);
  let built: x509.Pkcs10CertificateRequest;
  try {
    const extensions = hasSans(sans) ? [subjectAltName(encodeGeneralNames(sans))] : [];
    built = await x509.Pkcs10CertificateRequestGenerator.create(
      {
        name: new x509.Name(encodeName(subject) as Uint8Array<ArrayBuffer>),
        keys: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
        signingAlgorithm: signatureAlgorithm(keyPair.spec),
        extensions: extensions.map((e) => new x509.Extension(e.oid, e.critical, e.value as Uint8Array<ArrayBuffer>)),
      },
      crypto,
    );
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `signing the CSR with the ${keyPair.spec} key failed`, { field: 'keyPair', cause });
  }
  return parseCsr(new Uint8Array(built.rawData), request);
}

/**
 * Parses a CSR (PEM `CERTIFICATE REQUEST` or DER) and verifies its self-signature, the requester's
 * proof of possession of the key. A bad signature is ERR_CSR_SIGNATURE; nothing unverified is returned.
 */
export async function parseCsr(input: string | Uint8Array, options: CryptoOptions & { field?: string } = {}): Promise<CertificateSigningRequest> {
  const field = options.field ?? 'csr';
  const der = typeof input === 'string' || looksLikePem(input) ? readPemBlock(input, ['CERTIFICATE REQUEST'], { field }).der : Uint8Array.from(input);
  const { subjectDer, spki, signatureAlgorithmOid, info, signatureValue } = csrFields(der, field);
  if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(signatureAlgorithmOid)) {
    throw new PkiError('ERR_CSR', `signature algorithm ${signatureAlgorithmOid} is not accepted; use SHA-256 or stronger`, { field: `${field}.signatureAlgorithm` });
  }
  const spec = keySpecOfSpki(spki, `${field}.publicKey`);
  let parsed: x509.Pkcs10CertificateRequest;
  try {
    parsed = new x509.Pkcs10CertificateRequest(der as Uint8Array<ArrayBuffer>);
  } catch (cause) {
    throw new PkiError('ERR_CSR', 'not a PKCS#10 certificate request', { field, cause });
  }
  const valid = verifySignature(signatureAlgorithmOid, spki, info, signatureValue);
  if (!valid) throw new PkiError('ERR_CSR_SIGNATURE', 'the self-signature does not verify with the enclosed public key', { field });
  let requestedExtensions: RawExtension[];
  try {
    requestedExtensions = Array.from(parsed.extensions, (e) => ({ oid: e.type, critical: e.critical, value: new Uint8Array(e.value) }));
  } catch (cause) {
    throw new PkiError('ERR_CSR', 'the extensionRequest attribute is malformed', { field: `${field}.extensions`, cause });
  }
  const sanExtensions = requestedExtensions.filter((e) => e.oid === OID.subjectAltName);
  if (sanExtensions.length > 1) throw new PkiError('ERR_CSR', 'requests subjectAltName twice', { field: `${field}.extensions` });
  const sans = sanExtensions[0] ? decodeGeneralNames(sanExtensions[0].value, `${field}.subjectAltName`) : NO_SANS;
  return {
    der,
    pem: encodePem('CERTIFICATE REQUEST', der),
    subject: subjectOfName(parsed.subjectName),
    subjectDer,
    sans,
    publicKey: { spec, spki },
    requestedExtensions,
    signatureAlgorithmOid,
  };
}

/** CertificationRequest ::= SEQUENCE { info SEQUENCE { version, subject, spki, [0] attributes }, algorithm, signature } */
function csrFields(der: Uint8Array, field: string): { subjectDer: Uint8Array; spki: Uint8Array; signatureAlgorithmOid: string; info: Uint8Array; signatureValue: Uint8Array } {
  const top = assertDer(der, field);
  const [info, algorithm, signature] = children(der, top, field);
  if (!info || !algorithm || !signature) throw new PkiError('ERR_CSR', 'a CSR has three parts: info, algorithm, signature', { field });
  const [version, subject, spki] = children(der, info, field);
  if (!version || !subject || !spki) throw new PkiError('ERR_CSR', 'CertificationRequestInfo is missing fields', { field });
  if (contentOf(der, version).length !== 1 || contentOf(der, version)[0] !== 0) throw new PkiError('ERR_CSR', 'unsupported CSR version', { field: `${field}.version` });
  const oid = children(der, algorithm, field)[0];
  if (!oid || oid.tag !== 0x06) throw new PkiError('ERR_CSR', 'malformed signature algorithm', { field: `${field}.signatureAlgorithm` });
  return {
    subjectDer: elementBytes(der, subject),
    spki: elementBytes(der, spki),
    signatureAlgorithmOid: decodeOid(contentOf(der, oid), `${field}.signatureAlgorithm`),
    info: elementBytes(der, info),
    // BIT STRING contents after the unused-bits byte.
    signatureValue: contentOf(der, signature).subarray(1),
  };
}
