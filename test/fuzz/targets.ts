// Every parser kubepki exposes to untrusted input, as a fuzz target: an input generator (random bytes or
// text, and mutants of valid inputs the library made) and a run function that calls the parser and
// checks its invariants when it accepts.
import { sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  Certificate,
  describeCertificate,
  exportPrivateKeyPem,
  formatBootstrapToken,
  importPrivateKeyPem,
  isKeySpec,
  parseBootstrapToken,
  parseCsr,
  parseKubeconfig,
  parseRevocationList,
  stringifyKubeconfig,
  verifyClusterInfo,
  type BootstrapToken,
  type TokenStore,
} from '../../lib/index.js';
import { authenticateBootstrapToken, detachedJws, verifyDetachedJws } from '../../lib/bootstrap/token.js';
import { exportSpki, publicKeyInfo } from '../../lib/crypto/keys.js';
import { formatIp, normalizeIp, parseIp } from '../../lib/x509/ip.js';
import { PEM_LABELS, readPemBlock, readPemBlocks } from '../../lib/crypto/pem.js';
import { validateCsrObject } from '../../lib/bootstrap/csr-object.js';
import { decodeProtobufCsr, encodeProtobuf } from '../../lib/bootstrap/protobuf.js';
import { assertDer, children, concatBytes, decodeOid, encodeElement, encodeOid, readElement, type DerElement } from '../../lib/crypto/der.js';
import {
  decodeAuthorityKeyIdentifier,
  decodeBasicConstraints,
  decodeExtendedKeyUsage,
  decodeExtensions,
  decodeKeyUsage,
  decodeSubjectKeyIdentifier,
} from '../../lib/x509/extensions.js';
import { decodeSubject } from '../../lib/x509/names.js';
import { decodeGeneralNames } from '../../lib/x509/sans.js';
import { decodeTime, encodeTime } from '../../lib/x509/time.js';
import { runCli } from '../helpers/cli.js';
import { invariant, sameValue, type FuzzTarget } from './harness.js';
import { derInput, derMutation, encodeTree, jsonValue, mutateDer, mutateObject, mutateText, objectOp, parseTree, textOp, type DerMutation } from './mutate.js';
import type { CsrSeed, Seeds } from './seeds.js';

const target = <T>(name: string, arbitrary: fc.Arbitrary<T>, run: (input: T) => unknown): FuzzTarget<T> => ({ name, arbitrary, run });

const base64Lines = (der: Uint8Array, width = 64): string => (Buffer.from(der).toString('base64').match(new RegExp(`.{1,${width}}`, 'g')) ?? []).join('\n');
const pemOf = (label: string, der: Uint8Array, width = 64): string => `-----BEGIN ${label}-----\n${base64Lines(der, width)}\n-----END ${label}-----\n`;

export const PEM_DICTIONARY: readonly string[] = [
  ...PEM_LABELS.flatMap((label) => [`-----BEGIN ${label}-----`, `-----END ${label}-----`]),
  '-----BEGIN FOO-----',
  '-----BEGIN CERTIFICATE----- x',
  '-----BEGIN  CERTIFICATE-----',
  '-----begin certificate-----',
  '-----END-----',
  '-----',
  'Proc-Type: 4,ENCRYPTED',
  'DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF',
  'Comment: x',
  '',
  ' ',
  '\t',
  'AAAA',
  'AA==',
  'A===',
  '====',
  '=AAA',
  'MIIB',
  'MA==',
  '\uFEFF',
  '\u00e9',
  '\r',
];

const labelArbitrary: fc.Arbitrary<string> = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...PEM_LABELS) }, { weight: 1, arbitrary: fc.constantFrom('FOO', 'CERTIFICATE ', 'X509 CERTIFICATE', 'NEW CERTIFICATE REQUEST') });

