// What a CA rotation phase leaves to the operator once its files are committed: the flags that now name
// other files, the components that must restart, and what to do on nodes the directory does not hold.
import { join } from 'node:path';
import { bundleFile } from './bundles.js';
import type { LoadedPki } from './directory.js';
import { componentFlags, type ComponentFlags } from './flags.js';
import { layoutFile } from './layout.js';
import { NODES_FOLDER } from './node-kubeconfigs.js';
import { planCluster } from './plan.js';
import { componentsToRestart } from './restarts.js';
import { rotationFiles, type RotatableCa, type Rotation, type RotationPhase } from './rotation-state.js';

/**
 * A component of componentFlags: kubeApiserver, kubeControllerManager, kubeScheduler, etcd, kubelet, konnectivityServer or konnectivityAgent.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export type ComponentName = keyof ComponentFlags;

/**
 * A flag whose value differs after a phase (absent before or after: the flag was added or dropped).
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface FlagChange {
  /** The component whose flag changed, e.g. kubeApiserver. */
  readonly component: ComponentName;
  /** The flag's name, e.g. --client-ca-file. */
  readonly flag: string;
  /** The value before the phase; absent when the flag is new. */
  readonly before?: string;
  /** The value after the phase; absent when the flag is dropped. */
  readonly after?: string;
}

/**
 * What to do outside the directory after a rotation phase: flags changed, components to restart, steps on nodes.
 *
 * @category Make a cluster PKI (kubeadm's layout)
 */
export interface PhaseSteps {
  /** The flags that changed, with the paths as the components read them (`componentDir`). */
  readonly flagChanges: readonly FlagChange[];
  /** The components to restart after the phase, in this order: their flags changed or they read a file it changed. */
  readonly restart: readonly ComponentName[];
  /** What the directory cannot do itself: what to push to nodes it does not hold, and what to wait for before the next phase. */
  readonly nodeActions: readonly string[];
}

interface FlagsAt {
  readonly rotation: Rotation | undefined;
  readonly caKeyInToken: boolean;
}

export interface PhaseStepsInput {
  readonly dir: string;
  readonly ca: RotatableCa;
  readonly phase: RotationPhase;
  /** The directory after the phase. */
  readonly loaded: LoadedPki;
  /** The files the phase wrote or moved (absolute, in `dir`). */
  readonly changed: readonly string[];
  readonly before: FlagsAt;
  readonly after: FlagsAt;
  readonly componentDir?: string;
  readonly nodeDir?: string;
}

export function phaseSteps(input: PhaseStepsInput): PhaseSteps {
  const { dir, loaded, changed } = input;
  const componentDir = input.componentDir ?? dir;
  const konnectivity = loaded.certificates.has('konnectivity-server');
  // The flags that change are paths only, which do not depend on the node's name or address.
  const plan = planCluster({ nodeName: 'node', advertiseAddress: '127.0.0.1', separateKubeletServingCa: loaded.authorities.has('kubelet-serving-ca'), konnectivity });
  const flagsOf = (at: FlagsAt, base: string): Partial<ComponentFlags> => {
    const all = componentFlags(plan, { dir: base, ...(input.nodeDir ? { nodeDir: input.nodeDir } : {}), caKeyInToken: at.caKeyInToken, rotation: at.rotation });
    return konnectivity ? all : { ...all, konnectivityServer: undefined, konnectivityAgent: undefined };
  };
  const flagChanges = diff(flagsOf(input.before, componentDir), flagsOf(input.after, componentDir));
  const local = [flagsOf(input.before, dir), flagsOf(input.after, dir)];
  const written = new Set(changed);
  const restart = componentsToRestart(local, written, { alsoRestart: (component) => flagChanges.some((c) => c.component === component) });
  return { flagChanges, restart, nodeActions: nodeActions(input, componentDir, konnectivity) };
}

const valueOf = (flag: string): string | undefined => (flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : undefined);
const nameOf = (flag: string): string => flag.split('=', 1)[0]!;

function diff(before: Partial<ComponentFlags>, after: Partial<ComponentFlags>): FlagChange[] {
  const out: FlagChange[] = [];
  for (const component of Object.keys(after) as ComponentName[]) {
    const was = new Map((before[component] ?? []).map((f) => [nameOf(f), valueOf(f)]));
    const now = new Map((after[component] ?? []).map((f) => [nameOf(f), valueOf(f)]));
    for (const flag of new Set([...was.keys(), ...now.keys()])) {
      if (was.get(flag) === now.get(flag) && was.has(flag) === now.has(flag)) continue;
      out.push({ component, flag, ...(was.has(flag) ? { before: was.get(flag) } : {}), ...(now.has(flag) ? { after: now.get(flag) } : {}) });
    }
  }
  return out;
}

