import { concatBytes, encodeElement, encodeSequence, encodeUnsignedInteger } from '../crypto/der.js';
import type { KeySpec } from '../crypto/keys.js';
import type { Certificate } from './certificate.js';
import * as ext from './extensions.js';
import { expectedKeyUsages, type CertificateProfile } from './profile.js';
import type { SignatureScheme } from './signature.js';
import { encodeTime } from './time.js';

/**
 * The parts of a TBSCertificate that are the same for every certificate a CA issues with one profile
 * and key type, encoded once: version, signature algorithm, issuer Name, and the fixed extensions.
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

export interface TemplateOptions {
  readonly profile: CertificateProfile;
  /** The spec of the key being certified (keyEncipherment follows it: expectedKeyUsages). */
  readonly keySpec: KeySpec;
  readonly pathLength?: number;
  readonly issuer?: Certificate;
  readonly scheme: SignatureScheme;
}

const VERSION_3 = Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02);

export function tbsTemplate({ profile, keySpec, pathLength, issuer, scheme }: TemplateOptions): TbsTemplate {
  const keyUsages = expectedKeyUsages(profile, keySpec);
  const leading = [
    // Go writes no keyUsage extension when no usage is set; neither does kubepki.
    ...(keyUsages.length ? [ext.keyUsage(keyUsages)] : []),
    ...(profile.extendedKeyUsages.length ? [ext.extendedKeyUsage(profile.extendedKeyUsages)] : []),
    ext.basicConstraints(profile.isCA, pathLength),
  ];
  const trailing = issuer?.subjectKeyId ? [ext.authorityKeyIdentifier(issuer.subjectKeyId)] : [];
  return {
    algorithmIdentifier: scheme.algorithmIdentifier,
    issuerDer: issuer?.subjectDer,
    leadingExtensions: concatBytes(leading.map(ext.encodeExtension)),
    trailingExtensions: concatBytes(trailing.map(ext.encodeExtension)),
  };
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