/** PEM text: seeds, mutants wrapped in PEM, several blocks, then line and character damage. */
function pemText(seeds: Seeds, pool: () => readonly Uint8Array[], labels: fc.Arbitrary<string> = labelArbitrary): fc.Arbitrary<string> {
  const block = fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...seeds.pems) },
    { weight: 3, arbitrary: fc.tuple(labels, derMutation, fc.constantFrom(64, 64, 76, 4, 1000)).map(([label, m, width]) => pemOf(label, mutateDer(pool(), m), width)) },
  );
  return fc
    .record({
      blocks: fc.array(block, { minLength: 1, maxLength: 3 }),
      junk: fc.constantFrom('', 'junk before\n', 'subject=CN=x\nissuer=CN=y\n', '\n\n'),
      ops: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 2, arbitrary: fc.array(textOp(PEM_DICTIONARY), { minLength: 1, maxLength: 3 }) }),
    })
    .map(({ blocks, junk, ops }) => mutateText(junk + blocks.join(''), ops, PEM_DICTIONARY));
}

const anyText = fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 }), fc.stringMatching(/^(-{5}(BEGIN|END) [A-Z ]{0,20}-{5}\n|[A-Za-z0-9+/=]{0,8}\n|Proc-Type: 4,ENCRYPTED\n){0,6}$/));

/** A CSR mutant whose CertificationRequestInfo is re-signed with the seed's key, so it gets past the signature check. */
function resignedCsr(seed: CsrSeed, infos: readonly Uint8Array[], m: DerMutation, spliceAlgorithm: boolean): Uint8Array {
  const top = parseTree(seed.der);
  const [, algorithm] = top.children ?? [];
  const info = mutateDer(infos, m);
  const signature = sign(seed.hash, info, seed.key);
  const algorithmBytes = spliceAlgorithm || !algorithm ? encodeTree({ tag: 0x30, children: [{ tag: 0x06, content: encodeOid('1.2.840.113549.1.1.5').subarray(2) }] }).bytes : encodeTree(algorithm).bytes;
  return encodeElement(0x30, concatBytes([info, algorithmBytes, encodeElement(0x03, concatBytes([Uint8Array.of(0), signature]))]));
}

function csrInput(seeds: Seeds): fc.Arbitrary<Uint8Array> {
  const infos = seeds.csrs.map((c) => encodeTree(parseTree(c.der).children![0]!).bytes);
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.nat(), derMutation, fc.boolean()).map(([i, m, weak]) => resignedCsr(seeds.csrs[i % seeds.csrs.length]!, infos, { ...m, seed: i }, weak && m.tree.length === 0)) },
    { weight: 3, arbitrary: derInput(() => seeds.csrDers) },
    { weight: 1, arbitrary: derInput(() => seeds.allDer) },
  );
}

/** Walks `der` with the library's own reader and re-encodes it: DER that assertDer accepts must come back byte for byte. */
function reencode(der: Uint8Array, element: DerElement): Uint8Array {
  if (!element.constructed) return der.slice(element.headerStart, element.end);
  return encodeElement(element.tag, concatBytes(children(der, element, 'reencode').map((child) => reencode(der, child))));
}

function depthAndCount(der: Uint8Array, element: DerElement): { depth: number; count: number } {
  if (!element.constructed) return { depth: 0, count: 1 };
  let depth = 0;
  let count = 1;
  for (const child of children(der, element, 'depth')) {
    const inner = depthAndCount(der, child);
    depth = Math.max(depth, inner.depth);
    count += inner.count;
  }
  return { depth: depth + 1, count };
}

function certificateFields(certificate: Certificate): unknown {
  return {
    version: certificate.version,
    serial: certificate.serialNumber,
    subject: certificate.subject,
    issuer: certificate.issuer,
    notBefore: certificate.notBefore.getTime(),
    notAfter: certificate.notAfter.getTime(),
    signatureAlgorithmOid: certificate.signatureAlgorithmOid,
    extensions: certificate.extensions.map((e) => ({ oid: e.oid, critical: e.critical, value: Buffer.from(e.value).toString('hex') })),
    basicConstraints: certificate.basicConstraints,
    keyUsages: certificate.keyUsages,
    extendedKeyUsages: certificate.extendedKeyUsages,
    sans: certificate.sans,
    subjectKeyId: certificate.subjectKeyId && Buffer.from(certificate.subjectKeyId).toString('hex'),
    authorityKeyId: certificate.authorityKeyId && Buffer.from(certificate.authorityKeyId).toString('hex'),
  };
}

