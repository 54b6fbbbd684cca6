export { PkiError, isPkiError, PKI_ERROR_CODES, type PkiErrorCode, type PkiErrorData, type PkiErrorOptions, type PkiErrorCertificate } from './errors.js';

export { type CryptoOptions } from './crypto/provider.js';
export {
  KEY_SPECS,
  DEFAULT_KEY_SPEC,
  generateKeyPair,
  exportPrivateKeyPem,
  privateKeyFormats,
  importPrivateKeyPem,
  exportPublicKeyPem,
  exportSpki,
  publicKeyInfo,
  keySpecOfSpki,
  isKeySpec,
  type KeySpec,
  type KeyPair,
  type KeyOptions,
  type PrivateKeyFormat,
  type PublicKeyInput,
  type PublicKeyInfo,
} from './crypto/keys.js';
export {
  closePkcs11Tokens,
  findPkcs11KeyPair,
  formatPkcs11Reference,
  generatePkcs11KeyPair,
  loadPkcs11KeyPair,
  openPkcs11Token,
  parsePkcs11Reference,
  validatePkcs11Reference,
  type Pkcs11KeyReference,
  type Pkcs11Token,
} from './crypto/pkcs11.js';
export { PEM_LABELS, readPemBlocks, readPemBlock, encodePem, type PemLabel, type PemBlock, type PemReadOptions } from './crypto/pem.js';

export { Certificate, type CertificateInput, type RawExtension } from './x509/certificate.js';
export { validateSubject, nodeSubject, isDnsName, isWildcardDnsName, type Subject } from './x509/names.js';
export { certificateIdentity, type CertificateIdentity } from './x509/identity.js';
export { normalizeSans, sansFromHosts, type SanInput, type SanKind, type SubjectAltNames } from './x509/sans.js';
export { parseIp, formatIp, normalizeIp } from './x509/ip.js';
export {
  KEY_USAGES,
  EXTENDED_KEY_USAGE_OIDS,
  expectedKeyUsages,
  checkProfileRequest,
  type CertificateProfile,
  type KeyUsageName,
  type ExtendedKeyUsageName,
  type SubjectRule,
  type SanRule,
} from './x509/profile.js';
export { issueCertificate, type IssueRequest, type Issuer } from './x509/issue.js';
export { signCertificate, type SelfSigner, type SignOptions } from './x509/issue.js';
export { templateFromProfile, type IssuanceTemplate, type ProfileTemplateRequest, type TemplateRules } from './x509/template.js';
export { issueCertificates, type BatchCsrRequest, type BatchRequest, type BatchIssueRequest, type BatchOptions, type BatchOutcome } from './x509/batch.js';
export { computeValidity, DEFAULT_BACKDATE_SECONDS, type ValidityOptions, type Validity } from './x509/validity.js';
export { lintCertificate, lintProblems, type LintExpectation } from './x509/lint.js';
export type { TemplateLintExpectation } from './x509/lint.js';
export { createCsr, parseCsr, type CertificateSigningRequest, type CreateCsrRequest } from './x509/csr.js';
export { describeCertificate, formatSans, type CertificateSummary } from './x509/describe.js';

export {
  PROFILES,
  PROFILE_LIST,
  profileByName,
  LEAF_LIFETIME_SECONDS,
  CA_LIFETIME_SECONDS,
  type ProfileKey,
  type CertificateKind,
  type KindName,
  type CertificateName,
  type DirectoryAuthorityName,
  type AuthorityName,
} from './cluster/kinds.js';
export {
  createCertificateAuthority,
  createIntermediateAuthority,
  type CertificateAuthority,
  type CreateAuthorityOptions,
  type CreateIntermediateOptions,
} from './cluster/ca.js';

export { resolveClusterConfig, firstServiceIp, type ClusterConfig, type ResolvedClusterConfig } from './cluster/config.js';
export { planCluster, apiServerSans, type ClusterPlan, type PlannedAuthority, type PlannedCertificate, type PlannedKubeconfig } from './cluster/plan.js';
export { AUTHORITY_LAYOUT, CERTIFICATE_LAYOUT, SERVICE_ACCOUNT_PATHS, layoutEntry, layoutFile, type LayoutEntry } from './cluster/layout.js';
export { initPkiDirectory, type InitOptions, type InitResult } from './cluster/init.js';
export { stringifyKubeconfig, parseKubeconfig, kubeletKubeconfig, type Kubeconfig, type KubeconfigReadOptions } from './cluster/kubeconfig.js';
export { componentFlags, egressSelectorConfiguration, type ComponentFlags, type ComponentFlagsOptions } from './cluster/flags.js';
export { writeFileAtomic, type FileToWrite } from './cluster/files.js';
export { loadPkiDirectory, type LoadedPki, type DirectoryProblem } from './cluster/directory.js';
export { checkExpiration, formatResidual, type ExpiryReport, type ExpiryRow } from './cluster/expiry.js';
export { renewCertificates, type RenewOptions } from './cluster/renew.js';
export { writeCertificateRequests, signCertificateRequests, type SignRequestsOptions } from './cluster/external.js';
export { revokeCertificates, type RevokeOptions, type RevokeResult } from './cluster/revoke.js';

