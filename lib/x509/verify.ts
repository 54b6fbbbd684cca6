import { PkiError, type PkiErrorCode } from '../errors.js';
import { Certificate, type CertificateInput } from './certificate.js';
import { OID } from './extensions.js';
import { formatIp, parseIp } from './ip.js';
import { ACCEPTED_SIGNATURE_ALGORITHMS } from '../crypto/signature-algorithms.js';
import { checkNameConstraints, NAME_CONSTRAINTS_OID, nameConstraintsOf } from './name-constraints.js';
import { isRevoked, type RevocationList } from './crl.js';
import { verifySignature } from './signature.js';

/**
 * What a verification must prove, in one value (like Go's x509.VerifyOptions).
 *
 * @category Verify and audit
 */
export interface VerifyOptions {
  /** Trust anchors: certificates, or PEM bundles. Required: there is no system trust store fallback. */
  roots: readonly (CertificateInput | readonly Certificate[])[];
  /** Untrusted intermediates that may complete the chain. */
  intermediates?: readonly (CertificateInput | readonly Certificate[])[];
  /** Required extended key usage: server auth, client auth, or any. Default `server`. */
  purpose?: 'server' | 'client' | 'any';
  /** A DNS name or an IP address the leaf must carry as a SAN (the CN is ignored, as in Go). */
  name?: string;
  /** Default: now. */
  now?: Date;
  /** Revocation lists from the CAs of the chain (kubepki's CRLs for decommissioned nodes). */
  crls?: readonly RevocationList[];
  /**
   * Longest chain accepted, leaf and root included. Self-issued intermediates (key rollovers under one
   * name) are not counted, as RFC 5280 6.1.4(l) does not count them against a path length. Default 10.
   */
  maxDepth?: number;
}

/**
 * What verifyCertificate returns when the certificate verifies.
 *
 * @category Verify and audit
 */
export interface VerifyResult {
  /** The chain found, leaf first, trust anchor last. */
  readonly chain: readonly Certificate[];
}

// Go's crypto/x509 gives up after 100 signature checks in one verification (maxChainSignatureChecks).
const MAX_SIGNATURE_CHECKS = 100;
const MAX_CANDIDATES = 1000;

/** Throws the PkiError of a verification refusing `certificate`, which it carries (like Go's CertificateInvalidError). */
export const refuseCertificate = (code: PkiErrorCode, reason: string, certificate: Certificate): never => {
  // Only the name, serial and bytes: a refused certificate may have extensions that do not parse.
  const subject = [`CN=${certificate.subject.commonName}`, ...(certificate.subject.organizations ?? []).map((o) => `O=${o}`)].join(', ');
  throw new PkiError(code, reason, { field: `CN=${certificate.subject.commonName}`, certificate: { subject, serialNumber: certificate.serialNumber, pem: certificate.pem } });
};

/**
 * Verifies a certificate the way Go's crypto/x509 does (the verifier of kube-apiserver, the kubelet and
 * etcd): leaf validity period, the requested name against the SANs only, a chain to one of the roots in
 * which every issuer is a valid CA allowed to sign (basicConstraints, keyCertSign, path length, name
 * constraints, no SHA-1), then the purpose along the whole chain, then revocation. Rejections are
 * PkiErrors: ERR_EXPIRED, ERR_NAME_MISMATCH, ERR_UNKNOWN_AUTHORITY, ERR_INVALID_CHAIN, ERR_PURPOSE, ERR_REVOKED,
 * each carrying the certificate at fault as `certificate` (the leaf, or the CA of the chain that broke it).
 *
 * @category Verify and audit
 */
