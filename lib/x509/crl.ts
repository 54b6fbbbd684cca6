import {
  assertDer,
  children,
  CRL_LIMITS,
  contentOf,
  decodeOid,
  elementBytes,
  encodeElement,
  encodeSequence,
  encodeSmallInteger,
  encodeUnsignedInteger,
  readElement,
  TAG,
  type DerElement,
} from '../crypto/der.js';
import { encodePem, looksLikePem, readPemBlock } from '../crypto/pem.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { Certificate, keyIdentifier } from './certificate.js';
import { authorityKeyIdentifier, decodeAuthorityKeyIdentifier, decodeExtensions, encodeExtension, OID, type ExtensionValue } from './extensions.js';
import type { Issuer } from './issue.js';
import { encodeSigned, signatureSchemeOf, signBytes, verifySignature } from './signature.js';
import { decodeTime, encodeTime } from './time.js';

/** cRLNumber (RFC 5280 5.2.3). Not in `OID`: that table is what the certificate lint accepts. */
const CRL_NUMBER_OID = '2.5.29.20';
/** A CRL number is at most 20 octets (RFC 5280 5.2.3), as a non-negative DER INTEGER. */
const MAX_CRL_NUMBER = (1n << 159n) - 1n;

/**
 * A parsed certificate revocation list; its signature is checked against the issuer when used.
 *
 * @category Certificates, keys and CSRs
 */
export interface RevocationList {
  /** The CRL as DER, exactly as read or signed. */
  readonly der: Uint8Array;
  /** The CRL as one `X509 CRL` PEM block. */
  readonly pem: string;
  /** The issuer Name as encoded in the CRL; it matches the issuing CA's subject bytes. */
  readonly issuerDer: Uint8Array;
  /** When the CRL was issued. */
  readonly thisUpdate: Date;
  /** When the next CRL is due; a relying party may treat the CRL as stale after it. Absent when the CRL has none. */
  readonly nextUpdate?: Date;
  /** The cRLNumber extension (RFC 5280 5.2.3); absent when the CRL has none (kubepki 0.1.0 wrote none). */
  readonly crlNumber?: bigint;
  /** The keyIdentifier of the authorityKeyIdentifier extension (RFC 5280 5.2.1): the CA's subject key id. */
  readonly authorityKeyId?: Uint8Array;
  /** Revoked serial numbers, lowercase hex without leading zero bytes. */
  readonly serials: ReadonlySet<string>;
  /** When each serial was revoked (its entry's revocationDate), by serial as in `serials`. */
  readonly revocationDates: ReadonlyMap<string, Date>;
  /** The signed part (TBSCertList) as DER, to check the signature over. */
  readonly tbs: Uint8Array;
  /** The OID of the signature algorithm, e.g. 1.2.840.10045.4.3.2 for ECDSA with SHA-256. */
  readonly signatureAlgorithmOid: string;
  /** The signature bytes (the BIT STRING's content). */
  readonly signature: Uint8Array;
}

/**
 * What issueRevocationList signs: the issuing CA, the revoked serials and the update times.
 *
 * @category Certificates, keys and CSRs
 */
export interface IssueRevocationListOptions extends CryptoOptions {
  /** The CA that signs the CRL: its certificate needs the cRLSign key usage when it lists usages (ERR_CERTIFICATE otherwise). */
  issuer: Issuer;
  /** Serials (hex) of the certificates to revoke, e.g. of a decommissioned node. */
  revoked: readonly {
    /** The serial, hex (up to 40 digits); ERR_ARGUMENT otherwise. */
    serialNumber: string;
    /** The revocationDate. Default: `thisUpdate`. */
    revokedAt?: Date;
  }[];
  /** The CRL's issuing time. Default: now. */
  thisUpdate?: Date;
  /** Default: thisUpdate + 7 days. */
  nextUpdate?: Date;
  /**
   * The CA's current CRL, which this one replaces: the new CRL's number is one above its cRLNumber
   * (RFC 5280 5.2.3: CRL numbers grow with every CRL a CA issues). Only its number is used; carry its
   * entries over in `revoked`. Without `previous` and `crlNumber`, the CRL is the CA's first: number 1.
   */
  previous?: Pick<RevocationList, 'crlNumber'>;
  /** The cRLNumber to write, when the caller keeps the count itself; above `previous`'s when both are given. */
  crlNumber?: bigint;
}

