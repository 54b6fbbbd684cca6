export { PkiError, isPkiError, type PkiErrorCode, type PkiErrorData, type PkiErrorOptions, type PkiErrorCertificate } from './errors.js';

export { type CryptoOptions } from './crypto/provider.js';
export {
  generateKeyPair,
  exportPrivateKeyPem,
  importPrivateKeyPem,
  exportPublicKeyPem,
  isKeySpec,
  type KeySpec,
  type KeyPair,
  type KeyOptions,
  type PrivateKeyFormat,
  type PublicKeyInput,
  type PublicKeyInfo,
} from './crypto/keys.js';
export { closePkcs11Tokens, generatePkcs11KeyPair, loadPkcs11KeyPair, type Pkcs11KeyReference, type Pkcs11Token } from './crypto/pkcs11.js';
export { type PemLabel, type PemBlock, type PemReadOptions } from './crypto/pem.js';

export { Certificate, type CertificateInput, type RawExtension } from './x509/certificate.js';
export { nodeSubject, type Subject } from './x509/names.js';
export { certificateIdentity, type CertificateIdentity } from './x509/identity.js';
export { type SanInput, type SanKind, type SubjectAltNames } from './x509/sans.js';

export { type CertificateProfile, type KeyUsageName, type ExtendedKeyUsageName, type SubjectRule, type SanRule } from './x509/profile.js';
export { issueCertificate, type IssueRequest, type Issuer } from './x509/issue.js';
export { signCertificate, type SelfSigner, type SignOptions } from './x509/issue.js';
export { templateFromProfile, type IssuanceTemplate, type ProfileTemplateRequest, type TemplateRules } from './x509/template.js';
export { issueCertificates, type BatchCsrRequest, type BatchRequest, type BatchIssueRequest, type BatchOptions, type BatchOutcome } from './x509/batch.js';
export { type ValidityOptions, type Validity } from './x509/validity.js';
export { type LintExpectation } from './x509/lint.js';
export type { TemplateLintExpectation } from './x509/lint.js';
export { createCsr, parseCsr, type CertificateSigningRequest, type CreateCsrRequest } from './x509/csr.js';
export { describeCertificate, type CertificateSummary } from './x509/describe.js';

