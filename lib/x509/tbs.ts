import { concatBytes, encodeElement, encodeSequence, encodeUnsignedInteger } from '../crypto/der.js';
import type { Certificate } from './certificate.js';
import * as ext from './extensions.js';
import type { ExtendedKeyUsageName, KeyUsageName } from './profile.js';
import type { SignatureScheme } from './signature.js';
import { encodeTime } from './time.js';

/**
 * The parts of a TBSCertificate that are the same for every certificate a CA issues with one content
 * shape (usages, CA flag, path length) and signature scheme, encoded once: version, signature
 * algorithm, issuer Name, and the fixed extensions.
 */
export interface TbsTemplate {
  readonly algorithmIdentifier: Uint8Array;
  /** The issuer Name bytes; undefined for a self-signed certificate (the issuer is the subject). */
  readonly issuerDer: Uint8Array | undefined;
  /** keyUsage, extKeyUsage and basicConstraints, encoded, in that order. */
  readonly leadingExtensions: Uint8Array;
  /** authorityKeyIdentifier, encoded, when the issuer has a subject key id. */
  readonly trailingExtensions: Uint8Array;
}

/** The per-certificate fields. */
export interface TbsFields {
  /** The serial's magnitude, big-endian (positive). */
  readonly serial: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly subjectDer: Uint8Array;
  readonly spki: Uint8Array;
  readonly subjectKeyId: Uint8Array;
  /** DER GeneralNames, when the certificate has SANs. */
  readonly sans?: Uint8Array;
}

/** The content that decides a TbsTemplate's fixed extensions. */
export interface TbsContent {
  /** In bit order (the encoded BIT STRING does not depend on it, the cache key does). */
  readonly keyUsages: readonly KeyUsageName[];
  readonly extendedKeyUsages: readonly ExtendedKeyUsageName[];
  readonly isCA: boolean;
  readonly pathLength?: number | undefined;
}

const VERSION_3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);

/** The fixed parts for `content` signed by `issuer` (undefined: self-signed) with `scheme`. */
export function encodeTbsTemplate({ keyUsages, extendedKeyUsages, isCA, pathLength }: TbsContent, issuer: Certificate | undefined, scheme: SignatureScheme): TbsTemplate {
  const leading = [
    // Go writes no keyUsage extension when no usage is set; neither does kubepki.
    ...(keyUsages.length ? [ext.keyUsage(keyUsages)] : []),
    ...(extendedKeyUsages.length ? [ext.extendedKeyUsage(extendedKeyUsages)] : []),
    ext.basicConstraints(isCA, pathLength),
  ];
  const trailing = issuer?.subjectKeyId ? [ext.authorityKeyIdentifier(issuer.subjectKeyId)] : [];
  return {
    algorithmIdentifier: scheme.algorithmIdentifier,
    issuerDer: issuer?.subjectDer,
    leadingExtensions: concatBytes(leading.map(ext.encodeExtension)),
    trailingExtensions: concatBytes(trailing.map(ext.encodeExtension)),
  };
}

// Per issuer certificate, the templates of each content shape it has signed: a signer issuing thousands
// of certificates of one kind encodes the fixed parts once. Shapes come from requests (a CSR's usages), so
// each issuer keeps the most recent few.
const templates = new WeakMap<Certificate, Map<string, TbsTemplate>>();
const SHAPES_PER_ISSUER = 256;

/** encodeTbsTemplate, cached per issuer and content shape (a self-signed certificate's is not cached). */
export function cachedTbsTemplate(content: TbsContent, issuer: Certificate | undefined, scheme: SignatureScheme): TbsTemplate {
  if (!issuer) return encodeTbsTemplate(content, issuer, scheme);
  let byShape = templates.get(issuer);
  if (!byShape) templates.set(issuer, (byShape = new Map()));
  const id = `${content.keyUsages.join()}/${content.extendedKeyUsages.join()}/${content.isCA}/${content.pathLength ?? ''}/${scheme.oid}`;
  let template = byShape.get(id);
  if (!template) {
    if (byShape.size >= SHAPES_PER_ISSUER) byShape.delete(byShape.keys().next().value!);
    byShape.set(id, (template = encodeTbsTemplate(content, issuer, scheme)));
  }
  return template;
}

/** Encodes a TBSCertificate: the template's fixed parts around the per-certificate fields. */
export function encodeTbsCertificate(template: TbsTemplate, fields: TbsFields): Uint8Array {
  const extensions = encodeSequence(
    template.leadingExtensions,
    ext.encodeExtension(ext.subjectKeyIdentifier(fields.subjectKeyId)),
    template.trailingExtensions,
    ...(fields.sans ? [ext.encodeExtension(ext.subjectAltName(fields.sans))] : []),
  );
  return encodeSequence(
    VERSION_3,
    encodeUnsignedInteger(fields.serial),
    template.algorithmIdentifier,
    template.issuerDer ?? fields.subjectDer,
    encodeSequence(encodeTime(fields.notBefore), encodeTime(fields.notAfter)),
    fields.subjectDer,
    fields.spki,
    encodeElement(0xa3, extensions),
  );
}
