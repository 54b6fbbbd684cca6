import { hash } from 'node:crypto';
import { assertDer, children, contentOf, decodeOid, elementBytes, readElement, TAG, type DerElement } from '../crypto/der.js';
import { keySpecOfSpki, type KeySpec } from '../crypto/keys.js';
import { encodePem, looksLikePem, readPemBlock, readPemBlocks } from '../crypto/pem.js';
import { PkiError } from '../errors.js';
import {
  decodeAuthorityKeyIdentifier,
  decodeBasicConstraints,
  decodeExtendedKeyUsage,
  decodeExtensions,
  decodeKeyUsage,
  decodeSubjectKeyIdentifier,
  OID,
} from './extensions.js';
import { decodeSubject, type Subject } from './names.js';
import { verifySignature } from './signature.js';
import { decodeTime } from './time.js';
import { EXTENDED_KEY_USAGE_OIDS, type ExtendedKeyUsageName, type KeyUsageName } from './profile.js';
import { decodeGeneralNames, NO_SANS, type SubjectAltNames } from './sans.js';

/**
 * A certificate given as a Certificate, PEM text or DER bytes.
 *
 * @category Certificates, keys and CSRs
 */
export type CertificateInput = Certificate | string | Uint8Array;

/**
 * An extension as it appears in a certificate or CSR.
 *
 * @category Certificates, keys and CSRs
 */
export interface RawExtension {
  /** The extension's OID in dotted text, e.g. `2.5.29.17` for subjectAltName. */
  readonly oid: string;
  /** Whether the extension is marked critical. */
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content: the DER of the extension itself. */
  readonly value: Uint8Array;
}

const EKU_NAME_OF_OID = new Map<string, ExtendedKeyUsageName>(
  Object.entries(EXTENDED_KEY_USAGE_OIDS).map(([name, oid]) => [oid, name as ExtendedKeyUsageName]),
);

/**
 * A parsed X.509 certificate that keeps its DER bytes; read-only. Parsed by kubepki's own DER reader.
 *
 * @category Certificates, keys and CSRs
 */
export class Certificate {
  /** The whole certificate, DER-encoded, exactly as parsed. */
  readonly der: Uint8Array;
  /** The signed part, header included. */
  readonly tbsDer: Uint8Array;
  /** The subject Name's DER bytes (what a certificate it signs must carry as issuer, byte for byte). */
  readonly subjectDer: Uint8Array;
  /** The issuer Name's DER bytes. */
  readonly issuerDer: Uint8Array;
  /** The DER SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  /** The TBSCertificate version field (0 for v1, 2 for v3). */
  readonly version: number;
  /** The serial number INTEGER's content bytes (two's complement). */
  readonly serialBytes: Uint8Array;
  /** Start of the validity period. */
  readonly notBefore: Date;
  /** End of the validity period (inclusive, as RFC 5280 reads it). */
  readonly notAfter: Date;
  /** The signature algorithm's OID in dotted text, e.g. `1.2.840.10045.4.3.2` for ECDSA with SHA-256. */
  readonly signatureAlgorithmOid: string;
  /** The signature BIT STRING's bits. */
  readonly signatureValue: Uint8Array;
  /** CN (the last, as Go reads it) and every O of the subject. */
  readonly subject: Subject;
  /** CN (the last) and every O of the issuer. */
  readonly issuer: Subject;
  /** Every extension, in the certificate's order. */
  readonly extensions: readonly RawExtension[];
  /** The basicConstraints extension, or `undefined` when the certificate has none. */
  readonly basicConstraints:
    | {
        /** The cA flag. */
        readonly isCA: boolean;
        /** pathLenConstraint: how many CAs may follow this one in a chain; absent when unlimited. */
        readonly pathLength?: number;
        /** Whether the extension is marked critical. */
        readonly critical: boolean;
      }
    | undefined;
  /** The keyUsage bits by name (`digitalSignature`, `keyCertSign`, ...); empty without the extension. */
  readonly keyUsages: readonly KeyUsageName[];
  /** Extended key usages by name; unknown OIDs are given as dotted text. */
  readonly extendedKeyUsages: readonly string[];
  /** The subjectAltName entries; every list is empty without the extension. */
  readonly sans: SubjectAltNames;
  /** The subjectKeyIdentifier, when present. */
  readonly subjectKeyId: Uint8Array | undefined;
  /** The authorityKeyIdentifier's keyIdentifier, when present. */
  readonly authorityKeyId: Uint8Array | undefined;

