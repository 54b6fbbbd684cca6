// Writes the hostile-input corpus: `npx tsx test/corpus/generate.ts`. Every input is derived from valid
// material made here (a CA, certificates, CSRs, keys, tokens, kubeconfigs, CSR objects), then broken one
// way; the manifest names the code each must be refused with. The generator runs each entry once and
// stops on any entry whose outcome differs, so the written corpus is what the test will hold the library to.
import { createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '../../lib/x509/peculiar.js';
import {
  bootstrapTokenSecret,
  createCertificateAuthority,
  createCsr,
  csrObject,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  issueRevocationList,
  kubeletKubeconfig,
  nodeSubject,
  PROFILES,
  type CertificateSigningRequestObject,
  type SecretObject,
  type Subject,
} from '../../lib/index.js';
import { concatBytes, encodeElement, encodeOid } from '../../lib/crypto/der.js';
import { encodeCertificationRequestInfo } from '../../lib/x509/csr.js';
import { encodeName } from '../../lib/x509/names.js';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CORPUS_DIR, runEntry, type Entry } from './entries.js';

const entries: (Entry & { content: string | Uint8Array })[] = [];
const add = (kind: Entry['kind'], name: string, content: string | Uint8Array | object, expect: string, note: string, extra: Partial<Entry> = {}): void => {
  const ext = { pem: 'pem', der: 'der', csr: 'pem', 'csr-profile': 'pem', 'csr-approval': 'json', 'csr-signer': 'json', key: 'pem', 'key-mismatch': 'pem', token: 'json', kubeconfig: 'yaml', 'csr-object': 'json', http: 'json' }[kind];
  const body = typeof content === 'string' || content instanceof Uint8Array ? content : JSON.stringify(content, null, 1);
  entries.push({ file: `${kind}/${name}.${ext}`, kind, expect, note, content: body, ...extra });
};

// A deterministic byte stream for the random inputs (the corpus must not change from run to run).
let state = 0x6b756265;
const random = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => ((state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 16) & 0xff);

const ca = await createCertificateAuthority({ commonName: 'corpus-ca' });
const nodeKey = await generateKeyPair('ecdsa-p256');
const leaf = await issueCertificate({ issuer: ca, profile: PROFILES.kubeletClient, subject: nodeSubject('node-1'), publicKey: nodeKey.publicKey });
const certDer = leaf.der;
const certPem = leaf.pem;
const b64 = (der: Uint8Array): string => Buffer.from(der).toString('base64');
const lines = (text: string): string => (text.match(/.{1,64}/g) ?? []).join('\n');
const pemOf = (label: string, der: Uint8Array): string => `-----BEGIN ${label}-----\n${lines(b64(der))}\n-----END ${label}-----\n`;
const body = lines(b64(certDer));
const p256Early = await exportPrivateKeyPem(await generateKeyPair('ecdsa-p256'), 'pkcs8');

