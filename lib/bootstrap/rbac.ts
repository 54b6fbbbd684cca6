import { DEFAULT_NODE_TOKEN_GROUP } from './token.js';

/**
 * An rbac.authorization.k8s.io/v1 ClusterRoleBinding that grants a ClusterRole to one group, as
 * bootstrapRbacManifests writes it.
 *
 * @category Bootstrap a node
 */
export interface ClusterRoleBinding {
  /** Always rbac.authorization.k8s.io/v1. */
  apiVersion: 'rbac.authorization.k8s.io/v1';
  /** Always ClusterRoleBinding. */
  kind: 'ClusterRoleBinding';
  /** The binding's name. */
  metadata: {
    /** The binding's name, e.g. kubeadm:kubelet-bootstrap. */
    name: string;
  };
  /** The ClusterRole granted. */
  roleRef: {
    /** Always rbac.authorization.k8s.io. */
    apiGroup: 'rbac.authorization.k8s.io';
    /** Always ClusterRole. */
    kind: 'ClusterRole';
    /** The ClusterRole's name, e.g. system:node-bootstrapper. */
    name: string;
  };
  /** The groups it is granted to (one). */
  subjects: {
    /** Always rbac.authorization.k8s.io. */
    apiGroup: 'rbac.authorization.k8s.io';
    /** Always Group. */
    kind: 'Group';
    /** The group's name, e.g. system:bootstrappers:kubeadm:default-node-token or system:nodes. */
    name: string;
  }[];
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

/**
 * An rbac.authorization.k8s.io/v1 Role or RoleBinding, as clusterInfoRbacManifests writes them (its rules,
 * roleRef and subjects as further fields).
 *
 * @category Bootstrap a node
 */
export interface NamespacedRbac {
  /** Always rbac.authorization.k8s.io/v1. */
  apiVersion: 'rbac.authorization.k8s.io/v1';
  /** Role or RoleBinding. */
  kind: 'Role' | 'RoleBinding';
  /** The object's name and namespace. */
  metadata: {
    /** The name, e.g. kubeadm:bootstrap-signer-clusterinfo. */
    name: string;
    /** The namespace, kube-public. */
    namespace: string;
  };
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
