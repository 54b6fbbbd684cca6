// Which components must restart after files of the directory changed: those that read one of them at start,
// through a flag (componentFlags) or kube-apiserver's egress selector configuration.
import { join } from 'node:path';
import { parse } from 'yaml';
import { componentFlags, egressSelectorConfiguration, type ComponentFlags } from './flags.js';
import type { CertificateName } from './kinds.js';
import { layoutEntry } from './layout.js';
import { planCluster } from './plan.js';

type Component = keyof ComponentFlags;

/** Dependencies first: etcd before kube-apiserver, the control plane before the nodes. */
export const RESTART_ORDER: readonly Component[] = ['etcd', 'kubeApiserver', 'kubeControllerManager', 'kubeScheduler', 'konnectivityServer', 'kubelet', 'konnectivityAgent'];

/** What an operator calls each component: its binary or static Pod's name, as kubeadm prints it. */
export const COMPONENT_NAMES: Readonly<Record<Component, string>> = {
  etcd: 'etcd',
  kubeApiserver: 'kube-apiserver',
  kubeControllerManager: 'kube-controller-manager',
  kubeScheduler: 'kube-scheduler',
  konnectivityServer: 'konnectivity-server',
  kubelet: 'kubelet',
  konnectivityAgent: 'konnectivity-agent',
};

const valueOf = (flag: string): string | undefined => (flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : undefined);

/**
 * The components, in restart order, that read one of `written` through a flag of one of `flagSets` (or a
 * file of `filesRead`), and those `alsoRestart` names (whose flags changed).
 */
export function componentsToRestart(
  flagSets: readonly Partial<ComponentFlags>[],
  written: ReadonlySet<string>,
  { alsoRestart = () => false, filesRead = {} }: { alsoRestart?: (component: Component) => boolean; filesRead?: Partial<Record<Component, readonly string[]>> } = {},
): Component[] {
  const reads = (component: Component): boolean =>
    flagSets.some((flags) => (flags[component] ?? []).some((flag) => written.has(valueOf(flag) ?? ''))) || (filesRead[component] ?? []).some((file) => written.has(file));
  return RESTART_ORDER.filter((component) => alsoRestart(component) || reads(component));
}

/** The files kube-apiserver's egress selector configuration names (its Konnectivity client certificate and CA). */
export function egressSelectorFiles(text: string): string[] {
  const doc = parse(text) as { egressSelections?: { connection?: { transport?: { tcp?: { tlsConfig?: Record<string, string> } } } }[] } | null;
  return (doc?.egressSelections ?? []).flatMap((s) => Object.values(s.connection?.transport?.tcp?.tlsConfig ?? {}));
}

/** The files a renewal of `name` rewrites in `dir`: its certificate and key, or its kubeconfig. */
export function renewedFiles(dir: string, name: CertificateName): string[] {
  const entry = layoutEntry(name)!;
  return entry.kubeconfig ? [join(dir, entry.path)] : [join(dir, `${entry.path}.crt`), join(dir, `${entry.path}.key`)];
}

/** The components to restart, in order, after `renewCertificates(dir, names)`: those that read a renewed file at start. */
export function restartsAfterRenewal(dir: string, names: readonly CertificateName[]): Component[] {
  // The flags that name leaves are paths only, which depend neither on the node's name nor its address.
  const plan = planCluster({ nodeName: 'node', advertiseAddress: '127.0.0.1', konnectivity: true });
  const written = new Set(names.flatMap((name) => renewedFiles(dir, name)));
  return componentsToRestart([componentFlags(plan, { dir })], written, { filesRead: { kubeApiserver: egressSelectorFiles(egressSelectorConfiguration(plan, { dir })) } });
}
