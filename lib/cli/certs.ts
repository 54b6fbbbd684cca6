// `kubepki certs`: the shared control-plane material as kubeadm's upload-certs carries it (the
// kube-system/kubeadm-certs Secret, encrypted with the certificate key), through a file.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { kubeconfigFlagConnection } from './kubeconfig-flag.js';
import { PkiError } from '../errors.js';
import { kubeRequest, type KubeConnection } from '../bootstrap/kube-client.js';
import { bootstrapTokenSecret, generateBootstrapToken } from '../bootstrap/token.js';
import { ioError, writeFileAtomic } from '../cluster/files.js';
import {
  createCertificateKey,
  restoreSharedCertificates,
  sharedCertificateManifest,
  sharedCertificateManifestData,
  sharedCertificateSecret,
  SHARED_CERTIFICATES_SECRET,
} from '../cluster/shared-certs.js';
import { JSON_OPTION, optional, printable, required, type Verb } from './io.js';

const SECRET = `${SHARED_CERTIFICATES_SECRET.namespace}/${SHARED_CERTIFICATES_SECRET.name}`;
const SECRETS = `/api/v1/namespaces/${SHARED_CERTIFICATES_SECRET.namespace}/secrets`;
const RBAC = `/apis/rbac.authorization.k8s.io/v1/namespaces/${SHARED_CERTIFICATES_SECRET.namespace}`;
/** kubeadm's KubeadmCertsClusterRoleName: the Role and RoleBinding that let bootstrap tokens read the Secret. */
const ROLE = 'kubeadm:kubeadm-certs';
/** kubeadm's NodeBootstrapTokenAuthGroup. */
const NODE_TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
/** kubeadm's DefaultCertTokenDuration: the token that owns the Secret, so the garbage collector removes both after it. */
const CERT_TOKEN_TTL_SECONDS = 2 * 3600;


/** POST, or PUT over an object of that name (kubeadm's apiclient.CreateOrUpdate*). */
async function createOrUpdate(connection: KubeConnection, collection: string, object: { metadata: { name: string; [field: string]: unknown }; [field: string]: unknown }): Promise<void> {
  try {
    await kubeRequest(connection, 'POST', collection, object);
  } catch (error) {
    if (!(error instanceof PkiError) || error.code !== 'ERR_ALREADY_EXISTS') throw error;
    await kubeRequest(connection, 'PUT', `${collection}/${object.metadata.name}`, object);
  }
}

/**
 * kubeadm's UploadCerts: a bootstrap token that cannot authenticate (no usages) and expires in 2 hours,
 * the Secret owned by the token's Secret (so the garbage collector deletes it with the token), and the
 * Role and RoleBinding that let kubeadm's node bootstrap tokens get it.
 */
