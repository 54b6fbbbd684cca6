// Valid inputs made by the library itself, which the mutators start from: certificates of every key type
// and SAN kind, CSRs (with their keys, to re-sign mutants), private keys in every encoding, SPKIs, a CRL,
// kubeconfigs, bootstrap tokens and their Secrets, CSR objects and a cluster-info ConfigMap.
import { KeyObject } from 'node:crypto';
import {
  bootstrapTokenSecret,
  caPublicKeyPin,
  clusterInfoConfigMap,
  createCertificateAuthority,
  createCsr,
  createIntermediateAuthority,
  exportPrivateKeyPem,
  generateBootstrapToken,
  generateKeyPair,
  issueCertificate,
  issueRevocationList,
  kubeletKubeconfig,
  nodeSubject,
  PROFILES,
  stringifyKubeconfig,
  type BootstrapToken,
  type Certificate,
  type CertificateSigningRequestObject,
  type KeyPair,
  type KeySpec,
  type PemLabel,
  type SecretObject,
} from '../../lib/index.js';
import { csrObject, SIGNERS } from '../../lib/bootstrap/csr-object.js';
import { exportSpki, privateKeyFormats } from '../../lib/crypto/keys.js';
import { readPemBlock } from '../../lib/crypto/pem.js';
import { children, contentOf, readElement } from '../../lib/crypto/der.js';
import { encodeTime } from '../../lib/x509/time.js';

export interface CsrSeed {
  readonly der: Uint8Array;
  /** The requester's key, to re-sign a mutated CertificationRequestInfo. */
  readonly key: KeyObject;
  readonly hash: string | null;
}

export interface Seeds {
  readonly certificates: readonly Certificate[];
  readonly certificateDers: readonly Uint8Array[];
  readonly csrs: readonly CsrSeed[];
  readonly csrDers: readonly Uint8Array[];
  readonly privateKeys: readonly { label: PemLabel; der: Uint8Array; pem: string }[];
  readonly privateKeyDers: readonly Uint8Array[];
  readonly spkis: readonly Uint8Array[];
  readonly crls: readonly Uint8Array[];
  readonly names: readonly Uint8Array[];
  readonly generalNames: readonly Uint8Array[];
  /** The Extensions SEQUENCE of each certificate. */
  readonly extensionLists: readonly Uint8Array[];
  /** Every extension value (the OCTET STRING contents). */
  readonly extensionValues: readonly Uint8Array[];
  readonly times: readonly Uint8Array[];
  /** Every DER seed above, for the generic DER targets. */
  readonly allDer: readonly Uint8Array[];
  /** PEM text of every certificate, CSR, key, public key and CRL. */
  readonly pems: readonly string[];
  readonly kubeconfigs: readonly string[];
  readonly tokens: readonly BootstrapToken[];
  readonly secrets: readonly SecretObject[];
  /** When the tokens are valid (before their expiry). */
  readonly now: Date;
  readonly csrObjects: readonly CertificateSigningRequestObject[];
  readonly clusterInfo: { readonly configMap: { data: Record<string, string> }; readonly token: BootstrapToken; readonly ca: Certificate; readonly pin: string };
}

const HASH: Record<KeySpec, string | null> = { 'ecdsa-p256': 'sha256', 'ecdsa-p384': 'sha384', 'rsa-2048': 'sha256', 'rsa-3072': 'sha256', 'rsa-4096': 'sha256', ed25519: null };

let seeds: Promise<Seeds> | undefined;

/** The seeds, made once per process (about a second: one RSA-2048 key). */
export function getSeeds(): Promise<Seeds> {
  seeds ??= makeSeeds();
  return seeds;
}

