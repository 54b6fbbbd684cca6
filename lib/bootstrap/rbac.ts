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
 * The three bindings the TLS-bootstrap flow needs on a real cluster (kubernetes-pki.md §7, kubeadm's
 * names): bootstrappers may create CSRs and have node-client CSRs auto-approved; nodes may have their
 * own renewals auto-approved.
 */
export function bootstrapRbacManifests(tokenGroup: string = DEFAULT_NODE_TOKEN_GROUP): ClusterRoleBinding[] {
  return [
    binding('kubeadm:kubelet-bootstrap', 'system:node-bootstrapper', tokenGroup),
    binding('kubeadm:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', tokenGroup),
    binding('kubeadm:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:nodes'),
  ];
}