// ---------------------------------------------------------------------------------------------- PEM
const pem = (name: string, text: string | Uint8Array, expect: string, note: string, extra: Partial<Entry> = {}): void => add('pem', name, text, expect, note, extra);
pem('empty', '', 'ERR_PEM', 'empty input');
pem('whitespace', ' \n\t\n  \n', 'ERR_PEM', 'only whitespace');
pem('no-begin', `${body}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'END without BEGIN');
pem('no-end', `-----BEGIN CERTIFICATE-----\n${body}\n`, 'ERR_PEM', 'BEGIN without END');
pem('label-foo', certPem.replaceAll('CERTIFICATE', 'FOO'), 'ERR_PEM', 'unknown label');
pem('label-lowercase', certPem.replaceAll('CERTIFICATE', 'certificate'), 'ERR_PEM', 'lowercase label');
pem('label-x509', certPem.replaceAll('CERTIFICATE', 'X509 CERTIFICATE'), 'ERR_PEM', 'legacy X509 CERTIFICATE label');
pem('label-trusted', certPem.replaceAll('CERTIFICATE', 'TRUSTED CERTIFICATE'), 'ERR_PEM', "OpenSSL's TRUSTED CERTIFICATE");
pem('label-mismatch', certPem.replace('END CERTIFICATE', 'END CERTIFICATE REQUEST'), 'ERR_PEM', 'END label differs from BEGIN');
pem('label-space', certPem.replace('BEGIN CERTIFICATE', 'BEGIN  CERTIFICATE'), 'ERR_PEM', 'two spaces in the label');
pem('label-trailing-space', certPem.replace('BEGIN CERTIFICATE-----', 'BEGIN CERTIFICATE -----'), 'ERR_PEM', 'space before the dashes');
pem('dashes-4', certPem.replace('-----BEGIN', '----BEGIN'), 'ERR_PEM', 'four dashes');
pem('wrong-label-asked', certPem, 'ERR_PEM', 'a certificate where a CSR is asked for', { labels: ['CERTIFICATE REQUEST'] });
pem('key-where-cert', p256Early, 'ERR_PEM', 'a private key where a certificate is asked for');
pem('crl-where-cert', pemOf('X509 CRL', certDer), 'ERR_PEM', 'a CRL label where a certificate is asked for');
for (const [i, bad] of ['!', '*', '-', '_', '~', '.', '\u00e9', '\u0000'].entries()) {
  pem(`base64-char-${i}`, `-----BEGIN CERTIFICATE-----\n${body.slice(0, 30)}${bad}${body.slice(31)}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', `base64 body with ${JSON.stringify(bad)}`);
}
pem('base64-pad-middle', `-----BEGIN CERTIFICATE-----\n${body.slice(0, 20)}==${body.slice(22)}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'padding in the middle');
pem('base64-triple-pad', `-----BEGIN CERTIFICATE-----\nAAA===\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'three padding characters');
pem('base64-bad-length', `-----BEGIN CERTIFICATE-----\n${b64(certDer).slice(0, -3)}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'base64 not a multiple of four');
pem('base64-space-inside', `-----BEGIN CERTIFICATE-----\n${body.slice(0, 10)} ${body.slice(10)}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'a space inside a base64 line');
pem('header-proc-type', `-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n${body}\n-----END CERTIFICATE-----\n`, 'ERR_KEY', 'RFC 1421 encryption headers (an encrypted block)');
pem('header-comment', `-----BEGIN CERTIFICATE-----\nComment: hello\n\n${body}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'a header line');
pem('header-key-encrypted', `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: DES-EDE3-CBC,0011223344556677\n\n${lines(b64(random(600)))}\n-----END RSA PRIVATE KEY-----\n`, 'ERR_KEY', 'legacy encrypted RSA key', { labels: ['RSA PRIVATE KEY'] });
pem('nested', `-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'a block inside a block');
pem('nested-other', `-----BEGIN CERTIFICATE-----\n${body.slice(0, 64)}\n-----BEGIN PRIVATE KEY-----\n${body.slice(64)}\n-----END CERTIFICATE-----\n`, 'ERR_PEM', 'another BEGIN inside a block');
pem('two-blocks', certPem + certPem, 'ERR_PEM', 'two blocks where one is asked for');
pem('empty-body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'ERR_PEM', 'a block with no content');
pem('binary', random(300), 'ERR_PEM', 'binary bytes');
pem('binary-with-begin', concatBytes([random(50), Buffer.from(certPem), random(50)]), 'ERR_PEM', 'binary bytes around a block');
pem('nul-in-label', certPem.replace('BEGIN CERTIFICATE', 'BEGIN CERT\u0000IFICATE'), 'ERR_PEM', 'NUL inside the label');
pem('huge', certPem, 'ERR_PEM', 'over 4 MiB of PEM text', { repeatTo: 5 * 1024 * 1024 });
pem('body-garbage', pemOf('CERTIFICATE', random(64)), 'ERR_DER', 'base64 that is not DER');
pem('body-trailing', pemOf('CERTIFICATE', concatBytes([certDer, Uint8Array.of(0)])), 'ERR_DER', 'DER followed by a byte');
pem('body-truncated', pemOf('CERTIFICATE', certDer.subarray(0, certDer.length - 10)), 'ERR_DER', 'truncated DER');
pem('body-indefinite', pemOf('CERTIFICATE', Uint8Array.from([0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00])), 'ERR_DER', 'BER indefinite length');

// ---------------------------------------------------------------------------------------------- DER
const der = (name: string, bytes: Uint8Array, note: string, expect = 'ERR_DER', extra: Partial<Entry> = {}): void => add('der', name, bytes, expect, note, extra);
for (const cut of [0, 1, 2, 3, 4, 8, 16, 50, 100, 150, 200, 250, 300, 350, certDer.length - 70, certDer.length - 20, certDer.length - 2, certDer.length - 1]) {
  der(`truncated-${cut}`, certDer.subarray(0, cut), `the certificate cut to ${cut} bytes`);
}
der('trailing-1', concatBytes([certDer, Uint8Array.of(0)]), 'one trailing byte');
der('trailing-100', concatBytes([certDer, random(100)]), '100 trailing bytes');
der('two-certificates', concatBytes([certDer, certDer]), 'two certificates back to back');
for (const tag of [0x31, 0x04, 0xa0, 0x02, 0x10, 0x00, 0xff]) der(`outer-tag-${tag.toString(16)}`, Uint8Array.from([tag, ...certDer.subarray(1)]), `outer tag 0x${tag.toString(16)}`);
der('indefinite-outer', Uint8Array.from([0x30, 0x80, ...certDer.subarray(4), 0, 0]), 'indefinite length on the outer SEQUENCE');
der('indefinite-inner', Uint8Array.from([0x30, 0x06, 0x30, 0x80, 0x05, 0x00, 0x00, 0x00]), 'indefinite length inside');
der('length-plus-one', Uint8Array.from([0x30, 0x82, (certDer.length - 4 + 1) >> 8, (certDer.length - 4 + 1) & 0xff, ...certDer.subarray(4)]), 'outer length one past the end');
der('length-huge', Uint8Array.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff, ...certDer.subarray(4)]), 'a 4 GiB length');
der('length-five-bytes', Uint8Array.from([0x30, 0x85, 0, 0, 0, 0x01, 0x00, ...random(256)]), 'a five-byte length field');
der('length-non-minimal', Uint8Array.from([0x30, 0x81, 0x03, 0x02, 0x01, 0x01]), 'a long-form length for 3');
der('length-leading-zero', Uint8Array.from([0x30, 0x83, 0x00, ...certDer.subarray(2)]), 'a length with a leading zero byte');
der('inner-length-past-parent', Uint8Array.from([0x30, 0x05, 0x30, 0x07, 0x02, 0x01, 0x01]), 'a child longer than its parent');
let deep: Uint8Array = Uint8Array.from([0x05, 0x00]);
for (let i = 0; i < 40; i++) deep = encodeElement(0x30, deep);
der('deep-40', deep, 'SEQUENCEs nested 40 deep');
let deeper: Uint8Array = Uint8Array.from([0x05, 0x00]);
for (let i = 0; i < 2000; i++) deeper = encodeElement(0x30, deeper);
der('deep-2000', deeper, 'SEQUENCEs nested 2,000 deep');
der('wide-30000', encodeElement(0x30, new Uint8Array(60_000).map((_, i) => (i % 2 === 0 ? 0x05 : 0))), '30,000 NULLs in one SEQUENCE');
der('multi-byte-tag', Uint8Array.from([0x1f, 0x81, 0x01, 0x00]), 'a multi-byte tag');
der('constructed-octet-string', Uint8Array.from([0x30, 0x06, 0x24, 0x04, 0x04, 0x02, 0x01, 0x02]), 'a constructed OCTET STRING (BER)');
der('integer-non-minimal', Uint8Array.from([0x30, 0x04, 0x02, 0x02, 0x00, 0x01]), 'an INTEGER with a redundant leading zero');
der('integer-empty', Uint8Array.from([0x30, 0x02, 0x02, 0x00]), 'an empty INTEGER');
der('empty-sequence', Uint8Array.from([0x30, 0x00]), 'an empty SEQUENCE');
der('sequence-of-null', Uint8Array.from([0x30, 0x02, 0x05, 0x00]), 'a SEQUENCE of NULL');
der('csr-as-certificate', (await createCsr({ keyPair: nodeKey, subject: nodeSubject('node-1') })).der, 'a CSR where a certificate is expected');
der('crl-as-certificate', (await issueRevocationList({ issuer: ca, revoked: [] })).der, 'a CRL where a certificate is expected');
der('oversized', certDer, 'over 1 MiB of DER', 'ERR_DER', { repeatTo: 1100 * 1024 });
der('empty', new Uint8Array(0), 'no bytes');
der('one-byte', Uint8Array.of(0x30), 'one byte');
for (let i = 0; i < 10; i++) der(`random-${i}`, random(20 + i * 37), `${20 + i * 37} random bytes`);
for (const at of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 39, 68, 97, 126, 155]) {
  const flipped = Uint8Array.from(certDer);
  flipped[at] = 0xff;
  // Some flips leave valid DER with a bad field; all must be refused, each by the parser's own code.
  der(`byte-ff-at-${at}`, flipped, `byte ${at} set to 0xff`, 'ANY_PKI_ERROR');
}
// A certificate whose inner and outer signature algorithms differ.
{
  const swapped = Uint8Array.from(certDer);
  const ecdsaSha256 = Buffer.from('2a8648ce3d040302', 'hex');
  const last = Buffer.from(swapped).lastIndexOf(ecdsaSha256);
  swapped[last + ecdsaSha256.length - 1] = 0x03; // ecdsa-with-SHA384 outside only
  der('algorithm-mismatch', swapped, 'inner and outer signature algorithms differ', 'ANY_PKI_ERROR');
}

