import { resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { checkExpiration, formatResidual } from '../cluster/expiry.js';
import { signCertificateRequests } from '../cluster/external.js';
import { renewCertificates } from '../cluster/renew.js';
import { certificateName, CERTIFICATE_LAYOUT } from '../cluster/layout.js';
import type { CertificateName } from '../cluster/kinds.js';
import { COMPONENT_NAMES, restartsAfterRenewal } from '../cluster/restarts.js';
import { PKCS11_OPTION, PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { JSON_OPTION, PKI_DIR_OPTION, printable, required, type Verb } from './io.js';

export const checkExpirationVerb: Verb = {
  name: 'check-expiration',
  summary: 'list every certificate of a PKI directory with its expiry and issuing CA',
  usage: 'kubepki check-expiration --dir DIR [--json]',
  options: { dir: PKI_DIR_OPTION, json: JSON_OPTION },
  example: 'kubepki check-expiration --dir /etc/kubernetes',
  async run({ values }, io) {
    const dir = resolve(required(values, 'dir'));
    const report = await checkExpiration(dir);
    if (report.certificates.length === 0 && report.authorities.length === 0 && report.problems.length === 0) {
      throw new PkiError('ERR_DIRECTORY', `${dir} holds none of a cluster's certificates (pki/ca.crt, pki/apiserver.crt, admin.conf, ...): give the folder init wrote`, { field: '--dir' });
    }
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else {
      const line = (cells: string[]): string => cells.map((c, i) => c.padEnd([26, 22, 16, 24][i] ?? 0)).join(' ').trimEnd();
      io.out(line(['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED']));
      for (const row of report.certificates) io.out(line([row.name, row.notAfter.toISOString().slice(0, 16).replace('T', ' '), formatResidual(row.residualSeconds), row.issuer ?? '', row.externallyManaged ? 'yes' : 'no']));
      io.out('');
      io.out(line(['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED']));
      for (const row of report.authorities) io.out(line([row.name, row.notAfter.toISOString().slice(0, 16).replace('T', ' '), formatResidual(row.residualSeconds), row.externallyManaged ? 'yes' : 'no']));
      for (const name of report.missing) io.err(`kubepki: missing: ${name}`);
      for (const problem of report.problems) io.err(`kubepki: ${problem.files.join(', ')}: ${printable(problem.reason)}`);
    }
    return report.problems.length > 0 ? 1 : 0;
  },
};

export const renewVerb: Verb = {
  name: 'renew',
  summary: 'renew one named certificate (or all) with its CA, keeping subjects and SANs',
  usage: 'kubepki renew NAME|all --dir DIR [--json]',
  options: { dir: PKI_DIR_OPTION, json: JSON_OPTION },
  arguments: [{ name: 'NAME...|all', description: 'the certificates or kubeconfigs to renew, or all of those in the directory', values: ['all', ...CERTIFICATE_LAYOUT.map((e) => e.name)] }],
  example: ['kubepki renew apiserver --dir /etc/kubernetes', 'kubepki renew all --dir /etc/kubernetes'],
  async run({ values, positionals }, io) {
    if (positionals.length === 0) throw new PkiError('ERR_ARGUMENT', 'name a certificate or "all"', { field: 'NAME' });
    const dir = resolve(required(values, 'dir'));
    const names = positionals[0] === 'all' ? 'all' : positionals.map((name) => certificateName(name, 'NAME'));
    const renewed = (await renewCertificates(dir, names)) as CertificateName[];
    const restart = restartsAfterRenewal(dir, renewed);
    if (values.json) io.out(JSON.stringify({ renewed, restart }, null, 2));
    else {
      for (const name of renewed) io.out(`renewed ${name}`);
      // As kubeadm certs renew says: a component reads its certificates at start only.
      io.out(restart.length ? `restart, in this order, so that they read the renewed files: ${restart.map((c) => COMPONENT_NAMES[c]).join(', ')}` : 'nothing to restart: no component reads the renewed files at start');
    }
    return 0;
  },
};

export const signVerb: Verb = {
  name: 'sign',
  summary: 'external-CA mode: sign the CSRs that `init --csr-only` wrote, with the CAs placed in the directory',
  usage: `kubepki sign --dir DIR [--json] [--ca-pkcs11 ${PKCS11_OPTION_HELP}]   (the cluster CA key in that token: pki/ca.pkcs11.json is written)`,
  options: { dir: PKI_DIR_OPTION, json: JSON_OPTION, 'ca-pkcs11': PKCS11_OPTION },
  example: 'kubepki sign --dir /etc/kubernetes',
  async run({ values }, io) {
    const dir = resolve(required(values, 'dir'));
    const pkcs11 = pkcs11Option(values);
    const signed = await signCertificateRequests(dir, pkcs11 ? { pkcs11 } : {});
    if (values.json) io.out(JSON.stringify({ signed }, null, 2));
    else for (const name of signed) io.out(`signed ${name}`);
    return 0;
  },
};
