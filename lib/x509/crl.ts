import { assertDer, children, CRL_LIMITS, contentOf, decodeOid, elementBytes, TAG, type DerElement } from '../crypto/der.js';
import { signatureAlgorithm } from '../crypto/keys.js';
import { encodePem, looksLikePem, readPemBlock } from '../crypto/pem.js';
import { resolveCrypto, type CryptoOptions } from '../crypto/provider.js';
import { PkiError } from '../errors.js';
import { Certificate } from './certificate.js';
import type { Issuer } from './issue.js';
import type * as X509 from './peculiar.js';
import { verifySignature } from './signature.js';
import { decodeTime } from './time.js';

/** A parsed certificate revocation list; its signature is checked against the issuer when used. */
export interface RevocationList {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly issuerDer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
  /** Revoked serial numbers, lowercase hex without leading zero bytes. */
  readonly serials: ReadonlySet<string>;
  /** When each serial was revoked (its entry's revocationDate), by serial as in `serials`. */
  readonly revocationDates: ReadonlyMap<string, Date>;
  readonly tbs: Uint8Array;
  readonly signatureAlgorithmOid: string;
  readonly signature: Uint8Array;
}

export interface IssueRevocationListOptions extends CryptoOptions {
  issuer: Issuer;
  /** Serials (hex) of the certificates to revoke, e.g. of a decommissioned node. */
  revoked: readonly { serialNumber: string; revokedAt?: Date }[];
  thisUpdate?: Date;
  /** Default: thisUpdate + 7 days. */
  nextUpdate?: Date;
}

/** A serial number in hex as `serials` holds it: lowercase, without leading zero bytes. */
export const normalizeSerial = (hex: string): string => hex.toLowerCase().replace(/^(00)+(?=.)/, '');

/** Issues a CRL signed by the CA (which needs the cRLSign key usage kubepki's CAs carry). */
export async function issueRevocationList(options: IssueRevocationListOptions): Promise<RevocationList> {
  const ca = Certificate.from(options.issuer.certificate, 'issuer.certificate');
  if (ca.keyUsages.length && !ca.keyUsages.includes('cRLSign')) throw new PkiError('ERR_CERTIFICATE', 'the CA lacks the cRLSign key usage', { field: 'issuer.certificate' });
  const thisUpdate = options.thisUpdate ?? new Date();
  options.revoked.forEach((entry, i) => {
    if (!/^[0-9a-fA-F]{1,40}$/.test(entry.serialNumber)) throw new PkiError('ERR_ARGUMENT', 'is not a hexadecimal serial number', { field: `revoked[${i}].serialNumber` });
  });
  // @peculiar/x509 (and reflect-metadata) are loaded only to build a CRL: they cost about 250 ms of import time.
  const x509: typeof X509 = await import('./peculiar.js');
  let crl: X509.X509Crl;
  try {
    crl = await x509.X509CrlGenerator.create(
      {
        issuer: new x509.Name(ca.subjectDer as Uint8Array<ArrayBuffer>),
        thisUpdate,
        nextUpdate: options.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * 86_400_000),
        signingKey: options.issuer.privateKey,
        signingAlgorithm: signatureAlgorithm(ca.keySpec),
        entries: options.revoked.map((entry) => ({ serialNumber: normalizeSerial(entry.serialNumber), revocationDate: entry.revokedAt ?? thisUpdate })),
      },
      options.issuer.crypto ?? resolveCrypto(options),
    );
  } catch (cause) {
    throw new PkiError('ERR_CRYPTO', `signing the revocation list with the ${ca.keySpec} CA key failed`, { field: 'issuer.privateKey', cause });
  }
  return parseRevocationList(new Uint8Array(crl.rawData));
}

/** Parses a CRL (PEM `X509 CRL` or DER). */
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
    serials: new Set(revocationDates.keys()),
    revocationDates,
    tbs: elementBytes(der, tbs),
    signatureAlgorithmOid: decodeOid(contentOf(der, algorithmOid!), field),
    signature: contentOf(der, signature).subarray(1),
  };
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