  private constructor(der: Uint8Array, field: string) {
    const top = assertDer(der, field);
    const parts = top.tag === TAG.SEQUENCE ? children(der, top, field) : [];
    const [tbs, outerAlgorithm, signature] = parts;
    if (parts.length !== 3 || tbs!.tag !== TAG.SEQUENCE || outerAlgorithm!.tag !== TAG.SEQUENCE || signature!.tag !== TAG.BIT_STRING) {
      throw new PkiError('ERR_DER', 'not an X.509 certificate: expected SEQUENCE { TBSCertificate, AlgorithmIdentifier, BIT STRING }', { field });
    }
    const fields = children(der, tbs!, field);
    const explicitVersion = fields[0]?.tag === 0xa0 ? fields.shift() : undefined;
    const [serial, innerAlgorithm, issuer, validity, subject, spki, ...optional] = fields;
    const tagsOk =
      serial?.tag === TAG.INTEGER && innerAlgorithm?.tag === TAG.SEQUENCE && issuer?.tag === TAG.SEQUENCE && validity?.tag === TAG.SEQUENCE && subject?.tag === TAG.SEQUENCE && spki?.tag === TAG.SEQUENCE;
    if (!tagsOk) throw new PkiError('ERR_DER', 'TBSCertificate is missing fields or has fields of the wrong type', { field });
    if (!Buffer.from(elementBytes(der, innerAlgorithm!)).equals(elementBytes(der, outerAlgorithm!))) {
      throw new PkiError('ERR_DER', 'the inner and outer signature algorithms differ', { field: `${field}.signatureAlgorithm` });
    }
    this.der = der;
    this.tbsDer = elementBytes(der, tbs!);
    this.version = explicitVersion ? versionOf(der, explicitVersion, field) : 0;
    this.serialBytes = contentOf(der, serial!);
    this.signatureAlgorithmOid = algorithmOid(der, outerAlgorithm!, field);
    const signatureBits = contentOf(der, signature!);
    if (signatureBits[0] !== 0) throw new PkiError('ERR_DER', 'the signature BIT STRING has unused bits', { field: `${field}.signature` });
    this.signatureValue = signatureBits.subarray(1);
    this.issuerDer = elementBytes(der, issuer!);
    this.subjectDer = elementBytes(der, subject!);
    this.spki = elementBytes(der, spki!);
    this.issuer = decodeSubject(this.issuerDer, `${field}.issuer`);
    this.subject = decodeSubject(this.subjectDer, `${field}.subject`);
    const [notBefore, notAfter, extraTime] = children(der, validity!, field);
    if (!notBefore || !notAfter || extraTime) throw new PkiError('ERR_DER', 'validity has two times', { field: `${field}.validity` });
    this.notBefore = decodeTime(notBefore.tag, contentOf(der, notBefore), `${field}.validity.notBefore`);
    this.notAfter = decodeTime(notAfter.tag, contentOf(der, notAfter), `${field}.validity.notAfter`);

    const extensionsField = optional.find((element) => element.tag === 0xa3);
    if (optional.some((element) => element.tag !== 0x81 && element.tag !== 0x82 && element.tag !== 0xa3)) {
      throw new PkiError('ERR_DER', 'TBSCertificate has unexpected trailing fields', { field });
    }
    const extensionsSequence = extensionsField ? children(der, extensionsField, field) : [];
    if (extensionsSequence.length > 1) throw new PkiError('ERR_DER', 'the extensions field holds more than one SEQUENCE', { field });
    this.extensions = Object.freeze(extensionsSequence[0] ? decodeExtensions(der, extensionsSequence[0], `${field}.extensions`) : []);

    const constraints = extensionOf(this.extensions, OID.basicConstraints);
    const decoded = constraints ? decodeBasicConstraints(constraints.value, `${field}.basicConstraints`) : undefined;
    this.basicConstraints = decoded ? { isCA: decoded.isCA, pathLength: decoded.pathLength, critical: constraints!.critical } : undefined;
    const keyUsage = extensionOf(this.extensions, OID.keyUsage);
    this.keyUsages = keyUsage ? decodeKeyUsage(keyUsage.value, `${field}.keyUsage`) : [];
    const extKeyUsage = extensionOf(this.extensions, OID.extKeyUsage);
    this.extendedKeyUsages = extKeyUsage ? decodeExtendedKeyUsage(extKeyUsage.value, `${field}.extKeyUsage`).map((oid) => EKU_NAME_OF_OID.get(oid) ?? oid) : [];
    const sans = extensionOf(this.extensions, OID.subjectAltName);
    this.sans = sans ? decodeGeneralNames(sans.value, `${field}.subjectAltName`) : NO_SANS;
    const skid = extensionOf(this.extensions, OID.subjectKeyIdentifier);
    this.subjectKeyId = skid ? decodeSubjectKeyIdentifier(skid.value, `${field}.subjectKeyIdentifier`) : undefined;
    const akid = extensionOf(this.extensions, OID.authorityKeyIdentifier);
    this.authorityKeyId = akid ? decodeAuthorityKeyIdentifier(akid.value, `${field}.authorityKeyIdentifier`) : undefined;
  }

