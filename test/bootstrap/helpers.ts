import {
  createCsr,
  generateKeyPair,
  nodeSubject,
  type CertificateSigningRequestObject,
  type KeyPair,
  type KeyUsage,
  type SanInput,
  type Subject,
} from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import * as x509 from '../helpers/peculiar.js';

let sharedKey: Promise<KeyPair> | undefined;
export const nodeKey = (): Promise<KeyPair> => (sharedKey ??= generateKeyPair());

/** A v1 CSR object as the API server stores it: spec.username and groups filled from the requester. */
export async function kubeletCsr(options: {
  name?: string;
  subject?: Subject;
  sans?: SanInput;
  signerName?: string;
  usages?: KeyUsage[];
  username?: string;
  groups?: string[];
  expirationSeconds?: number;
  keyPair?: KeyPair;
  requestCa?: boolean;
}): Promise<CertificateSigningRequestObject> {
  const keyPair = options.keyPair ?? (await nodeKey());
  const subject = options.subject ?? nodeSubject('node-1');
  let pem: string;
  if (options.requestCa) {
    const built = await x509.Pkcs10CertificateRequestGenerator.create({
      name: `CN=${subject.commonName}, O=${(subject.organizations ?? [])[0] ?? ''}`,
      keys: { privateKey: keyPair.privateKey, publicKey: keyPair.publicKey },
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as Algorithm,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
    });
    pem = built.toString('pem');
  } else {
    pem = (await createCsr({ keyPair, subject, sans: options.sans })).pem;
  }
  const object = csrObject(options.name ?? 'csr-1', pem, options.signerName ?? 'kubernetes.io/kube-apiserver-client-kubelet', options.usages ?? ['digital signature', 'client auth'], options.expirationSeconds);
  object.spec.username = options.username ?? 'system:bootstrap:abcdef';
  object.spec.groups = options.groups ?? ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated'];
  return object;
}

export function approved(csr: CertificateSigningRequestObject): CertificateSigningRequestObject {
  return { ...csr, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'Test' }] } };
}