async function makeSeeds(): Promise<Seeds> {
  const specs: KeySpec[] = ['ecdsa-p256', 'ecdsa-p384', 'rsa-2048', 'ed25519'];
  const keys = new Map<KeySpec, KeyPair>();
  for (const spec of specs) keys.set(spec, await generateKeyPair(spec));
  const key = (spec: KeySpec): KeyPair => keys.get(spec)!;

  const ca = await createCertificateAuthority({ commonName: 'kubernetes', keyPair: await generateKeyPair('ecdsa-p256') });
  const rsaCa = await createCertificateAuthority({ commonName: 'rsa-root', keyPair: key('rsa-2048') });
  const intermediate = await createIntermediateAuthority({ issuer: ca, commonName: 'kubernetes-intermediate', keyPair: key('ecdsa-p384') });
  const certificates: Certificate[] = [ca.certificate, rsaCa.certificate, intermediate.certificate];
  certificates.push(
    await issueCertificate({
      profile: PROFILES.kubeletServing,
      subject: nodeSubject('node-1'),
      sans: { dns: ['node-1', 'node-1.cluster.local'], ips: ['10.0.0.11', 'fd00::11', '::ffff:10.0.0.12'] },
      publicKey: key('ecdsa-p256').publicKey,
      issuer: ca,
    }),
    await issueCertificate({
      profile: PROFILES.client,
      subject: { commonName: 'jane ü', organizations: ['system:masters', 'team-a'] },
      sans: { dns: ['*.example.com'], ips: ['192.168.1.1'], emails: ['jane@example.com'], uris: ['spiffe://cluster.local/ns/default/sa/jane'] },
      publicKey: key('ed25519').publicKey,
      issuer: intermediate,
    }),
    await issueCertificate({ profile: PROFILES.kubeletClient, subject: nodeSubject('node-2'), publicKey: key('rsa-2048').publicKey, issuer: rsaCa }),
    await issueCertificate({ profile: PROFILES.server, subject: { commonName: 'etcd' }, sans: { dns: ['etcd'], ips: ['127.0.0.1', '::1'] }, publicKey: key('ecdsa-p384').publicKey, issuer: ca }),
  );

  const csrs: CsrSeed[] = [];
  for (const spec of specs) {
    const keyPair = key(spec);
    const csr = await createCsr({
      subject: { commonName: `system:node:node-${spec}`, organizations: ['system:nodes'] },
      sans: spec === 'ecdsa-p256' ? { dns: ['node-1'], ips: ['10.0.0.1', '2001:db8::1'], emails: ['a@b.example'], uris: ['https://x.example/y'] } : { dns: [`node-${spec}`] },
      keyPair,
    });
    csrs.push({ der: csr.der, key: KeyObject.from(keyPair.privateKey), hash: HASH[spec] });
  }
  const plainCsr = await createCsr({ subject: { commonName: 'system:node:plain', organizations: ['system:nodes'] }, keyPair: key('ecdsa-p256') });
  csrs.push({ der: plainCsr.der, key: KeyObject.from(key('ecdsa-p256').privateKey), hash: 'sha256' });

  const privateKeys: { label: PemLabel; der: Uint8Array; pem: string }[] = [];
  for (const spec of specs) {
    for (const format of privateKeyFormats(spec)) {
      const pem = await exportPrivateKeyPem(key(spec), format);
      const block = readPemBlock(pem, ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY']);
      privateKeys.push({ label: block.label, der: block.der, pem });
    }
  }
  const spkis = await Promise.all(specs.map((spec) => exportSpki(key(spec).publicKey)));

  const crl = await issueRevocationList({ issuer: ca, revoked: certificates.slice(3).map((c) => ({ serialNumber: c.serialNumber })), thisUpdate: new Date('2025-01-01T00:00:00Z') });
  const emptyCrl = await issueRevocationList({ issuer: rsaCa, revoked: [] });

  const names = certificates.flatMap((c) => [c.subjectDer, c.issuerDer]);
  const extensionLists: Uint8Array[] = [];
  const extensionValues: Uint8Array[] = [];
  const generalNames: Uint8Array[] = [];
  for (const certificate of certificates) {
    const der = certificate.tbsDer;
    const explicit = children(der, readElement(der, 0, 'tbs'), 'tbs').find((e) => e.tag === 0xa3);
    if (explicit) extensionLists.push(der.slice(readElement(der, explicit.start, 'tbs').headerStart, explicit.end));
    for (const extension of certificate.extensions) {
      extensionValues.push(Uint8Array.from(extension.value));
      if (extension.oid === '2.5.29.17') generalNames.push(Uint8Array.from(extension.value));
    }
  }
  const times = [new Date('2024-02-29T12:34:56Z'), new Date('1950-01-01T00:00:00Z'), new Date('2049-12-31T23:59:59Z'), new Date('2050-01-01T00:00:00Z'), new Date('9999-12-31T23:59:59Z')].map(
    (date) => encodeTime(date),
  );

  const certificateDers = certificates.map((c) => c.der);
  const csrDers = csrs.map((c) => c.der);
  const privateKeyDers = privateKeys.map((k) => k.der);
  const allDer = [...certificateDers, ...csrDers, ...privateKeyDers, ...spkis, crl.der, emptyCrl.der, ...names, ...extensionLists, ...extensionValues, ...times].map((d) => Uint8Array.from(d));

  const pem = (label: string, der: Uint8Array): string => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
  const pems = [
    ...certificates.map((c) => c.pem),
    ...csrs.map((c) => pem('CERTIFICATE REQUEST', c.der)),
    ...privateKeys.map((k) => k.pem),
    ...spkis.map((s) => pem('PUBLIC KEY', s)),
    crl.pem,
  ];

  const token = generateBootstrapToken();
  const tokens = [token, generateBootstrapToken()];
  const now = new Date('2030-01-01T00:00:00Z');
  const secrets = [
    bootstrapTokenSecret(token, { now }),
    bootstrapTokenSecret(tokens[1]!, { now, usages: ['authentication'], extraGroups: ['system:bootstrappers:worker', 'system:bootstrappers:kubeadm:default-node-token'], description: 'fuzz' }),
  ];

  const server = 'https://10.0.0.10:6443';
  const clientLeaf = certificates[5]!;
  const kubeconfigs = [
    stringifyKubeconfig({ clusterName: 'kubernetes', server, caPem: ca.certificate.pem, userName: 'kubernetes-admin', clientCertificatePem: clientLeaf.pem, clientKeyPem: privateKeys[1]!.pem }),
    stringifyKubeconfig({ clusterName: 'kubernetes', server, caPem: ca.certificate.pem, userName: 'tls-bootstrap-token-user', token: `${token.id}.${token.secret}` }),
    stringifyKubeconfig({ clusterName: 'c', server: 'https://api.example.com', caFile: '/etc/kubernetes/pki/ca.crt', userName: 'u', clientCertificateFile: 'client.crt', clientKeyFile: 'client.key', contextName: 'ctx' }),
    kubeletKubeconfig({ server, caPem: ca.certificate.pem }),
  ];

  const requestPem = pem('CERTIFICATE REQUEST', csrs[0]!.der);
  const csrObjects = [
    csrObject('node-csr-1', requestPem, SIGNERS.kubeletServing, ['digital signature', 'server auth']),
    csrObject('node-csr-2', pem('CERTIFICATE REQUEST', plainCsr.der), SIGNERS.kubeApiserverClientKubelet, ['digital signature', 'client auth'], 3600),
    {
      ...csrObject('csr-3', requestPem, 'example.com/custom', ['digital signature', 'key encipherment', 'client auth']),
      status: { conditions: [{ type: 'Approved' as const, status: 'True' as const, reason: 'AutoApproved' }] },
    },
  ];

  const caOnly = stringifyKubeconfig({ clusterName: '', server, caPem: ca.certificate.pem, userName: '' });
  const clusterInfo = { configMap: clusterInfoConfigMap(caOnly, [token]), token, ca: ca.certificate, pin: caPublicKeyPin(ca.certificate) };

  return {
    certificates,
    certificateDers,
    csrs,
    csrDers,
    privateKeys,
    privateKeyDers,
    spkis,
    crls: [crl.der, emptyCrl.der],
    names,
    generalNames,
    extensionLists,
    extensionValues,
    times,
    allDer,
    pems,
    kubeconfigs,
    tokens,
    secrets,
    now,
    csrObjects,
    clusterInfo,
  };
}

/** The content of the first element of `der` (for seeds that are whole elements). */
export function contentOfTop(der: Uint8Array): Uint8Array {
  return contentOf(der, readElement(der, 0, 'seed'));
}
