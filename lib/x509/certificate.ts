import { createHash, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { assertDer, children, contentOf, decodeOid, elementBytes, readElement } from '../crypto/der.js';
import { keySpecOfSpki, publicKeyObject, type KeySpec } from '../crypto/keys.js';
import { encodePem, looksLikePem, readPemBlock, readPemBlocks } from '../crypto/pem.js';
import { PkiError } from '../errors.js';
import { OID } from './extensions.js';
import { OID_COMMON_NAME, OID_ORGANIZATION, type Subject } from './names.js';
import * as x509 from './peculiar.js';
import { EXTENDED_KEY_USAGE_OIDS, KEY_USAGES, type ExtendedKeyUsageName, type KeyUsageName } from './profile.js';
import { decodeGeneralNames, NO_SANS, type SubjectAltNames } from './sans.js';

/** A certificate given as a Certificate, PEM text or DER bytes. */
export type CertificateInput = Certificate | string | Uint8Array;

/** An extension as it appears in a certificate or CSR. */
export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

const EKU_NAME_OF_OID = new Map<string, ExtendedKeyUsageName>(
  Object.entries(EXTENDED_KEY_USAGE_OIDS).map(([name, oid]) => [oid, name as ExtendedKeyUsageName]),
);

/** A parsed X.509 certificate that keeps its DER bytes; read-only. */
export class Certificate {
  readonly der: Uint8Array;
  /** The @peculiar/x509 view of the same bytes. */
  readonly x509: x509.X509Certificate;
  readonly subjectDer: Uint8Array;
  readonly issuerDer: Uint8Array;
  readonly spki: Uint8Array;
  /** The TBSCertificate version field (0 for v1, 2 for v3). */
  readonly version: number;
  /** The serial number INTEGER's content bytes (two's complement). */
  readonly serialBytes: Uint8Array;

  private constructor(der: Uint8Array, field: string) {
    const top = assertDer(der, field);
    const [tbs] = children(der, top, field);
    if (!tbs) throw new PkiError('ERR_DER', 'certificate has no TBSCertificate', { field });
    const fields = children(der, tbs, field);
    const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
    const serial = fields[offset];
    const issuer = fields[offset + 2];
    const subject = fields[offset + 4];
    const spki = fields[offset + 5];
    if (!serial || !issuer || !subject || !spki) throw new PkiError('ERR_DER', 'TBSCertificate is missing fields', { field });
    try {
      this.x509 = new x509.X509Certificate(der as Uint8Array<ArrayBuffer>);
    } catch (cause) {
      throw new PkiError('ERR_DER', 'not an X.509 certificate', { field, cause });
    }
    this.der = der;
    this.issuerDer = elementBytes(der, issuer);
    this.subjectDer = elementBytes(der, subject);
    this.spki = elementBytes(der, spki);
    this.serialBytes = contentOf(der, serial);
    const version = offset === 1 ? children(der, fields[0]!, field)[0] : undefined;
    this.version = version ? contentOf(der, version)[0] ?? 0 : 0;
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

  get pem(): string {
    return encodePem('CERTIFICATE', this.der);
  }

  get subject(): Subject {
    return subjectOfName(this.x509.subjectName);
  }

  get issuer(): Subject {
    return subjectOfName(this.x509.issuerName);
  }

  get notBefore(): Date {
    return this.x509.notBefore;
  }

  get notAfter(): Date {
    return this.x509.notAfter;
  }

  /** Lowercase hex, without leading zero bytes. */
  get serialNumber(): string {
    return this.x509.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, '');
  }

  get signatureAlgorithmOid(): string {
    const top = readElement(this.der, 0, 'certificate');
    const algorithm = children(this.der, top, 'certificate')[1]!;
    const oid = children(this.der, algorithm, 'certificate')[0]!;
    return decodeOid(contentOf(this.der, oid), 'certificate.signatureAlgorithm');
  }

  /** The spec of the certified key; ERR_KEY when kubepki does not support it. */
  get keySpec(): KeySpec {
    return keySpecOfSpki(this.spki, 'certificate.publicKey');
  }

  get extensions(): RawExtension[] {
    return Array.from(this.x509.extensions, (e) => ({ oid: e.type, critical: e.critical, value: new Uint8Array(e.value) }));
  }

  extension(oid: string): RawExtension | undefined {
    return this.extensions.find((e) => e.oid === oid);
  }

  get basicConstraints(): { isCA: boolean; pathLength?: number; critical: boolean } | undefined {
    const ext = this.x509.getExtension(x509.BasicConstraintsExtension);
    return ext ? { isCA: ext.ca, pathLength: ext.pathLength, critical: ext.critical } : undefined;
  }

  get isCA(): boolean {
    return this.basicConstraints?.isCA ?? false;
  }

  get keyUsages(): KeyUsageName[] {
    const ext = this.x509.getExtension(x509.KeyUsagesExtension);
    if (!ext) return [];
    return KEY_USAGES.filter((_, bit) => (ext.usages & (1 << bit)) !== 0);
  }

  /** Extended key usages by name; unknown OIDs are given as dotted text. */
  get extendedKeyUsages(): string[] {
    const ext = this.x509.getExtension(x509.ExtendedKeyUsageExtension);
    return ext ? Array.from(ext.usages, (u) => EKU_NAME_OF_OID.get(String(u)) ?? String(u)) : [];
  }

  get sans(): SubjectAltNames {
    const ext = this.extension(OID.subjectAltName);
    return ext ? decodeGeneralNames(ext.value, 'certificate.subjectAltName') : NO_SANS;
  }

  get subjectKeyId(): Uint8Array | undefined {
    const ext = this.x509.getExtension(x509.SubjectKeyIdentifierExtension);
    return ext ? Buffer.from(ext.keyId, 'hex') : undefined;
  }

  get authorityKeyId(): Uint8Array | undefined {
    const ext = this.x509.getExtension(x509.AuthorityKeyIdentifierExtension);
    return ext?.keyId ? Buffer.from(ext.keyId, 'hex') : undefined;
  }

  /** True when `ca`'s subject is this certificate's issuer and `ca`'s key verifies its signature. */
  isIssuedBy(ca: Certificate): boolean {
    if (!Buffer.from(this.issuerDer).equals(ca.subjectDer)) return false;
    try {
      return new NodeX509Certificate(this.der).verify(publicKeyObject(ca.spki));
    } catch {
      return false;
    }
  }

  /** True when subject and issuer Name bytes are equal. */
  get isSelfIssued(): boolean {
    return Buffer.from(this.subjectDer).equals(this.issuerDer);
  }
}

/** CN (the first, as Kubernetes reads it) and every O value of a Name. */
export function subjectOfName(name: x509.Name): Subject {
  return { commonName: name.getField(OID_COMMON_NAME)[0] ?? '', organizations: name.getField(OID_ORGANIZATION) };
}

/** RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey BIT STRING, as Go computes it. */
export function keyIdentifier(spki: Uint8Array): Uint8Array {
  const top = readElement(spki, 0, 'publicKey');
  const bitString = children(spki, top, 'publicKey')[1];
  if (!bitString) throw new PkiError('ERR_KEY', 'SubjectPublicKeyInfo has no key', { field: 'publicKey' });
  const key = spki.subarray(bitString.start + 1, bitString.end);
  return new Uint8Array(createHash('sha1').update(key).digest());
}