function checkCertificate(certificate: Certificate, der: Uint8Array | undefined): void {
  if (der) sameValue(Buffer.from(certificate.der).toString('hex'), Buffer.from(der).toString('hex'), 'parse(der).der == der');
  const again = Certificate.from(Uint8Array.from(certificate.der));
  sameValue(certificateFields(again), certificateFields(certificate), 'a certificate re-parsed from its DER has the same fields');
  sameValue(certificateFields(Certificate.from(certificate.pem)), certificateFields(certificate), 'a certificate re-parsed from its PEM has the same fields');
  invariant(!Number.isNaN(certificate.notBefore.getTime()) && !Number.isNaN(certificate.notAfter.getTime()), 'validity times are real dates');
  void certificate.isSelfIssued;
  // Lazily computed fields throw PkiErrors only (an unsupported key is ERR_KEY).
  describeCertificate(certificate);
}

export const YAML_DICTIONARY: readonly string[] = [
  'apiVersion: v1',
  'kind: Config',
  'kind: Secret',
  'kind: {toString: 1}',
  'kind: [1]',
  'current-context: ctx',
  'current-context: {toString: 1}',
  'current-context: ""',
  'clusters: []',
  'clusters: null',
  'clusters: {a: 1}',
  'users: [{name: u, user: {token: t}}]',
  'contexts: [{name: ctx, context: {cluster: c, user: u}}]',
  'clusters: [{name: c, cluster: {server: "https://x"}}]',
  '- name: kubernetes',
  '  cluster:',
  '    server: https://x',
  '    server: http://x',
  '    insecure-skip-tls-verify: true',
  '    certificate-authority-data: AAAA',
  '    certificate-authority-data: "!!"',
  '  user: {}',
  '  user: {toString: 1}',
  'a: &x [1, 2]',
  'b: *x',
  'c: *nope',
  '<<: *x',
  '? [a, b]',
  ': v',
  '---',
  '...',
  '%YAML 1.2',
  '%TAG ! tag:x:',
  '!!binary AAAA',
  '!!js/function "x"',
  'x: !!int 0x10',
  'x: !!float .inf',
  'x: 2001-12-14t21:59:43.10-05:00',
  '{',
  '[',
  '}',
  ']',
  '"\\u0000"',
  "'''",
  '|',
  '>-',
  '#',
  '  - - - - - - - -',
  'toString: 1',
  '__proto__: {x: 1}',
  'constructor: {prototype: 1}',
  'hasOwnProperty: 1',
  '\t',
  'x: y: z',
  'name: kubernetes',
  'name: {toString: 1}',
];

function kubeconfigText(seeds: Seeds): fc.Arbitrary<string> {
  const objects = seeds.kubeconfigs.map((text) => parseYaml(text) as unknown);
  return fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...seeds.kubeconfigs), fc.array(textOp(YAML_DICTIONARY), { minLength: 1, maxLength: 4 })).map(([text, ops]) => mutateText(text, ops, YAML_DICTIONARY)) },
    {
      weight: 3,
      arbitrary: fc.tuple(fc.nat(), fc.array(objectOp, { minLength: 1, maxLength: 3 })).map(([i, ops]) => stringifyYaml(mutateObject(objects[i % objects.length], ops)) as string),
    },
    { weight: 1, arbitrary: fc.array(fc.constantFrom(...YAML_DICTIONARY), { maxLength: 12 }).map((lines) => lines.join('\n')) },
    { weight: 1, arbitrary: anyText },
    { weight: 1, arbitrary: fc.constantFrom(...seeds.kubeconfigs) },
  );
}

