import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { encodePem } from '../crypto/pem.js';
import { PkiError } from '../errors.js';
import { ioError, writeFileAtomic } from '../cluster/files.js';
import { authorityEntry, AUTHORITY_LAYOUT } from '../cluster/layout.js';
import { loadAuthority } from '../cluster/material.js';
import { PKCS11_OPTION, PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { PROFILE_LIST, profileByName, type CertificateKind } from '../cluster/kinds.js';
import { issueCertificates } from '../x509/batch.js';
import { JSON_OPTION, optional, PKI_DIR_OPTION, printable, required, type Verb } from './io.js';

const LEAF_PROFILES = PROFILE_LIST.filter((p) => !p.isCA).map((p) => p.name);

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
  usage: `kubepki sign-csrs --dir DIR --profile NAME --out DIR [--ca NAME] [--workers N] [--verbose] [--json] [--ca-pkcs11 ${PKCS11_OPTION_HELP}] CSR...`,
  options: {
    dir: PKI_DIR_OPTION,
    profile: { type: 'string', value: 'NAME', description: 'the leaf profile each certificate is issued under (its subject, SAN and usage rules)', values: LEAF_PROFILES },
    out: { type: 'string', value: 'DIR', description: 'where the certificates are written, as <CSR file name>.crt', directory: 'created' },
    ca: { type: 'string', value: 'NAME', description: 'the CA of the directory that signs', default: 'ca', values: AUTHORITY_LAYOUT.map((e) => e.name) },
    workers: { type: 'string', value: 'N', description: 'worker threads that sign (0: on the main thread), from 0 to 64', default: 'the number of CPUs' },
    verbose: { type: 'boolean', description: 'one line per certificate written, not only the summary' },
    json: JSON_OPTION,
    'ca-pkcs11': PKCS11_OPTION,
  },
  arguments: [{ name: 'CSR...', description: 'PEM files of certificate signing requests' }],
  example: 'kubepki sign-csrs --dir /etc/kubernetes --profile kubelet-client --out signed/ csrs/*.csr',
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
    else {
      for (const r of results) if (r.error) io.err(`kubepki: ${printable(r.csr)}: ${printable(r.error)}`);
      else if (values.verbose) io.out(`signed ${r.csr} -> ${r.certificate}`);
      const refused = results.filter((r) => r.error).length;
      io.out(`signed ${results.length - refused} of ${results.length} CSRs into ${out}${refused ? `; ${refused} refused (listed above)` : ''}`);
    }
    return results.some((r) => r.error) ? 1 : 0;
  },
};