/** A serial number in hex as `serials` holds it: lowercase, without leading zero bytes. */
export const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^(00)+(?=.)/, '');

/** The number a new CRL gets: `crlNumber` if given, else one above `previous`'s, else 1. */
function nextCrlNumber(options: IssueRevocationListOptions): bigint {
  const previous = options.previous?.crlNumber;
  if (options.crlNumber === undefined) {
    const next = previous === undefined ? 1n : previous + 1n;
    if (next > MAX_CRL_NUMBER) throw new PkiError('ERR_ARGUMENT', 'the previous CRL number is the largest a CRL may carry (20 octets)', { field: 'previous.crlNumber' });
    return next;
  }
  const given = options.crlNumber;
  if (typeof given !== 'bigint' || given < 0n || given > MAX_CRL_NUMBER) throw new PkiError('ERR_ARGUMENT', 'is not a non-negative integer of at most 20 octets', { field: 'crlNumber' });
  if (previous !== undefined && given <= previous) throw new PkiError('ERR_ARGUMENT', `must be above the previous CRL's number ${previous}`, { field: 'crlNumber' });
  return given;
}

/** Big-endian bytes of a hex magnitude (an odd length gets its leading zero). */
function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'));
}

/**
 * Issues a v2 CRL signed by the CA (which needs the cRLSign key usage kubepki's CAs carry), with the
 * authorityKeyIdentifier (RFC 5280 5.2.1) and cRLNumber (5.2.3) extensions; entries carry no
 * crlEntryExtensions, and a CRL that revokes nothing has no revokedCertificates.
 *
 * @category Certificates, keys and CSRs
 */
export async function issueRevocationList(options: IssueRevocationListOptions): Promise<RevocationList> {
  const ca = Certificate.from(options.issuer.certificate, 'issuer.certificate');
  if (ca.keyUsages.length && !ca.keyUsages.includes('cRLSign')) throw new PkiError('ERR_CERTIFICATE', 'the CA lacks the cRLSign key usage', { field: 'issuer.certificate' });
  const thisUpdate = options.thisUpdate ?? new Date();
  const nextUpdate = options.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * 86_400_000);
  options.revoked.forEach((entry, i) => {
    if (!/^[0-9a-fA-F]{1,40}$/.test(entry.serialNumber)) throw new PkiError('ERR_ARGUMENT', 'is not a hexadecimal serial number', { field: `revoked[${i}].serialNumber` });
  });
  const crlNumber = nextCrlNumber(options);
  const scheme = signatureSchemeOf(options.issuer.privateKey, 'issuer.privateKey');
  const entries = options.revoked.map((entry) => encodeSequence(encodeUnsignedInteger(hexBytes(normalizeSerial(entry.serialNumber))), encodeTime(entry.revokedAt ?? thisUpdate)));
  const extensions: ExtensionValue[] = [
    // The CA's own subject key id, so that a CRL matches the CA certificate as its certificates do.
    authorityKeyIdentifier(ca.subjectKeyId ?? keyIdentifier(ca.spki)),
    { oid: CRL_NUMBER_OID, critical: false, value: encodeUnsignedInteger(hexBytes(crlNumber.toString(16))) },
  ];
  // TBSCertList ::= SEQUENCE { version v2, signature, issuer, thisUpdate, nextUpdate, revokedCertificates OPTIONAL, [0] crlExtensions }
  const tbs = encodeSequence(
    encodeSmallInteger(1),
    scheme.algorithmIdentifier,
    ca.subjectDer,
    encodeTime(thisUpdate),
    encodeTime(nextUpdate),
    ...(entries.length ? [encodeSequence(...entries)] : []),
    encodeElement(0xa0, encodeSequence(...extensions.map(encodeExtension))),
  );
  let signature: Uint8Array;
  try {
    ({ signature } = await signBytes(options.issuer.privateKey, tbs, options.issuer.crypto ?? resolveCrypto(options), 'issuer.privateKey'));
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `signing the revocation list with the ${ca.keySpec} CA key failed`, { field: 'issuer.privateKey', cause });
  }
  return parseRevocationList(encodeSigned(tbs, scheme, signature));
}

