// Subject Names with exactly the encoding a case needs (string types, several CNs, multi-valued RDNs), and
// CSRs and client certificates carrying them: what kubepki's own encoders would never write.
import { encodePem } from '../../lib/crypto/pem.js';
import { concatBytes, encodeElement, encodeOid, encodeSequence, TAG } from '../../lib/crypto/der.js';
import { exportSpki } from '../../lib/crypto/keys.js';
import { PROFILES, type Certificate, type KeyPair } from '../../lib/index.js';
import { encodeCertificationRequestInfo } from '../../lib/x509/csr.js';
import { keyIdentifier } from '../../lib/x509/certificate.js';
import { encodeSigned, signatureSchemeOf, signBytes } from '../../lib/x509/signature.js';
import { encodeTbsCertificate, encodeTbsTemplate } from '../../lib/x509/tbs.js';
import { expectedKeyUsages } from '../../lib/x509/profile.js';

export const CN = '2.5.4.3';
export const O = '2.5.4.10';
export const OU = '2.5.4.11';
export const STRING = { utf8: 0x0c, printable: 0x13, t61: 0x14, ia5: 0x16, numeric: 0x12, bmp: 0x1e, universal: 0x1c, integer: 0x02 } as const;

/** One attribute: a type, a value tag and the value's bytes (text is encoded as the tag's alphabet implies). */
export interface Attribute {
  readonly oid: string;
  readonly tag: number;
  readonly value: string | Uint8Array;
}

export const attr = (oid: string, tag: number, value: string | Uint8Array): Attribute => ({ oid, tag, value });

function valueBytes({ tag, value }: Attribute): Uint8Array {
  if (typeof value !== 'string') return value;
  if (tag === STRING.bmp) return Buffer.from(value, 'utf16le').swap16();
  if (tag === STRING.universal) return Uint8Array.from([...value].flatMap((c) => [0, 0, 0, c.codePointAt(0)!]));
  if (tag === STRING.t61) return Buffer.from(value, 'latin1');
  return Buffer.from(value, 'utf8');
}

/** A Name: each inner list is one RDN (a SET, several attributes for a multi-valued RDN). */
export function nameDer(...rdns: Attribute[][]): Uint8Array {
  return encodeElement(
    TAG.SEQUENCE,
    concatBytes(rdns.map((rdn) => encodeElement(TAG.SET, concatBytes(rdn.map((a) => encodeSequence(encodeOid(a.oid), encodeElement(a.tag, valueBytes(a)))))))),
  );
}

/** A CSR signed by `keyPair` whose subject is exactly `subject` (no SANs). */
export async function csrWithName(subject: Uint8Array, keyPair: KeyPair): Promise<string> {
  const info = encodeCertificationRequestInfo(subject, await exportSpki(keyPair.publicKey), []);
  const { scheme, signature } = await signBytes(keyPair.privateKey, info, globalThis.crypto, 'keyPair');
  return encodePem('CERTIFICATE REQUEST', encodeSigned(info, scheme, signature));
}

/**
 * A client certificate (the kubelet-client profile's extensions) for `keyPair`, subject exactly `subject`,
 * signed by the CA: a certificate a careless signer might have issued, to see who its holder is taken for.
 * Built from kubepki's TBS encoder, since every certificate library re-encodes or refuses such Names.
 */
export async function clientCertificateWithName(
  subject: Uint8Array,
  keyPair: KeyPair,
  ca: { certificate: Certificate; privateKey: CryptoKey },
  validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2099-01-01T00:00:00Z') },
  options: { negativeSerial?: boolean } = {},
): Promise<string> {
  const scheme = signatureSchemeOf(ca.privateKey, 'ca.privateKey');
  const spki = await exportSpki(keyPair.publicKey);
  const profile = PROFILES.kubeletClient;
  const content = { keyUsages: expectedKeyUsages(profile, keyPair.spec), extendedKeyUsages: profile.extendedKeyUsages, isCA: false };
  const tbs = encodeTbsCertificate(encodeTbsTemplate(content, ca.certificate, scheme), {
    serial: Uint8Array.from([options.negativeSerial ? 0x80 : 0x11, ...crypto.getRandomValues(new Uint8Array(15))]),
    notBefore: validity.notBefore,
    notAfter: validity.notAfter > ca.certificate.notAfter ? ca.certificate.notAfter : validity.notAfter,
    subjectDer: subject,
    spki,
    subjectKeyId: keyIdentifier(spki),
  });
  if (options.negativeSerial) {
    // The encoder wrote 02 11 00 80 ...: the pad byte given the sign bit makes the serial negative, still minimal DER.
    const header = 2 + (tbs[1]! & 0x80 ? tbs[1]! & 0x7f : 0);
    const at = header + 5 + 2; // after the TBS header, the version [0] (5 bytes) and the INTEGER's tag and length
    if (tbs[at] !== 0x00 || tbs[at - 1] !== 0x11 || tbs[at - 2] !== 0x02 || tbs[at + 1] !== 0x80) throw new Error('unexpected serial encoding');
    tbs[at] = 0x80;
  }
  const { signature } = await signBytes(ca.privateKey, tbs, globalThis.crypto, 'ca.privateKey');
  return encodePem('CERTIFICATE', encodeSigned(tbs, scheme, signature));
}

/** The two escalations of the hostile review, and names around them. */
export const HOSTILE_NAMES = {
  /** O=system:masters as a UniversalString (OpenSSL reads it, Go does not), then O=system:nodes, CN=system:node:evil. */
  universalMasters: nameDer([attr(O, STRING.universal, 'system:masters')], [attr(O, STRING.printable, 'system:nodes')], [attr(CN, STRING.printable, 'system:node:evil')]),
  /** Two CNs: OpenSSL-based readers take the first (victim), Go the last (attacker). */
  twoCommonNames: nameDer([attr(O, STRING.printable, 'system:nodes')], [attr(CN, STRING.printable, 'system:node:victim')], [attr(CN, STRING.printable, 'system:node:attacker')]),
};