export function verifyCertificate(input: CertificateInput, options: VerifyOptions): VerifyResult {
  const leaf = Certificate.from(input, 'certificate');
  const time = options.now ?? new Date();
  const roots = flatten(options.roots, 'roots');
  if (roots.length === 0) throw new PkiError('ERR_ARGUMENT', 'at least one root is required; kubepki never falls back to the system trust store', { field: 'roots' });
  const intermediates = flatten(options.intermediates ?? [], 'intermediates');
  const leafProblem = unusable(leaf);
  if (leafProblem) refuseCertificate(leafProblem.code, leafProblem.message, leaf);
  checkValidityPeriod(leaf, time);
  if (options.name !== undefined) checkName(leaf, options.name);
  const chains = buildChains(leaf, roots, intermediates, time, options.maxDepth ?? 10);
  const purpose = options.purpose ?? 'server';
  const chain = chains.find((candidate) => chainAllows(candidate, purpose));
  if (!chain) return refuseCertificate('ERR_PURPOSE', `the certificate chain does not allow ${purpose === 'any' ? 'any' : purpose} authentication`, leaf);
  for (const crl of options.crls ?? []) {
    for (let i = 0; i < chain.length - 1; i++) {
      if (isRevoked(chain[i]!, chain[i + 1]!, crl, time)) refuseCertificate('ERR_REVOKED', `serial ${chain[i]!.serialNumber} is revoked by its CA`, chain[i]!);
    }
  }
  return { chain };
}

/**
 * Every chain from `leaf` up to one of `roots` through `intermediates` in which each issuer may sign the
 * link below it, or the refusal that explains why there is none.
 */
function buildChains(leaf: Certificate, roots: readonly Certificate[], intermediates: readonly Certificate[], time: Date, maxDepth: number): Certificate[][] {
  const rootKeys = new Set(roots.map(derKey));
  if (rootKeys.has(derKey(leaf))) return [[leaf]];
  const chains: Certificate[][] = [];
  let reason: { code: PkiErrorCode; message: string; certificate: Certificate } | undefined;
  // A bundle of many CAs cross-signing under one name could make the search explore paths without end: as
  // Go bounds its signature checks per verification, so does kubepki (and the candidates it looks at).
  const budget = { signatureChecks: 0, candidates: 0, gaveUp: false };
  const extend = (chain: Certificate[]): void => {
    const current = chain[chain.length - 1]!;
    if (rootKeys.has(derKey(current))) return void chains.push(chain);
    const depth = chain.filter((certificate, i) => i === 0 || !certificate.isSelfIssued).length;
    for (const candidate of [...roots, ...intermediates]) {
      if (budget.gaveUp) return;
      if (depth + (candidate.isSelfIssued && !rootKeys.has(derKey(candidate)) ? 0 : 1) > maxDepth) continue;
      if (chain.some((c) => derKey(c) === derKey(candidate)) || !Buffer.from(candidate.subjectDer).equals(current.issuerDer)) continue;
      if (++budget.candidates > MAX_CANDIDATES || budget.signatureChecks >= MAX_SIGNATURE_CHECKS) return void (budget.gaveUp = true);
      const akid = current.authorityKeyId;
      const skid = candidate.subjectKeyId;
      if (akid && skid && !Buffer.from(akid).equals(skid)) continue;
      const problem = parentProblem(candidate, chain, time);
      if (problem) {
        reason ??= { ...problem, certificate: candidate };
        continue;
      }
      if (!ACCEPTED_SIGNATURE_ALGORITHMS.has(current.signatureAlgorithmOid)) {
        reason ??= { code: 'ERR_INVALID_CHAIN', message: `signature algorithm ${current.signatureAlgorithmOid} is insecure (SHA-1 or weaker)`, certificate: current };
        continue;
      }
      budget.signatureChecks++;
      if (signedBy(current, candidate)) extend([...chain, candidate]);
    }
  };
  extend([leaf]);
  if (chains.length > 0) return chains;
  if (budget.gaveUp) refuseCertificate('ERR_INVALID_CHAIN', `no chain found within ${MAX_SIGNATURE_CHECKS} signature checks and ${MAX_CANDIDATES} candidates (too many CAs share the names of this chain)`, leaf);
  if (reason) refuseCertificate(reason.code, reason.message, reason.certificate);
  return refuseCertificate('ERR_UNKNOWN_AUTHORITY', `signed by unknown authority (issuer CN=${leaf.issuer.commonName})`, leaf);
}