/**
 * Parses a CRL (PEM `X509 CRL` or DER).
 *
 * @category Certificates, keys and CSRs
 */
export function parseRevocationList(input: string | Uint8Array, field = 'crl'): RevocationList {
  const der = typeof input === 'string' || looksLikePem(input) ? readPemBlock(input, ['X509 CRL'], { field }).der : Uint8Array.from(input);
  const top = assertDer(der, field, CRL_LIMITS);
  const [tbs, algorithm, signature] = children(der, top, field);
  if (!tbs || !algorithm || !signature) throw new PkiError('ERR_DER', 'a CRL has three parts', { field });
  // TBSCertList ::= SEQUENCE { version OPTIONAL, signature, issuer, thisUpdate, nextUpdate OPTIONAL,
  //   revokedCertificates SEQUENCE OF SEQUENCE { userCertificate, revocationDate, extensions OPTIONAL } OPTIONAL, [0] extensions OPTIONAL }
  const fail = (reason: string): never => {
    throw new PkiError('ERR_DER', `not a certificate revocation list: ${reason}`, { field });
  };
  if (top.tag !== TAG.SEQUENCE || tbs.tag !== TAG.SEQUENCE || algorithm.tag !== TAG.SEQUENCE || signature.tag !== TAG.BIT_STRING) fail('wrong outer structure');
  const fields = children(der, tbs, field);
  if (fields[0]?.tag === TAG.INTEGER) fields.shift();
  const [innerAlgorithm, issuer, thisUpdate, ...rest] = fields;
  if (innerAlgorithm?.tag !== TAG.SEQUENCE || issuer?.tag !== TAG.SEQUENCE || !thisUpdate) fail('missing fields');
  const time = (element: DerElement, name: string): Date => decodeTime(element.tag, contentOf(der, element), `${field}.${name}`);
  const algorithmOid = children(der, algorithm, field)[0];
  if (algorithmOid?.tag !== TAG.OID) fail('the signature algorithm has no OBJECT IDENTIFIER');
  if (!Buffer.from(elementBytes(der, innerAlgorithm!)).equals(elementBytes(der, algorithm))) fail('the inner and outer signature algorithms differ');
  if (contentOf(der, signature).length < 2 || contentOf(der, signature)[0] !== 0) fail('the signature is not a whole number of bytes');
  const isTime = (element: DerElement | undefined): element is DerElement => element?.tag === 0x17 || element?.tag === 0x18;
  const nextUpdate = isTime(rest[0]) ? rest.shift() : undefined;
  const revoked = rest[0]?.tag === TAG.SEQUENCE ? rest.shift() : undefined;
  if (rest.some((element) => element.tag !== 0xa0) || rest.length > 1) fail('unexpected trailing fields');
  const { crlNumber, authorityKeyId } = rest[0] ? crlExtensions(der, rest[0], field) : {};
  const revocationDates = new Map<string, Date>();
  for (const entry of revoked ? children(der, revoked, field) : []) {
    const [serial, date] = entry.tag === TAG.SEQUENCE ? children(der, entry, field) : [];
    if (serial?.tag !== TAG.INTEGER || !isTime(date)) fail('malformed revoked certificate entry');
    revocationDates.set(normalizeSerial(Buffer.from(contentOf(der, serial!)).toString('hex')), time(date!, 'revocationDate'));
  }
  return {
    der,
    pem: encodePem('X509 CRL', der),
    issuerDer: elementBytes(der, issuer!),
    thisUpdate: time(thisUpdate!, 'thisUpdate'),
    ...(nextUpdate ? { nextUpdate: time(nextUpdate, 'nextUpdate') } : {}),
    ...(crlNumber === undefined ? {} : { crlNumber }),
    ...(authorityKeyId ? { authorityKeyId } : {}),
    serials: new Set(revocationDates.keys()),
    revocationDates,
    tbs: elementBytes(der, tbs),
    signatureAlgorithmOid: decodeOid(contentOf(der, algorithmOid!), field),
    signature: contentOf(der, signature).subarray(1),
  };
}

