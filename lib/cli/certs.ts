// `kubepki certs`: the shared control-plane material as kubeadm's upload-certs carries it (the
// kube-system/kubeadm-certs Secret, encrypted with the certificate key), through a file.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { ioError, writeFileAtomic } from '../cluster/files.js';
import {
  createCertificateKey,
  restoreSharedCertificates,
  sharedCertificateManifest,
  sharedCertificateManifestData,
  sharedCertificateSecret,
  SHARED_CERTIFICATES_SECRET,
} from '../cluster/shared-certs.js';
import { printable, required, type Verb } from './io.js';

const SECRET = `${SHARED_CERTIFICATES_SECRET.namespace}/${SHARED_CERTIFICATES_SECRET.name}`;

export const certsVerb: Verb = {
  name: 'certs',
  summary: `kubeadm's upload-certs through a file: the shared CA and service-account files as the encrypted Secret ${SECRET}`,
  usage: [
    'kubepki certs certificate-key                     # a new certificate key (64 hex characters), as kubeadm certs certificate-key',
    '       kubepki certs upload --dir DIR --certificate-key KEY --out FILE [--force]',
    `                                                  # the Secret ${SECRET} manifest (kubectl apply -f FILE)`,
    '       kubepki certs download --dir DIR --certificate-key KEY --from FILE [--force] [--json]',
    '                                                  # decrypt the Secret (a manifest, or kubectl get -o yaml) into DIR',
  ].join('\n'),
  options: { dir: { type: 'string' }, 'certificate-key': { type: 'string' }, out: { type: 'string' }, from: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
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
      const out = resolve(required(values, 'out'));
      const { data, empty } = await sharedCertificateSecret(dir, key);
      await writeFileAtomic({ path: out, content: sharedCertificateManifest(data), mode: 0o600 }, { overwrite: values.force === true });
      for (const dataKey of empty) io.err(`kubepki: warning: ${dataKey} is not in ${dir}: uploaded empty, as kubeadm does; the joining node must get it another way`);
      io.out(`wrote ${out} (Secret ${SECRET}, ${Object.keys(data).length - empty.length} files encrypted with the certificate key)`);
      return 0;
    }
    if (action === 'download') {
      const dir = resolve(required(values, 'dir'));
      const key = required(values, 'certificate-key');
      const from = resolve(required(values, 'from'));
      const text = await readFile(from, 'utf8').catch((cause: unknown) => Promise.reject(ioError(from, 'cannot be read', cause)));
      const result = await restoreSharedCertificates(dir, sharedCertificateManifestData(text, from), key, { force: values.force === true });
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
