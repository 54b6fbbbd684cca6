// Revocation lists judged by Go (x509.ParseRevocationList), OpenSSL (`openssl crl -text`, `openssl verify
// -crl_check`) and GnuTLS (`certtool --verify-crl`, `certtool --verify --load-crl`): each must read the
// authorityKeyIdentifier (RFC 5280 5.2.1) and the cRLNumber (5.2.3, one higher on a reissue), see no
// crlEntryExtensions (5.3: absent, not empty), verify the signature and revoke what the list names.
// Fixed dates: certificates from 2025 to 2098 and CRLs current until 2099, so no wall clock decides.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createCertificateAuthority,
  generateKeyPair,
  issueCertificate,
  issueRevocationList,
  parseRevocationList,
  PROFILES,
  type Certificate,
  type CertificateAuthority,
  type KeySpec,
  type RevocationList,
} from '../../lib/index.js';
import * as x509 from '../helpers/peculiar.js';
import { EKU_SERVER_AUTH, gnutlsCrl, gnutlsVerify, goJudge, opensslCrl, opensslVerify } from './judges.js';

const NOW = new Date('2025-01-01T00:00:00Z');
const THIS_UPDATE = new Date('2025-01-02T00:00:00Z');
const VERIFY_AT = new Date('2025-02-01T00:00:00Z');
const NEXT_UPDATE = new Date('2099-01-01T00:00:00Z');
const SPECS: KeySpec[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'ed25519'];
const AKI = '2.5.29.35';
const CRL_NUMBER = '2.5.29.20';
const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');

interface Setup {
  spec: KeySpec;
  authority: CertificateAuthority;
  ca: Certificate;
  revokedLeaf: Certificate;
  keptLeaf: Certificate;
  first: RevocationList;
  second: RevocationList;
}

const setups: Setup[] = [];
let legacy: RevocationList;
let forged: RevocationList;

test.before(async () => {
  for (const spec of SPECS) {
    const authority = await createCertificateAuthority({ commonName: `crl-${spec}`, keySpec: spec, now: NOW, validity: { notAfter: NEXT_UPDATE } });
    const leaf = async (name: string): Promise<Certificate> =>
      issueCertificate({ profile: PROFILES.server, subject: { commonName: name }, sans: { dns: [name] }, publicKey: (await generateKeyPair('ecdsa-p256')).publicKey, issuer: authority, now: NOW, validity: { notAfter: new Date('2098-01-01T00:00:00Z') } });
    const revokedLeaf = await leaf('revoked.example');
    const keptLeaf = await leaf('kept.example');
    const first = await issueRevocationList({ issuer: authority, revoked: [], thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE });
    const second = await issueRevocationList({ issuer: authority, revoked: [{ serialNumber: revokedLeaf.serialNumber }], thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE, previous: parseRevocationList(first.pem) });
    setups.push({ spec, authority, ca: authority.certificate, revokedLeaf, keptLeaf, first, second });
  }
  // Controls, under the P-256 CA: a CRL as kubepki 0.1.0 wrote it (@peculiar/x509: no extensions, an
  // empty crlEntryExtensions per entry), and one signed by another key.
  const p256 = setups[0]!;
  const old = await x509.X509CrlGenerator.create({
    issuer: new x509.Name(p256.ca.subjectDer as Uint8Array<ArrayBuffer>),
    thisUpdate: THIS_UPDATE,
    nextUpdate: NEXT_UPDATE,
    signingKey: p256.authority.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    entries: [{ serialNumber: p256.revokedLeaf.serialNumber, revocationDate: THIS_UPDATE }],
  });
  legacy = parseRevocationList(new Uint8Array(old.rawData));
  const impostor = await createCertificateAuthority({ commonName: 'impostor', now: NOW, validity: { notAfter: NEXT_UPDATE } });
  forged = await issueRevocationList({ issuer: { certificate: p256.ca, privateKey: impostor.privateKey }, revoked: [], thisUpdate: THIS_UPDATE, nextUpdate: NEXT_UPDATE });
});

test('Go reads the authority key id, a CRL number one higher on the reissue, and no entry extensions, for every CA key type', async () => {
  const results = await goJudge(setups.flatMap((s) => [s.first, s.second].map((crl) => ({ op: 'crl' as const, crl: crl.pem, cert: s.ca.pem }))));
  setups.forEach((s, i) => {
    const [first, second] = [results[2 * i]!, results[2 * i + 1]!];
    assert.ok(first.ok && second.ok, `${s.spec}: ${first.error} ${second.error}`);
    assert.equal(first.crl, { number: '1', authorityKeyId: hex(s.ca.subjectKeyId), extensions: [AKI, CRL_NUMBER], revoked: [], entriesWithExtensions: 0 }, s.spec);
    assert.equal(second.crl, { number: '2', authorityKeyId: hex(s.ca.subjectKeyId), extensions: [AKI, CRL_NUMBER], revoked: [BigInt(`0x${s.revokedLeaf.serialNumber}`).toString(16)], entriesWithExtensions: 0 }, s.spec);
  });
});