// ---------------------------------------------------------------------------------------------- CSRs
const ECDSA_SHA256 = encodeElement(0x30, encodeOid('1.2.840.10045.4.3.2'));
const RSA_SHA256 = encodeElement(0x30, concatBytes([encodeOid('1.2.840.113549.1.1.11'), Uint8Array.of(0x05, 0x00)]));
/** A CSR signed with a raw node key (for key types kubepki itself would not make). */
const rawCsr = (subject: Subject, key: { publicKey: KeyObject; privateKey: KeyObject }, algorithm: Uint8Array, hash: string | null = 'sha256'): Uint8Array => {
  const spki = key.publicKey.export({ format: 'der', type: 'spki' });
  const info = encodeCertificationRequestInfo(encodeName(subject), spki, []);
  const signature = nodeSign(hash, info, key.privateKey);
  return encodeElement(0x30, concatBytes([info, algorithm, encodeElement(0x03, concatBytes([Uint8Array.of(0), signature]))]));
};
const csr = (name: string, der: Uint8Array | string, expect: string, note: string): void => add('csr', name, typeof der === 'string' ? der : pemOf('CERTIFICATE REQUEST', der), expect, note);
const goodCsr = (await createCsr({ keyPair: nodeKey, subject: nodeSubject('node-1') })).der;
for (const [i, at] of [goodCsr.length - 1, goodCsr.length - 5, goodCsr.length - 20, goodCsr.length - 40].entries()) {
  const bad = Uint8Array.from(goodCsr);
  bad[at]! ^= 0x01;
  csr(`bad-signature-${i}`, bad, 'ANY_PKI_ERROR', `bit flipped at byte ${at} of the signature`);
}
{
  const bad = Uint8Array.from(goodCsr);
  const cn = Buffer.from(bad).indexOf(Buffer.from('node-1'));
  bad[cn + 5] = 0x32; // node-2: the signature no longer covers the subject
  csr('subject-changed', bad, 'ERR_CSR_SIGNATURE', 'the subject changed after signing');
  const sig = Uint8Array.from(goodCsr);
  const spkiAt = Buffer.from(sig).indexOf(Buffer.from('2a8648ce3d030107', 'hex'));
  sig[spkiAt + 20]! ^= 0x01;
  csr('public-key-changed', sig, 'ANY_PKI_ERROR', 'the public key changed after signing');
}
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const swapAlgorithm = (oid: string, params = false): Uint8Array => rawCsr(nodeSubject('node-1'), ec, encodeElement(0x30, concatBytes([encodeOid(oid), ...(params ? [Uint8Array.of(5, 0)] : [])])));
csr('algorithm-ecdsa-sha1', swapAlgorithm('1.2.840.10045.4.1'), 'ERR_CSR', 'ecdsa-with-SHA1');
csr('algorithm-md5-rsa', swapAlgorithm('1.2.840.113549.1.1.4', true), 'ERR_CSR', 'md5WithRSAEncryption');
csr('algorithm-sha1-rsa', swapAlgorithm('1.2.840.113549.1.1.5', true), 'ERR_CSR', 'sha1WithRSAEncryption');
csr('algorithm-unknown', swapAlgorithm('1.3.6.1.4.1.99999.1'), 'ERR_CSR', 'an unknown signature algorithm');
csr('algorithm-rsa-pss-ec', swapAlgorithm('1.2.840.113549.1.1.10'), 'ERR_CSR', 'RSASSA-PSS with an EC key');
csr('key-rsa-1024', rawCsr(nodeSubject('node-1'), generateKeyPairSync('rsa', { modulusLength: 1024 }), RSA_SHA256), 'ERR_KEY', 'an RSA-1024 key');
csr('key-rsa-1536', rawCsr(nodeSubject('node-1'), generateKeyPairSync('rsa', { modulusLength: 1536 }), RSA_SHA256), 'ERR_KEY', 'an RSA-1536 key');
csr('key-p521', rawCsr(nodeSubject('node-1'), generateKeyPairSync('ec', { namedCurve: 'P-521' }), ECDSA_SHA256), 'ERR_KEY', 'a P-521 key');
csr('key-secp256k1', rawCsr(nodeSubject('node-1'), generateKeyPairSync('ec', { namedCurve: 'secp256k1' }), ECDSA_SHA256), 'ERR_KEY', 'a secp256k1 key');
csr('key-brainpool', rawCsr(nodeSubject('node-1'), generateKeyPairSync('ec', { namedCurve: 'brainpoolP256r1' }), ECDSA_SHA256), 'ERR_KEY', 'a brainpool key');
csr('key-dsa', rawCsr(nodeSubject('node-1'), generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }), encodeElement(0x30, encodeOid('2.16.840.1.101.3.4.3.2'))), 'ANY_PKI_ERROR', 'a DSA key');
csr('version-1', (() => {
  const bytes = Uint8Array.from(goodCsr);
  bytes[Buffer.from(bytes).indexOf(Buffer.from('020100', 'hex')) + 2] = 1;
  return bytes;
})(), 'ANY_PKI_ERROR', 'version 1');
csr('trailing', concatBytes([goodCsr, Uint8Array.of(0)]), 'ERR_DER', 'a trailing byte');
csr('truncated', goodCsr.subarray(0, 60), 'ERR_DER', 'truncated');
csr('certificate-as-csr', pemOf('CERTIFICATE REQUEST', certDer), 'ANY_PKI_ERROR', 'a certificate under a CSR label');
csr('cert-label', certPem, 'ERR_PEM', 'a certificate PEM where a CSR is expected');
csr('new-label', pemOf('NEW CERTIFICATE REQUEST', goodCsr), 'ERR_PEM', 'the legacy NEW CERTIFICATE REQUEST label');
csr('empty-sequence', encodeElement(0x30, new Uint8Array(0)), 'ANY_PKI_ERROR', 'an empty SEQUENCE');
add('csr', 'oversized', pemOf('CERTIFICATE REQUEST', goodCsr), 'ERR_PEM', 'over 4 MiB of CSRs', { repeatTo: 5 * 1024 * 1024 });

