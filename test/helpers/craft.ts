// Certificates with exactly the properties a verification case needs, built with @peculiar/x509 directly
// (issueCertificate would refuse most of them: that is its job).
import { Certificate, generateKeyPair, type KeyPair, type KeySpec } from '../../lib/index.js';
import { concatBytes, encodeElement, encodeSequence } from '../../lib/crypto/der.js';
import * as x509 from './peculiar.js';

export interface Crafted {
  readonly certificate: Certificate;
  readonly keyPair: KeyPair;
}

export interface CraftOptions {
  cn: string;
  /** The signer; omit for self-signed. */
  issuer?: Crafted;
  keySpec?: KeySpec;
  keyPair?: KeyPair;
  /** undefined: no basicConstraints at all. */
  ca?: { isCA: boolean; pathLength?: number } | null;
  /** KeyUsageFlags bits; 0 omits the extension. */
  keyUsage?: number;
  /** EKU OIDs; undefined omits the extension. */
  ekus?: string[];
  dns?: string[];
  ips?: string[];
  emails?: string[];
  uris?: string[];
  notBefore?: Date;
  notAfter?: Date;
  hash?: 'SHA-1' | 'SHA-256';
  nameConstraints?: x509.Extension;
  /** Leave out the authority key identifier (to give one of a test's own in `extensions`). */
  omitAuthorityKeyId?: boolean;
  /** More extensions, as given (an unknown critical one, say). */
  extensions?: x509.Extension[];
  /** Issuer Name to write instead of the issuer's subject (an impostor). */
  serial?: string;
}

const DAY = 86_400_000;

export async function craft(options: CraftOptions): Promise<Crafted> {
  const keyPair = options.keyPair ?? (await generateKeyPair(options.keySpec ?? 'ecdsa-p256'));
  const now = Date.now();
  const extensions: x509.Extension[] = [];
  if (options.ca !== null && options.ca !== undefined) extensions.push(new x509.BasicConstraintsExtension(options.ca.isCA, options.ca.pathLength, true));
  if (options.keyUsage) extensions.push(new x509.KeyUsagesExtension(options.keyUsage, true));
  if (options.ekus) extensions.push(new x509.ExtendedKeyUsageExtension(options.ekus));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keyPair.publicKey));
  if (options.issuer?.certificate.subjectKeyId && !options.omitAuthorityKeyId) extensions.push(new x509.AuthorityKeyIdentifierExtension(Buffer.from(options.issuer.certificate.subjectKeyId).toString('hex')));
  const names = [
    ...(options.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(options.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(options.emails ?? []).map((value) => ({ type: 'email' as const, value })),
    ...(options.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  if (names.length) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  if (options.nameConstraints) extensions.push(options.nameConstraints);
  extensions.push(...(options.extensions ?? []));
  const signer = options.issuer ?? { keyPair, certificate: undefined };
  const hash = options.hash ?? (signer.keyPair.spec === 'ecdsa-p384' ? 'SHA-384' : 'SHA-256');
  const algorithm =
    signer.keyPair.spec === 'ed25519' ? { name: 'Ed25519' } : signer.keyPair.spec.startsWith('rsa') ? { name: 'RSASSA-PKCS1-v1_5', hash } : { name: 'ECDSA', hash };
  const subject = new x509.Name(`CN=${options.cn}`);
  const built = await x509.X509CertificateGenerator.create({
    serialNumber: options.serial ?? Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    subject,
    issuer: options.issuer ? new x509.Name(options.issuer.certificate.subjectDer as Uint8Array<ArrayBuffer>) : subject,
    notBefore: options.notBefore ?? new Date(now - DAY),
    notAfter: options.notAfter ?? new Date(now + 30 * DAY),
    publicKey: keyPair.publicKey,
    signingKey: signer.keyPair.privateKey,
    signingAlgorithm: algorithm as Algorithm,
    extensions,
  });
  return { certificate: Certificate.from(new Uint8Array(built.rawData)), keyPair };
}

export const CA = { isCA: true };
export const LEAF = { isCA: false };
export const KU = x509.KeyUsageFlags;
export const EKU_OID = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2', any: '2.5.29.37.0' };
export const CA_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The base GeneralName of a name-constraint subtree, one maker per form. */
export const base = {
  dns: (name: string): Uint8Array => encodeElement(0x82, ascii(name)),
  email: (name: string): Uint8Array => encodeElement(0x81, ascii(name)),
  uri: (host: string): Uint8Array => encodeElement(0x86, ascii(host)),
  /** Address bytes then mask bytes (8 or 32 in all; other lengths to test refusals). */
  ip: (bytes: number[]): Uint8Array => encodeElement(0x87, Uint8Array.from(bytes)),
  /** An empty directoryName: a form Go (and kubepki) does not check. */
  directory: (): Uint8Array => encodeElement(0xa4, encodeSequence()),
};

/** A nameConstraints extension with these permitted and excluded subtrees; an empty list leaves its field out. */
export function nameConstraints(permitted: Uint8Array[], excluded: Uint8Array[] = [], critical = true): x509.Extension {
  const subtrees = (tag: number, names: Uint8Array[]) => (names.length ? [encodeElement(tag, concatBytes(names.map((n) => encodeSequence(n))))] : []);
  return rawExtension('2.5.29.30', critical, encodeSequence(...subtrees(0xa0, permitted), ...subtrees(0xa1, excluded)));
}

/** An extension with exactly these value bytes (malformed ones included). */
export function rawExtension(oid: string, critical: boolean, value: Uint8Array): x509.Extension {
  return new x509.Extension(oid, critical, value as Uint8Array<ArrayBuffer>);
}
