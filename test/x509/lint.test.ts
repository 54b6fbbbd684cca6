import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, PROFILES, type LintExpectation } from '../../lib/index.js';
import { lintCertificate, lintProblems } from '../../lib/x509/lint.js';
import { normalizeSans } from '../../lib/x509/sans.js';
import { encodeName } from '../../lib/x509/names.js';
import * as x509 from '../helpers/peculiar.js';
import { CA, CA_USAGE, craft, KU } from '../helpers/craft.js';
import { failureOf, fixtureAuthorities, fixtureKey } from '../helpers/fixtures.js';

// Certificates built directly with @peculiar/x509, bypassing issueCertificate, to prove the lint
// catches what a bug in the builder could produce.
async function build(overrides: Partial<Parameters<typeof x509.X509CertificateGenerator.create>[0]> & { signingHash?: string } = {}): Promise<{ cert: Certificate; expected: LintExpectation }> {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const key = await fixtureKey('ecdsa-p256', undefined, 1);
  const now = Date.now();
  const skid = await x509.SubjectKeyIdentifierExtension.create(key.publicKey);
  const params = {
    serialNumber: '0102030405060708090a0b0c0d0e0f10',
    subject: new x509.Name(encodeName({ commonName: 'u' }) as Uint8Array<ArrayBuffer>),
    issuer: new x509.Name(root.certificate.subjectDer as Uint8Array<ArrayBuffer>),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    publicKey: key.publicKey,
    signingKey: root.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: overrides.signingHash ?? 'SHA-256' },
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.BasicConstraintsExtension(false, undefined, true),
      skid,
      new x509.AuthorityKeyIdentifierExtension(Buffer.from(root.certificate.subjectKeyId!).toString('hex')),
    ],
    ...overrides,
  };
  const cert = Certificate.from(new Uint8Array((await x509.X509CertificateGenerator.create(params)).rawData));
  return { cert, expected: { profile: PROFILES.client, issuer: root.certificate, subject: { commonName: 'u' }, sans: normalizeSans(undefined), keySpec: 'ecdsa-p256' } };
}

test('a correct certificate has no problems', async () => {
  const { cert, expected } = await build();
  assert.equal(lintProblems(cert, expected), []);
});


// Table: what is wrong, how to build it, the problem text expected.
const CASES: [string, () => Promise<{ cert: Certificate; expected: LintExpectation }>, RegExp][] = [
  ['basicConstraints missing', async () => {
    const b = await build();
    return build({ extensions: (await extensionsOf(b.cert)).filter((e) => e.type !== '2.5.29.19') });
  }, /basicConstraints is missing/],
  ['basicConstraints not critical', async () => build({ extensions: await replace('2.5.29.19', new x509.BasicConstraintsExtension(false, undefined, false)) }), /basicConstraints is not critical/],
  ['a leaf marked CA', async () => build({ extensions: await replace('2.5.29.19', new x509.BasicConstraintsExtension(true, undefined, true)) }), /cA is true/],
  ['wrong key usages', async () => build({ extensions: await replace('2.5.29.15', new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true)) }), /key usages are/],
  ['key usage not critical', async () => build({ extensions: await replace('2.5.29.15', new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, false)) }), /keyUsage is missing or not critical/],
  ['wrong purpose', async () => build({ extensions: await replace('2.5.29.37', new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])) }), /extended key usages are \[serverAuth\]/],
  ['a SAN the request did not have', async () => build({ extensions: [...(await extensionsOf((await build()).cert)), new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'x.example' }])] }), /subject alternative names differ/],
  ['an unexpected extension', async () => build({ extensions: [...(await extensionsOf((await build()).cert)), new x509.Extension('1.2.3.4', false, new Uint8Array([5, 0]))] }), /unexpected extension 1\.2\.3\.4/],
  ['issuer bytes that differ from the CA subject', async () => build({ issuer: 'CN=root-ecdsa-p256, O=other' }), /issuer Name bytes differ/],
  ['a SHA-1 signature', async () => build({ signingHash: 'SHA-1' }), /not SHA-256 or stronger/],
  ['a negative serial', async () => {
    // @peculiar/x509 always writes a positive serial, so flip the sign bit in the DER.
    const { cert, expected } = await build();
    const der = Uint8Array.from(cert.der);
    der[cert.serialBytes.byteOffset - cert.der.byteOffset] = 0x81;
    return { cert: Certificate.from(der), expected };
  }, /serial number is negative/],
  ['a serial longer than 20 octets', async () => build({ serialNumber: '01'.repeat(21) }), /longer than 20 octets/],
  ['validity past the CA', async () => build({ notAfter: new Date(Date.UTC(2099, 0, 1)) }), /outside the CA's validity/],
  ['an empty validity', async () => build({ notBefore: new Date(Date.now() + 10_000), notAfter: new Date(Date.now() + 5_000) }), /NotBefore is not before NotAfter/],
  ['a wrong subject key id', async () => build({ extensions: await replace('2.5.29.14', new x509.SubjectKeyIdentifierExtension('00112233')) }), /subject key identifier is missing or wrong/],
  ['keyEncipherment on an EC leaf', async () => build({ extensions: await replace('2.5.29.15', new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)) }), /keyEncipherment is not allowed for ecdsa-p256 keys/],
  ['a wrong authority key id', async () => build({ extensions: await replace('2.5.29.35', new x509.AuthorityKeyIdentifierExtension('00112233')) }), /authority key identifier differs/],
];