test('Go: the controls are told apart (a 0.1.0 CRL: no number, no key id, an empty entry extensions field; a forged signature)', async () => {
  const ca = setups[0]!.ca.pem;
  const [old, bad] = await goJudge([
    { op: 'crl', crl: legacy.pem, cert: ca },
    { op: 'crl', crl: forged.pem, cert: ca },
  ]);
  assert.equal(old!.crl, { number: '', authorityKeyId: '', extensions: [], revoked: [BigInt(`0x${setups[0]!.revokedLeaf.serialNumber}`).toString(16)], entriesWithExtensions: 1 });
  assert.not.ok(bad!.ok);
  assert.match(bad!.error, /crl signature/);
});

test('Go: a verified chain is refused for the revoked leaf only', async () => {
  const cases = setups.flatMap((s) =>
    [s.revokedLeaf, s.keptLeaf].map((leaf) => ({ op: 'verify' as const, leaf: leaf.pem, roots: [s.ca.pem], name: leaf.sans.dns[0]!, eku: 'server' as const, time: VERIFY_AT.toISOString().replace('.000', ''), crls: [s.second.pem] })),
  );
  const results = await goJudge(cases);
  setups.forEach((s, i) => {
    assert.not.ok(results[2 * i]!.ok, `${s.spec}: the revoked leaf`);
    assert.match(results[2 * i]!.error, /is revoked/);
    assert.ok(results[2 * i + 1]!.ok, `${s.spec}: ${results[2 * i + 1]!.error}`);
  });
});

test('OpenSSL shows the authority key id and CRL number, verifies the CRL and revokes with -crl_check', async () => {
  for (const s of setups) {
    for (const [crl, number] of [
      [s.first, 1n],
      [s.second, 2n],
    ] as const) {
      const reading = await opensslCrl(crl.pem, s.ca.pem);
      assert.ok(reading.verified, `${s.spec}: ${reading.output}`);
      assert.is(reading.authorityKeyId, hex(s.ca.subjectKeyId), `${s.spec}: ${reading.output}`);
      assert.is(reading.crlNumber, number, `${s.spec}: ${reading.output}`);
      assert.is(reading.entryExtensions, false, reading.output);
    }
    const verify = (leaf: Certificate): ReturnType<typeof opensslVerify> => opensslVerify({ roots: [s.ca.pem], leaf: leaf.pem, purpose: 'sslserver', hostname: leaf.sans.dns[0]!, attime: VERIFY_AT, crls: [s.second.pem] });
    const revoked = await verify(s.revokedLeaf);
    assert.not.ok(revoked.ok, `${s.spec}: ${revoked.output}`);
    assert.match(revoked.output, /certificate revoked/);
    const kept = await verify(s.keptLeaf);
    assert.ok(kept.ok, `${s.spec}: ${kept.output}`);
  }
});

test('OpenSSL: the controls are told apart', async () => {
  const old = await opensslCrl(legacy.pem, setups[0]!.ca.pem);
  assert.ok(old.verified, old.output);
  assert.equal([old.authorityKeyId, old.crlNumber], [undefined, undefined], old.output);
  assert.not.ok((await opensslCrl(forged.pem, setups[0]!.ca.pem)).verified);
});

test('GnuTLS shows the authority key id and CRL number, verifies the CRL and revokes with --load-crl', async () => {
  for (const s of setups) {
    for (const [crl, number] of [
      [s.first, 1n],
      [s.second, 2n],
    ] as const) {
      const reading = await gnutlsCrl(crl.pem, s.ca.pem);
      assert.ok(reading.verified, `${s.spec}: ${reading.output}`);
      assert.is(reading.authorityKeyId, hex(s.ca.subjectKeyId), `${s.spec}: ${reading.output}`);
      assert.is(reading.crlNumber, number, `${s.spec}: ${reading.output}`);
    }
    // certtool has no verification time: the certificates and CRLs are valid from 2025 to 2098.
    const verify = (leaf: Certificate): ReturnType<typeof gnutlsVerify> => gnutlsVerify({ roots: [s.ca.pem], chain: [leaf.pem], purposeOid: EKU_SERVER_AUTH, hostname: leaf.sans.dns[0]!, crls: [s.second.pem] });
    const revoked = await verify(s.revokedLeaf);
    assert.not.ok(revoked.ok, `${s.spec}: ${revoked.output}`);
    assert.match(revoked.output, /revoked/);
    const kept = await verify(s.keptLeaf);
    assert.ok(kept.ok, `${s.spec}: ${kept.output}`);
  }
});

test('GnuTLS: the controls are told apart', async () => {
  const old = await gnutlsCrl(legacy.pem, setups[0]!.ca.pem);
  assert.ok(old.verified, old.output);
  assert.equal([old.authorityKeyId, old.crlNumber], [undefined, undefined], old.output);
  assert.not.ok((await gnutlsCrl(forged.pem, setups[0]!.ca.pem)).verified);
});

test.run();