  /** Parses one certificate from PEM (`CERTIFICATE`) or DER, or returns it as is. */
  static from(input: CertificateInput, field = 'certificate'): Certificate {
    if (input instanceof Certificate) return input;
    if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
      throw new PkiError('ERR_ARGUMENT', 'expected PEM text, DER bytes or a Certificate', { field });
    }
    if (typeof input === 'string' || looksLikePem(input)) {
      return new Certificate(readPemBlock(input, ['CERTIFICATE'], { field }).der, field);
    }
    return new Certificate(Uint8Array.from(input), field);
  }

  /** Parses every `CERTIFICATE` block of a PEM bundle. */
  static fromPemBundle(pem: string | Uint8Array, field = 'certificates'): Certificate[] {
    return readPemBlocks(pem, { field }).map((block, i) => {
      if (block.label !== 'CERTIFICATE') throw new PkiError('ERR_PEM', `expected CERTIFICATE, found ${block.label}`, { field: `${field}[${i}]` });
      return new Certificate(block.der, `${field}[${i}]`);
    });
  }

  /** The certificate as one PEM `CERTIFICATE` block. */
  get pem(): string {
    return encodePem('CERTIFICATE', this.der);
  }

  /** Lowercase hex, without leading zero bytes. */
  get serialNumber(): string {
    return Buffer.from(this.serialBytes).toString('hex').replace(/^(00)+(?=.)/, '');
  }

  /** The spec of the certified key; ERR_KEY when kubepki does not support it. */
  get keySpec(): KeySpec {
    return keySpecOfSpki(this.spki, 'certificate.publicKey');
  }

  /** The extension with this dotted OID, or `undefined`. */
  extension(oid: string): RawExtension | undefined {
    return this.extensions.find((e) => e.oid === oid);
  }

  /** True when basicConstraints says cA (false without the extension). */
  get isCA(): boolean {
    return this.basicConstraints?.isCA ?? false;
  }

  /** True when `ca`'s subject is this certificate's issuer and `ca`'s key verifies its signature. */
  isIssuedBy(ca: Certificate): boolean {
    if (!Buffer.from(this.issuerDer).equals(ca.subjectDer)) return false;
    return verifySignature(this.signatureAlgorithmOid, ca.spki, this.tbsDer, this.signatureValue);
  }

  /** True when subject and issuer Name bytes are equal. */
  get isSelfIssued(): boolean {
    return Buffer.from(this.subjectDer).equals(this.issuerDer);
  }
}

function versionOf(der: Uint8Array, explicit: DerElement, field: string): number {
  const [integer, extra] = children(der, explicit, field);
  const content = integer?.tag === TAG.INTEGER && !extra ? contentOf(der, integer) : undefined;
  if (!content || content.length !== 1 || content[0]! > 2) throw new PkiError('ERR_DER', 'malformed certificate version', { field: `${field}.version` });
  return content[0]!;
}

function algorithmOid(der: Uint8Array, algorithm: DerElement, field: string): string {
  const oid = children(der, algorithm, field)[0];
  if (oid?.tag !== TAG.OID) throw new PkiError('ERR_DER', 'malformed signature algorithm', { field: `${field}.signatureAlgorithm` });
  return decodeOid(contentOf(der, oid), `${field}.signatureAlgorithm`);
}

// The issuing step asks for a key's identifier twice, to write it and in the lint, which reads it from the
// certificate's own copy of the key: the last answer is kept, for the same bytes.
let lastKeyIdentifier: { readonly spki: Buffer; readonly id: Uint8Array } | undefined;

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey BIT STRING, as Go computes it. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  if (lastKeyIdentifier?.spki.equals(spki)) return Uint8Array.from(lastKeyIdentifier.id);
  const top = readElement(spki, 0, 'publicKey');
  const bitString = children(spki, top, 'publicKey')[1];
  if (!bitString) throw new PkiError('ERR_KEY', 'SubjectPublicKeyInfo has no key', { field: 'publicKey' });
  const key = spki.subarray(bitString.start + 1, bitString.end);
  const id = new Uint8Array(hash('sha1', key, 'buffer'));
  lastKeyIdentifier = { spki: Buffer.from(spki), id: Uint8Array.from(id) };
  return id;
}

function extensionOf(extensions: readonly RawExtension[], oid: string): RawExtension | undefined {
  for (const extension of extensions) if (extension.oid === oid) return extension;
  return undefined;
}