function flatten(inputs: readonly (CertificateInput | readonly Certificate[])[], field: string): Certificate[] {
  return inputs.flatMap((input, i) =>
    Array.isArray(input) ? [...(input as readonly Certificate[])] : typeof input === 'string' ? Certificate.fromPemBundle(input, `${field}[${i}]`) : [Certificate.from(input as CertificateInput, `${field}[${i}]`)],
  );
}

const derKeys = new WeakMap<Certificate, string>();

/** A certificate's identity (its DER bytes as text), computed once per Certificate object. */
function derKey(certificate: Certificate): string {
  let key = derKeys.get(certificate);
  if (key === undefined) derKeys.set(certificate, (key = Buffer.from(certificate.der.buffer, certificate.der.byteOffset, certificate.der.byteLength).toString('latin1')));
  return key;
}

function checkValidityPeriod(certificate: Certificate, time: Date): void {
  if (time < certificate.notBefore) refuseCertificate('ERR_EXPIRED', `not valid before ${certificate.notBefore.toISOString()}`, certificate);
  if (time > certificate.notAfter) refuseCertificate('ERR_EXPIRED', `expired at ${certificate.notAfter.toISOString()}`, certificate);
}

/** Why `candidate` cannot sign the next link of `chain`, or undefined (Go's isValid for CA certificates). */
function parentProblem(candidate: Certificate, chain: readonly Certificate[], time: Date): { code: PkiErrorCode; message: string } | undefined {
  const problem = unusable(candidate);
  if (problem) return { code: problem.code, message: `CA CN=${candidate.subject.commonName} ${problem.message}` };
  if (time < candidate.notBefore || time > candidate.notAfter) return { code: 'ERR_EXPIRED', message: `CA CN=${candidate.subject.commonName} is expired or not yet valid` };
  const constraints = candidate.basicConstraints;
  if (!constraints?.isCA) return { code: 'ERR_INVALID_CHAIN', message: `CN=${candidate.subject.commonName} is not a CA (basicConstraints cA is not set)` };
  const usages = candidate.extension(OID.keyUsage) ? candidate.keyUsages : undefined;
  if (usages && !usages.includes('keyCertSign')) return { code: 'ERR_INVALID_CHAIN', message: `CA CN=${candidate.subject.commonName} lacks the keyCertSign key usage` };
  // RFC 5280 6.1.4(l): a self-issued intermediate (a key rollover under the same name) does not count.
  const intermediatesBelow = chain.slice(1).filter((certificate) => !certificate.isSelfIssued).length;
  if (constraints.pathLength !== undefined && intermediatesBelow > constraints.pathLength) {
    return { code: 'ERR_INVALID_CHAIN', message: `CA CN=${candidate.subject.commonName} allows ${constraints.pathLength} intermediate(s) below it, the chain has ${intermediatesBelow}` };
  }
  const violation = checkNameConstraints(candidate, chain);
  if (violation) return { code: 'ERR_NAME_CONSTRAINTS', message: violation };
  return undefined;
}

// The extensions verification reads, or (as Go's crypto/x509) may safely ignore when critical: key usage,
// extended key usage, basic constraints, SANs, name constraints, the key identifiers, certificate policies,
// CRL distribution points and authority information access. Any other critical extension makes the
// certificate unusable (RFC 5280 4.2), wherever it stands in the chain.
const PROCESSED_EXTENSIONS: ReadonlySet<string> = new Set([
  OID.keyUsage,
  OID.extKeyUsage,
  OID.basicConstraints,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  NAME_CONSTRAINTS_OID,
  '2.5.29.32', // certificatePolicies
  '2.5.29.31', // cRLDistributionPoints
  '1.3.6.1.5.5.7.1.1', // authorityInfoAccess
]);

const AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
const EMPTY_SEQUENCE = Buffer.from([0x30, 0x00]);

