import { join } from 'node:path';
import type { Pkcs11KeyReference } from '../crypto/pkcs11.js';
import type { CryptoOptions } from '../crypto/provider.js';
import type { Certificate } from '../x509/certificate.js';
import type { Issuer } from '../x509/issue.js';
import { readIfExists } from './files.js';
import { authorityEntry, layoutFile } from './layout.js';
import { loadAuthority } from './material.js';
import { loadIncomingIssuer } from './rotation.js';
import { readRotation } from './rotation-state.js';

export type SigningAuthority = Issuer & { readonly certificate: Certificate };

/**
 * The CAs that sign kubelet certificates now, as kube-controller-manager's --cluster-signing-* flags name
 * them: the cluster CA for the client signers, the kubelet-serving CA (when the directory has one) for
 * kubelet-serving. From a cluster CA rotation's reissue phase on, the incoming cluster CA signs, as the
 * flags componentFlags prints then make kube-controller-manager do.
 */
export async function kubeletSigningAuthorities(dir: string, options: CryptoOptions & { pkcs11?: Pkcs11KeyReference } = {}): Promise<{ ca: SigningAuthority; servingCa: SigningAuthority }> {
  const rotation = await readRotation(dir);
  const ca = rotation?.ca === 'cluster' && rotation.phase === 'reissued' ? await loadIncomingIssuer(dir, 'cluster', options.crypto ? { crypto: options.crypto } : {}) : await loadAuthority(dir, authorityEntry('ca'), options);
  const separateServingCa = (await readIfExists(join(dir, layoutFile('kubelet-serving-ca', '.crt')))) !== undefined;
  return { ca, servingCa: separateServingCa ? await loadAuthority(dir, authorityEntry('kubelet-serving-ca')) : ca };
}
