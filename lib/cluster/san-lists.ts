// The SANs kubeadm writes into the control-plane serving certificates, from the resolved cluster config
// (docs/kubernetes-pki.md §2, §17): the mutators the kind table (kinds.ts) applies per row.
import { isDnsName } from '../x509/names.js';
import { parseIp } from '../x509/ip.js';
import { normalizeSans, sansFromHosts, type SubjectAltNames } from '../x509/sans.js';
import type { ResolvedClusterConfig } from './config.js';

/**
 * kubeadm's apiserver SANs (docs/kubernetes-pki.md §2): the node name, `kubernetes`, `kubernetes.default`,
 * `kubernetes.default.svc`, `kubernetes.default.svc.<domain>`; the Service IP and advertise address; the
 * control-plane endpoint host; the extra SANs (anything neither IP nor DNS name is skipped). DNS names
 * are sorted and de-duplicated, IPs de-duplicated in order.
 */
export function apiServerSans(config: ResolvedClusterConfig): SubjectAltNames {
  const dns = [config.nodeName, 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${config.dnsDomain}`];
  const ips = [config.apiServerServiceIp, config.advertiseAddress];
  for (const host of [config.endpointHost, ...config.apiServerCertSans]) {
    if (parseIp(host)) ips.push(host);
    else if (isDnsName(host) || (host.startsWith('*.') && isDnsName(host.slice(2)))) dns.push(host);
  }
  const sans = normalizeSans({ dns, ips }, 'config.apiServerCertSans');
  return { ...sans, dns: [...sans.dns].sort() };
}

/** kubeadm's etcd server and peer SANs: the node name, localhost, the advertise address and loopbacks, then the extra ones. */
export function etcdSans(config: ResolvedClusterConfig, extra: readonly string[], field: string): SubjectAltNames {
  return mergeSans(normalizeSans({ dns: [config.nodeName, 'localhost'], ips: [config.advertiseAddress, '127.0.0.1', '::1'] }), sansFromHosts(extra, field));
}

/** The Konnectivity proxy-server: the host agents dial, localhost, the advertise address and 127.0.0.1. */
export function konnectivitySans(config: ResolvedClusterConfig): SubjectAltNames {
  return mergeSans(sansFromHosts([config.konnectivityServerHost], 'config.konnectivityServerHost'), normalizeSans({ dns: ['localhost'], ips: [config.advertiseAddress, '127.0.0.1'] }));
}

function mergeSans(a: SubjectAltNames, b: SubjectAltNames): SubjectAltNames {
  return normalizeSans({ dns: [...a.dns, ...b.dns], ips: [...a.ips, ...b.ips], emails: [...a.emails, ...b.emails], uris: [...a.uris, ...b.uris] });
}