/** The steps outside the directory, for the phase just committed. */
function nodeActions({ dir, ca, phase, nodeDir: nodes }: PhaseStepsInput, componentDir: string, konnectivity: boolean): string[] {
  const nodeDir = nodes ?? componentDir;
  const incoming = rotationFiles(ca).incoming.path;
  const others =
    phase === 'add'
      ? `other control-plane nodes: copy ${join(dir, `${incoming}.crt`)} and its key (${incoming}.key or ${incoming}.pkcs11.json) to the same place in their directory and run this phase there too, before restarting any of their components`
      : `other control-plane nodes: run this phase in their directory too (they hold the same new CA), then restart their components as listed`;
  const steps = [others];
  if (ca === 'cluster') {
    const agent = konnectivity ? ` and ${bundleFile('konnectivity-ca')} (the Konnectivity agent's --ca-cert)` : '';
    const agentFinal = konnectivity ? ' and the Konnectivity agent' : '';
    if (phase === 'add') {
      steps.push(
        `every node whose files are not under ${join(dir, NODES_FOLDER)}: set certificate-authority-data of the kubelet's kubeconfig (${join(nodeDir, 'kubelet.conf')}, and bootstrap-kubelet.conf while it exists) to the content of ${join(dir, bundleFile('client-ca-file'))} (old and new CA); copy ${join(dir, bundleFile('kubelet-client-ca-file'))} to ${join(nodeDir, bundleFile('kubelet-client-ca-file'))} (the kubelet's --client-ca-file / authentication.x509.clientCAFile from now on)${agent}; restart the kubelet${agentFinal}`,
        `kube-controller-manager, restarted with --root-ca-file=${join(componentDir, bundleFile('root-ca-file'))}, writes both CAs into every namespace's kube-root-ca.crt ConfigMap; before reissue, wait until the kubelets have refreshed the pods' projected ca.crt (about a minute) and restart pods that read it only at start`,
        `nodes that join during the rotation: set kube-public/cluster-info's certificate-authority-data to ${join(dir, bundleFile('client-ca-file'))}`,
        'run reissue only once every component and every node trusts both CAs',
      );
    } else if (phase === 'reissue') {
      steps.push(
        'kube-controller-manager now signs kubelet certificates with the new CA: before finish, every kubelet client certificate (and serving certificate, with serverTLSBootstrap) must come from the new CA. The kubelet renews at its rotation deadline; removing kubelet-client-current.pem and restarting it with a bootstrap kubeconfig renews now',
        'run finish only once no component or node presents a certificate of the old CA',
      );
    } else {
      steps.push(
        `every node whose files are not under ${join(dir, NODES_FOLDER)}: set certificate-authority-data of the kubelet's kubeconfig to the content of ${join(dir, layoutFile('ca', '.crt'))} (the new CA alone); copy that file to ${join(nodeDir, layoutFile('ca', '.crt'))} and point the kubelet's --client-ca-file${konnectivity ? " and the Konnectivity agent's --ca-cert" : ''} back at it; restart the kubelet${agentFinal}`,
        `kube-controller-manager, restarted with --root-ca-file=${join(componentDir, layoutFile('ca', '.crt'))}, leaves only the new CA in every kube-root-ca.crt ConfigMap`,
        `joins pin the new CA: kubepki token create --print-join-command prints its --discovery-token-ca-cert-hash; set kube-public/cluster-info's certificate-authority-data to ${join(dir, layoutFile('ca', '.crt'))}`,
      );
    }
  } else if (ca === 'front-proxy') {
    steps.push(
      phase === 'reissue'
        ? 'kube-apiserver presents the new front-proxy-client certificate once restarted; aggregated API servers must already trust both CAs'
        : 'kube-apiserver publishes --requestheader-client-ca-file in kube-system/extension-apiserver-authentication; aggregated API servers reload it from there (restart those that do not)',
    );
  } else {
    steps.push(phase === 'add' ? 'every etcd member must trust both CAs (this phase run and etcd restarted on every control-plane node) before any member serves a reissued certificate' : 'restart every etcd member one at a time, waiting for it to rejoin the cluster');
  }
  return steps;
}