// The CA step (issueCertificates over CSRs): names the profile forbids.
const profileCsr = async (name: string, subject: Subject, sans: Parameters<typeof createCsr>[0]['sans'], profile: keyof typeof PROFILES, expect: string, note: string): Promise<void> => {
  add('csr-profile', name, (await createCsr({ keyPair: nodeKey, subject, sans })).pem, expect, note, { profile });
};
await profileCsr('client-cn-not-node', { commonName: 'admin', organizations: ['system:nodes'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'kubelet client CN is not system:node:<name>');
await profileCsr('client-no-org', { commonName: 'system:node:a' }, undefined, 'kubeletClient', 'ERR_PROFILE', 'kubelet client without O=system:nodes');
await profileCsr('client-masters', { commonName: 'system:node:a', organizations: ['system:nodes', 'system:masters'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'kubelet client asking for system:masters');
await profileCsr('client-masters-only', { commonName: 'system:node:a', organizations: ['system:masters'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'O=system:masters instead of system:nodes');
await profileCsr('client-empty-node', { commonName: 'system:node:', organizations: ['system:nodes'] }, undefined, 'kubeletClient', 'ANY_PKI_ERROR', 'system:node: with no name');
await profileCsr('client-dns-san', nodeSubject('a'), { dns: ['a'] }, 'kubeletClient', 'ERR_PROFILE', 'a kubelet client certificate with a DNS SAN');
await profileCsr('client-ip-san', nodeSubject('a'), { ips: ['10.0.0.1'] }, 'kubeletClient', 'ERR_PROFILE', 'a kubelet client certificate with an IP SAN');
await profileCsr('client-email-san', nodeSubject('a'), { emails: ['a@example.com'] }, 'kubeletClient', 'ERR_PROFILE', 'an email SAN');
await profileCsr('client-uri-san', nodeSubject('a'), { uris: ['spiffe://cluster/ns/x'] }, 'kubeletClient', 'ERR_PROFILE', 'a URI SAN');
await profileCsr('serving-cn-wrong', { commonName: 'kube-apiserver', organizations: ['system:nodes'] }, { dns: ['a'] }, 'kubeletServing', 'ERR_PROFILE', 'a serving certificate for kube-apiserver');
await profileCsr('serving-email', nodeSubject('a'), { dns: ['a'], emails: ['a@example.com'] }, 'kubeletServing', 'ERR_PROFILE', 'a serving certificate with an email SAN');
await profileCsr('serving-uri', nodeSubject('a'), { dns: ['a'], uris: ['https://a'] }, 'kubeletServing', 'ERR_PROFILE', 'a serving certificate with a URI SAN');
await profileCsr('serving-masters', { commonName: 'system:node:a', organizations: ['system:masters'] }, { dns: ['a'] }, 'kubeletServing', 'ERR_PROFILE', 'a serving certificate in system:masters');
await profileCsr('apiserver-cn', { commonName: 'not-apiserver' }, { dns: ['kubernetes'] }, 'apiserver', 'ERR_PROFILE', 'the apiserver profile with another CN');
await profileCsr('admin-org', { commonName: 'kubernetes-admin', organizations: ['system:masters'] }, undefined, 'admin', 'ERR_PROFILE', 'admin.conf asking for system:masters instead of kubeadm:cluster-admins');
await profileCsr('front-proxy-cn', { commonName: 'someone' }, undefined, 'frontProxyClient', 'ERR_PROFILE', 'front-proxy-client with another CN');
await profileCsr('etcd-client-org', { commonName: 'kube-apiserver-etcd-client', organizations: ['system:masters'] }, undefined, 'apiserverEtcdClient', 'ERR_PROFILE', 'an etcd client with an organisation');
add('csr-profile', 'bad-signature', pemOf('CERTIFICATE REQUEST', (() => {
  const bad = Uint8Array.from(goodCsr);
  bad[Buffer.from(bad).indexOf(Buffer.from('node-1')) + 5] = 0x32;
  return bad;
})()), 'ERR_CSR_SIGNATURE', 'a CSR whose signature does not cover its subject', { profile: 'kubeletClient' });

// The approver and the signer over CSR objects.
const BOOTSTRAPPER = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };
const objectFor = async (name: string, subject: Subject, sans: Parameters<typeof createCsr>[0]['sans'], signerName: string, usages: CertificateSigningRequestObject['spec']['usages'], requester = BOOTSTRAPPER, pemText?: string): Promise<CertificateSigningRequestObject> => {
  const object = csrObject(name, pemText ?? (await createCsr({ keyPair: nodeKey, subject, sans })).pem, signerName, usages);
  return { ...object, spec: { ...object.spec, username: requester.username, groups: requester.groups } };
};
const CLIENT = 'kubernetes.io/kube-apiserver-client-kubelet';
const SERVING = 'kubernetes.io/kubelet-serving';
const caRequest = await x509.Pkcs10CertificateRequestGenerator.create({
  name: 'CN=system:node:a, O=system:nodes',
  keys: { privateKey: nodeKey.privateKey, publicKey: nodeKey.publicKey },
  signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
  extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
});
const approval = async (name: string, object: Promise<CertificateSigningRequestObject>, reason: string, note: string): Promise<void> => add('csr-approval', name, await object, `DENY:${reason}`, note);
await approval('requests-ca', objectFor('x', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth'], BOOTSTRAPPER, caRequest.toString('pem')), 'RequestsCA', 'a kubelet client CSR asking for basicConstraints cA');
await approval('client-server-auth', objectFor('x', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth', 'server auth']), 'NotKubeletClient', 'a client CSR asking for server auth too');
await approval('client-wrong-cn', objectFor('x', { commonName: 'admin', organizations: ['system:nodes'] }, undefined, CLIENT, ['digital signature', 'client auth']), 'NotKubeletClient', 'a client CSR for another CN');
await approval('client-with-san', objectFor('x', nodeSubject('a'), { dns: ['a'] }, CLIENT, ['digital signature', 'client auth']), 'NotKubeletClient', 'a client CSR with a SAN');
await approval('client-masters', objectFor('x', { commonName: 'system:node:a', organizations: ['system:nodes', 'system:masters'] }, undefined, CLIENT, ['digital signature', 'client auth']), 'NotKubeletClient', 'a client CSR adding system:masters');
await approval('serving-foreign-ip', objectFor('x', nodeSubject('a'), { dns: ['a'], ips: ['10.9.9.9'] }, SERVING, ['digital signature', 'server auth'], { username: 'system:node:a', groups: ['system:nodes'] }), 'SANsNotOwned', 'a serving CSR for an IP the node does not own');
await approval('serving-foreign-dns', objectFor('x', nodeSubject('a'), { dns: ['kubernetes.default'] }, SERVING, ['digital signature', 'server auth'], { username: 'system:node:a', groups: ['system:nodes'] }), 'SANsNotOwned', 'a serving CSR for the apiserver name');
await approval('serving-other-node', objectFor('x', nodeSubject('b'), { dns: ['b'] }, SERVING, ['digital signature', 'server auth'], { username: 'system:node:a', groups: ['system:nodes'] }), 'NotKubeletServing', 'node a asking for node b');
const signer = async (name: string, object: Promise<CertificateSigningRequestObject>, note: string): Promise<void> => {
  const o = await object;
  add('csr-signer', name, { ...o, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'Corpus' }] } }, 'FAILED', note);
};
await signer('client-wrong-cn', objectFor('x', { commonName: 'admin', organizations: ['system:masters'] }, undefined, CLIENT, ['digital signature', 'client auth']), 'an approved client CSR for system:masters: the signer still refuses');
await signer('client-server-auth', objectFor('x', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth', 'server auth']), 'an approved client CSR with server auth');
await signer('serving-client-auth', objectFor('x', nodeSubject('a'), { dns: ['a'] }, SERVING, ['digital signature', 'server auth', 'client auth']), 'an approved serving CSR with client auth');
await signer('serving-no-san', objectFor('x', nodeSubject('a'), undefined, SERVING, ['digital signature', 'server auth']), 'an approved serving CSR without SANs');
await signer('serving-uri', objectFor('x', nodeSubject('a'), { dns: ['a'], uris: ['https://a'] }, SERVING, ['digital signature', 'server auth']), 'an approved serving CSR with a URI SAN');

// ---------------------------------------------------------------------------------------------- keys
const key = (name: string, text: string | Uint8Array, expect: string, note: string): void => add('key', name, text, expect, note);
const nodePem = (type: 'rsa' | 'ec' | 'ed448' | 'x25519' | 'dsa', options: object, encoding: 'pkcs8' | 'pkcs1' | 'sec1'): string =>
  (generateKeyPairSync as (t: string, o: object) => { privateKey: string })(type, { ...options, privateKeyEncoding: { type: encoding, format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
key('rsa-1024', nodePem('rsa', { modulusLength: 1024 }, 'pkcs1'), 'ERR_KEY', 'RSA under 2048 bits');
key('rsa-1024-pkcs8', nodePem('rsa', { modulusLength: 1024 }, 'pkcs8'), 'ERR_KEY', 'RSA-1024 in PKCS#8');
key('rsa-2047', nodePem('rsa', { modulusLength: 2047 }, 'pkcs1'), 'ERR_KEY', 'RSA-2047');
key('rsa-8192', nodePem('rsa', { modulusLength: 8192 }, 'pkcs1'), 'ERR_KEY', 'RSA-8192 (not a kubepki size)');
key('ec-p521', nodePem('ec', { namedCurve: 'P-521' }, 'sec1'), 'ERR_KEY', 'P-521');
key('ec-p521-pkcs8', nodePem('ec', { namedCurve: 'P-521' }, 'pkcs8'), 'ERR_KEY', 'P-521 in PKCS#8');
key('ec-secp256k1', nodePem('ec', { namedCurve: 'secp256k1' }, 'sec1'), 'ERR_KEY', 'secp256k1');
key('ec-p224', nodePem('ec', { namedCurve: 'P-224' }, 'pkcs8'), 'ERR_KEY', 'P-224');
key('ec-brainpool', nodePem('ec', { namedCurve: 'brainpoolP256r1' }, 'pkcs8'), 'ERR_KEY', 'brainpoolP256r1');
key('ed448', nodePem('ed448', {}, 'pkcs8'), 'ERR_KEY', 'Ed448');
key('x25519', nodePem('x25519', {}, 'pkcs8'), 'ERR_KEY', 'X25519 (not a signing key)');
key('dsa', nodePem('dsa', { modulusLength: 2048, divisorLength: 256 }, 'pkcs8'), 'ERR_KEY', 'DSA');
key('encrypted-pkcs8', (generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'corpus' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }) as unknown as { privateKey: string }).privateKey, 'ANY_PKI_ERROR', 'an encrypted PKCS#8 key');
key('encrypted-legacy', (generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem', cipher: 'aes-128-cbc', passphrase: 'corpus' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }) as unknown as { privateKey: string }).privateKey, 'ERR_KEY', 'a legacy encrypted RSA key (Proc-Type header)');
const p256 = await exportPrivateKeyPem(await generateKeyPair('ecdsa-p256'), 'pkcs8');
const p256Sec1 = await exportPrivateKeyPem(await generateKeyPair('ecdsa-p256'), 'sec1');
const rsaPkcs1 = await exportPrivateKeyPem(await generateKeyPair('rsa-2048'), 'pkcs1');
key('pkcs8-as-sec1', p256.replaceAll('PRIVATE KEY', 'EC PRIVATE KEY'), 'ERR_KEY', 'PKCS#8 under the EC PRIVATE KEY label');
key('sec1-as-rsa', p256Sec1.replaceAll('EC PRIVATE KEY', 'RSA PRIVATE KEY'), 'ERR_KEY', 'SEC1 under the RSA PRIVATE KEY label');
key('rsa-as-pkcs8', rsaPkcs1.replaceAll('RSA PRIVATE KEY', 'PRIVATE KEY'), 'ERR_KEY', 'PKCS#1 under the PRIVATE KEY label');
key('public-key', createPublicKey(p256).export({ format: 'pem', type: 'spki' }) as string, 'ERR_PEM', 'a public key where a private key is expected');
key('certificate', certPem, 'ERR_PEM', 'a certificate where a key is expected');
key('garbage-pkcs8', pemOf('PRIVATE KEY', encodeElement(0x30, concatBytes([Uint8Array.of(2, 1, 0), encodeElement(0x30, encodeOid('1.2.840.10045.2.1')), encodeElement(0x04, random(30))]))), 'ERR_KEY', 'PKCS#8 with an EC algorithm and no curve');
key('pkcs8-unknown-algorithm', pemOf('PRIVATE KEY', encodeElement(0x30, concatBytes([Uint8Array.of(2, 1, 0), encodeElement(0x30, encodeOid('1.3.6.1.4.1.99999.7')), encodeElement(0x04, random(32))]))), 'ERR_KEY', 'PKCS#8 with an unknown algorithm');
key('pkcs8-mixed-curves', '-----BEGIN PRIVATE KEY-----\nMFoCAQAwEAYHKoZIzj0CAQYFK4EEACIEQzBBAgEBBDA4s09hgWZPAM8Cr1coibls\naAhmp53g+scXv3F1LuU/qy4dM2RHgruPrF7RnQiprWegCgYIKoZIzj0DAQc=\n-----END PRIVATE KEY-----\n', 'ERR_KEY', 'P-384 PKCS#8 around a P-256 ECPrivateKey (aborted Node before the fix)');
key('sec1-no-curve', pemOf('EC PRIVATE KEY', encodeElement(0x30, concatBytes([Uint8Array.of(2, 1, 1), encodeElement(0x04, random(32))]))), 'ERR_KEY', 'SEC1 without a named curve');
key('sec1-short-scalar', pemOf('EC PRIVATE KEY', encodeElement(0x30, concatBytes([Uint8Array.of(2, 1, 1), encodeElement(0x04, random(31)), encodeElement(0xa0, encodeOid('1.2.840.10045.3.1.7'))]))), 'ERR_KEY', 'a 31-byte P-256 scalar');
key('sec1-zero-scalar', pemOf('EC PRIVATE KEY', encodeElement(0x30, concatBytes([Uint8Array.of(2, 1, 1), encodeElement(0x04, new Uint8Array(32)), encodeElement(0xa0, encodeOid('1.2.840.10045.3.1.7'))]))), 'ERR_KEY', 'a zero P-256 scalar');
key('sec1-scalar-over-order', pemOf('EC PRIVATE KEY', encodeElement(0x30, concatBytes([Uint8Array.of(2, 1, 1), encodeElement(0x04, new Uint8Array(32).fill(0xff)), encodeElement(0xa0, encodeOid('1.2.840.10045.3.1.7'))]))), 'ERR_KEY', 'a P-256 scalar above the group order');
key('truncated', p256.slice(0, 100) + '\n-----END PRIVATE KEY-----\n', 'ANY_PKI_ERROR', 'a truncated key');
key('two-keys', p256 + p256, 'ERR_PEM', 'two keys in one file');
key('empty', '', 'ERR_PEM', 'an empty file');
add('key-mismatch', 'ca-key-mismatch', p256, 'ERR_KEY', 'a key that is not the certificate\'s, used to sign as that CA', { certificate: 'key-mismatch/ca.crt' });
entries.push({ file: 'key-mismatch/ca.crt', kind: 'pem', expect: 'ok', note: 'the certificate the mismatch entry pairs with (a valid input, not refused)', content: ca.certificate.pem });

// ---------------------------------------------------------------------------------------------- tokens
const tokenSecret = (id: string, secret: string, options: Parameters<typeof bootstrapTokenSecret>[1] = {}): SecretObject => bootstrapTokenSecret({ id, secret }, options);
const token = (name: string, spec: object, note: string): void => add('token', name, spec, 'ERR_TOKEN', note);
for (const [i, text] of ['', 'abcdef', 'abcdef.', '.0123456789abcdef', 'abcdef.0123456789abcde', 'abcdef.0123456789abcdef0', 'ABCDEF.0123456789abcdef', 'abcdef:0123456789abcdef', 'abcdef.0123456789ABCDEF', 'abcde.0123456789abcdef', ' abcdef.0123456789abcdef', 'abcdef.0123456789abcdef\n', 'abc-ef.0123456789abcdef', 'abcdef.0123456789abcd\u00e9f'].entries()) {
  token(`format-${i}`, { token: text }, `malformed token ${JSON.stringify(text)}`);
}
token('not-a-string', { token: 42 }, 'a number');
const tid = 'corpus';
const tsecret = 'c0rpusc0rpusc0rp';
const tok = `${tid}.${tsecret}`;
token('unknown', { token: 'zzzzzz.0123456789abcdef', secret: tokenSecret(tid, tsecret) }, 'no Secret for the id');
token('expired', { token: tok, secret: tokenSecret(tid, tsecret, { expiration: new Date('2020-01-01T00:00:00Z') }) }, 'expired');
token('expired-unparsable', { token: tok, secret: { ...tokenSecret(tid, tsecret), data: { ...tokenSecret(tid, tsecret).data, expiration: Buffer.from('tomorrow').toString('base64') } } }, 'an expiry that does not parse');
token('wrong-usage', { token: tok, secret: tokenSecret(tid, tsecret, { usages: ['signing'] }) }, 'not usable for authentication');
token('usage-not-true', { token: tok, secret: { ...tokenSecret(tid, tsecret), data: { ...tokenSecret(tid, tsecret).data, 'usage-bootstrap-authentication': Buffer.from('yes').toString('base64') } } }, 'usage "yes" instead of "true"');
token('wrong-secret', { token: `${tid}.0000000000000000`, secret: tokenSecret(tid, tsecret) }, 'the secret does not match');
token('wrong-type', { token: tok, secret: { ...tokenSecret(tid, tsecret), type: 'Opaque' } }, 'a Secret of type Opaque');
token('deleting', { token: tok, secret: { ...tokenSecret(tid, tsecret), metadata: { ...tokenSecret(tid, tsecret).metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } } }, 'a Secret being deleted');
token('id-mismatch', { token: tok, secret: { ...tokenSecret(tid, tsecret), data: { ...tokenSecret(tid, tsecret).data, 'token-id': Buffer.from('other1').toString('base64') } } }, 'token-id differs from the name');
token('no-data', { token: tok, secret: { ...tokenSecret(tid, tsecret), data: undefined } }, 'a Secret without data');
token('data-not-strings', { token: tok, secret: { ...tokenSecret(tid, tsecret), data: { ...tokenSecret(tid, tsecret).data, 'token-secret': 42 } } }, 'data values that are not strings');
for (const [i, group] of ['system:masters', 'system:bootstrappers:', 'system:bootstrappers:UPPER', 'system:bootstrappers:a b', 'system:nodes', 'system:bootstrappers:a,system:masters'].entries()) {
  const base = tokenSecret(tid, tsecret);
  token(`extra-group-${i}`, { token: tok, secret: { ...base, data: { ...base.data, 'auth-extra-groups': Buffer.from(group).toString('base64') } } }, `invalid extra group ${JSON.stringify(group)}`);
}

// ---------------------------------------------------------------------------------------------- kubeconfigs
const good = kubeletKubeconfig({ server: 'https://10.0.0.1:6443', caPem: ca.certificate.pem });
const kc = (name: string, text: string, note: string, extra: Partial<Entry> = {}): void => add('kubeconfig', name, text, 'ERR_KUBECONFIG', note, extra);
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const editKc = (edit: (doc: Doc) => void): string => {
  const doc = parseYaml(good) as Doc;
  edit(doc);
  return stringifyYaml(doc);
};
kc('empty', '', 'empty');
kc('scalar', 'just text', 'a scalar, not a mapping');
kc('list', '- a\n- b\n', 'a list');
kc('invalid-yaml', 'clusters: [\n', 'unterminated flow sequence');
kc('tabs', 'apiVersion: v1\n\tkind: Config\n', 'a tab indent');
kc('alias-bomb', 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n', 'a billion-laughs alias expansion');
kc('kind-secret', editKc((d: Doc) => (d.kind = 'Secret')), 'kind Secret');
kc('kind-object', editKc((d: Doc) => (d.kind = { toString: 1 })), 'kind that is an object');
kc('no-current-context', editKc((d: Doc) => delete d['current-context']), 'no current-context');
kc('current-context-number', editKc((d: Doc) => (d['current-context'] = 7)), 'current-context a number');
kc('current-context-unknown', editKc((d: Doc) => (d['current-context'] = 'nope')), 'current-context names no context');
kc('clusters-map', editKc((d: Doc) => (d.clusters = { a: 1 })), 'clusters a mapping');
kc('clusters-missing', editKc((d: Doc) => delete d.clusters), 'no clusters');
kc('users-null', editKc((d: Doc) => (d.users = null)), 'users null');
kc('contexts-empty', editKc((d: Doc) => (d.contexts = [])), 'no contexts');
kc('context-no-cluster', editKc((d: Doc) => delete d.contexts[0].context.cluster), 'a context without a cluster');
kc('context-no-user', editKc((d: Doc) => delete d.contexts[0].context.user), 'a context without a user');
kc('context-string', editKc((d: Doc) => (d.contexts[0].context = 'x')), 'a context that is a string');
kc('server-missing', editKc((d: Doc) => delete d.clusters[0].cluster.server), 'no server');
kc('server-http', editKc((d: Doc) => (d.clusters[0].cluster.server = 'http://10.0.0.1:6443')), 'a plain-HTTP server');
kc('server-number', editKc((d: Doc) => (d.clusters[0].cluster.server = 6443)), 'a server that is a number');
kc('insecure-skip', editKc((d: Doc) => (d.clusters[0].cluster['insecure-skip-tls-verify'] = true)), 'insecure-skip-tls-verify');
kc('ca-data-not-base64', editKc((d: Doc) => (d.clusters[0].cluster['certificate-authority-data'] = '!!notbase64!!')), 'CA data not base64');
kc('ca-data-unpadded', editKc((d: Doc) => (d.clusters[0].cluster['certificate-authority-data'] = 'QUJD' + 'RA')), 'CA data without padding');
kc('ca-data-list', editKc((d: Doc) => (d.clusters[0].cluster['certificate-authority-data'] = ['a'])), 'CA data a list');
kc('client-cert-number', editKc((d: Doc) => (d.users[0].user['client-certificate'] = 5)), 'a client-certificate path that is a number');
kc('client-key-empty', editKc((d: Doc) => (d.users[0].user['client-key'] = '')), 'an empty client-key path');
kc('token-object', editKc((d: Doc) => (d.users[0].user.token = { a: 1 })), 'a token that is an object');
kc('outside-absolute', editKc((d: Doc) => (d.users[0].user['client-key'] = '/etc/shadow')), 'a key file outside the folder (absolute)', { filesWithin: true });
kc('outside-relative', editKc((d: Doc) => (d.users[0].user['client-certificate'] = '../../../etc/passwd')), 'a certificate file outside the folder (..)', { filesWithin: true });
kc('outside-ca', editKc((d: Doc) => (d.clusters[0].cluster['certificate-authority'] = '/var/run/secrets/kubernetes.io/serviceaccount/ca.crt')), 'a CA file outside the folder', { filesWithin: true });
kc('outside-sneaky', editKc((d: Doc) => (d.users[0].user['client-key'] = 'pki/../../secret.key')), 'a path that climbs out through a subfolder', { filesWithin: true });
kc('outside-nul', editKc((d: Doc) => (d.users[0].user['client-key'] = 'pki/key\u0000.pem')), 'a NUL byte in a path', { filesWithin: true });
kc('huge', good, 'over 1 MiB', { repeatTo: 1100 * 1024 });

// ---------------------------------------------------------------------------------------------- CSR objects
const baseObject = await objectFor('node-csr-1', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth']);
const obj = (name: string, edit: (o: Doc) => void, note: string, expect = 'ERR_CSR_OBJECT'): void => {
  const o = JSON.parse(JSON.stringify(baseObject)) as Doc;
  edit(o);
  add('csr-object', name, o, expect, note);
};
obj('api-version', (o) => (o.apiVersion = 'certificates.k8s.io/v1beta1'), 'v1beta1');
obj('kind', (o) => (o.kind = 'Secret'), 'kind Secret');
obj('no-metadata', (o) => delete o.metadata, 'no metadata');
obj('name-slash', (o) => (o.metadata.name = 'a/b'), 'a name with a path separator');
obj('name-dotdot', (o) => (o.metadata.name = '../etc'), 'a name that climbs');
obj('name-backslash', (o) => (o.metadata.name = 'a\\b'), 'a name with a backslash');
obj('name-empty', (o) => (o.metadata.name = ''), 'an empty name');
obj('name-long', (o) => (o.metadata.name = 'a'.repeat(254)), 'a 254-character name');
obj('name-number', (o) => (o.metadata.name = 5), 'a name that is a number');
obj('no-spec', (o) => delete o.spec, 'no spec');
obj('signer-missing', (o) => delete o.spec.signerName, 'no signerName');
obj('signer-no-slash', (o) => (o.spec.signerName = 'kubernetes.io'), 'a signerName without a path');
obj('signer-two-slashes', (o) => (o.spec.signerName = 'kubernetes.io/a/b'), 'a signerName with two slashes');
obj('signer-one-label', (o) => (o.spec.signerName = 'kubernetes/a'), 'a one-label domain');
obj('signer-uppercase', (o) => (o.spec.signerName = 'Kubernetes.io/a'), 'an uppercase domain');
obj('signer-legacy', (o) => (o.spec.signerName = 'kubernetes.io/legacy-unknown'), 'legacy-unknown in v1');
obj('signer-long', (o) => (o.spec.signerName = `${'a'.repeat(300)}.io/${'b'.repeat(300)}`), 'a signerName over 571 characters');
obj('usages-missing', (o) => delete o.spec.usages, 'no usages');
obj('usages-empty', (o) => (o.spec.usages = []), 'an empty usage list');
obj('usages-unknown', (o) => o.spec.usages.push('root'), 'an unknown usage');
obj('usages-duplicate', (o) => o.spec.usages.push('client auth'), 'a duplicate usage');
obj('usages-object', (o) => (o.spec.usages = [{ toString: 1 }]), 'a usage that is an object');
obj('usages-string', (o) => (o.spec.usages = 'client auth'), 'usages a string');
obj('expiration-short', (o) => (o.spec.expirationSeconds = 599), 'expirationSeconds under 600');
obj('expiration-float', (o) => (o.spec.expirationSeconds = 3600.5), 'a fractional expirationSeconds');
obj('expiration-string', (o) => (o.spec.expirationSeconds = '3600'), 'expirationSeconds a string');
obj('request-missing', (o) => delete o.spec.request, 'no request');
obj('request-empty', (o) => (o.spec.request = ''), 'an empty request');
obj('request-number', (o) => (o.spec.request = 5), 'a request that is a number');
obj('request-not-pem', (o) => (o.spec.request = Buffer.from('hello').toString('base64')), 'a request that is not PEM');
obj('request-certificate', (o) => (o.spec.request = Buffer.from(certPem).toString('base64')), 'a certificate as the request');
obj('request-bad-signature', (o) => {
  const bad = Uint8Array.from(goodCsr);
  bad[Buffer.from(bad).indexOf(Buffer.from('node-1')) + 5] = 0x32;
  o.spec.request = Buffer.from(pemOf('CERTIFICATE REQUEST', bad)).toString('base64');
}, 'a request whose signature does not verify', 'ERR_CSR_SIGNATURE');
obj('request-rsa-1024', (o) => (o.spec.request = Buffer.from(pemOf('CERTIFICATE REQUEST', rawCsr(nodeSubject('a'), generateKeyPairSync('rsa', { modulusLength: 1024 }), RSA_SHA256))).toString('base64')), 'a request with an RSA-1024 key');
obj('conditions-not-list', (o) => (o.status = { conditions: 'Approved' }), 'conditions a string');
obj('condition-unknown', (o) => (o.status = { conditions: [{ type: 'Maybe', status: 'True' }] }), 'an unknown condition type');
obj('condition-false', (o) => (o.status = { conditions: [{ type: 'Approved', status: 'False' }] }), 'status False');
obj('condition-duplicate', (o) => (o.status = { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Approved', status: 'True' }] }), 'Approved twice');
obj('condition-both', (o) => (o.status = { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] }), 'Approved and Denied');
obj('condition-null', (o) => (o.status = { conditions: [null] }), 'a null condition');
obj('status-string', (o) => (o.status = 'Approved'), 'status a string');
add('csr-object', 'not-an-object', 'null', 'ERR_CSR_OBJECT', 'null');
add('csr-object', 'array', '[]', 'ERR_CSR_OBJECT', 'an array');

// ---------------------------------------------------------------------------------------------- HTTP
const PREFIX = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const http = (name: string, request: object, status: number, note: string): void => add('http', name, request, `HTTP:${status}`, note);
const jsonBody = JSON.stringify({ ...baseObject, metadata: { name: 'corpus-http' } });
http('no-auth-list', { method: 'GET', path: PREFIX, auth: 'none' }, 401, 'list without credentials');
http('no-auth-watch', { method: 'GET', path: `${PREFIX}?watch=true`, auth: 'none' }, 401, 'watch without credentials');
http('no-auth-create', { method: 'POST', path: PREFIX, auth: 'none', body: jsonBody }, 401, 'create without credentials');
http('bad-token-watch', { method: 'GET', path: `${PREFIX}?watch=1`, auth: 'bad-token' }, 401, 'watch with an unknown token');
http('expired-token', { method: 'POST', path: PREFIX, auth: 'expired-token', body: jsonBody }, 401, 'create with an expired token');
http('basic-auth', { method: 'GET', path: PREFIX, headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } }, 401, 'HTTP basic authentication');
http('bearer-garbage', { method: 'GET', path: PREFIX, headers: { authorization: 'Bearer ../../etc/passwd' } }, 401, 'a bearer that is not a token');
http('bearer-empty', { method: 'GET', path: PREFIX, headers: { authorization: 'Bearer ' } }, 401, 'an empty bearer');
http('oversized-body', { method: 'POST', path: PREFIX, auth: 'token', bodyRepeat: { text: 'a', times: 70 * 1024 }, headers: { 'content-type': 'application/json' } }, 413, 'a body over 64 KiB');
http('oversized-declared', { method: 'POST', path: PREFIX, auth: 'token', headers: { 'content-type': 'application/json', 'content-length': String(10 * 1024 * 1024) }, body: '{}' , truncateDeclared: true }, 413, 'a declared length of 10 MiB');
http('oversized-csr', { method: 'POST', path: PREFIX, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: 'big' }, spec: { ...baseObject.spec, request: 'A'.repeat(80 * 1024) } }) }, 413, 'a CSR object over 64 KiB');
http('invalid-json', { method: 'POST', path: PREFIX, auth: 'token', body: '{"apiVersion": ' }, 400, 'truncated JSON');
http('json-not-object', { method: 'POST', path: PREFIX, auth: 'token', body: '"text"' }, 422, 'JSON that is a string');
http('json-deep', { method: 'POST', path: PREFIX, auth: 'token', body: `${'['.repeat(5000)}${']'.repeat(5000)}` }, 422, 'deeply nested JSON');
http('wrong-content-type', { method: 'POST', path: PREFIX, auth: 'token', headers: { 'content-type': 'text/plain' }, body: jsonBody }, 415, 'text/plain');
http('yaml-content-type', { method: 'POST', path: PREFIX, auth: 'token', headers: { 'content-type': 'application/yaml' }, body: jsonBody }, 415, 'application/yaml');
http('name-slash', { method: 'GET', path: `${PREFIX}/a%2Fb`, auth: 'token' }, 404, 'an encoded slash in the name');
http('name-dotdot', { method: 'GET', path: `${PREFIX}/..%2F..%2Fetc`, auth: 'token' }, 404, 'an encoded ../ in the name');
http('path-extra', { method: 'GET', path: `${PREFIX}/a/status/x`, auth: 'token' }, 404, 'a path below a subresource');
http('subresource-unknown', { method: 'GET', path: `${PREFIX}/a/secret`, auth: 'token' }, 404, 'an unknown subresource');
http('create-name-slash', { method: 'POST', path: PREFIX, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: 'a/b' } }) }, 422, 'creating a CSR whose name has a slash');
http('create-name-dotdot', { method: 'POST', path: PREFIX, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: '..' } }) }, 422, 'creating a CSR named ..');
http('create-bad-signature', { method: 'POST', path: PREFIX, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: 'forged' }, spec: { ...baseObject.spec, request: Buffer.from(pemOf('CERTIFICATE REQUEST', (() => { const bad = Uint8Array.from(goodCsr); bad[bad.length - 5]! ^= 1; return bad; })())).toString('base64') } }) }, 422, 'a CSR whose signature does not verify');
http('approve-as-bootstrapper', { method: 'PUT', path: `${PREFIX}/existing/approval`, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: 'existing' }, status: { conditions: [{ type: 'Approved', status: 'True' }] } }) }, 403, 'a bootstrapper approving a CSR');
http('status-as-bootstrapper', { method: 'PUT', path: `${PREFIX}/existing/status`, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: 'existing' }, status: { certificate: Buffer.from(certPem).toString('base64') } }) }, 403, 'a bootstrapper writing a certificate');
http('delete', { method: 'DELETE', path: `${PREFIX}/existing`, auth: 'token' }, 404, 'DELETE (not served)');
http('patch', { method: 'PATCH', path: `${PREFIX}/existing`, auth: 'token', body: '{}' }, 404, 'PATCH (not served)');
http('other-api', { method: 'GET', path: '/api/v1/secrets', auth: 'token' }, 404, 'another API');
http('field-selector-injection', { method: 'GET', path: `${PREFIX}?fieldSelector=metadata.name!=x`, auth: 'token' }, 422, 'an unsupported field selector');
http('watch-other-users', { method: 'GET', path: `${PREFIX}?watch=true&fieldSelector=metadata.name=existing`, auth: 'other-token' }, 403, "watching another requester's CSR");
http('get-other-users', { method: 'GET', path: `${PREFIX}/existing`, auth: 'other-token' }, 403, "reading another requester's CSR");

// ---------------------------------------------------------------------------------------------- write
for (const kind of new Set(entries.map((e) => e.file.split('/')[0]!))) rmSync(join(CORPUS_DIR, kind), { recursive: true, force: true });
for (const entry of entries) {
  mkdirSync(join(CORPUS_DIR, entry.file.split('/')[0]!), { recursive: true });
  writeFileSync(join(CORPUS_DIR, entry.file), entry.content);
}
const manifest: Entry[] = entries.map((entry) => {
  const { content, ...listed } = entry;
  void content;
  return listed;
});
writeFileSync(join(CORPUS_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
// A check of the non-HTTP entries as written (the test does the same with the HTTP ones).
const signed = { count: 0 };
let wrong = 0;
for (const entry of manifest) {
  if (entry.kind === 'http' || entry.expect === 'ok') continue;
  const { got } = await runEntry(entry, ca, signed);
  const matches = entry.expect === 'ANY_PKI_ERROR' ? /^ERR_/.test(got) : got === entry.expect;
  if (!matches) {
    wrong++;
    console.log(`${entry.file}: expected ${entry.expect}, got ${got}`);
  }
}
console.log(`${manifest.length} entries written; ${wrong} differ; ${signed.count} signed`);