async function uploadToApi(connection: KubeConnection, data: Record<string, string>): Promise<string> {
  const token = generateBootstrapToken();
  const tokenSecret = bootstrapTokenSecret(token, { ttlSeconds: CERT_TOKEN_TTL_SECONDS, usages: [], extraGroups: [], description: 'Proxy for managing TTL for the kubeadm-certs secret' });
  const created = await kubeRequest<{ metadata?: { name?: string; uid?: string } }>(connection, 'POST', SECRETS, tokenSecret);
  const uid = created?.metadata?.uid;
  if (typeof uid !== 'string' || uid === '') throw new PkiError('ERR_IO', `the API server answered the token Secret without a uid`, { field: connection.server });
  const ownerReferences = [{ apiVersion: 'v1', kind: 'Secret', name: tokenSecret.metadata.name, uid, controller: true, blockOwnerDeletion: true }];
  await createOrUpdate(connection, SECRETS, { apiVersion: 'v1', kind: 'Secret', metadata: { ...SHARED_CERTIFICATES_SECRET, ownerReferences }, type: 'Opaque', data });
  const rule = { verbs: ['get'], apiGroups: [''], resources: ['secrets'], resourceNames: [SHARED_CERTIFICATES_SECRET.name] };
  await createOrUpdate(connection, `${RBAC}/roles`, { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: ROLE, namespace: SHARED_CERTIFICATES_SECRET.namespace }, rules: [rule] });
  await createOrUpdate(connection, `${RBAC}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: ROLE, namespace: SHARED_CERTIFICATES_SECRET.namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ROLE },
    subjects: [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: NODE_TOKEN_GROUP }],
  });
  return tokenSecret.metadata.name;
}

/** The Secret's data from the API server; a missing Secret is ERR_NOT_FOUND saying it may have expired, as kubeadm says. */
async function downloadFromApi(connection: KubeConnection): Promise<Record<string, string>> {
  let secret: { data?: Record<string, string | null> } | undefined;
  try {
    secret = await kubeRequest(connection, 'GET', `${SECRETS}/${SHARED_CERTIFICATES_SECRET.name}`);
  } catch (error) {
    if (error instanceof PkiError && error.code === 'ERR_NOT_FOUND') throw new PkiError('ERR_NOT_FOUND', `the Secret ${SECRET} is not there; it might have expired (2 hours): run kubepki certs upload again`, { field: connection.server, cause: error });
    throw error;
  }
  return sharedCertificateManifestData(JSON.stringify({ kind: 'Secret', metadata: SHARED_CERTIFICATES_SECRET, data: secret?.data ?? {} }), SECRET);
}

export const certsVerb: Verb = {
  name: 'certs',
  summary: `kubeadm's upload-certs through a file: the shared CA and service-account files as the encrypted Secret ${SECRET}`,
  usage: [
    'kubepki certs certificate-key                     # a new certificate key (64 hex characters), as kubeadm certs certificate-key',
    '       kubepki certs upload --dir DIR --certificate-key KEY --out FILE|--kubeconfig FILE [--force]',
    `                                                  # the Secret ${SECRET} manifest (kubectl apply -f FILE), or the Secret`,
    '                                                  # itself with admin.conf, owned by a 2-hour token as kubeadm does',
    '       kubepki certs download --dir DIR --certificate-key KEY --from FILE|--kubeconfig FILE [--force] [--json]',
    '                                                  # decrypt the Secret (a manifest, kubectl get -o yaml, or the API server) into DIR',
  ].join('\n'),
  options: {
    dir: { type: 'string', value: 'DIR', description: 'the PKI directory: upload reads its shared CAs and service-account keys, download writes them', directory: 'created' },
    'certificate-key': { type: 'string', value: 'KEY', description: 'the 64 hex characters that encrypt the Secret (kubepki certs certificate-key makes one)' },
    out: { type: 'string', value: 'FILE', description: 'upload: write the Secret manifest to FILE' },
    from: { type: 'string', value: 'FILE', description: 'download: read the Secret from FILE (a manifest or kubectl get -o yaml)' },
    kubeconfig: { type: 'string', value: 'FILE', description: "upload or download the Secret through the API server of this kubeconfig (admin.conf)" },
    force: { type: 'boolean', description: 'upload: overwrite --out; download: replace files that differ' },
    json: JSON_OPTION,
  },
  arguments: [{ name: 'ACTION', description: 'what to do', values: ['certificate-key', 'upload', 'download'] }],
  example: ['kubepki certs upload --dir /etc/kubernetes --certificate-key "$(kubepki certs certificate-key)" --kubeconfig /etc/kubernetes/admin.conf'],
  async run({ values, positionals }, io) {
    const [action, ...extra] = positionals;
    if (extra.length) throw new PkiError('ERR_ARGUMENT', `unexpected argument "${printable(extra[0]!)}"`, { field: 'certs' });
    if (action === 'certificate-key') {
      io.out(createCertificateKey());
      return 0;
    }
    if (action === 'upload') {
      const dir = resolve(required(values, 'dir'));
      const key = required(values, 'certificate-key');
      const kubeconfig = optional(values, 'kubeconfig');
      const out = kubeconfig ? undefined : resolve(required(values, 'out'));
      if (kubeconfig && optional(values, 'out')) throw new PkiError('ERR_ARGUMENT', 'give --out or --kubeconfig, not both', { field: '--out' });
      const { data, empty } = await sharedCertificateSecret(dir, key);
      for (const dataKey of empty) io.err(`kubepki: warning: ${dataKey} is not in ${dir}: uploaded empty, as kubeadm does; the joining node must get it another way`);
      const files = `${Object.keys(data).length - empty.length} files encrypted with the certificate key`;
      if (out) {
        await writeFileAtomic({ path: out, content: sharedCertificateManifest(data), mode: 0o600 }, { overwrite: values.force === true });
        io.out(`wrote ${out} (Secret ${SECRET}, ${files})`);
      } else {
        const owner = await uploadToApi(await kubeconfigFlagConnection(resolve(kubeconfig!)), data);
        io.out(`stored the Secret ${SECRET} (${files}); it is deleted with its owner ${owner} in 2 hours`);
      }
      return 0;
    }
    if (action === 'download') {
      const dir = resolve(required(values, 'dir'));
      const key = required(values, 'certificate-key');
      const kubeconfig = optional(values, 'kubeconfig');
      if (kubeconfig && optional(values, 'from')) throw new PkiError('ERR_ARGUMENT', 'give --from or --kubeconfig, not both', { field: '--from' });
      let data: Record<string, string>;
      if (kubeconfig) data = await downloadFromApi(await kubeconfigFlagConnection(resolve(kubeconfig)));
      else {
        const from = resolve(required(values, 'from'));
        const text = await readFile(from, 'utf8').catch((cause: unknown) => Promise.reject(ioError(from, 'cannot be read', cause)));
        data = sharedCertificateManifestData(text, from);
      }
      const result = await restoreSharedCertificates(dir, data, key, { force: values.force === true });
      if (values.json) {
        io.out(JSON.stringify(result, null, 2));
        return 0;
      }
      for (const path of result.written) io.out(`wrote ${path}`);
      for (const path of result.unchanged) io.out(`unchanged ${path}`);
      for (const dataKey of result.empty) io.err(`kubepki: warning: ${dataKey} is empty in the Secret (the uploader did not have it): not written`);
      return 0;
    }
    throw new PkiError('ERR_ARGUMENT', action === undefined ? 'name an action: certificate-key, upload or download' : `unknown action "${printable(action)}"; one of certificate-key, upload, download`, { field: 'certs' });
  },
};
