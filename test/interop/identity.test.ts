// Judge: Go's crypto/x509 decides who a client certificate is, as kube-apiserver's x509 authenticator does
// (Subject.CommonName, Subject.Organization). kubepki's one identity function must answer exactly as Go
// on every Name below, including those OpenSSL reads differently (recorded, to show the cases matter).
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, certificateIdentity, createCertificateAuthority, generateKeyPair, PkiError } from '../../lib/index.js';
import { attr, clientCertificateWithName, CN, HOSTILE_NAMES, nameDer, O, OU, STRING } from '../helpers/names.js';
import { goJudge } from './judges.js';

const execFileAsync = promisify(execFile);

const NAMES: Record<string, Uint8Array> = {
  'kubelet, PrintableString': nameDer([attr(O, STRING.printable, 'system:nodes')], [attr(CN, STRING.printable, 'system:node:n1')]),
  'UTF8String CN with non-ASCII': nameDer([attr(CN, STRING.utf8, 'système:ü')]),
  'O=system:masters as UniversalString (the escalation)': HOSTILE_NAMES.universalMasters,
  'two CNs: victim then attacker (the escalation)': HOSTILE_NAMES.twoCommonNames,
  'two Os in one multi-valued RDN': nameDer([attr(O, STRING.utf8, 'g1'), attr(O, STRING.utf8, 'g2')], [attr(CN, STRING.utf8, 'u')]),
  'CN and O in one multi-valued RDN': nameDer([attr(CN, STRING.utf8, 'u'), attr(O, STRING.utf8, 'g')]),
  'CN as BMPString': nameDer([attr(CN, STRING.bmp, 'bmp-user')]),
  'CN as BMPString with a NUL terminator': nameDer([attr(CN, STRING.bmp, Uint8Array.of(0, 0x61, 0, 0x62, 0, 0))]),
  'CN as BMPString with an unpaired surrogate': nameDer([attr(CN, STRING.bmp, Uint8Array.of(0xd8, 0x01, 0, 0x61))]),
  'CN as BMPString of odd length': nameDer([attr(CN, STRING.bmp, Uint8Array.of(0, 0x61, 0))]),
  'CN as T61String, ASCII': nameDer([attr(CN, STRING.t61, 't61-user')]),
  'CN as IA5String': nameDer([attr(CN, STRING.ia5, 'ia5-user')]),
  'CN as IA5String above 0x7f': nameDer([attr(CN, STRING.ia5, Uint8Array.of(0x61, 0xe9))]),
  'O as NumericString': nameDer([attr(O, STRING.numeric, '42')], [attr(CN, STRING.utf8, 'u')]),
  'O as NumericString with a letter': nameDer([attr(O, STRING.numeric, '4a')], [attr(CN, STRING.utf8, 'u')]),
  "PrintableString with Go's * and &": nameDer([attr(CN, STRING.printable, '*.a&b')]),
  'PrintableString with @': nameDer([attr(CN, STRING.printable, 'a@b')]),
  'UTF8String that is not UTF-8': nameDer([attr(CN, STRING.utf8, Uint8Array.of(0x61, 0xc3))]),
  'an INTEGER value in O': nameDer([attr(O, STRING.integer, Uint8Array.of(7))], [attr(CN, STRING.utf8, 'u')]),
  'a UniversalString in OU only': nameDer([attr(OU, STRING.universal, 'unit')], [attr(CN, STRING.utf8, 'u')]),
  'an empty CN': nameDer([attr(O, STRING.utf8, 'g')], [attr(CN, STRING.utf8, '')]),
  'no CN at all': nameDer([attr(O, STRING.utf8, 'g')]),
  'an empty Name': nameDer(),
  'a newline in the CN': nameDer([attr(CN, STRING.utf8, 'system:node:a\nsystem:masters')]),
};

const hex = (text: string): string => Buffer.from(text, 'utf8').toString('hex');

/** kubepki's answer in the judge's form: the identity (user and groups as hex) or an error. */
function kubepkiReads(pem: string): { ok: boolean; user?: string; groups?: string[]; error?: string } {
  try {
    const certificate = Certificate.from(pem);
    const identity = certificateIdentity(certificate);
    // An empty CN does not authenticate: Go reads it as the empty user, which kube-apiserver refuses.
    return { ok: true, user: hex(identity?.username ?? ''), groups: (identity?.groups ?? certificate.subject.organizations ?? []).map(hex) };
  } catch (error) {
    if (!(error instanceof PkiError)) throw error;
    return { ok: false, error: error.message };
  }
}

/** The O values OpenSSL reads from the certificate (UTF-8), or undefined when it cannot read it. */
async function opensslOrganizations(pem: string): Promise<string[] | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-identity-'));
  try {
    await writeFile(join(dir, 'c.pem'), pem);
    const { stdout } = await execFileAsync('openssl', ['x509', '-in', join(dir, 'c.pem'), '-noout', '-subject', '-nameopt', 'sep_multiline,utf8,sname,-esc_msb']);
    return [...stdout.matchAll(/^\s+O=(.*)$/gm)].map((m) => m[1]!);
  } catch {
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('kubepki reads every client certificate as Go does (kube-apiserver\'s identity); OpenSSL differs where the escalation lived', async () => {
  const authority = await createCertificateAuthority({ commonName: 'identity-judge-ca' });
  const ca = { certificate: authority.certificate, privateKey: authority.privateKey };
  const keyPair = await generateKeyPair();
  const cases = await Promise.all(Object.entries(NAMES).map(async ([name, subject]) => ({ name, pem: await clientCertificateWithName(subject, keyPair, ca) })));
  const go = await goJudge(cases.map(({ pem }) => ({ op: 'identity', cert: pem })));
  const disagreements: string[] = [];
  cases.forEach(({ name, pem }, i) => {
    const ours = kubepkiReads(pem);
    const theirs = go[i]!;
    const same = ours.ok === theirs.ok && (!ours.ok || (ours.user === (theirs.user ?? '') && JSON.stringify(ours.groups) === JSON.stringify(theirs.groups ?? [])));
    if (!same) disagreements.push(`${name}: kubepki ${JSON.stringify(ours)}, Go ${JSON.stringify(theirs)}`);
  });
  assert.equal(disagreements, []);
  // The judges do disagree among themselves on the escalation: Go refuses the certificate, OpenSSL reads system:masters.
  const universal = cases.find((c) => c.name.startsWith('O=system:masters'))!;
  assert.is(go[cases.indexOf(universal)]!.ok, false, 'Go refuses a UniversalString');
  assert.equal(await opensslOrganizations(universal.pem), ['system:masters', 'system:nodes'], 'OpenSSL reads the UniversalString');
  const twoCns = cases.indexOf(cases.find((c) => c.name.startsWith('two CNs'))!);
  assert.is(go[twoCns]!.user, hex('system:node:attacker'), 'Go takes the last CN');
  assert.ok(cases.length >= 20, `${cases.length} names`);
});

test.run();
