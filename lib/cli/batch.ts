import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { encodePem } from '../crypto/pem.js';
import { PkiError } from '../errors.js';
import { ioError, writeFileAtomic } from '../cluster/files.js';
import { authorityEntry } from '../cluster/layout.js';
import { loadAuthority } from '../cluster/material.js';
import { PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { PROFILE_LIST, profileByName, type CertificateKind } from '../cluster/kinds.js';
import { issueCertificates } from '../x509/batch.js';
import { optional, required, type Verb } from './io.js';

/** The leaf kind named `--profile`: a CA profile is refused like an unknown name. */
function leafProfile(name: string): CertificateKind {
  const refusal = (cause?: unknown): PkiError =>
    new PkiError('ERR_ARGUMENT', `unknown leaf profile; one of ${PROFILE_LIST.filter((p) => !p.isCA).map((p) => p.name).join(', ')}`, { field: '--profile', ...(cause === undefined ? {} : { cause }) });
  let profile: CertificateKind;
  try {
    profile = profileByName(name);
  } catch (cause) {
    throw refusal(cause);
  }
  if (profile.isCA) throw refusal();
  return profile;
}

export const signCsrsVerb: Verb = {
  name: 'sign-csrs',
  summary: "the CA step for many CSRs at once, over worker threads: each certified with a profile's rules",
  usage: `kubepki sign-csrs --dir DIR --profile NAME --out DIR [--ca ca|etcd-ca|front-proxy-ca|kubelet-serving-ca] [--workers N] [--json] [--ca-pkcs11 ${PKCS11_OPTION_HELP}] CSR...`,
  options: { dir: { type: 'string' }, profile: { type: 'string' }, out: { type: 'string' }, ca: { type: 'string' }, workers: { type: 'string' }, json: { type: 'boolean' }, 'ca-pkcs11': { type: 'string' } },
  async run({ values, positionals }, io) {
    const dir = resolve(required(values, 'dir'));
    const out = resolve(required(values, 'out'));
    const profile = leafProfile(required(values, 'profile'));
    const entry = authorityEntry(optional(values, 'ca') ?? 'ca', '--ca');
    const workersText = optional(values, 'workers');
    const workers = workersText === undefined ? undefined : Number(workersText);
    if (workers !== undefined && (!Number.isInteger(workers) || workers < 0 || workers > 64)) throw new PkiError('ERR_ARGUMENT', 'must be an integer from 0 to 64', { field: '--workers' });
    if (positionals.length === 0) throw new PkiError('ERR_ARGUMENT', 'name one or more CSR files', { field: 'CSR' });
    const read = (path: string): Promise<string> => readFile(path, 'utf8').catch((cause: unknown) => Promise.reject(ioError(path, 'cannot be read', cause)));
    const pkcs11 = pkcs11Option(values);
    const issuer = await loadAuthority(dir, entry, pkcs11 ? { pkcs11 } : {});
    const csrs = await Promise.all(positionals.map(read));
    const outcomes = await issueCertificates(
      csrs.map((csr) => ({ csr, profile })),
      { issuer, ...(workers === undefined ? {} : { workers }), onProgress: (done, total) => io.progress?.(done, total) },
    );
    const results = await Promise.all(
      outcomes.map(async (outcome, i) => {
        const source = positionals[i]!;
        if (outcome.error) return { csr: source, error: `${outcome.error.code}: ${outcome.error.message.replace(/^requests\[\d+\]\.csr/, 'csr')}` };
        const path = join(out, `${basename(source).replace(/\.(csr|pem)$/, '')}.crt`);
        await writeFileAtomic({ path, content: encodePem('CERTIFICATE', outcome.der), mode: 0o644 });
        return { csr: source, certificate: path };
      }),
    );
    if (values.json) io.out(JSON.stringify({ results }, null, 2));
    else for (const r of results) if (r.error) io.err(`kubepki: ${r.csr}: ${r.error}`); else io.out(`signed ${r.csr} -> ${r.certificate}`);
    return results.some((r) => r.error) ? 1 : 0;
  },
};