export {
  PROFILES,
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

export { type ClusterConfig, type ResolvedClusterConfig } from './cluster/config.js';
export { clusterConfigFromKubeadm, type KubeadmConfig, type KubeadmConfigOptions, type KubeadmApiVersion } from './cluster/kubeadm-config.js';
export { planCluster, type ClusterPlan, type PlannedAuthority, type PlannedCertificate, type PlannedKubeconfig } from './cluster/plan.js';
export { layoutFile, type LayoutEntry } from './cluster/layout.js';
export { initPkiDirectory, type InitOptions, type InitResult } from './cluster/init.js';
export { stringifyKubeconfig, parseKubeconfig, kubeletKubeconfig, type Kubeconfig, type KubeconfigReadOptions } from './cluster/kubeconfig.js';
export { componentFlags, egressSelectorConfiguration, type ComponentFlags, type ComponentFlagsOptions } from './cluster/flags.js';
export { writeFileAtomic, type FileToWrite, type WriteFileAtomicOptions, type AtomicWriteFs } from './cluster/files.js';
export type { Change, ChangeKind } from './cluster/transaction.js';
export type { DirectoryLockOptions } from './cluster/lock.js';
export { loadPkiDirectory, type LoadedPki, type DirectoryProblem } from './cluster/directory.js';
export { checkExpiration, formatResidual, type ExpiryReport, type ExpiryRow } from './cluster/expiry.js';
export { renewCertificates, type RenewOptions } from './cluster/renew.js';
export { writeCertificateRequests, signCertificateRequests, type SignRequestsOptions } from './cluster/external.js';
export { revokeCertificates, type RevokeOptions, type RevokeResult } from './cluster/revoke.js';
export {
  createCertificateKey,
  sharedCertificateSecret,
  restoreSharedCertificates,
  type SharedCertificateSecret,
  type RestoreSharedCertificatesOptions,
  type RestoreSharedCertificatesResult,
} from './cluster/shared-certs.js';

export {
  generateBootstrapToken,
  parseBootstrapToken,
  formatBootstrapToken,
  bootstrapTokenSecret,
  memoryTokenStore,
  caPublicKeyPin,
  clusterInfoConfigMap,
  verifyClusterInfo,
  type BootstrapToken,
  type SecretObject,
  type TokenStore,
  type TokenSecretOptions,
  type UserInfo,
} from './bootstrap/token.js';
export { bootstrapRbacManifests, clusterInfoRbacManifests, type ClusterRoleBinding, type NamespacedRbac } from './bootstrap/rbac.js';
export { type KeyUsage, type CertificateSigningRequestObject, type CertificateSigningRequestCondition, type ConditionType, type ValidatedCsr } from './bootstrap/csr-object.js';

export {
  decideApproval,
  type ApprovalAuthorizer,
  type ApprovalDecision,
  type ApproverOptions,
  type NodeAddressLookup,
  type Requester,
  type ServingPolicy,
  type ServingPolicyOptions,
  type Cidr,
} from './bootstrap/approver.js';
export { signCsrObject, type SignerOptions, type SignOutcome, type SignerRules } from './bootstrap/signer.js';
export { type SigningPolicy } from './bootstrap/signing-policy.js';
export {
  memoryRegistry,
  type CsrRegistry,
  type CsrWriteOptions,
  type MemoryRegistry,
  type MemoryRegistryOptions,
  type WatchEvent,
  type WatchEventType,
  type WatchOptions,
} from './bootstrap/registry.js';
export { runWhileLeading, startApprover, startSigner, type Controller, type ControllerOptions, type SignerControllerOptions } from './bootstrap/controllers.js';
export { LeaderElector, type ElectionClock, type LeaderElectionOptions } from './bootstrap/leader-election.js';
export type { Lease, LeaseBackend, LeaseSpec } from './bootstrap/lease-lock.js';
export { startCsrCleaner, type CsrCleaner, type CsrCleanerOptions } from './bootstrap/cleaner.js';
export { type WorkerPool } from './workers/pool.js';
export { startBootstrapServer, type BootstrapServer, type BootstrapServerOptions, type RequestLogEntry } from './bootstrap/server.js';
export { connectionFromKubeconfig, kubeConnectionFromFile, kubeConnectionInCluster, type KubeConnection, type KubeconfigSource } from './bootstrap/kube-client.js';
export { listAndWatch, type ListWatchEventType, type ListWatchOptions, type ListedObject } from './bootstrap/kube-list-watch.js';
export { kubernetesRegistry } from './bootstrap/kube-registry.js';
export { nodeAddressesFromApi, staticNodeAddresses } from './bootstrap/node-addresses.js';
export {
  requestCertificate,
  bootstrapKubelet,
  requestServingCertificate,
  type RequestCertificateOptions,
  type KubeletBootstrapOptions,
  type ServingCertificateOptions,
  type ClientRenewalOptions,
} from './bootstrap/node.js';
export { directoryTokenStore } from './bootstrap/token-files.js';
export { discoverCluster, joinKubeconfig, type DiscoverClusterOptions, type DiscoveredCluster } from './bootstrap/discovery.js';
export { joinControlPlane, type JoinControlPlaneOptions, type JoinControlPlaneResult } from './bootstrap/control-plane-join.js';
export { storeCertificatePair, loadCurrentPair, type CertificateFileStoreOptions } from './bootstrap/store.js';

export { type CertificateTemplate, type Clock, type RotationManager, type RotationManagerOptions } from './bootstrap/rotation.js';
export { kubeletRotation, type KubeletCertificateKind, type KubeletRotation, type KubeletRotationOptions } from './bootstrap/kubelet-rotation.js';
export { startEmbeddedBootstrap, type EmbeddedBootstrap, type EmbeddedBootstrapOptions } from './bootstrap/embedded.js';
export { revocationListFile, type RevocationSource } from './bootstrap/revocation.js';
export { buildCaBundle, type CaBundle, type BundleOptions } from './x509/bundle.js';
export { loadAuthority, type Material } from './cluster/material.js';
export { verifyCertificate, checkName, type VerifyOptions, type VerifyResult } from './x509/verify.js';
export { crossCheckChain } from './x509/cross-check.js';
export { issueRevocationList, parseRevocationList, type RevocationList, type IssueRevocationListOptions } from './x509/crl.js';
export { writeClusterBundles, type BundleName } from './cluster/bundles.js';
export { clusterTrustBundleProblems, type ClusterTrustBundle, type ClusterTrustBundleVersion, type ClusterTrustBundleProblem } from './cluster/cluster-trust-bundle.js';
export { buildClusterTrustBundles, normaliseTrustBundle, writeClusterTrustBundleFiles, type NormalisedTrustBundle, type TrustBundleBuildOptions, type TrustBundleSigner } from './cluster/trust-bundles.js';
export { publishTrustBundles, type TrustBundlePublication, type PublishTrustBundleOptions } from './bootstrap/trust-bundle-publisher.js';
export { explainTlsError, type TlsMaterial, type VerifiedAgents, type VerifiedAgentOptions } from './agents/tls.js';
export {
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
export { auditSetup, type AuditReport, type AuditOptions, type PathReport, type PathStatus, type Finding } from './agents/audit.js';
export { rotateAuthority, type RotateAuthorityOptions, type RotationOptions, type RotationResult } from './cluster/rotation.js';
export { readRotation, type RotatableCa, type Rotation, type RotationPhase, type RotationState } from './cluster/rotation-state.js';
export type { ComponentName, FlagChange, PhaseSteps } from './cluster/rotation-steps.js';
