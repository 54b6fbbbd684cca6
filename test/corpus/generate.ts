// Writes the hostile-input corpus: `npx tsx test/corpus/generate.ts`. Every input is derived from valid
// material made here (a CA, certificates, CSRs, keys, tokens, kubeconfigs, CSR objects), then broken one
// way; the manifest names the code each must be refused with. The generator runs each entry once and
// stops on any entry whose outcome differs, so the written corpus is what the test will hold the library to.
import { createHash, createPublicKey, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '../helpers/peculiar.js';
import {
  bootstrapTokenSecret,
  caPublicKeyPin,
  clusterInfoConfigMap,
  createCertificateAuthority,
  createCsr,
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
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { concatBytes, encodeElement, encodeOid } from '../../lib/crypto/der.js';
import { encodeCertificationRequestInfo } from '../../lib/x509/csr.js';
import { encodeName } from '../../lib/x509/names.js';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { attr, CN, HOSTILE_NAMES, nameDer, O, STRING } from '../helpers/names.js';
import { CORPUS_CLOCK, CORPUS_DIR, refusedFor, runEntry, type Entry } from './entries.js';

const entries: (Entry & { content: string | Uint8Array })[] = [];
const add = (kind: Entry['kind'], name: string, content: string | Uint8Array | object, expect: string, note: string, extra: Partial<Entry> = {}): void => {
  const ext = { pkcs11: 'json', 'cluster-info': 'json', pem: 'pem', der: 'der', csr: 'pem', 'csr-profile': 'pem', 'csr-approval': 'json', 'csr-signer': 'json', key: 'pem', 'key-mismatch': 'pem', token: 'json', kubeconfig: 'yaml', 'csr-object': 'json', http: 'json' }[kind];
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
  // A flip breaks a tag, a length or a field (the inner algorithm at 39): the certificate parser says ERR_DER.
  der(`byte-ff-at-${at}`, flipped, `byte ${at} set to 0xff`, 'ERR_DER');
}
// A certificate whose inner and outer signature algorithms differ.
{
  const swapped = Uint8Array.from(certDer);
  const ecdsaSha256 = Buffer.from('2a8648ce3d040302', 'hex');
  const last = Buffer.from(swapped).lastIndexOf(ecdsaSha256);
  swapped[last + ecdsaSha256.length - 1] = 0x03; // ecdsa-with-SHA384 outside only
  der('algorithm-mismatch', swapped, 'inner and outer signature algorithms differ', 'ERR_DER');
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
  csr(`bad-signature-${i}`, bad, 'ERR_CSR_SIGNATURE', `bit flipped at byte ${at} of the signature`);
}
{
  const bad = Uint8Array.from(goodCsr);
  const cn = Buffer.from(bad).indexOf(Buffer.from('node-1'));
  bad[cn + 5] = 0x32; // node-2: the signature no longer covers the subject
  csr('subject-changed', bad, 'ERR_CSR_SIGNATURE', 'the subject changed after signing');
  const sig = Uint8Array.from(goodCsr);
  const spkiAt = Buffer.from(sig).indexOf(Buffer.from('2a8648ce3d030107', 'hex'));
  sig[spkiAt + 20]! ^= 0x01;
  csr('public-key-off-curve', sig, 'ERR_KEY', 'a bit of the public point flipped: the point is not on P-256');
  const other = await generateKeyPair('ecdsa-p256');
  const swappedKey = Buffer.from(goodCsr);
  const spkiOf = async (pair: { publicKey: CryptoKey }): Promise<Buffer> => Buffer.from(await crypto.subtle.exportKey('spki', pair.publicKey));
  const mine = await spkiOf(nodeKey);
  swappedKey.set(await spkiOf(other), swappedKey.indexOf(mine));
  csr('public-key-swapped', Uint8Array.from(swappedKey), 'ERR_CSR_SIGNATURE', "another valid P-256 key put in place of the signer's");
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
csr('key-dsa', rawCsr(nodeSubject('node-1'), generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }), encodeElement(0x30, encodeOid('2.16.840.1.101.3.4.3.2'))), 'ERR_CSR', 'a DSA key, signed with dsa-with-SHA256 (an algorithm kubepki refuses)');
csr('version-1', (() => {
  const bytes = Uint8Array.from(goodCsr);
  bytes[Buffer.from(bytes).indexOf(Buffer.from('020100', 'hex')) + 2] = 1;
  return bytes;
})(), 'ERR_CSR', 'version 1 (only version 0 exists)');
csr('trailing', concatBytes([goodCsr, Uint8Array.of(0)]), 'ERR_DER', 'a trailing byte');
csr('truncated', goodCsr.subarray(0, 60), 'ERR_DER', 'truncated');
csr('certificate-as-csr', pemOf('CERTIFICATE REQUEST', certDer), 'ERR_CSR', 'a certificate under a CSR label');
csr('cert-label', certPem, 'ERR_PEM', 'a certificate PEM where a CSR is expected');
csr('new-label', pemOf('NEW CERTIFICATE REQUEST', goodCsr), 'ERR_PEM', 'the legacy NEW CERTIFICATE REQUEST label');
csr('empty-sequence', encodeElement(0x30, new Uint8Array(0)), 'ERR_CSR', 'an empty SEQUENCE');
add('csr', 'oversized', pemOf('CERTIFICATE REQUEST', goodCsr), 'ERR_PEM', 'over 4 MiB of CSRs', { repeatTo: 5 * 1024 * 1024 });

// The CA step (issueCertificates over CSRs): names the profile forbids.
const profileCsr = async (name: string, subject: Subject, sans: Parameters<typeof createCsr>[0]['sans'], profile: keyof typeof PROFILES, expect: string, note: string): Promise<void> => {
  add('csr-profile', name, (await createCsr({ keyPair: nodeKey, subject, sans })).pem, expect, note, { profile });
};
await profileCsr('client-cn-not-node', { commonName: 'admin', organizations: ['system:nodes'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'kubelet client CN is not system:node:<name>');
await profileCsr('client-no-org', { commonName: 'system:node:a' }, undefined, 'kubeletClient', 'ERR_PROFILE', 'kubelet client without O=system:nodes');
await profileCsr('client-masters', { commonName: 'system:node:a', organizations: ['system:nodes', 'system:masters'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'kubelet client asking for system:masters');
await profileCsr('client-masters-only', { commonName: 'system:node:a', organizations: ['system:masters'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'O=system:masters instead of system:nodes');
await profileCsr('client-empty-node', { commonName: 'system:node:', organizations: ['system:nodes'] }, undefined, 'kubeletClient', 'ERR_PROFILE', 'system:node: with no name');
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
add('csr-profile', 'requests-ca', caRequest.toString('pem'), 'ERR_PROFILE', 'a kubelet client CSR asking for basicConstraints cA=true', { profile: 'kubeletClient' });
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

// Subjects two readers take for different identities (the hostile review's escalations) and RSA keys whose
// exponent makes the self-signature meaningless: refused when the request is read, before any policy runs.
const namedCsr = (subject: Uint8Array, key: { publicKey: KeyObject; privateKey: KeyObject }): Uint8Array => {
  const info = encodeCertificationRequestInfo(subject, key.publicKey.export({ format: 'der', type: 'spki' }), []);
  return encodeElement(0x30, concatBytes([info, ECDSA_SHA256, encodeElement(0x03, concatBytes([Uint8Array.of(0), nodeSign('sha256', info, key.privateKey)]))]));
};
const nodeEc = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const HOSTILE_SUBJECTS: readonly [string, Uint8Array, string][] = [
  ['subject-universal-masters', HOSTILE_NAMES.universalMasters, 'O=system:masters as a UniversalString before O=system:nodes (OpenSSL reads it, Go does not)'],
  ['subject-two-cns', HOSTILE_NAMES.twoCommonNames, 'two CNs, victim then attacker (Go takes the last, OpenSSL-based readers the first)'],
  ['subject-bmp-cn', nameDer([attr(O, STRING.printable, 'system:nodes')], [attr(CN, STRING.bmp, 'system:node:a')]), 'the CN as a BMPString'],
  ['subject-t61-o', nameDer([attr(O, STRING.t61, 'system:nodes')], [attr(CN, STRING.utf8, 'system:node:a')]), 'the O as a T61String'],
  ['subject-o-twice-in-rdn', nameDer([attr(O, STRING.utf8, 'system:nodes'), attr(O, STRING.utf8, 'system:masters')], [attr(CN, STRING.utf8, 'system:node:a')]), 'two Os in one multi-valued RDN'],
  ['subject-printable-at', nameDer([attr(CN, STRING.printable, 'system:node:a@b')]), "a PrintableString with '@'"],
  ['subject-utf8-invalid', nameDer([attr(CN, STRING.utf8, Uint8Array.of(0x61, 0xc3))]), 'a UTF8String that is not UTF-8'],
  ['subject-integer-o', nameDer([attr(O, STRING.integer, Uint8Array.of(1))], [attr(CN, STRING.utf8, 'system:node:a')]), 'an INTEGER where an O string belongs'],
];
for (const [name, subject, note] of HOSTILE_SUBJECTS) csr(name, namedCsr(subject, nodeEc), 'ERR_NAME', note);
const hostilePem = (subject: Uint8Array): string => pemOf('CERTIFICATE REQUEST', namedCsr(subject, nodeEc));
await approval('subject-universal-masters', objectFor('x', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth'], BOOTSTRAPPER, hostilePem(HOSTILE_NAMES.universalMasters)), 'InvalidRequest', 'a client CSR with O=system:masters as a UniversalString');
await approval('subject-two-cns', objectFor('x', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth'], { username: 'system:node:attacker', groups: ['system:nodes'] }, hostilePem(HOSTILE_NAMES.twoCommonNames)), 'InvalidRequest', "a node's renewal with two CNs, its own last");
await signer('subject-two-cns', objectFor('x', nodeSubject('a'), undefined, CLIENT, ['digital signature', 'client auth'], BOOTSTRAPPER, hostilePem(HOSTILE_NAMES.twoCommonNames)), 'an approved client CSR with two CNs: the signer refuses it too');
{
  // e = 1 over a random modulus: the "signature" is the padded digest itself, made without any private key.
  const modulus = Uint8Array.from([0xc3, ...random(254), 0x01]);
  const spki = encodeElement(0x30, concatBytes([encodeElement(0x30, concatBytes([encodeOid("1.2.840.113549.1.1.1"), Uint8Array.of(0x05, 0x00)])), encodeElement(0x03, concatBytes([Uint8Array.of(0), encodeElement(0x30, concatBytes([encodeElement(0x02, concatBytes([Uint8Array.of(0), modulus])), encodeElement(0x02, Uint8Array.of(1))]))]))]));
  const info = encodeCertificationRequestInfo(encodeName(nodeSubject('forged')), spki, []);
  const digestInfo = concatBytes([Buffer.from('3031300d060960864801650304020105000420', 'hex'), createHash('sha256').update(info).digest()]);
  const forged = concatBytes([Uint8Array.of(0, 1), new Uint8Array(256 - 3 - digestInfo.length).fill(0xff), Uint8Array.of(0), digestInfo]);
  csr('key-rsa-exponent-1', encodeElement(0x30, concatBytes([info, RSA_SHA256, encodeElement(0x03, concatBytes([Uint8Array.of(0), forged]))])), 'ERR_KEY', 'an RSA key with e = 1: a self-signature anyone can forge');
  const e3 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 });
  csr('key-rsa-exponent-3', rawCsr(nodeSubject('a'), e3, RSA_SHA256), 'ERR_KEY', 'an RSA key with e = 3');
}

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
key('encrypted-pkcs8', (generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'corpus' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }) as unknown as { privateKey: string }).privateKey, 'ERR_KEY', 'an encrypted PKCS#8 key');
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
key('truncated', p256.slice(0, 100) + '\n-----END PRIVATE KEY-----\n', 'ERR_PEM', 'a truncated key (the base64 cut mid-quantum)');
key('two-keys', p256 + p256, 'ERR_PEM', 'two keys in one file');
key('empty', '', 'ERR_PEM', 'an empty file');
add('key-mismatch', 'ca-key-mismatch', p256, 'ERR_KEY', 'a key that is not the certificate\'s, used to sign as that CA', { certificate: 'key-mismatch/ca.crt' });
entries.push({ file: 'key-mismatch/ca.crt', kind: 'pem', expect: 'ok', note: 'the certificate the mismatch entry pairs with (a valid input, not refused)', content: ca.certificate.pem });
{
  const p256Der = Buffer.from(p256.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  key('truncated-der', pemOf('PRIVATE KEY', p256Der.subarray(0, p256Der.length - 9)), 'ERR_DER', 'a PKCS#8 key cut by 9 bytes (the base64 itself is well formed)');
  key('trailing-der', pemOf('PRIVATE KEY', concatBytes([p256Der, Uint8Array.of(0)])), 'ERR_DER', 'a PKCS#8 key followed by a zero byte');
  key('random-der', pemOf('PRIVATE KEY', random(120)), 'ERR_DER', 'random bytes under a PRIVATE KEY label');
  const version2 = Uint8Array.from(p256Der);
  version2[Buffer.from(version2).indexOf(Buffer.from('020100', 'hex')) + 2] = 2;
  key('pkcs8-version-2', pemOf('PRIVATE KEY', version2), 'ERR_KEY', 'a PKCS#8 version of 2 (only 0 and 1 exist)');
}
const mismatch = (name: string, keyPem: string, note: string, extra: Partial<Entry> = {}): void => add('key-mismatch', name, keyPem, 'ERR_KEY', note, { certificate: 'key-mismatch/ca.crt', ...extra });
mismatch('ca-key-rsa', rsaPkcs1, 'an RSA key for an ECDSA CA certificate');
mismatch('ca-key-p384', await exportPrivateKeyPem(await generateKeyPair('ecdsa-p384'), 'pkcs8'), 'a P-384 key for a P-256 CA certificate');
mismatch('ca-key-ed25519', await exportPrivateKeyPem(await generateKeyPair('ed25519'), 'pkcs8'), 'an Ed25519 key for an ECDSA CA certificate');
mismatch('store-key-other', p256Sec1, "storing the CA certificate with another key (kubelet's file store)", { via: 'store' });
mismatch('store-key-rsa', rsaPkcs1, 'storing the CA certificate with an RSA key', { via: 'store' });

// ---------------------------------------------------------------------------------------------- PKCS#11 references
// PINs are never part of a reference; one written into it is refused (and must never be echoed).
const PIN = '97315502';
const p11 = (name: string, text: string | object, note: string): void => add('pkcs11', name, typeof text === 'string' ? text : JSON.stringify(text), 'ERR_PKCS11', note);
const ref = { module: '/usr/lib/softhsm/libsofthsm2.so', token: 'kubepki', key: 'ca', pin: { env: 'KUBEPKI_PIN' } };
p11('pin-inline', { ...ref, pin: PIN }, 'the PIN written into the reference as a string');
p11('pin-number', { ...ref, pin: Number(PIN) }, 'the PIN written into the reference as a number');
p11('pin-value', { ...ref, pin: { value: PIN } }, 'the PIN as pin.value');
p11('pin-env-and-value', { ...ref, pin: { env: 'KUBEPKI_PIN', value: PIN } }, 'an env variable and the PIN beside it');
p11('pin-env-and-file', { ...ref, pin: { env: 'KUBEPKI_PIN', file: '/etc/kubepki/pin' } }, 'both env and file');
p11('pin-env-bad-name', { ...ref, pin: { env: `PIN=${PIN}` } }, 'an env variable name holding an assignment of the PIN');
p11('pin-file-relative', { ...ref, pin: { file: 'pin.txt' } }, 'a relative PIN file');
p11('pin-missing', { ...ref, pin: undefined }, 'no pin at all');
p11('module-relative', { ...ref, module: 'libsofthsm2.so' }, 'a module found through the library path');
p11('module-empty', { ...ref, module: '' }, 'an empty module path');
p11('module-long', { ...ref, module: `/${'a'.repeat(4100)}` }, 'a module path over 4096 characters');
p11('token-missing', { ...ref, token: undefined }, 'no token label');
p11('token-number', { ...ref, token: 7 }, 'a token label that is a number');
p11('key-and-id-missing', { ...ref, key: undefined }, 'neither key label nor id');
p11('id-not-hex', { ...ref, id: 'zz' }, 'a CKA_ID that is not hex');
p11('id-odd', { ...ref, id: 'abc' }, 'a CKA_ID of an odd number of hex digits');
p11('not-json', `{"module": "/usr/lib/softhsm/libsofthsm2.so", "token": `, 'truncated JSON');
p11('json-null', 'null', 'null');
p11('json-array', '[]', 'an array');
p11('json-string', '"/usr/lib/softhsm/libsofthsm2.so"', 'a string');


// ---------------------------------------------------------------------------------------------- tokens
const tokenSecret = (id: string, secret: string, options: Parameters<typeof bootstrapTokenSecret>[1] = {}): SecretObject => bootstrapTokenSecret({ id, secret }, { now: CORPUS_CLOCK, ...options });
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

// ---------------------------------------------------------------------------------------------- kubeconfigs with credentials
// YAML errors next to a token or key data: the refusal must not quote the lines (the parser's messages do).
{
  const keyData = Buffer.from(p256Sec1).toString('base64');
  const head = 'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\nusers:\n- name: u\n  user:\n';
  kc('secret-token-bad-indent', `${head}    client-certificate: /x\n   token: ${tok}\n`, 'a token line indented one column short (YAML error on the token line)');
  kc('secret-token-flow', `${head}    token: [${tok}\n`, 'an unterminated flow sequence holding a token');
  kc('secret-token-quote', `${head}    token: "${tok}\n`, 'an unterminated quote around a token');
  kc('secret-token-tab', `${head}\ttoken: ${tok}\n`, 'a tab before a token line');
  kc('secret-key-bad-indent', `${head}    client-certificate: /x\n   client-key-data: ${keyData.slice(12)}\n`, 'client-key-data indented one column short');
  kc('secret-key-duplicate', `${head}    client-key-data: ${keyData}\n    client-key-data: ${keyData.slice(12)}\n`, 'client-key-data given twice (a duplicate key)');
}

// ---------------------------------------------------------------------------------------------- cluster-info
// kubeadm join's token discovery: a cluster-info ConfigMap trusted only through the token's JWS and a CA pin.
{
  const joinToken = { id: tid, secret: tsecret };
  const info = clusterInfoConfigMap(good, [joinToken]);
  const pin = caPublicKeyPin(ca.certificate);
  const jwsKey = `jws-kubeconfig-${tid}`;
  const jws = info.data[jwsKey]!;
  const [header, , signature] = jws.split('.') as [string, string, string];
  const b64url = (text: string): string => Buffer.from(text).toString('base64url');
  const ci = (name: string, configMap: object, note: string, expect = 'ERR_TOKEN', pins: string[] = [pin]): void =>
    add('cluster-info', name, { token: tok, configMap, pins, caPem: ca.certificate.pem }, expect, note);
  ci('no-data', { metadata: info.metadata }, 'no data');
  ci('data-array', { data: [good, jws] }, 'data an array');
  ci('no-kubeconfig', { data: { [jwsKey]: jws } }, 'no kubeconfig');
  ci('no-signature', { data: { kubeconfig: good } }, 'no signature for the token');
  ci('other-token-signature', { data: { kubeconfig: good, 'jws-kubeconfig-zzzzzz': jws } }, "only another token's signature");
  ci('kubeconfig-changed', { data: { ...info.data, kubeconfig: good.replace('10.0.0.1', '10.6.6.6') } }, 'the server address changed after signing');
  ci('signature-flipped', { data: { ...info.data, [jwsKey]: `${header}..${signature.slice(0, -2)}${signature.endsWith('A') ? 'B' : 'A'}${signature.slice(-1)}` } }, 'a signature changed');
  ci('signature-empty', { data: { ...info.data, [jwsKey]: `${header}..` } }, 'an empty signature');
  ci('jws-attached', { data: { ...info.data, [jwsKey]: `${header}.${b64url(good)}.${signature}` } }, 'an attached payload where a detached JWS is expected');
  ci('alg-none', { data: { ...info.data, [jwsKey]: `${b64url(JSON.stringify({ alg: 'none', kid: tid }))}..` } }, 'alg none');
  ci('alg-hs512', { data: { ...info.data, [jwsKey]: `${b64url(JSON.stringify({ alg: 'HS512', kid: tid }))}..${signature}` } }, 'alg HS512 with the HS256 signature');
  ci('kid-other', { data: { ...info.data, [jwsKey]: `${b64url(JSON.stringify({ alg: 'HS256', kid: 'zzzzzz' }))}..${signature}` } }, 'a kid naming another token');
  ci('header-not-json', { data: { ...info.data, [jwsKey]: `${b64url(`{"alg":"HS256","kid":"${tid}"`)}..${signature}` } }, 'a JWS header that is not JSON');
  ci('no-pins', info, 'no CA pin (kubepki does not join unpinned)', 'ERR_ARGUMENT', []);
  ci('wrong-pin', info, 'a pin of another CA', 'ERR_CERTIFICATE', [`sha256:${'0'.repeat(64)}`]);
}

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
obj('name-leading-dot', (o) => (o.metadata.name = '.hidden'), 'a name starting with a dot (a hidden file)');
obj('name-nul', (o) => (o.metadata.name = 'a\u0000b'), 'a NUL byte in the name');
obj('name-newline', (o) => (o.metadata.name = 'a\nb'), 'a newline in the name');
obj('signer-number', (o) => (o.spec.signerName = 42), 'a signerName that is a number');
obj('signer-empty-path', (o) => (o.spec.signerName = 'example.com/'), 'a signerName with an empty path');
obj('signer-path-upper', (o) => (o.spec.signerName = 'example.com/Signer'), 'a signerName path with an uppercase letter');
obj('signer-path-underscore', (o) => (o.spec.signerName = 'example.com/my_signer'), 'a signerName path with an underscore');
obj('signer-label-long', (o) => (o.spec.signerName = `${'a'.repeat(64)}.com/x`), 'a signerName domain label over 63 characters');
obj('usages-number', (o) => (o.spec.usages = [1]), 'a usage that is a number');
obj('usages-null', (o) => (o.spec.usages = null), 'usages null');
obj('expiration-negative', (o) => (o.spec.expirationSeconds = -1), 'a negative expirationSeconds');
add('csr-object', 'expiration-huge-float', JSON.stringify({ ...baseObject, spec: { ...baseObject.spec, expirationSeconds: 7 } }).replace('"expirationSeconds":7', '"expirationSeconds":1e400'), 'ERR_CSR_OBJECT', 'an expirationSeconds of 1e400 (Infinity once parsed)');
obj('request-not-base64', (o) => (o.spec.request = '%%%% not base64 %%%%'), 'a request that is not base64');
obj('condition-lowercase-true', (o) => (o.status = { conditions: [{ type: 'Approved', status: 'true' }] }), 'status "true" in lower case');
obj('condition-failed-twice', (o) => (o.status = { conditions: [{ type: 'Failed', status: 'True' }, { type: 'Failed', status: 'True' }] }), 'Failed twice');
obj('status-array', (o) => (o.status = []), 'status an array');
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
// The 80 KiB request is made at test time: bodyFill replaces the marker with the text repeated.
http('oversized-csr', { method: 'POST', path: PREFIX, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: 'big' }, spec: { ...baseObject.spec, request: '@FILL@' } }), bodyFill: { marker: '@FILL@', text: 'A', times: 80 * 1024 } }, 413, 'a CSR object over 64 KiB (a request of 80 KiB)');
http('invalid-json', { method: 'POST', path: PREFIX, auth: 'token', body: '{"apiVersion": ' }, 400, 'truncated JSON');
http('json-not-object', { method: 'POST', path: PREFIX, auth: 'token', body: '"text"' }, 422, 'JSON that is a string');
http('json-deep', { method: 'POST', path: PREFIX, auth: 'token', body: `${'['.repeat(5000)}${']'.repeat(5000)}` }, 422, 'deeply nested JSON arrays (parsed, then refused as not a CSR object)');
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
http('delete', { method: 'DELETE', path: `${PREFIX}/existing`, auth: 'token' }, 405, 'DELETE (not served)');
http('patch', { method: 'PATCH', path: `${PREFIX}/existing`, auth: 'token', body: '{}' }, 405, 'PATCH (not served)');
for (const [name, subject] of [['universal-masters', HOSTILE_NAMES.universalMasters], ['two-cns', HOSTILE_NAMES.twoCommonNames]] as const) {
  const request = Buffer.from(pemOf('CERTIFICATE REQUEST', namedCsr(subject, nodeEc))).toString('base64');
  http(`create-${name}`, { method: 'POST', path: PREFIX, auth: 'token', body: JSON.stringify({ ...baseObject, metadata: { name: `hostile-${name}` }, spec: { ...baseObject.spec, request } }) }, 422, `creating a kubelet client CSR whose subject is ${name}: refused before the approver sees it`);
}
// Protobuf bodies (the kubelet's default with rotation on): malformed ones are 400 with a Status, never stored.
{
  const PB = 'application/vnd.kubernetes.protobuf';
  const magic = Buffer.from('k8s\0', 'latin1');
  const field = (number: number, wire: number, payload: Uint8Array): Buffer => {
    const varint = (n: number): number[] => { const out: number[] = []; do { out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0)); n >>>= 7; } while (n > 0); return out; };
    return Buffer.concat([Buffer.from(varint((number << 3) | wire)), ...(wire === 2 ? [Buffer.from(varint(payload.length))] : []), Buffer.from(payload)]);
  };
  const str = (number: number, text: string): Buffer => field(number, 2, Buffer.from(text));
  const typeMeta = (apiVersion: string, kind: string): Buffer => field(1, 2, Buffer.concat([str(1, apiVersion), str(2, kind)]));
  const envelope = (raw: Uint8Array, meta = typeMeta('certificates.k8s.io/v1', 'CertificateSigningRequest'), extra: Buffer[] = []): Buffer => Buffer.concat([magic, meta, field(2, 2, raw), ...extra]);
  const validRaw = Buffer.concat([field(1, 2, str(1, 'protobuf-hostile')), field(2, 2, Buffer.concat([field(1, 2, Buffer.from(pemOf('CERTIFICATE REQUEST', goodCsr))), str(7, CLIENT), str(5, 'digital signature'), str(5, 'client auth')]))]);
  const pb = (name: string, bytes: Uint8Array, status: number, note: string): void =>
    http(`protobuf-${name}`, { method: 'POST', path: PREFIX, auth: 'token', headers: { 'content-type': PB, accept: `${PB}, application/json` }, bodyBase64: Buffer.from(bytes).toString('base64') }, status, note);
  pb('no-magic', random(64), 400, 'random bytes sent as protobuf');
  pb('json-with-protobuf-type', Buffer.from(jsonBody), 400, 'a JSON body labelled protobuf');
  pb('truncated-envelope', Buffer.concat([magic, Buffer.from([0x0a, 0xff])]), 400, 'the envelope cut inside a length');
  pb('envelope-garbage', Buffer.concat([magic, Buffer.from([0x0f, 0x01, 0x02])]), 400, 'an envelope with an invalid wire type');
  pb('wrong-kind', envelope(validRaw, typeMeta('v1', 'Secret')), 400, 'a Secret in the envelope');
  pb('wrong-version', envelope(validRaw, typeMeta('certificates.k8s.io/v1beta1', 'CertificateSigningRequest')), 400, 'the v1beta1 CSR');
  pb('no-type', Buffer.concat([magic, field(2, 2, validRaw)]), 400, 'an envelope without a type');
  pb('raw-garbage', envelope(Buffer.from([0x0a, 0x05, 0x01])), 400, 'a CSR message cut short');
  pb('raw-truncated', envelope(validRaw.subarray(0, validRaw.length - 7)), 400, 'a valid CSR message truncated');
  pb('deep-groups', envelope(Buffer.alloc(40_000, 0x0b)), 400, '40,000 nested start-group tags (a stack to overflow)');
  pb('gzip', envelope(validRaw, undefined, [str(3, 'gzip')]), 400, 'a gzip content encoding');
  pb('invalid-request', envelope(Buffer.concat([field(1, 2, str(1, 'protobuf-bad-request')), field(2, 2, Buffer.concat([field(1, 2, Buffer.from('not a CSR')), str(7, CLIENT), str(5, 'digital signature'), str(5, 'client auth')]))])), 422, 'a well-formed protobuf CSR whose request is not a CSR: refused by validation');
}
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
// The reason each refusal must give (a part of its message, or of a denial's or signer failure's message):
// the first pattern matching the file name wins. A code alone could come from another check than the one
// the note names; the reason pins it.
const DER_RULES = ['trailing bytes after the structure', 'length runs past the end', 'length field too long', 'length not minimally encoded', 'multi-byte tags', 'truncated ', 'indefinite length', 'not an X.509 certificate', 'TBSCertificate is missing fields', 'the inner and outer signature algorithms differ', 'not an RFC 5280 time'];
const REASONS: readonly (readonly [RegExp, string | readonly string[]])[] = [
  [/^pem\/(empty|whitespace|binary)\.pem$/, 'no PEM block found'],
  [/^pem\/(no-begin|label-lowercase|dashes-4|binary-with-begin|nul-in-label)\.pem$/, 'is not a BEGIN line'],
  [/^pem\/no-end\.pem$/, 'has no END line'],
  [/^pem\/label-(foo|x509|trusted|space|trailing-space)\.pem$/, 'unknown PEM label'],
  [/^pem\/label-mismatch\.pem$/, 'closed by END CERTIFICATE REQUEST'],
  [/^pem\/wrong-label-asked\.pem$/, 'expected CERTIFICATE REQUEST, found CERTIFICATE'],
  [/^pem\/key-where-cert\.pem$/, 'expected CERTIFICATE, found PRIVATE KEY'],
  [/^pem\/crl-where-cert\.pem$/, 'expected CERTIFICATE, found X509 CRL'],
  [/^pem\/base64-(char-\d+|space-inside)\.pem$/, 'invalid base64'],
  [/^pem\/base64-/, 'bad length or padding'],
  [/^pem\/header-(proc-type|key-encrypted)\.pem$/, 'encrypted private keys are not supported'],
  [/^pem\/header-comment\.pem$/, 'PEM headers are not accepted'],
  [/^pem\/nested/, 'nested or malformed boundary'],
  [/^pem\/two-blocks\.pem$/, 'expected one CERTIFICATE block, found 2'],
  [/^pem\/empty-body\.pem$/, 'empty PEM block'],
  [/^(pem|csr)\/(huge|oversized)\.pem$/, 'more than the limit of'],
  [/^pem\/body-(garbage|truncated)\.pem$/, 'length runs past the end'],
  [/^(pem\/body-|der\/|csr\/|key\/)trailing/, 'trailing bytes after the structure'],
  [/^pem\/body-indefinite\.pem$/, 'indefinite length is not DER'],
  [/^der\/two-certificates\.der$/, 'trailing bytes after the structure'],
  [/^der\/(truncated-[0-3]|empty|one-byte)\.der$/, 'truncated '],
  [/^der\/(truncated-\d+|length-plus-one|length-huge|inner-length-past-parent)\.der$/, 'length runs past the end'],
  [/^der\/outer-tag-ff\.der$/, 'multi-byte tags'],
  [/^der\/(outer-tag-|empty-sequence|sequence-of-null)/, 'not an X.509 certificate'],
  [/^der\/indefinite-/, 'indefinite length is not DER'],
  [/^der\/length-five-bytes\.der$/, 'length field too long'],
  [/^der\/length-(non-minimal|leading-zero)\.der$/, 'length not minimally encoded'],
  [/^der\/deep-/, 'nesting deeper than'],
  [/^der\/wide-/, 'elements'],
  [/^der\/multi-byte-tag\.der$/, 'multi-byte tags'],
  [/^der\/constructed-octet-string\.der$/, 'constructed string'],
  [/^der\/integer-non-minimal\.der$/, 'not minimally encoded'],
  [/^der\/integer-empty\.der$/, 'empty INTEGER'],
  [/^der\/(csr|crl)-as-certificate\.der$/, 'TBSCertificate is missing fields'],
  [/^der\/oversized\.der$/, 'over the limit of'],
  [/^der\/algorithm-mismatch\.der$/, 'the inner and outer signature algorithms differ'],
  // Random bytes and single-byte flips: whatever structural rule they break first (any of these).
  [/^der\/(random|byte-ff-at)-/, DER_RULES],
  [/^(csr|csr-profile)\/(bad-signature|subject-changed|public-key-swapped)/, 'the self-signature does not verify'],
  [/^csr\/public-key-off-curve\.pem$/, 'not a valid SubjectPublicKeyInfo'],
  [/^csr\/(algorithm-|key-dsa)/, 'is not accepted; use SHA-256 or stronger'],
  [/^csr\/key-rsa-exponent-/, 'only 65537 is accepted'],
  [/^csr-approval\/subject-universal-masters\.json$/, 'UniversalString'],
  [/^csr-(approval|signer)\/subject-two-cns\.json$/, 'more than one common name'],
  [/^csr\/subject-universal-masters\.pem$/, "a UniversalString, which Go's crypto/x509 does not read"],
  [/^csr\/subject-two-cns\.pem$/, 'has more than one common name'],
  [/^csr\/subject-(bmp-cn|t61-o)\.pem$/, 'only UTF8String and PrintableString are accepted'],
  [/^csr\/subject-o-twice-in-rdn\.pem$/, 'appears twice in one relative distinguished name'],
  [/^csr\/subject-printable-at\.pem$/, 'an invalid PrintableString'],
  [/^csr\/subject-utf8-invalid\.pem$/, 'an invalid UTF8String'],
  [/^csr\/subject-integer-o\.pem$/, 'does not read'],
  [/^http\/create-universal-masters\.json$/, 'UniversalString'],
  [/^http\/create-two-cns\.json$/, 'more than one common name'],
  [/^csr\/key-rsa-/, 'unsupported RSA modulus'],
  [/^csr\/key-/, 'not a SubjectPublicKeyInfo of a supported key'],
  [/^csr\/version-1\.pem$/, 'unsupported CSR version'],
  [/^csr\/truncated\.pem$/, 'length runs past the end'],
  [/^csr\/certificate-as-csr\.pem$/, 'CertificationRequestInfo is missing fields'],
  [/^csr\/cert-label\.pem$/, 'expected CERTIFICATE REQUEST, found CERTIFICATE'],
  [/^csr\/new-label\.pem$/, 'unknown PEM label "NEW CERTIFICATE REQUEST"'],
  [/^csr\/empty-sequence\.pem$/, 'a CSR is a SEQUENCE of info, algorithm and signature'],
  [/^csr-profile\/(client-cn-not-node|client-empty-node|serving-cn-wrong)\.pem$/, 'must be "system:node:<name>"'],
  [/^csr-profile\/(client-no-org|client-masters|client-masters-only|serving-masters)\.pem$/, 'must be exactly [system:nodes]'],
  [/^csr-profile\/client-dns-san\.pem$/, 'dns SANs are not allowed'],
  [/^csr-profile\/client-ip-san\.pem$/, 'ip SANs are not allowed'],
  [/^csr-profile\/(client|serving)-email(-san)?\.pem$/, 'email SANs are not allowed'],
  [/^csr-profile\/(client|serving)-uri(-san)?\.pem$/, 'uri SANs are not allowed'],
  [/^csr-profile\/apiserver-cn\.pem$/, 'must be "kube-apiserver"'],
  [/^csr-profile\/admin-org\.pem$/, 'must be exactly [kubeadm:cluster-admins]'],
  [/^csr-profile\/front-proxy-cn\.pem$/, 'must be "front-proxy-client"'],
  [/^csr-profile\/etcd-client-org\.pem$/, 'must be exactly [], not [system:masters]'],
  [/^csr-profile\/requests-ca\.pem$/, 'asks for a CA certificate'],
  [/^csr-approval\/requests-ca\.json$/, 'asks for a CA certificate'],
  [/^csr-(approval|signer)\/client-server-auth\.json$/, 'client auth, server auth] are not'],
  [/^csr-approval\/client-wrong-cn\.json$/, 'CN must be system:node:<name>, not \\"admin\\"'],
  [/^csr-approval\/client-with-san\.json$/, 'may carry no SANs'],
  [/^csr-approval\/client-masters\.json$/, 'not [system:nodes, system:masters]'],
  [/^csr-approval\/serving-foreign-ip\.json$/, 'does not own 10.9.9.9'],
  [/^csr-approval\/serving-foreign-dns\.json$/, 'does not own kubernetes.default'],
  [/^csr-approval\/serving-other-node\.json$/, 'asks for system:node:b'],
  [/^csr-signer\/client-wrong-cn\.json$/, 'not [system:masters]'],
  [/^csr-signer\/serving-client-auth\.json$/, 'server auth, client auth] are not'],
  [/^csr-signer\/serving-no-san\.json$/, 'needs at least one DNS or IP SAN'],
  [/^csr-signer\/serving-uri\.json$/, 'may carry no email, URI or other SANs'],
  [/^key\/(pkcs8-as-sec1|sec1-as-rsa|rsa-as-pkcs8)\.pem$/, 'block does not hold a'],
  [/^key\/rsa-/, 'unsupported RSA modulus'],
  [/^key\/(ec-|garbage-pkcs8)/, 'unsupported elliptic curve'],
  [/^key\/(ed448|x25519|dsa|pkcs8-unknown-algorithm)\.pem$/, 'unsupported private key algorithm'],
  [/^key\/encrypted-/, 'encrypted private keys are not supported'],
  [/^key\/(public-key|certificate)\.pem$/, 'expected PRIVATE KEY or EC PRIVATE KEY or RSA PRIVATE KEY, found'],
  [/^key\/pkcs8-mixed-curves\.pem$/, 'names another curve than its PKCS#8 algorithm'],
  [/^key\/sec1-no-curve\.pem$/, 'does not name its curve'],
  [/^key\/sec1-short-scalar\.pem$/, 'the private scalar is not 32 bytes'],
  [/^key\/sec1-(zero-scalar|scalar-over-order)\.pem$/, 'the private scalar is out of range'],
  [/^key\/truncated\.pem$/, 'bad length or padding'],
  [/^key\/truncated-der\.pem$/, 'length runs past the end'],
  [/^key\/random-der\.pem$/, DER_RULES],
  [/^key\/pkcs8-version-2\.pem$/, 'unsupported PKCS#8 version'],
  [/^key\/two-keys\.pem$/, 'found 2'],
  [/^key\/empty\.pem$/, 'no PEM block found'],
  [/^key-mismatch\/ca-/, 'the private key does not match the CA certificate'],
  [/^key-mismatch\/store-/, 'does not match the certificate'],
  [/^pkcs11\/pin-/, 'the PIN itself is never stored'],
  [/^pkcs11\/module-relative\.json$/, 'must be an absolute path'],
  [/^pkcs11\/(module-empty|module-long|token-|json-array)/, 'is required (a non-empty string)'],
  [/^pkcs11\/key-and-id-missing\.json$/, 'name the key by label (key) or CKA_ID (id)'],
  [/^pkcs11\/id-/, 'must be hexadecimal bytes'],
  [/^pkcs11\/not-json\.json$/, 'is not JSON'],
  [/^pkcs11\/json-(null|string)\.json$/, 'must be an object with module, token, key and pin'],
  [/^token\/(format-\d+|not-a-string)\.json$/, 'is not a bootstrap token of the form'],
  [/^token\/unknown\.json$/, 'no such token'],
  [/^token\/expired/, 'the token has expired'],
  [/^token\/(wrong-usage|usage-not-true)\.json$/, 'may not be used for authentication'],
  [/^token\/wrong-secret\.json$/, 'the token secret does not match'],
  [/^token\/(wrong-type|no-data)\.json$/, 'the Secret is not a bootstrap token'],
  [/^token\/deleting\.json$/, 'the token is being deleted'],
  [/^token\/id-mismatch\.json$/, 'the token id does not match its Secret'],
  [/^token\/data-not-strings\.json$/, 'data.token-secret is not a string'],
  [/^token\/extra-group-/, 'invalid extra group'],
  [/^cluster-info\/(no-data|data-array|no-kubeconfig|no-signature|other-token-signature)\.json$/, 'cluster-info has no signature for token'],
  [/^cluster-info\/(kubeconfig-changed|signature-|jws-attached|alg-|kid-other|header-not-json)/, 'the cluster-info signature does not verify with this token'],
  [/^cluster-info\/no-pins\.json$/, 'at least one CA pin'],
  [/^cluster-info\/wrong-pin\.json$/, 'no CA in cluster-info matches the pinned public key'],
  [/^kubeconfig\/(empty|scalar|list)\.yaml$/, 'is not a YAML mapping'],
  [/^kubeconfig\/(invalid-yaml|tabs|alias-bomb|secret-)/, 'not valid YAML'],
  [/^kubeconfig\/kind-/, 'must be Config'],
  [/^kubeconfig\/(no-current-context|current-context-number|context-no-cluster|context-no-user|server-missing|server-number)\.yaml$/, 'is missing'],
  [/^kubeconfig\/(current-context-unknown|contexts-empty)\.yaml$/, 'has no entry named'],
  [/^kubeconfig\/(clusters-map|clusters-missing|users-null)\.yaml$/, 'must be a list'],
  [/^kubeconfig\/context-string\.yaml$/, 'must be a mapping'],
  [/^kubeconfig\/server-http\.yaml$/, 'must be an https:// URL'],
  [/^kubeconfig\/insecure-skip\.yaml$/, 'turns verification off'],
  [/^kubeconfig\/ca-data-/, 'must be base64 text'],
  [/^kubeconfig\/(client-cert-number|client-key-empty|token-object)\.yaml$/, 'must be a non-empty string'],
  [/^kubeconfig\/outside-/, 'points outside'],
  [/^kubeconfig\/huge\.yaml$/, 'is larger than'],
  [/^csr-object\/(api-version|array)\.json$/, 'must be certificates.k8s.io/v1'],
  [/^csr-object\/kind\.json$/, 'must be CertificateSigningRequest'],
  [/^csr-object\/(no-metadata|name-)/, 'must be a path segment'],
  [/^csr-object\/(no-spec|signer-missing|request-missing|request-empty|request-number)\.json$/, 'is required'],
  [/^csr-object\/signer-(no-slash|two-slashes)\.json$/, 'must be a fully qualified domain and path'],
  [/^csr-object\/signer-(one-label|uppercase)\.json$/, 'the domain must be a DNS-1123 subdomain'],
  [/^csr-object\/signer-legacy\.json$/, 'legacy-unknown is not allowed'],
  [/^csr-object\/signer-long\.json$/, 'must be at most 571 characters'],
  [/^csr-object\/usages-(missing|empty|string)\.json$/, 'at least one usage is required'],
  [/^csr-object\/usages-(unknown|object)\.json$/, 'unknown usage'],
  [/^csr-object\/usages-duplicate\.json$/, 'duplicate usage'],
  [/^csr-object\/expiration-short\.json$/, 'less than 600 seconds'],
  [/^csr-object\/expiration-(float|string)\.json$/, 'must be an integer'],
  [/^csr-object\/request-not-pem\.json$/, 'no PEM block found'],
  [/^csr-object\/request-certificate\.json$/, 'expected CERTIFICATE REQUEST, found CERTIFICATE'],
  [/^csr-object\/request-bad-signature\.json$/, 'the self-signature does not verify'],
  [/^csr-object\/request-rsa-1024\.json$/, 'unsupported RSA modulus of 1024 bits'],
  [/^csr-object\/conditions-not-list\.json$/, 'must be a list'],
  [/^csr-object\/condition-(unknown|null)\.json$/, 'unknown condition type'],
  [/^csr-object\/condition-false\.json$/, 'status may only be "True"'],
  [/^csr-object\/condition-duplicate\.json$/, 'duplicate Approved condition'],
  [/^csr-object\/condition-both\.json$/, 'mutually exclusive'],
  [/^csr-object\/(status-string|status-array|not-an-object)\.json$/, 'must be an object'],
  [/^csr-object\/signer-number\.json$/, 'is required'],
  [/^csr-object\/signer-(empty-path|path-upper|path-underscore)\.json$/, 'the path must be DNS-1123 subdomains'],
  [/^csr-object\/signer-label-long\.json$/, 'the domain must be a DNS-1123 subdomain'],
  [/^csr-object\/usages-number\.json$/, 'unknown usage of type number'],
  [/^csr-object\/usages-null\.json$/, 'at least one usage is required'],
  [/^csr-object\/expiration-negative\.json$/, 'less than 600 seconds'],
  [/^csr-object\/expiration-huge-float\.json$/, 'must be an integer'],
  [/^csr-object\/request-not-base64\.json$/, 'no PEM block found'],
  [/^csr-object\/condition-lowercase-true\.json$/, 'status may only be "True"'],
  [/^csr-object\/condition-failed-twice\.json$/, 'duplicate Failed condition'],
  // HTTP: a part of the Status object's message.
  [/^http\/(no-auth-|bad-token-|expired-token|basic-auth|bearer-)/, 'Unauthorized'],
  [/^http\/oversized-/, 'request body over 65536 bytes'],
  [/^http\/invalid-json\.json$/, 'the request body is not valid JSON'],
  [/^http\/json-not-object\.json$/, 'must be an object'],
  [/^http\/json-deep\.json$/, 'apiVersion: must be certificates.k8s.io/v1'],
  [/^http\/(wrong|yaml)-content-type\.json$/, 'is neither application/json nor application/vnd.kubernetes.protobuf'],
  [/^http\/protobuf-(no-magic|json-with-protobuf-type)\.json$/, 'does not start with the Kubernetes protobuf magic'],
  [/^http\/protobuf-(truncated-envelope|envelope-garbage)\.json$/, 'is not a runtime.Unknown envelope'],
  [/^http\/protobuf-(wrong-kind|wrong-version|no-type)\.json$/, 'not certificates.k8s.io/v1 CertificateSigningRequest'],
  [/^http\/protobuf-(raw-garbage|raw-truncated|deep-groups)\.json$/, 'is not a CertificateSigningRequest message'],
  [/^http\/protobuf-gzip\.json$/, 'uses an encoding or content type this server does not read'],
  [/^http\/protobuf-invalid-request\.json$/, 'spec.request'],
  [/^http\/(name-slash|name-dotdot|path-extra|subresource-unknown)\.json$/, 'no such resource'],
  [/^http\/create-name-/, 'metadata.name: must be a path segment'],
  [/^http\/create-bad-signature\.json$/, 'the self-signature does not verify'],
  [/^http\/approve-as-bootstrapper\.json$/, 'cannot update certificatesigningrequests/approval'],
  [/^http\/status-as-bootstrapper\.json$/, 'cannot update certificatesigningrequests/status'],
  [/^http\/(delete|patch)\.json$/, 'method not allowed'],
  [/^http\/other-api\.json$/, 'could not find the requested resource'],
  [/^http\/field-selector-injection\.json$/, 'unsupported field selector'],
  [/^http\/watch-other-users\.json$/, 'cannot watch certificatesigningrequest "existing"'],
  [/^http\/get-other-users\.json$/, 'cannot get certificatesigningrequest "existing"'],
];
const reasonOf = (file: string): string | readonly string[] | undefined => REASONS.find(([pattern]) => pattern.test(file))?.[1];
const manifest: Entry[] = entries.map((entry) => {
  const { content, ...listed } = entry;
  void content;
  const reason = entry.expect === 'ok' ? undefined : reasonOf(entry.file);
  if (entry.expect !== 'ok' && reason === undefined) throw new Error(`${entry.file}: no reason`);
  return reason === undefined ? listed : { ...listed, reason };
});
writeFileSync(join(CORPUS_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
// A check of the non-HTTP entries as written (the test does the same with the HTTP ones).
const signed = { count: 0 };
let wrong = 0;
for (const entry of manifest) {
  if (entry.kind === 'http' || entry.expect === 'ok') continue;
  const { got, message } = await runEntry(entry, ca, signed);
  const matches = got === entry.expect && refusedFor(entry, message);
  if (!matches) {
    wrong++;
    console.log(`${entry.file}: expected ${entry.expect} (${entry.reason}), got ${got} (${message})`);
  }
}
console.log(`${manifest.length} entries written; ${wrong} differ; ${signed.count} signed`);
