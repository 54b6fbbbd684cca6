import { DEFAULT_NODE_TOKEN_GROUP } from './token.js';

interface ClusterRoleBinding {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'ClusterRoleBinding';
  metadata: { name: string };
  roleRef: { apiGroup: 'rbac.authorization.k8s.io'; kind: 'ClusterRole'; name: string };
  subjects: { apiGroup: 'rbac.authorization.k8s.io'; kind: 'Group'; name: string }[];
}

const binding = (name: string, role: string, group: string): ClusterRoleBinding => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'ClusterRoleBinding',
  metadata: { name },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
  subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
});

/**
 * The three bindings the TLS-bootstrap flow needs on a real cluster (docs/kubernetes-pki.md §7, kubeadm's
 * names): bootstrappers may create CSRs and have node-client CSRs auto-approved; nodes may have their
 * own renewals auto-approved.
 *
 * @category Bootstrap a node
 */
export function bootstrapRbacManifests(tokenGroup: string = DEFAULT_NODE_TOKEN_GROUP): ClusterRoleBinding[] {
  return [
    binding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', tokenGroup),
    binding('kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', tokenGroup),
    binding('kubeadm:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:nodes'),
  ];
}

interface NamespacedRbac {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'Role' | 'RoleBinding';
  metadata: { name: string; namespace: string };
  [field: string]: unknown;
}

const CLUSTER_INFO_READER = 'kubeadm:bootstrap-signer-clusterinfo';

/**
 * The Role and RoleBinding of kubeadm's bootstrap-token phase (clusterinfo.go) that let anonymous users GET
 * `kube-public/cluster-info`, which a joining node reads before it trusts anything (its content is checked by
 * the token's signature and the CA pin): nothing else in kube-public, no other verb.
 *
 * @category Bootstrap a node
 */
export function clusterInfoRbacManifests(): [NamespacedRbac, NamespacedRbac] {
  const metadata = { name: CLUSTER_INFO_READER, namespace: 'kube-public' };
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules: [{ apiGroups: [''], resources: ['configmaps'], resourceNames: ['cluster-info'], verbs: ['get'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CLUSTER_INFO_READER },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'system:anonymous' }],
    },
  ];
}