export {
  generateBootstrapToken,
  parseBootstrapToken,
  formatBootstrapToken,
  bootstrapTokenSecret,
  memoryTokenStore,
  authenticateBootstrapToken,
  caPublicKeyPin,
  detachedJws,
  verifyDetachedJws,
  clusterInfoConfigMap,
  verifyClusterInfo,
  BOOTSTRAPPERS_GROUP,
  DEFAULT_NODE_TOKEN_GROUP,
  type BootstrapToken,
  type SecretObject,
  type TokenStore,
  type TokenSecretOptions,
  type UserInfo,
} from './bootstrap/token.js';
export { bootstrapRbacManifests } from './bootstrap/rbac.js';
export {
  KNOWN_USAGES,
  SIGNERS,
  validateCsrObject,
  validateConditions,
  signerNameProblem,
  hasCondition,
  csrObject,
  type KeyUsage,
  type CertificateSigningRequestObject,
  type CertificateSigningRequestCondition,
  type ConditionType,
} from './bootstrap/csr-object.js';
export { kubeletClientProblems, kubeletServingProblems, apiserverClientProblems } from './bootstrap/kubelet-rules.js';
export {
  decideApproval,
  defaultApprovalAuthorizer,
  resolveServingPolicy,
  servingPolicyProblems,
  type ApprovalAuthorizer,
  type ApprovalDecision,
  type ApproverOptions,
  type NodeAddressLookup,
  type Requester,
  type ServingPolicy,
  type ServingPolicyOptions,
} from './bootstrap/approver.js';
export { signCsrObject, IN_TREE_SIGNER_RULES, type SignerOptions, type SignOutcome, type SignerRules } from './bootstrap/signer.js';
export {
  signingPolicy,
  templateFromCsr,
  x509Usages,
  unknownUsages,
  MIN_LIFETIME_SECONDS,
  DEFAULT_MAX_LIFETIME_SECONDS,
  SHORT_LIFETIME_SECONDS,
  type SigningPolicy,
} from './bootstrap/signing-policy.js';
export { memoryRegistry, DEFAULT_MAX_PENDING_PER_REQUESTER, type CsrRegistry, type MemoryRegistry, type MemoryRegistryOptions, type WatchEvent, type WatchEventType } from './bootstrap/registry.js';
export { startApprover, startSigner, warnControllerError, type Controller, type SignerControllerOptions } from './bootstrap/controllers.js';
export { csrCleanupReason, startCsrCleaner, CSR_CLEANER_DEFAULTS, type CsrCleaner, type CsrCleanerOptions } from './bootstrap/cleaner.js';
export { createWorkerPool, defaultWorkerCount, type WorkerPool } from './workers/pool.js';
export { startBootstrapServer, type BootstrapServer, type BootstrapServerOptions, type RequestLogEntry } from './bootstrap/server.js';
export { connectionFromKubeconfig, kubeRequest, kubeWatch, kubernetesRegistry, type KubeConnection } from './bootstrap/kube-client.js';
export { nodeAddressesFromApi, staticNodeAddresses, addressesOf } from './bootstrap/node-addresses.js';
export { nodeCsrName, requestCertificate, waitForCertificate, bootstrapKubelet, requestServingCertificate, renewClientCertificate, type RequestCertificateOptions, type KubeletBootstrapOptions, type ServingCertificateOptions, type ClientRenewalOptions } from './bootstrap/node.js';
export { directoryTokenStore, saveTokenSecret, tokenFolder } from './bootstrap/token-files.js';
export { storeCertificatePair, loadCurrentPair, type CertificateFileStoreOptions } from './bootstrap/store.js';
export { endpointServingCertificate } from './bootstrap/endpoint-certificate.js';
export { rotationDeadline, matchesTemplate, RotationManager, systemClock, type CertificateTemplate, type Clock, type RotationManagerOptions } from './bootstrap/rotation.js';
export { kubeletRotation, type KubeletCertificateKind, type KubeletRotation, type KubeletRotationOptions } from './bootstrap/kubelet-rotation.js';
export { startEmbeddedBootstrap, type EmbeddedBootstrap, type EmbeddedBootstrapOptions } from './bootstrap/embedded.js';
export { revocationListFile, type RevocationSource } from './bootstrap/revocation.js';
export { buildCaBundle, type CaBundle, type BundleOptions } from './x509/bundle.js';
export { loadAuthority, issuerOf } from './cluster/material.js';
export { verifyCertificate, checkName, type VerifyOptions, type VerifyResult } from './x509/verify.js';
export { crossCheckChain } from './x509/cross-check.js';
export { issueRevocationList, parseRevocationList, isRevoked, type RevocationList, type IssueRevocationListOptions } from './x509/crl.js';
export { BUNDLES, clusterBundles, writeClusterBundles, type BundleName } from './cluster/bundles.js';
export { verifiedAgents, checkServerIdentity, explainTlsError, watchedFile, type TlsMaterial, type VerifiedAgents, type VerifiedAgentOptions } from './agents/tls.js';
export {
  apiserverAgentsFromKubeconfig,
  kubeletToApiserver,
  componentToApiserver,
  podToApiserver,
  apiserverToKubelet,
  apiserverToService,
  konnectivityAgentToServer,
  apiserverToKonnectivity,
  apiserverToEtcd,
  type PathAgents,
  type PodToApiserverOptions,
  type ApiserverToKubeletOptions,
  type ApiserverToServiceOptions,
  type MutualTlsOptions,
} from './agents/paths.js';
export { auditSetup, parseFlags, type AuditReport, type AuditOptions, type PathReport, type PathStatus, type Finding } from './agents/audit.js';
export { rotateClusterCa, type RotationPhase, type RotationResult, type RotationState } from './cluster/rotation.js';