async function extensionsOf(cert: Certificate): Promise<x509.Extension[]> {
  return new x509.X509Certificate(cert.der as Uint8Array<ArrayBuffer>).extensions;
}

async function replace(oid: string, extension: x509.Extension): Promise<x509.Extension[]> {
  const { cert } = await build();
  return new x509.X509Certificate(cert.der as Uint8Array<ArrayBuffer>).extensions.map((e) => (e.type === oid ? extension : e));
}

for (const [name, make, problem] of CASES) {
  test(`lint catches ${name}`, async () => {
    const { cert, expected } = await make();
    const problems = lintProblems(cert, expected);
    assert.ok(problems.some((p) => problem.test(p)), problems.join(' | ') || 'no problem found');
    const failure = await failureOf(() => lintCertificate(cert, expected));
    assert.is(failure.code, 'ERR_LINT');
  });
}

test('lint compares against the profile the caller expects', async () => {
  const { cert, expected } = await build();
  const problems = lintProblems(cert, { ...expected, profile: PROFILES.server });
  assert.ok(problems.some((p) => /extended key usages/.test(p)));
  assert.ok(problems.some((p) => /at least one DNS or IP SAN/.test(p)));
});

test('keyEncipherment on an EC leaf fails the lint even when the profile lists it, exactKeyUsages or not', async () => {
  const { cert, expected } = await build({ extensions: await replace('2.5.29.15', new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true)) });
  const listing = { ...expected.profile, name: 'custom-client', keyUsages: ['digitalSignature', 'keyEncipherment'] } as const;
  assert.equal(lintProblems(cert, { ...expected, profile: listing }), [
    'key usages are [digitalSignature, keyEncipherment], profile wants [digitalSignature]',
    'keyEncipherment is not allowed for ecdsa-p256 keys, which cannot encipher keys (RFC 8813 section 3, RFC 3279 2.3.1, RFC 8410 section 5)',
  ]);
  assert.is((await failureOf(() => lintCertificate(cert, { ...expected, profile: listing }))).code, 'ERR_LINT');
  assert.equal(lintProblems(cert, { ...expected, profile: { ...listing, exactKeyUsages: true } }), [
    'key usages are [digitalSignature, keyEncipherment], profile wants [digitalSignature]',
    'keyEncipherment is not allowed for ecdsa-p256 keys, which cannot encipher keys (RFC 8813 section 3, RFC 3279 2.3.1, RFC 8410 section 5)',
  ]);
});

test('keyEncipherment on a CA fails the lint, for RSA CAs too', async () => {
  const ca = await craft({ cn: 'rsa-ca', keyPair: await fixtureKey('rsa-2048', undefined, 7), ca: CA, keyUsage: CA_USAGE | KU.keyEncipherment, dns: ['rsa-ca'] });
  const problems = lintProblems(ca.certificate, { profile: PROFILES.clusterCa, issuer: ca.certificate, subject: { commonName: 'rsa-ca' }, sans: normalizeSans({ dns: ['rsa-ca'] }), keySpec: 'rsa-2048' });
  assert.ok(problems.includes('keyEncipherment is not allowed on a CA certificate, which only signs'), problems.join(' | '));
  assert.ok(problems.some((p) => /profile wants \[digitalSignature, keyCertSign, cRLSign\]/.test(p)), problems.join(' | '));
});

test.run();