/** The cRLNumber and authorityKeyIdentifier of a `[0] EXPLICIT Extensions` element; other extensions are skipped. */
function crlExtensions(der: Uint8Array, element: DerElement, field: string): { crlNumber?: bigint; authorityKeyId?: Uint8Array } {
  const inner = children(der, element, field);
  if (inner.length !== 1) throw new PkiError('ERR_DER', 'not a certificate revocation list: crlExtensions holds one SEQUENCE', { field });
  const extensions = decodeExtensions(der, inner[0]!, `${field}.crlExtensions`);
  const oids = extensions.map((extension) => extension.oid);
  if (new Set(oids).size !== oids.length) throw new PkiError('ERR_DER', 'not a certificate revocation list: an extension appears twice', { field: `${field}.crlExtensions` });
  const number = extensions.find((extension) => extension.oid === CRL_NUMBER_OID);
  const aki = extensions.find((extension) => extension.oid === OID.authorityKeyIdentifier);
  const authorityKeyId = aki ? decodeAuthorityKeyIdentifier(aki.value, `${field}.authorityKeyIdentifier`) : undefined;
  return {
    ...(number ? { crlNumber: decodeCrlNumber(number.value, `${field}.crlNumber`) } : {}),
    ...(authorityKeyId ? { authorityKeyId: Uint8Array.from(authorityKeyId) } : {}),
  };
}

/** A cRLNumber value: one DER INTEGER, non-negative, minimally encoded, at most 20 octets. */
function decodeCrlNumber(value: Uint8Array, field: string): bigint {
  const element = readElement(value, 0, field);
  const content = contentOf(value, element);
  if (element.tag !== TAG.INTEGER || element.end !== value.length || content.length === 0) throw new PkiError('ERR_DER', 'the CRL number is not one INTEGER', { field });
  if (content.length > 1 && ((content[0] === 0 && content[1]! < 0x80) || (content[0] === 0xff && content[1]! >= 0x80))) throw new PkiError('ERR_DER', 'the CRL number is not minimally encoded', { field });
  if (content[0]! >= 0x80) throw new PkiError('ERR_DER', 'the CRL number is negative', { field });
  if (content.length > 20) throw new PkiError('ERR_DER', 'the CRL number is longer than 20 octets', { field });
  return BigInt(`0x${Buffer.from(content).toString('hex')}`);
}

/**
 * True when `crl` comes from `issuer` (same Name, signature verifies with its key, current at `time`)
 * and lists `certificate`. A CRL of that issuer whose signature fails is an error, never ignored.
 */
export function isRevoked(certificate: Certificate, issuer: Certificate, crl: RevocationList, time: Date): boolean {
  if (!Buffer.from(crl.issuerDer).equals(issuer.subjectDer)) return false;
  if (!verifySignature(crl.signatureAlgorithmOid, issuer.spki, crl.tbs, crl.signature)) throw new PkiError('ERR_INVALID_CHAIN', `the revocation list of CN=${issuer.subject.commonName} does not verify`, { field: 'crls' });
  if (crl.thisUpdate > time) return false;
  return crl.serials.has(certificate.serialNumber);
}