/** What makes a certificate unusable before anything is checked, as Go 1.24's parser refuses it (RFC 5280 4.1.2.2, 4.2). */
function malformed(certificate: Certificate): string | undefined {
  const seen = new Set<string>();
  for (const { oid, critical, value } of certificate.extensions) {
    if (seen.has(oid)) return `has the extension ${oid} twice`;
    seen.add(oid);
    if (critical && (oid === OID.authorityKeyIdentifier || oid === OID.subjectKeyIdentifier || oid === AUTHORITY_INFO_ACCESS)) return `marks the non-critical extension ${oid} critical`;
    if (oid === AUTHORITY_INFO_ACCESS && EMPTY_SEQUENCE.equals(value)) return 'has an empty authority information access';
  }
  // RFC 5280 4.1.2.2: a serial number is positive (Go refuses a negative one since 1.23).
  if ((certificate.serialBytes[0] ?? 0) & 0x80) return 'has a negative serial number';
  const constraints = nameConstraintsOf(certificate);
  return typeof constraints === 'string' ? constraints : undefined;
}

/** Why a certificate cannot stand anywhere in a chain, before any link is checked. */
function unusable(certificate: Certificate): { code: PkiErrorCode; message: string } | undefined {
  const broken = malformed(certificate);
  if (broken) return { code: 'ERR_MALFORMED_CERTIFICATE', message: broken };
  const unprocessed = unprocessedCriticalExtension(certificate);
  return unprocessed ? { code: 'ERR_CRITICAL_EXTENSION', message: unprocessed } : undefined;
}

function unprocessedCriticalExtension(certificate: Certificate): string | undefined {
  const unknown = certificate.extensions.find((e) => e.critical && !PROCESSED_EXTENSIONS.has(e.oid));
  if (unknown) return `has the critical extension ${unknown.oid}, which kubepki does not process`;
  // As Go: critical name constraints on a form it does not check (a directoryName, say) cannot be honoured.
  const constraints = nameConstraintsOf(certificate);
  if (typeof constraints === 'object' && constraints.unhandled && certificate.extension(NAME_CONSTRAINTS_OID)?.critical) {
    return 'has critical name constraints on a name form kubepki does not check (only DNS, IP, email and URI)';
  }
  return undefined;
}

function signedBy(child: Certificate, parent: Certificate): boolean {
  return verifySignature(child.signatureAlgorithmOid, parent.spki, child.tbsDer, child.signatureValue);
}

/** Go's checkChainForKeyUsage: a certificate without EKU, or with anyExtendedKeyUsage, allows everything. */
function chainAllows(chain: readonly Certificate[], purpose: 'server' | 'client' | 'any'): boolean {
  if (purpose === 'any') return true;
  return chain.every((certificate) => {
    const ext = certificate.extension(OID.extKeyUsage);
    if (!ext) return true;
    const named = certificate.extendedKeyUsages;
    return named.includes('any') || named.includes(purpose === 'server' ? 'serverAuth' : 'clientAuth');
  });
}

/**
 * Go's VerifyHostname with the CN ignored: an IP matches IP SANs; a name matches DNS SANs, `*.` covering one label.
 *
 * @category Verify and audit
 */
export function checkName(certificate: Certificate, name: string): void {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  const ip = parseIp(bare);
  const sans = certificate.sans;
  if (ip) {
    const wanted = formatIp(ip);
    if (sans.ips.some((candidate) => formatIp(parseIp(candidate) ?? new Uint8Array()) === wanted)) return;
    refuseCertificate('ERR_NAME_MISMATCH', sans.ips.length ? `valid for ${sans.ips.join(', ')}, not ${wanted}` : `has no IP SANs, so it is not valid for ${wanted}`, certificate);
  }
  const host = bare.toLowerCase().replace(/\.$/, '');
  const matches = (pattern: string): boolean => {
    const p = pattern.toLowerCase().replace(/\.$/, '');
    if (p.startsWith('*.')) {
      const rest = host.indexOf('.');
      return rest > 0 && host.slice(rest + 1) === p.slice(2);
    }
    return p === host;
  };
  if (sans.dns.some(matches)) return;
  refuseCertificate('ERR_NAME_MISMATCH', sans.dns.length ? `valid for ${sans.dns.join(', ')}, not ${host}` : `has no DNS SANs (the CN is not a host name), so it is not valid for ${host}`, certificate);
}