const asToken = (text: string): BootstrapToken | undefined => {
  try {
    return parseBootstrapToken(text);
  } catch {
    return undefined;
  }
};

let inspectDir: string | undefined;

/** Every fuzz target, over the given seeds. */
export function makeTargets(seeds: Seeds): FuzzTarget<never>[] {
  const all = (): readonly Uint8Array[] => seeds.allDer;
  const pem = pemText(seeds, all);
  const pemInput: fc.Arbitrary<string | Uint8Array> = fc.oneof(
    { weight: 5, arbitrary: pem },
    { weight: 1, arbitrary: pem.map((text) => Uint8Array.from(Buffer.from(text))) },
    { weight: 1, arbitrary: anyText },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 128 }) },
  );
  const certificateDer = derInput(() => seeds.certificateDers);
  const crlDer = derInput(() => seeds.crls);
  const keyDer = derInput(() => seeds.privateKeyDers);
  const spkiDer = derInput(() => seeds.spkis);

  const targets: FuzzTarget<never>[] = [
    target('pem.readPemBlocks', pemInput, (input) => {
      const blocks = readPemBlocks(input);
      invariant(blocks.length > 0, 'at least one block');
      for (const block of blocks) {
        const [again] = readPemBlocks(pemOf(block.label, block.der));
        sameValue(again!.label, block.label, 'label round trip');
        sameValue(Buffer.from(again!.der).toString('hex'), Buffer.from(block.der).toString('hex'), 'encodePem then readPemBlocks gives the same DER');
      }
    }) as FuzzTarget<never>,
    target('pem.readPemBlock', fc.tuple(pemInput, fc.subarray([...PEM_LABELS], { minLength: 1 })), ([input, expected]) => {
      const block = readPemBlock(input, expected);
      invariant(expected.includes(block.label), `a ${block.label} block was returned for ${expected.join('|')}`);
    }) as FuzzTarget<never>,

    target(
      'der.assertDer',
      fc.tuple(derInput(all), fc.option(fc.record({ maxDepth: fc.integer({ min: 0, max: 40 }), maxElements: fc.integer({ min: 1, max: 500 }) }), { freq: 4 })),
      ([bytes, limits]) => {
        const top = assertDer(bytes, 'input', limits ?? undefined);
        invariant(top.headerStart === 0 && top.end === bytes.length, 'the element spans the input');
        sameValue(Buffer.from(reencode(bytes, top)).toString('hex'), Buffer.from(bytes).toString('hex'), 'DER re-encodes to the same bytes');
        const { depth, count } = depthAndCount(bytes, top);
        invariant(depth <= (limits?.maxDepth ?? 32), `depth ${depth} over the limit`);
        invariant(count <= (limits?.maxElements ?? 20_000), `${count} elements over the limit`);
      },
    ) as FuzzTarget<never>,
    target('der.readElement', fc.tuple(derInput(all), fc.nat({ max: 4096 })), ([bytes, offset]) => {
      const element = readElement(bytes, offset % (bytes.length + 2), 'input');
      invariant(element.headerStart < element.start && element.start <= element.end && element.end <= bytes.length, 'element bounds inside the input');
    }) as FuzzTarget<never>,
    target(
      'der.decodeOid',
      fc.oneof(fc.uint8Array({ maxLength: 24 }), fc.array(fc.integer({ min: 0, max: 0xffffff }), { minLength: 1, maxLength: 8 }).map((arcs) => encodeOid(`1.2.${arcs.join('.')}`).subarray(2)), derInput(all)),
      (content) => {
        const dotted = decodeOid(content, 'oid');
        invariant(/^[0-2](\.\d+)+$/.test(dotted), `dotted form ${dotted}`);
        const encoded = encodeOid(dotted);
        sameValue(Buffer.from(encoded.subarray(readElement(encoded, 0, 'oid').start)).toString('hex'), Buffer.from(content).toString('hex'), 'decodeOid then encodeOid gives the same bytes');
      },
    ) as FuzzTarget<never>,

    target('certificate.from', fc.oneof({ weight: 4, arbitrary: certificateDer }, { weight: 1, arbitrary: derInput(all) }, { weight: 2, arbitrary: pemInput }), (input) => {
      const certificate = Certificate.from(input);
      checkCertificate(certificate, typeof input === 'string' || input[0] !== 0x30 ? undefined : input);
    }) as FuzzTarget<never>,
    target('certificate.fromPemBundle', pemText(seeds, () => seeds.certificateDers, fc.constantFrom('CERTIFICATE', 'CERTIFICATE', 'CERTIFICATE', 'X509 CRL')), (input) => {
      for (const certificate of Certificate.fromPemBundle(input)) checkCertificate(certificate, undefined);
    }) as FuzzTarget<never>,

    target('csr.parseCsrDer', csrInput(seeds), async (der) => {
      const csr = await parseCsr(der);
      sameValue(Buffer.from(csr.der).toString('hex'), Buffer.from(der).toString('hex'), 'parse(der).der == der');
      const again = await parseCsr(csr.pem);
      sameValue([again.subject, again.sans, again.publicKey.spec, again.requestedExtensions.length], [csr.subject, csr.sans, csr.publicKey.spec, csr.requestedExtensions.length], 'a CSR re-parsed from its PEM has the same fields');
      invariant(isKeySpec(csr.publicKey.spec), 'a supported key spec');
    }) as FuzzTarget<never>,
    target(
      'csr.parseCsr',
      fc.oneof(csrInput(seeds).map((der) => pemOf('CERTIFICATE REQUEST', der)), pemInput),
      async (input) => {
        const csr = await parseCsr(input);
        invariant(isKeySpec(csr.publicKey.spec), 'a supported key spec');
      },
    ) as FuzzTarget<never>,

    target(
      'keys.importPrivateKeyPem',
      fc.oneof(
        { weight: 4, arbitrary: fc.tuple(keyDer, fc.constantFrom('PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'), fc.constantFrom('', '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n')).map(([der, label, prefix]) => prefix + pemOf(label, der)) },
        { weight: 1, arbitrary: fc.tuple(fc.nat(), derMutation).map(([i, m]) => pemOf(seeds.privateKeys[i % seeds.privateKeys.length]!.label, mutateDer([seeds.privateKeyDers[i % seeds.privateKeyDers.length]!], m))) },
        { weight: 2, arbitrary: pemInput },
      ),
      async (input) => {
        const pair = await importPrivateKeyPem(input);
        invariant(isKeySpec(pair.spec), 'a supported key spec');
        const again = await importPrivateKeyPem(await exportPrivateKeyPem(pair));
        sameValue(again.spec, pair.spec, 'export then import keeps the spec');
        sameValue(Buffer.from(await exportSpki(again.publicKey)).toString('hex'), Buffer.from(await exportSpki(pair.publicKey)).toString('hex'), 'export then import keeps the public key');
      },
    ) as FuzzTarget<never>,
    target('keys.publicKeyInfo', fc.oneof({ weight: 3, arbitrary: spkiDer }, { weight: 2, arbitrary: spkiDer.map((der) => pemOf('PUBLIC KEY', der)) }, { weight: 1, arbitrary: pemInput }), async (input) => {
      const info = await publicKeyInfo(input);
      invariant(isKeySpec(info.spec), 'a supported key spec');
      if (input instanceof Uint8Array && input[0] === 0x30) sameValue(Buffer.from(info.spki).toString('hex'), Buffer.from(input).toString('hex'), 'DER SPKI is kept as given');
    }) as FuzzTarget<never>,

    target('crl.parseRevocationList', fc.oneof({ weight: 4, arbitrary: crlDer }, { weight: 1, arbitrary: crlDer.map((der) => pemOf('X509 CRL', der)) }, { weight: 1, arbitrary: pemInput }), (input) => {
      const crl = parseRevocationList(input);
      if (input instanceof Uint8Array && input[0] === 0x30) sameValue(Buffer.from(crl.der).toString('hex'), Buffer.from(input).toString('hex'), 'parse(der).der == der');
      const again = parseRevocationList(crl.pem);
      sameValue([...again.serials], [...crl.serials], 'a CRL re-parsed from its PEM lists the same serials');
      invariant(!Number.isNaN(crl.thisUpdate.getTime()), 'thisUpdate is a date');
    }) as FuzzTarget<never>,

    target('sans.decodeGeneralNames', derInput(() => seeds.generalNames), (der) => {
      const sans = decodeGeneralNames(der);
      for (const ip of sans.ips) invariant(parseIp(ip) !== undefined, `IP SAN ${ip} is printed in a form parseIp reads`);
    }) as FuzzTarget<never>,
    target('names.decodeSubject', derInput(() => seeds.names), (der) => {
      const subject = decodeSubject(der);
      invariant(typeof subject.commonName === 'string' && Array.isArray(subject.organizations), 'a subject');
    }) as FuzzTarget<never>,
    target(
      'time.decodeTime',
      fc.tuple(
        fc.oneof(fc.constantFrom(0x17, 0x18), fc.integer({ min: 0, max: 255 })),
        fc.oneof(
          fc.stringMatching(/^\d{10,15}Z?$/),
          fc.stringMatching(/^[0-9Z.+-]{0,20}$/),
          fc.date({ min: new Date('0000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }).map((d) => Buffer.from(encodeTime(d).subarray(2)).toString('latin1')),
          fc.string({ maxLength: 20 }),
        ),
      ),
      ([tag, text]) => {
        const date = decodeTime(tag, Buffer.from(text, 'latin1'), 'time');
        invariant(!Number.isNaN(date.getTime()), 'a real date');
        const encoded = encodeTime(date);
        sameValue(decodeTime(encoded[0]!, encoded.subarray(2), 'time').getTime(), date.getTime(), 'encodeTime then decodeTime gives the same time');
      },
    ) as FuzzTarget<never>,

    target('extensions.decodeExtensions', derInput(() => seeds.extensionLists), (der) => {
      const top = readElement(der, 0, 'extensions');
      for (const extension of decodeExtensions(der, top, 'extensions')) invariant(/^[0-2](\.\d+)+$/.test(extension.oid), 'an OID');
    }) as FuzzTarget<never>,
    target('extensions.decodeKeyUsage', derInput(() => seeds.extensionValues), (der) => decodeKeyUsage(der)) as FuzzTarget<never>,
    target('extensions.decodeExtendedKeyUsage', derInput(() => seeds.extensionValues), (der) => decodeExtendedKeyUsage(der)) as FuzzTarget<never>,
    target('extensions.decodeSubjectKeyIdentifier', derInput(() => seeds.extensionValues), (der) => decodeSubjectKeyIdentifier(der)) as FuzzTarget<never>,
    target('extensions.decodeAuthorityKeyIdentifier', derInput(() => seeds.extensionValues), (der) => decodeAuthorityKeyIdentifier(der)) as FuzzTarget<never>,
    target('extensions.decodeBasicConstraints', derInput(() => seeds.extensionValues), (der) => {
      const constraints = decodeBasicConstraints(der);
      invariant(typeof constraints.isCA === 'boolean', 'isCA is a boolean');
    }) as FuzzTarget<never>,

    target(
      'ip.parseIp',
      fc.oneof(
        fc.ipV4().map(String),
        fc.ipV6(),
        fc.ipV4Extended(),
        fc.stringMatching(/^[0-9a-fA-F:.]{0,48}$/),
        fc.string({ maxLength: 50 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => formatIp(b)),
      ),
      (text) => {
        const bytes = parseIp(text);
        if (!bytes) return;
        invariant(bytes.length === 4 || bytes.length === 16, 'four or sixteen bytes');
        const printed = formatIp(bytes);
        const back = parseIp(printed);
        sameValue(back && Buffer.from(back).toString('hex'), Buffer.from(bytes).toString('hex'), 'formatIp then parseIp gives the same bytes');
        sameValue(normalizeIp(printed), printed, 'normalizeIp is idempotent');
      },
    ) as FuzzTarget<never>,

    target('token.parseBootstrapToken', fc.oneof(fc.stringMatching(/^[a-z0-9]{5,7}\.[a-z0-9]{15,17}$/), fc.string({ maxLength: 30 }), jsonValue), (input) => {
      const token = parseBootstrapToken(input as string);
      sameValue(formatBootstrapToken(token), input, 'format(parse(text)) == text');
    }) as FuzzTarget<never>,
    target(
      'token.authenticateBootstrapToken',
      fc.record({
        presented: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...seeds.tokens.map(formatBootstrapToken)) }, { weight: 1, arbitrary: fc.string({ maxLength: 24 }) }),
        secret: fc.oneof(
          { weight: 5, arbitrary: fc.tuple(fc.nat(), fc.array(objectOp, { maxLength: 3 })).map(([i, ops]) => mutateObject(seeds.secrets[i % seeds.secrets.length], ops)) },
          { weight: 1, arbitrary: jsonValue },
        ),
      }),
      async ({ presented, secret }) => {
        const store: TokenStore = { getSecret: async () => secret as never };
        const user = await authenticateBootstrapToken(presented, store, seeds.now);
        invariant(user.username === `system:bootstrap:${parseBootstrapToken(presented).id}` && user.groups.includes('system:bootstrappers'), 'a bootstrap user');
      },
    ) as FuzzTarget<never>,
    target(
      'token.verifyDetachedJws',
      fc.record({
        jws: fc.oneof(
          fc.tuple(fc.array(textOp(['.', '..', 'eyJ', 'bnVsbA', 'eyJhbGciOiJIUzI1NiJ9', '=', '==', '+', '/']), { maxLength: 3 })).map(([ops]) => mutateText(seeds.clusterInfo.configMap.data[`jws-kubeconfig-${seeds.clusterInfo.token.id}`]!, ops, ['.', '..'])),
          fc.tuple(jsonValue, fc.string({ maxLength: 8 })).map(([header, rest]) => `${Buffer.from(JSON.stringify(header) ?? '').toString('base64url')}..${rest}`),
          fc.string({ maxLength: 40 }),
        ),
        payload: fc.oneof(fc.constant(seeds.clusterInfo.configMap.data.kubeconfig!), fc.string({ maxLength: 16 })),
      }),
      ({ jws, payload }) => {
        const verified = verifyDetachedJws(jws, payload, seeds.clusterInfo.token);
        invariant(typeof verified === 'boolean', 'a boolean');
      },
    ) as FuzzTarget<never>,
    target(
      'token.verifyClusterInfo',
      fc.record({
        ops: fc.array(objectOp, { maxLength: 3 }),
        resign: fc.boolean(),
        kubeconfig: fc.option(kubeconfigText(seeds), { freq: 3 }),
        pins: fc.oneof({ weight: 4, arbitrary: fc.constant([seeds.clusterInfo.pin]) }, { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }) }),
      }),
      ({ ops, resign, kubeconfig, pins }) => {
        const { token } = seeds.clusterInfo;
        const configMap = mutateObject(seeds.clusterInfo.configMap, ops) as { data?: Record<string, string> };
        if (configMap && typeof configMap === 'object' && configMap.data && typeof configMap.data === 'object') {
          if (kubeconfig !== null) configMap.data.kubeconfig = kubeconfig;
          if (resign && typeof configMap.data.kubeconfig === 'string') configMap.data[`jws-kubeconfig-${token.id}`] = detachedJws(configMap.data.kubeconfig, token);
        }
        const text = verifyClusterInfo(configMap, token, [seeds.clusterInfo.ca], pins);
        invariant(text === configMap.data?.kubeconfig, 'the verified kubeconfig is returned');
      },
    ) as FuzzTarget<never>,

    target('kubeconfig.parseKubeconfig', kubeconfigText(seeds), (text) => {
      const config = parseKubeconfig(text);
      const again = parseKubeconfig(stringifyKubeconfig(config));
      const plain = (value: object): unknown => JSON.parse(JSON.stringify(value));
      sameValue(plain(again), plain(config), 'stringifyKubeconfig then parseKubeconfig gives the same kubeconfig');
    }) as FuzzTarget<never>,

    target(
      'csrObject.validateCsrObject',
      fc.record({
        seed: fc.nat(),
        ops: fc.array(objectOp, { maxLength: 3 }),
        request: fc.option(csrInput(seeds), { freq: 3 }),
      }),
      async ({ seed, ops, request }) => {
        const object = mutateObject(seeds.csrObjects[seed % seeds.csrObjects.length], ops) as { spec?: { request?: unknown } };
        if (request && object && typeof object === 'object' && object.spec && typeof object.spec === 'object') {
          object.spec.request = Buffer.from(pemOf('CERTIFICATE REQUEST', request)).toString('base64');
        }
        const csr = await validateCsrObject(object);
        invariant(isKeySpec(csr.publicKey.spec), 'a parsed request');
      },
    ) as FuzzTarget<never>,

    target(
      'protobuf.decodeProtobufCsr',
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc
            .record({ seed: fc.nat(), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), cut: fc.option(fc.nat()), splice: fc.option(fc.uint8Array({ maxLength: 16 })) })
            .map(({ seed, flips, cut, splice }) => {
              const bytes = Uint8Array.from(encodeProtobuf(seeds.csrObjects[seed % seeds.csrObjects.length] as unknown as Record<string, unknown>));
              for (const [at, xor] of flips) bytes[at % bytes.length]! ^= xor;
              const cutAt = cut === null ? bytes.length : cut % (bytes.length + 1);
              return splice === null ? bytes.subarray(0, cutAt) : concatBytes([bytes.subarray(0, cutAt), splice, bytes.subarray(cutAt)]);
            }),
        },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => concatBytes([Uint8Array.of(0x6b, 0x38, 0x73, 0), b])) },
        { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
      ),
      (bytes) => {
        const object = decodeProtobufCsr(bytes);
        // What is accepted survives a round trip.
        const again = decodeProtobufCsr(encodeProtobuf(object as unknown as Record<string, unknown>));
        invariant(JSON.stringify(again) === JSON.stringify(object), 'a decoded CSR object encodes and decodes to itself');
      },
    ) as FuzzTarget<never>,

    target(
      'cli.inspect',
      fc.tuple(
        fc.oneof(
          { weight: 4, arbitrary: pem.map((text) => Uint8Array.from(Buffer.from(text))) },
          { weight: 2, arbitrary: fc.array(fc.constantFrom(...seeds.pems), { minLength: 1, maxLength: 4 }).map((blocks) => Uint8Array.from(Buffer.from(blocks.join('')))) },
          { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
          { weight: 1, arbitrary: certificateDer },
        ),
        fc.boolean(),
      ),
      async ([content, json]) => {
        inspectDir ??= mkdtempSync(join(tmpdir(), 'kubepki-fuzz-'));
        const file = join(inspectDir, 'input.pem');
        writeFileSync(file, content);
        const result = await runCli('inspect', file, ...(json ? ['--json'] : []));
        invariant(result.code === 0 || result.code === 1, `exit code ${result.code}`);
        invariant(result.code === 0 ? result.out.length > 0 && result.err === '' : /^kubepki: ERR_[A-Z_]+: /.test(result.err), 'output or one error line');
        invariant(!/PRIVATE KEY-----|\bMII/.test(result.out), 'inspect never prints key material');
        if (result.code === 0 && json) JSON.parse(result.out);
      },
    ) as FuzzTarget<never>,
  ];
  return targets;
}

export { asToken };
