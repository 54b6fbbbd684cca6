import { resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { COMPONENT_NAMES } from '../cluster/restarts.js';
import { rotateAuthority } from '../cluster/rotation.js';
import { PHASE_DONE, rotatableCa, ROTATABLE_CAS } from '../cluster/rotation-state.js';
import { PKCS11_OPTION, PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { JSON_OPTION, optional, PKI_DIR_OPTION, printable, required, type Verb } from './io.js';

const CAS = Object.keys(ROTATABLE_CAS).join('|');

export const rotateCaVerb: Verb = {
  name: 'rotate-ca',
  summary: 'rotate the cluster, front-proxy or etcd CA with overlap, one resumable phase at a time: add, reissue, finish',
  usage: [
    `kubepki rotate-ca --dir DIR [--ca ${CAS}] --phase add|reissue|finish [--cross-sign] [--json] [--ca-pkcs11 ${PKCS11_OPTION_HELP}]`,
    '',
    '  --ca cluster       the cluster CA (pki/ca): kubeconfigs, kube-apiserver, kube-controller-manager, kubelets, Konnectivity (default)',
    '  --ca front-proxy   the front-proxy CA (pki/front-proxy-ca): front-proxy-client, --requestheader-client-ca-file',
    '  --ca etcd          the etcd CA (pki/etcd/ca): etcd server, peer, healthcheck-client and apiserver-etcd-client',
    '',
    '  add       a new CA beside the old one (<ca>-new.crt/.key; --ca-pkcs11: its key in that token); every bundle and',
    '            kubeconfig that trusts the CA trusts both, and the printed flags name the two-CA bundles (bundles/*.crt)',
    '  reissue   every certificate the CA signs is issued again by the new CA (the cluster CA: kube-controller-manager',
    '            signs with the new one from now on)',
    '  finish    the new CA takes the kubeadm file names (the old certificate kept as <ca>-old.crt); bundles, kubeconfigs',
    '            and flags trust the new CA alone',
    '',
    'Each phase is idempotent (run it again to resume after a crash); one CA rotates at a time. The output lists the',
    'files changed, the flags that changed, the components to restart and what to push to nodes the directory does not hold.',
  ].join('\n'),
  options: {
    dir: PKI_DIR_OPTION,
    ca: { type: 'string', value: 'NAME', description: 'the CA to rotate', default: 'cluster', values: Object.keys(ROTATABLE_CAS) },
    phase: { type: 'string', value: 'PHASE', description: 'the phase to run (each is resumable; run them in order)', values: Object.keys(PHASE_DONE) },
    'cross-sign': { type: 'boolean', description: 'add: also a cross-signed certificate of the new CA by the old one (<ca>-cross.crt)' },
    json: JSON_OPTION,
    'ca-pkcs11': { ...PKCS11_OPTION, description: `add: the new CA key in a PKCS#11 token: ${PKCS11_OPTION_HELP}` },
  },
  example: ['kubepki rotate-ca --dir /etc/kubernetes --ca cluster --phase add', 'kubepki rotate-ca --dir /etc/kubernetes --ca cluster --phase reissue', 'kubepki rotate-ca --dir /etc/kubernetes --ca cluster --phase finish'],
  async run({ values }, io) {
    const ca = rotatableCa(optional(values, 'ca') ?? 'cluster', '--ca');
    const phase = required(values, 'phase');
    if (phase !== 'add' && phase !== 'reissue' && phase !== 'finish') throw new PkiError('ERR_ARGUMENT', 'must be add, reissue or finish', { field: '--phase' });
    const pkcs11 = pkcs11Option(values);
    const result = await rotateAuthority(resolve(required(values, 'dir')), { ca, phase, crossSign: values['cross-sign'] === true, ...(pkcs11 ? { pkcs11 } : {}) });
    if (values.json) {
      io.out(JSON.stringify(result, null, 2));
      return 0;
    }
    io.out(`${ca} CA, phase ${phase}: ${result.changed.length} file(s) changed`);
    for (const file of result.changed) io.out(`  ${file}`);
    if (result.flagChanges.length) io.out('flags changed:');
    for (const c of result.flagChanges) io.out(`  ${COMPONENT_NAMES[c.component]} ${c.flag}: ${c.before ?? '(none)'} -> ${c.after ?? '(none)'}`);
    io.out(`restart, in this order: ${result.restart.map((c) => COMPONENT_NAMES[c]).join(', ') || 'nothing'}`);
    if (result.nodeActions.length) io.out('then:');
    for (const step of result.nodeActions) io.out(`  - ${printable(step)}`);
    return 0;
  },
};
