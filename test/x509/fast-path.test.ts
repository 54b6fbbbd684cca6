// The fast issuing path (kubepki's own TBSCertificate encoder) against the general path: the same
// certificate built with @peculiar/x509's generator and its own extension classes. Every profile, every
// key type, under a root and an intermediate: the TBSCertificates must be byte for byte the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Certificate,
  issueCertificate,
  nodeSubject,
  planCluster,
  PROFILES,
  type CertificateAuthority,
  type CertificateProfile,
  type KeySpec,
  type SubjectAltNames,
  type Subject,
} from '../../lib/index.js';
import { expectedKeyUsages } from '../../lib/x509/profile.js';
import { normalizeSans } from '../../lib/x509/sans.js';
import { signatureAlgorithm } from '../../lib/crypto/keys.js';
import { keyIdentifier } from '../../lib/x509/certificate.js';
import * as x509 from '../helpers/peculiar.js';
import { EXTENDED_KEY_USAGE_OIDS } from '../../lib/x509/profile.js';
import { ALL_KEY_SPECS, fixtureAuthorities, fixtureKey, PROVIDERS } from '../helpers/fixtures.js';

const NOW = new Date();
// A serial with the high bit set: both paths must add the leading zero octet.
const SERIAL = Uint8Array.from({ length: 16 }, (_, i) => 0x9f - i);

interface Case {
  profile: CertificateProfile;
  subject: Subject;
  sans: SubjectAltNames;
}

function cases(): Case[] {
  const plan = planCluster({ nodeName: 'cp-1', advertiseAddress: '10.0.0.1', konnectivity: true, separateKubeletServingCa: true });
  return [
    ...plan.certificates.map(({ profile, subject, sans }) => ({ profile, subject, sans })),
    { profile: PROFILES.kubeletClient, subject: nodeSubject('node-1'), sans: normalizeSans({}) },
    { profile: PROFILES.kubeletServing, subject: nodeSubject('node-1'), sans: normalizeSans({ dns: ['node-1'], ips: ['10.0.0.11', 'fd00::11'] }) },
    { profile: PROFILES.server, subject: { commonName: 'etcd' }, sans: normalizeSans({ dns: ['etcd.kube-system.svc'], ips: ['127.0.0.1', '::1'] }) },
    { profile: PROFILES.client, subject: { commonName: 'ünïcode user', organizations: ['a', 'b'] }, sans: normalizeSans({}) },
    { profile: PROFILES.intermediateCa, subject: { commonName: 'intermediate' }, sans: normalizeSans({}) },
  ];
}

/** The certificate as @peculiar/x509 builds it from the same fields, with its own extension encoders. */
async function generalPath(cert: Certificate, request: Case, issuer: CertificateAuthority, keySpec: KeySpec, crypto: Crypto): Promise<Certificate> {
  const { profile, sans } = request;
  const usages = expectedKeyUsages(profile, keySpec).reduce((flags, usage) => flags | KEY_USAGE_FLAG[usage], 0);
  const names = [
    ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
    ...sans.emails.map((value) => ({ type: 'email' as const, value })),
    ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
    ...sans.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
  const built = await x509.X509CertificateGenerator.create(
    {
      serialNumber: hex(SERIAL),
      subject: new x509.Name(cert.subjectDer as Uint8Array<ArrayBuffer>),
      issuer: new x509.Name(issuer.certificate.subjectDer as Uint8Array<ArrayBuffer>),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      publicKey: cert.spki as Uint8Array<ArrayBuffer>,
      signingKey: issuer.privateKey,
      signingAlgorithm: signatureAlgorithm(issuer.certificate.keySpec),
      extensions: [
        ...(usages ? [new x509.KeyUsagesExtension(usages, true)] : []),
        ...(profile.extendedKeyUsages.length ? [new x509.ExtendedKeyUsageExtension(profile.extendedKeyUsages.map((u) => EXTENDED_KEY_USAGE_OIDS[u]), false)] : []),
        new x509.BasicConstraintsExtension(profile.isCA, profile.isCA ? cert.basicConstraints?.pathLength : undefined, true),
        new x509.SubjectKeyIdentifierExtension(hex(keyIdentifier(cert.spki)), false),
        new x509.AuthorityKeyIdentifierExtension(hex(issuer.certificate.subjectKeyId!), false),
        ...(names.length ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
      ],
    },
    crypto,
  );
  return Certificate.from(new Uint8Array(built.rawData));
}

const KEY_USAGE_FLAG = {
  digitalSignature: x509.KeyUsageFlags.digitalSignature,
  contentCommitment: x509.KeyUsageFlags.nonRepudiation,
  keyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  dataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  keyAgreement: x509.KeyUsageFlags.keyAgreement,
  keyCertSign: x509.KeyUsageFlags.keyCertSign,
  cRLSign: x509.KeyUsageFlags.cRLSign,
  encipherOnly: x509.KeyUsageFlags.encipherOnly,
  decipherOnly: x509.KeyUsageFlags.decipherOnly,
} as const;

for (const spec of ALL_KEY_SPECS) {
  test(`${spec}: every profile's TBSCertificate is byte-identical to @peculiar/x509's`, async () => {
    const { root, intermediate } = await fixtureAuthorities(spec);
    const key = await fixtureKey(spec, undefined, 2);
    let compared = 0;
    for (const issuer of [root, intermediate]) {
      for (const request of cases()) {
        if (request.profile.isCA && issuer === intermediate) continue;
        const cert = await issueCertificate({ ...request, publicKey: key.publicKey, issuer, now: NOW, randomBytes: () => SERIAL.slice() });
        const general = await generalPath(cert, request, issuer, spec, globalThis.crypto);
        assert.ok(Buffer.from(cert.tbsDer).equals(general.tbsDer), `${request.profile.name} under ${issuer.certificate.subject.commonName}`);
        assert.ok(cert.isIssuedBy(issuer.certificate));
        compared++;
      }
    }
    const all = cases();
    assert.is(compared, 2 * all.length - all.filter((c) => c.profile.isCA).length);
  });
}

test('an injected provider signs through its own sign(), and the TBSCertificate is the same', async () => {
  const peculiar = PROVIDERS.find((p) => p.name === 'peculiar')!.crypto;
  for (const spec of ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'ed25519'] as const) {
    const { root } = await fixtureAuthorities(spec, peculiar);
    const key = await fixtureKey(spec, peculiar, 2);
    const request = cases().find((c) => c.profile === PROFILES.kubeletServing)!;
    const cert = await issueCertificate({ ...request, publicKey: key.publicKey, issuer: root, now: NOW, randomBytes: () => SERIAL.slice(), crypto: peculiar });
    const general = await generalPath(cert, request, root, spec, peculiar);
    assert.ok(Buffer.from(cert.tbsDer).equals(general.tbsDer), spec);
    assert.ok(cert.isIssuedBy(root.certificate), `${spec}: the provider's signature verifies`);
  }
});

test.run();
