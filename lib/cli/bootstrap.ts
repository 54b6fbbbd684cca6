import { join, resolve } from 'node:path';
import { PkiError } from '../errors.js';
import { readIfExists } from '../cluster/files.js';
import { parseKubeconfig } from '../cluster/kubeconfig.js';
import { SIGNERS } from '../bootstrap/csr-object.js';
import { runWhileLeading, startApprover, startSigner, type Controller } from '../bootstrap/controllers.js';
import { kubeconfigFlagConnection } from './kubeconfig-flag.js';
import { kubernetesRegistry } from '../bootstrap/kube-registry.js';
import { kubernetesTokenStore } from '../bootstrap/kube-tokens.js';
import { nodeAddressesFromApi, staticNodeAddresses } from '../bootstrap/node-addresses.js';
import { bootstrapKubelet, requestServingCertificate } from '../bootstrap/node.js';
import { kubeletRotation } from '../bootstrap/kubelet-rotation.js';
import { startEmbeddedBootstrap } from '../bootstrap/embedded.js';
import type { RequestLogEntry } from '../bootstrap/server.js';
import { DEFAULT_MAX_PENDING_PER_REQUESTER } from '../bootstrap/registry.js';
import { resolveServingPolicy, type ServingPolicyOptions } from '../bootstrap/approver.js';
import { revocationListFile } from '../bootstrap/revocation.js';
import { bootstrapTokenSecret, caPublicKeyPin, describeTokenSecret, formatBootstrapToken, generateBootstrapToken, parseBootstrapToken, type SecretObject } from '../bootstrap/token.js';
import { deleteTokenSecret, directoryTokenStore, saveTokenSecret } from '../bootstrap/token-files.js';
import { layoutFile } from '../cluster/layout.js';
import { kubeletSigningAuthorities } from '../cluster/kubelet-signing.js';
import { Certificate } from '../x509/certificate.js';
import { PKCS11_OPTION, PKCS11_OPTION_HELP, pkcs11Option } from './pkcs11.js';
import { JSON_OPTION, list, optional, parseDuration, PKI_DIR_OPTION, printable, required, type Io, type Verb, type VerbOption } from './io.js';
import { CLUSTER_FLAG_OPTIONS } from './cluster-flags.js';
import { DEFAULT_MAX_LIFETIME_SECONDS } from '../bootstrap/signing-policy.js';
import { hostOf } from '../agents/paths.js';
import { MIN_LIFETIME_SECONDS, type SignOutcome } from '../bootstrap/signer.js';
import { LEADER_ELECTION_FLAGS, LEADER_ELECTION_USAGE, leaderElectionFromFlags } from './leader-election-flags.js';

export { parseDuration } from './io.js';

const TOKEN_USAGE = [
  'kubepki token create --dir DIR|--kubeconfig admin.conf [--ttl 24h] [--groups GROUP,...] [--usages signing,authentication] [--description TEXT] [--print-join-command] [--json]',
  '       kubepki token list --dir DIR|--kubeconfig admin.conf [--json]',
  '       kubepki token delete --dir DIR|--kubeconfig admin.conf ID|TOKEN ...',
].join('\n');

/**
 * Where the token verbs keep tokens: the directory's Secret files (what serve-bootstrap reads), or, with
 * --kubeconfig, the Secrets `kube-system/bootstrap-token-<id>` of the real cluster the kubeconfig reaches (kubeadm's).
 */
interface TokenPlace {
  /** The folder or the kubeconfig. */
  readonly where: string;
  save(secret: SecretObject): Promise<string | undefined>;
  list(): Promise<SecretObject[]>;
  remove(id: string): Promise<void>;
  joinCommands(token: string): Promise<string[]>;
}

function directoryPlace(dir: string): TokenPlace {
  return {
    where: dir,
    save: (secret) => saveTokenSecret(dir, secret),
    list: () => directoryTokenStore(dir).listSecrets!(),
    remove: (id) => deleteTokenSecret(dir, id),
    joinCommands: (token) => joinCommands(dir, token),
  };
}

async function clusterPlace(path: string): Promise<TokenPlace> {
  const connection = await kubeconfigFlagConnection(path);
  const store = kubernetesTokenStore(connection);
  return {
    where: path,
    save: async (secret) => {
      await store.create(secret);
      return undefined;
    },
    list: () => store.listSecrets(),
    remove: (id) => store.remove(id),
    // The endpoint and CA of the kubeconfig itself: what it verified the API server with.
    joinCommands: async (token) => joinLines(new URL(connection.server).host, Certificate.fromPemBundle(connection.ca, path)[0]!, token),
  };
}

const TOKEN_USAGES = ['authentication', 'signing'] as const;

export const tokenVerb: Verb = {
  name: 'token',
  summary: "bootstrap tokens as kubeadm's verbs: create (a token, its Secret for a real cluster and the copy the embedded server reads), list, delete",
  usage: TOKEN_USAGE,
  options: {
    dir: { ...PKI_DIR_OPTION, description: 'the PKI directory whose tokens/ the embedded server (serve-bootstrap) reads', directory: 'created' },
    kubeconfig: { type: 'string', value: 'FILE', description: "a real cluster's admin kubeconfig: the tokens are its kube-system/bootstrap-token-<id> Secrets" },
    ttl: { type: 'string', value: 'DURATION', description: 'create: how long the token is valid', default: '24h' },
    groups: { type: 'string', value: 'GROUP,...', description: 'create: extra groups of the token (system:bootstrappers:...)' },
    usages: { type: 'string', value: 'USAGE,...', description: 'create: what the token may be used for', default: TOKEN_USAGES.join(','), values: TOKEN_USAGES, list: true },
    description: { type: 'string', value: 'TEXT', description: 'create: a description kept in the Secret' },
    'print-join-command': { type: 'boolean', description: 'create: print the kubepki join and kubeadm join lines instead of the token alone' },
    json: JSON_OPTION,
  },
  arguments: [{ name: 'ACTION', description: 'create, list, or delete ID|TOKEN ...', values: ['create', 'list', 'delete'] }],
  example: ['kubepki token create --dir /etc/kubernetes --print-join-command', 'kubepki token list --kubeconfig /etc/kubernetes/admin.conf'],
  async run({ values, positionals }, io) {
    const [action, ...rest] = positionals;
    const kubeconfig = optional(values, 'kubeconfig');
    if (kubeconfig !== undefined && values.dir !== undefined) throw new PkiError('ERR_ARGUMENT', 'takes --dir (the embedded server\'s tokens) or --kubeconfig (a real cluster\'s), not both', { field: '--kubeconfig' });
    const place = (): Promise<TokenPlace> => (kubeconfig !== undefined ? clusterPlace(resolve(kubeconfig)) : Promise.resolve(directoryPlace(resolve(required(values, 'dir')))));
    if (action === 'create' && rest.length === 0) return createToken(await place(), values, io);
    if (action === 'list' && rest.length === 0) return listTokens(await place(), values, io);
    if (action === 'delete') return deleteTokens(place, rest, io);
    throw new PkiError('ERR_ARGUMENT', 'must be "create", "list" or "delete ID ..."', { field: 'token' });
  },
};


async function createToken(place: TokenPlace, values: Record<string, unknown>, io: Io): Promise<number> {
  const ttlSeconds = parseDuration(optional(values, 'ttl') ?? '24h', '--ttl');
  if (ttlSeconds <= 0) throw new PkiError('ERR_ARGUMENT', 'must be positive', { field: '--ttl' });
  const usages = list(values, 'usages');
  for (const usage of usages) if (!(TOKEN_USAGES as readonly string[]).includes(usage)) throw new PkiError('ERR_ARGUMENT', `"${printable(usage)}" is not a token usage (signing, authentication)`, { field: '--usages' });
  const groups = list(values, 'groups');
  const token = generateBootstrapToken();
  let secret: SecretObject;
  try {
    secret = bootstrapTokenSecret(token, {
      ttlSeconds,
      description: optional(values, 'description'),
      ...(usages.length ? { usages: usages as (typeof TOKEN_USAGES)[number][] } : {}),
      ...(groups.length ? { extraGroups: groups } : {}),
    });
  } catch (error) {
    if (error instanceof PkiError && error.field?.startsWith('extraGroups')) throw new PkiError('ERR_ARGUMENT', error.reason, { field: '--groups', cause: error });
    throw error;
  }
  // Read before anything is written: a directory without admin.conf or ca.crt gets no token.
  const joinLines = values['print-join-command'] ? await place.joinCommands(formatBootstrapToken(token)) : undefined;
  const path = await place.save(secret);
  // The token itself goes to standard output only, for the operator to hand to the node.
  if (values.json) io.out(JSON.stringify({ token: formatBootstrapToken(token), secret, ...(path ? { file: path } : {}), ...(joinLines ? { joinCommands: joinLines } : {}) }, null, 2));
  else {
    if (joinLines) for (const line of joinLines) io.out(line);
    else io.out(formatBootstrapToken(token));
    // The Secret carries the token: it stays in its 0600 file (or the cluster), never on a log stream.
    if (path) io.err(`kubepki: Secret kube-system/${secret.metadata.name} stored in ${path} (mode 0600); for a real cluster, apply that file`);
    else io.err(`kubepki: Secret kube-system/${secret.metadata.name} created in the cluster of ${printable(place.where)}`);
  }
  return 0;
}

/** `kubepki join` and `kubeadm join` lines for a token: the API endpoint of admin.conf and the pin of pki/ca.crt. */
async function joinCommands(dir: string, token: string): Promise<string[]> {
  const adminPath = join(dir, layoutFile('admin', ''));
  const admin = await readIfExists(adminPath);
  if (admin === undefined) throw new PkiError('ERR_DIRECTORY', 'has no admin.conf to take the API endpoint from', { field: adminPath });
  const endpoint = new URL(parseKubeconfig(admin, adminPath).server).host;
  const caPath = join(dir, layoutFile('ca', '.crt'));
  const caPem = await readIfExists(caPath);
  if (caPem === undefined) throw new PkiError('ERR_DIRECTORY', 'is missing', { field: caPath });
  return joinLines(endpoint, Certificate.fromPemBundle(caPem, caPath)[0]!, token);
}

function joinLines(endpoint: string, ca: Certificate, token: string): string[] {
  const args = `${endpoint} --token ${token} --discovery-token-ca-cert-hash ${caPublicKeyPin(ca)}`;
  return [`kubepki join ${args}`, `kubeadm join ${args}`];
}

async function listTokens(place: TokenPlace, values: Record<string, unknown>, io: Io): Promise<number> {
  const now = new Date();
  const tokens = [];
  for (const secret of await place.list()) {
    try {
      tokens.push(describeTokenSecret(secret));
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
      io.err(`kubepki: ${printable(error.message)}`);
    }
  }
  if (values.json) {
    io.out(JSON.stringify(tokens.map((t) => ({ ...t, expiration: t.expiration?.toISOString() ?? null })), null, 2));
    return 0;
  }
  // kubeadm's columns, with the token's id only: the secret part stays in its 0600 file.
  const rows = tokens.map((t) => [
    t.id,
    t.expiration === undefined ? '<forever>' : t.expiration <= now ? '<invalid>' : formatTtl((t.expiration.getTime() - now.getTime()) / 1000),
    t.expiration === undefined ? '<never>' : t.expiration.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    t.usages.join(',') || '<none>',
    printable(t.description ?? '<none>'),
    printable(t.extraGroups.join(',') || '<none>'),
  ]);
  const header = ['ID', 'TTL', 'EXPIRES', 'USAGES', 'DESCRIPTION', 'EXTRA GROUPS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) io.out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join(''));
  return 0;
}

/** A duration as kubeadm prints a TTL: `23h`, `59m`, `30s` (rounded down to its largest unit). */
function formatTtl(seconds: number): string {
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m`;
  return `${Math.max(0, Math.floor(seconds))}s`;
}

async function deleteTokens(place: () => Promise<TokenPlace>, ids: readonly string[], io: Io): Promise<number> {
  if (ids.length === 0) throw new PkiError('ERR_ARGUMENT', 'needs the ID (or the whole token) of each token to delete', { field: 'token delete' });
  // kubeadm takes the token id or the whole token; only the id is ever printed back.
  const parsed = ids.map((id) => (/^[a-z0-9]{6}$/.test(id) ? id : /^[a-z0-9]{6}\./.test(id) ? parseBootstrapToken(id, 'token delete').id : undefined));
  if (parsed.some((id) => id === undefined)) throw new PkiError('ERR_ARGUMENT', 'each argument must be a token id ([a-z0-9]{6}) or a token', { field: 'token delete' });
  const where = await place();
  for (const id of parsed) {
    await where.remove(id!);
    io.out(`bootstrap token "${id}" deleted`);
  }
  return 0;
}

/** `node-1=10.0.0.11,node-1.example.com`: the addresses each node owns (a Map: any node name is only a key). */
function nodeTable(values: Record<string, unknown>): Map<string, string[]> {
  const entries = (values.node as string[] | undefined) ?? [];
  return new Map(
    entries.map((entry) => {
      const [name, addresses] = entry.split('=');
      if (!name || !addresses) throw new PkiError('ERR_ARGUMENT', `${JSON.stringify(entry)} is not NAME=ADDRESS[,ADDRESS]`, { field: '--node' });
      return [name, addresses.split(',')];
    }),
  );
}

/** The serving policy flags `approve` and `serve-bootstrap` share (ServingPolicyOptions). */
const SERVING_POLICY_FLAGS = {
  'serving-allowed-cidrs': { type: 'string', value: 'CIDR,...', description: "the ranges a kubelet serving certificate's IP SANs must fall in", default: 'any address the node owns' },
  'serving-allowed-dns-suffixes': { type: 'string', value: 'SUFFIX,...', description: "the suffixes a kubelet serving certificate's DNS SANs must end with", default: 'any name the node owns' },
  'service-cidr': { type: 'string', value: 'CIDR', description: 'the Service range: its addresses are never a kubelet\'s', default: CLUSTER_FLAG_OPTIONS['service-cidr'].default },
  'dns-domain': { type: 'string', value: 'DOMAIN', description: "the cluster's DNS domain: its Service names are never a kubelet's", default: CLUSTER_FLAG_OPTIONS['dns-domain'].default },
  'api-server-hosts': { type: 'string', value: 'HOST,...', description: "the API server's names and addresses, never a kubelet's", default: "none; the API server the kubeconfigs name is always added" },
} as const satisfies Record<string, VerbOption>;
const SERVING_POLICY_USAGE = '[--serving-allowed-cidrs CIDR,...] [--serving-allowed-dns-suffixes SUFFIX,...] [--service-cidr 10.96.0.0/12] [--dns-domain cluster.local] [--api-server-hosts HOST,...]';

/** The serving policy from the flags, checked (ERR_ARGUMENT naming the flag); `apiServerHosts` are added to --api-server-hosts. */
function servingPolicyFlags(values: Record<string, unknown>, apiServerHosts: readonly string[]): ServingPolicyOptions {
  const list = (flag: string): string[] | undefined => optional(values, flag)?.split(',').map((item) => item.trim()).filter(Boolean);
  const policy: ServingPolicyOptions = {
    ...(list('serving-allowed-cidrs') ? { allowedCidrs: list('serving-allowed-cidrs') } : {}),
    ...(list('serving-allowed-dns-suffixes') ? { allowedDnsSuffixes: list('serving-allowed-dns-suffixes') } : {}),
    ...(optional(values, 'service-cidr') ? { serviceCidr: optional(values, 'service-cidr') } : {}),
    ...(optional(values, 'dns-domain') ? { dnsDomain: optional(values, 'dns-domain') } : {}),
    apiServerHosts: [...new Set([...(list('api-server-hosts') ?? []), ...apiServerHosts])],
  };
  const flagOf: Record<string, string> = { allowedCidrs: '--serving-allowed-cidrs', allowedDnsSuffixes: '--serving-allowed-dns-suffixes', serviceCidr: '--service-cidr', dnsDomain: '--dns-domain', apiServerHosts: '--api-server-hosts' };
  try {
    resolveServingPolicy(policy);
  } catch (error) {
    if (error instanceof PkiError && error.field && flagOf[error.field]) throw new PkiError('ERR_ARGUMENT', error.reason, { field: flagOf[error.field] });
    throw error;
  }
  return policy;
}

/** The host of a kubeconfig's server URL (no brackets), or undefined when there is no such file. */
async function kubeconfigHost(path: string): Promise<string | undefined> {
  const text = await readIfExists(path);
  if (text === undefined) return undefined;
  return hostOf(parseKubeconfig(text, path).server);
}

/**
 * Resolves on SIGINT or SIGTERM. Listening starts at the call: a command calls it before it prints what
 * a caller waits for (the URL, the certificates), so that a signal sent on seeing the output is caught.
 */
function stopSignal(): Promise<void> {
  return new Promise<void>((resolveSignal) => {
    process.once('SIGINT', () => resolveSignal());
    process.once('SIGTERM', () => resolveSignal());
  });
}

async function waitForSignal(io: Io, stop: () => Promise<void>, stopping = stopSignal()): Promise<number> {
  await stopping;
  io.err('kubepki: stopping');
  await stop();
  return 0;
}

/** kube-controller-manager's --cluster-signing-duration. */
const SIGNING_DURATION_OPTION: VerbOption = {
  type: 'string',
  value: 'DURATION',
  description: `the longest certificate the kubelet signers issue (at least ${MIN_LIFETIME_SECONDS / 60}m)`,
  default: `${DEFAULT_MAX_LIFETIME_SECONDS / 3600}h`,
};

const LISTEN_ERRORS: Readonly<Record<string, string>> = { EADDRINUSE: 'the address is in use', EADDRNOTAVAIL: 'the address is not one of this machine', EACCES: 'the port is privileged' };

/** A failure to listen as one line naming --listen; any other error as it is. */
function listenError(error: unknown, address: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !(code in LISTEN_ERRORS)) return error;
  return new PkiError('ERR_IO', `cannot listen on ${address}: ${LISTEN_ERRORS[code]} (${code})`, { field: '--listen', cause: error });
}

export const serveBootstrapVerb: Verb = {
  name: 'serve-bootstrap',
  summary: 'serve the certificates.k8s.io/v1 subset over HTTPS with the embedded registry, approver and signers',
  usage: `kubepki serve-bootstrap --dir DIR --listen 127.0.0.1:PORT [--node NAME=ADDR,ADDR ...] [--signer-workers N] [--max-pending-per-requester N] [--signing-duration 8760h] [--log-requests] ${SERVING_POLICY_USAGE} [--ca-pkcs11 ${PKCS11_OPTION_HELP}]`,
  options: {
    dir: PKI_DIR_OPTION,
    listen: { type: 'string', value: 'HOST:PORT', description: 'the address to serve HTTPS on (port 0: any free port, printed at start)' },
    node: { type: 'string', value: 'NAME=ADDR,ADDR', description: "a node's own addresses, the only SANs its serving certificate may have", multiple: true },
    'signer-workers': { type: 'string', value: 'N', description: 'worker threads that sign, from 0 to 64 (0: on the main thread)', default: '0' },
    'max-pending-per-requester': { type: 'string', value: 'N', description: 'pending CSRs one requester may have (0: no cap)', default: String(DEFAULT_MAX_PENDING_PER_REQUESTER) },
    'signing-duration': SIGNING_DURATION_OPTION,
    'log-requests': { type: 'boolean', description: 'one line per request on standard error: method, path, content types, status' },
    ...SERVING_POLICY_FLAGS,
    'ca-pkcs11': PKCS11_OPTION,
  },
  example: 'kubepki serve-bootstrap --dir /etc/kubernetes --listen 127.0.0.1:6443 --node node-1=10.0.0.11,node-1.example.com',
  async run({ values }, io) {
    const dir = resolve(required(values, 'dir'));
    const listen = /^(127\.0\.0\.1|\[::1\]|[0-9.]+|\[[0-9a-f:]+\]):(\d+)$/i.exec(required(values, 'listen'));
    if (!listen) throw new PkiError('ERR_ARGUMENT', 'must be HOST:PORT', { field: '--listen' });
    const host = listen[1]!.replace(/^\[|\]$/g, '');
    const pkcs11 = pkcs11Option(values);
    const { ca, servingCa } = await kubeletSigningAuthorities(dir, pkcs11 ? { pkcs11 } : {});
    const log = (name: string, what: string): void => io.err(`kubepki: ${printable(name)}: ${printable(what)}`);
    const workers = Number(optional(values, 'signer-workers') ?? 0);
    if (!Number.isInteger(workers) || workers < 0 || workers > 64) throw new PkiError('ERR_ARGUMENT', 'must be an integer from 0 to 64', { field: '--signer-workers' });
    const maxPending = Number(optional(values, 'max-pending-per-requester') ?? DEFAULT_MAX_PENDING_PER_REQUESTER);
    if (!Number.isInteger(maxPending) || maxPending < 0) throw new PkiError('ERR_ARGUMENT', 'must be an integer from 0 (0: no cap)', { field: '--max-pending-per-requester' });
    // kube-controller-manager's --cluster-signing-duration: the longest certificate the kubelet signers give.
    const signingDuration = optional(values, 'signing-duration');
    const maxLifetimeSeconds = signingDuration === undefined ? undefined : parseDuration(signingDuration, '--signing-duration');
    if (maxLifetimeSeconds !== undefined && maxLifetimeSeconds < MIN_LIFETIME_SECONDS) {
      throw new PkiError('ERR_ARGUMENT', `must be at least 10m (the signers never issue for less than ${MIN_LIFETIME_SECONDS} seconds)`, { field: '--signing-duration' });
    }
    // One line per answered request: method, path and query, the body's content type, the answer's content
    // type ('-' for none) and the status. Never a header or a body; the path is escaped like every name.
    const onRequest = values['log-requests']
      ? (entry: RequestLogEntry): void =>
          io.err(`kubepki: request ${printable(entry.method)} ${printable(entry.path)} ${printable(entry.contentType || '-')} ${printable(entry.responseType || '-')} ${entry.status}`)
      : undefined;
    // The API server's endpoint and advertise address, as this directory's kubeconfigs name them, are never a kubelet's.
    const apiHosts = (await Promise.all((['admin', 'controller-manager'] as const).map((name) => kubeconfigHost(join(dir, layoutFile(name, '')))))).filter((h): h is string => h !== undefined);
    const servingPolicy = servingPolicyFlags(values, apiHosts);
    const embedded = await startEmbeddedBootstrap({
      issuer: ca,
      servingIssuer: servingCa,
      tokens: directoryTokenStore(dir),
      registryDir: join(dir, 'csrs'),
      host,
      port: Number(listen[2]),
      nodeAddresses: staticNodeAddresses(nodeTable(values)),
      onDecision: (n, d) => d.decision !== 'ignore' && log(n, `${d.decision} (${d.message})`),
      onOutcome: (n, o) => o.outcome !== 'skipped' && log(n, o.outcome),
      onError: (error) => io.err(`kubepki: controller error: ${JSON.stringify(error instanceof Error ? error.message : String(error))}`),
      maxPendingPerRequester: maxPending === 0 ? Infinity : maxPending,
      onCleaned: (n, reason) => log(n, `deleted (${reason})`),
      revocationLists: revocationListFile(join(dir, layoutFile('ca', '.crl'))),
      onRefusal: (reason) => io.err(`kubepki: ${printable(reason)}`),
      signerWorkers: workers,
      servingPolicy,
      ...(maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds }),
      ...(onRequest ? { onRequest } : {}),
    }).catch((error: unknown) => Promise.reject(listenError(error, listen[0])));
    const stopping = stopSignal();
    io.out(embedded.server.url);
    return waitForSignal(io, () => embedded.close(), stopping);
  },
};

export const kubeletBootstrapVerb: Verb = {
  name: 'kubelet-bootstrap',
  summary: "a node's TLS bootstrap: a client certificate by bootstrap token, then (with --address) a serving certificate; --rotate keeps them fresh",
  usage: 'kubepki kubelet-bootstrap --bootstrap-kubeconfig FILE --kubeconfig FILE --cert-dir DIR --node-name NAME [--address IP|DNS ...] [--timeout 1h] [--rotate] [--json]',
  options: {
    'bootstrap-kubeconfig': { type: 'string', value: 'FILE', description: 'the kubeconfig with the bootstrap token, used when the kubelet has no certificate yet' },
    kubeconfig: { type: 'string', value: 'FILE', description: "the kubelet's kubeconfig, written to use the certificate it gets" },
    'cert-dir': { type: 'string', value: 'DIR', description: "where the kubelet's certificates are (kubelet-client-current.pem, kubelet-server-current.pem)", directory: 'created' },
    'node-name': { type: 'string', value: 'NAME', description: 'the node: the certificate is for system:node:NAME' },
    address: { type: 'string', value: 'IP|DNS', description: 'an address of the node for its serving certificate (none: no serving certificate)', multiple: true },
    timeout: { type: 'string', value: 'DURATION', description: 'how long to wait for each certificate to be issued', default: '1h' },
    rotate: { type: 'boolean', description: 'keep running, renewing each certificate in 70-90% of its lifetime, until stopped' },
    json: JSON_OPTION,
  },
  example: 'kubepki kubelet-bootstrap --bootstrap-kubeconfig /etc/kubernetes/bootstrap-kubelet.conf --kubeconfig /etc/kubernetes/kubelet.conf --cert-dir /var/lib/kubelet/pki --node-name node-1 --address 10.0.0.11',
  async run({ values }, io) {
    const timeoutMs = parseDuration(optional(values, 'timeout') ?? '1h', '--timeout') * 1000;
    const common = { certDir: resolve(required(values, 'cert-dir')), nodeName: required(values, 'node-name'), timeoutMs };
    const kubeconfig = resolve(required(values, 'kubeconfig'));
    const client = await bootstrapKubelet({ ...common, kubeconfig, bootstrapKubeconfig: resolve(required(values, 'bootstrap-kubeconfig')) });
    const addresses = (values.address as string[] | undefined) ?? [];
    const serving = addresses.length ? await requestServingCertificate({ ...common, kubeconfig, addresses }) : undefined;
    const stopping = values.rotate ? stopSignal() : undefined;
    const summary = {
      client: { subject: client.certificate.subject.commonName, notAfter: client.certificate.notAfter.toISOString(), bootstrapped: client.bootstrapped },
      ...(serving ? { serving: { sans: [...serving.sans.dns, ...serving.sans.ips], notAfter: serving.notAfter.toISOString() } } : {}),
    };
    if (values.json) io.out(JSON.stringify(summary, null, 2));
    else {
      io.out(`client certificate for ${summary.client.subject} until ${summary.client.notAfter}${client.bootstrapped ? '' : ' (kept)'}`);
      if (summary.serving) io.out(`serving certificate for ${summary.serving.sans.join(', ')} until ${summary.serving.notAfter}`);
    }
    if (!stopping) return 0;
    // As the kubelet's certificate managers: renew each certificate in 70-90% of its lifetime, until stopped.
    const rotation = kubeletRotation({
      ...common,
      kubeconfig,
      addresses,
      onRotated: (kind, certificate) => io.err(`kubepki: ${kind} certificate renewed until ${certificate.notAfter.toISOString()}`),
      onError: (kind, error) => io.err(`kubepki: renewing the ${kind} certificate failed, retrying: ${error instanceof Error ? error.message : String(error)}`),
    });
    rotation.start();
    return waitForSignal(io, () => rotation.stop(), stopping);
  },
};

const CLUSTER_KUBECONFIG_OPTION: VerbOption = { type: 'string', value: 'FILE', description: 'the kubeconfig of the cluster to work on', default: "in a pod, the pod's service account" };

export const approveVerb: Verb = {
  name: 'approve',
  summary: 'approve kubelet serving CSRs whose SANs the node owns (its Node addresses) and the serving policy allows, on a real cluster; deny the others',
  usage: `kubepki approve [--kubeconfig FILE (in a pod: its service account)] [--watch ${LEADER_ELECTION_USAGE}] ${SERVING_POLICY_USAGE}`,
  options: { kubeconfig: CLUSTER_KUBECONFIG_OPTION, watch: { type: 'boolean', description: 'keep watching and deciding new CSRs until stopped' }, ...SERVING_POLICY_FLAGS, ...LEADER_ELECTION_FLAGS },
  example: 'kubepki approve --kubeconfig /etc/kubernetes/admin.conf --watch --serving-allowed-cidrs 10.0.0.0/16',
  async run({ values }, io) {
    servingPolicyFlags(values, []);
    const election = leaderElectionFromFlags(values, { leaseName: 'kubepki-approver', watch: Boolean(values.watch), io });
    const connection = await kubeconfigFlagConnection(optional(values, 'kubeconfig'));
    const servingPolicy = servingPolicyFlags(values, [hostOf(connection.server)]);
    const registry = kubernetesRegistry(connection);
    const servingOnly = { ...registry, watch: (listener: Parameters<typeof registry.watch>[0]) => registry.watch((e) => e.object.spec.signerName === SIGNERS.kubeletServing && listener(e)) };
    const stopping = values.watch ? stopSignal() : undefined;
    const controller = await startApprover(servingOnly, {
      ...servingPolicy,
      nodeAddresses: nodeAddressesFromApi(connection),
      onDecision: (name, d) => d.decision !== 'ignore' && io.out(`${printable(name)}: ${d.decision === 'approve' ? 'approved' : 'denied'}: ${printable(d.message)}`),
      onConflict: (name) => io.err(`kubepki: ${printable(name)}: changed by another writer first; decision dropped`),
      onError: (error) => io.err(`kubepki: ${printable((error as Error).message)}`),
      ...(election ? { leaderElection: { ...election.options, connection } } : {}),
    });
    if (stopping) return runUntilStopped(io, controller, stopping, election?.lost);
    await controller.idle();
    await controller.stop();
    return 0;
  },
};

/**
 * A --watch controller until SIGINT or SIGTERM (exit 0, the Lease released), or until it loses its Lease:
 * then, as kube-controller-manager, one line and exit 1.
 */
async function runUntilStopped(io: Io, controller: Controller, stopping: Promise<void>, lost: Promise<string> | undefined): Promise<number> {
  const end = await Promise.race([stopping.then(() => undefined), ...(lost ? [lost] : [])]);
  if (end !== undefined) {
    io.err(end);
    await controller.stop();
    return 1;
  }
  io.err('kubepki: stopping');
  await controller.stop();
  return 0;
}

export const signerVerb: Verb = {
  name: 'signer',
  summary: "sign a real cluster's approved kubelet CSRs (client and serving) with the directory's CA, as kube-controller-manager's csrsigning; --watch keeps signing",
  usage: `kubepki signer [--kubeconfig FILE (in a pod: its service account)] --dir PKI_DIR [--watch ${LEADER_ELECTION_USAGE}] [--signing-duration 8760h] [--ca-pkcs11 ${PKCS11_OPTION_HELP}]`,
  options: {
    kubeconfig: CLUSTER_KUBECONFIG_OPTION,
    dir: PKI_DIR_OPTION,
    watch: { type: 'boolean', description: 'keep watching and signing approved CSRs until stopped' },
    'signing-duration': SIGNING_DURATION_OPTION,
    'ca-pkcs11': PKCS11_OPTION,
    ...LEADER_ELECTION_FLAGS,
  },
  example: 'kubepki signer --kubeconfig /etc/kubernetes/admin.conf --dir /etc/kubernetes --watch',
  async run({ values }, io) {
    const dir = resolve(required(values, 'dir'));
    const election = leaderElectionFromFlags(values, { leaseName: 'kubepki-signer', watch: Boolean(values.watch), io });
    const connection = await kubeconfigFlagConnection(optional(values, 'kubeconfig'));
    const signingDuration = optional(values, 'signing-duration');
    const maxLifetimeSeconds = signingDuration === undefined ? undefined : parseDuration(signingDuration, '--signing-duration');
    if (maxLifetimeSeconds !== undefined && maxLifetimeSeconds < MIN_LIFETIME_SECONDS) {
      throw new PkiError('ERR_ARGUMENT', `must be at least 10m (the signers never issue for less than ${MIN_LIFETIME_SECONDS} seconds)`, { field: '--signing-duration' });
    }
    const pkcs11 = pkcs11Option(values);
    const { ca, servingCa } = await kubeletSigningAuthorities(dir, pkcs11 ? { pkcs11 } : {});
    const registry = kubernetesRegistry(connection);
    const common = {
      ...(maxLifetimeSeconds === undefined ? {} : { maxLifetimeSeconds }),
      onOutcome: (name: string, outcome: SignOutcome) => {
        if (outcome.outcome === 'issued') io.out(`${printable(name)}: issued, serial ${outcome.certificate.serialNumber}`);
        if (outcome.outcome === 'failed') io.out(`${printable(name)}: failed: ${printable(outcome.message)}`);
      },
      onConflict: (name: string) => io.err(`kubepki: ${printable(name)}: changed by another writer first; certificate dropped`),
      onError: (error: unknown) => io.err(`kubepki: ${printable(error instanceof Error ? error.message : String(error))}`),
    };
    // Both kubelet signers run under one Lease: one replica signs everything.
    const startBoth = async (): Promise<Controller> => {
      const signers = [await startSigner(registry, { ...common, signerName: SIGNERS.kubeApiserverClientKubelet, issuer: ca }), await startSigner(registry, { ...common, signerName: SIGNERS.kubeletServing, issuer: servingCa })];
      return {
        stop: async () => void (await Promise.all(signers.map((s) => s.stop()))),
        idle: async () => void (await Promise.all(signers.map((s) => s.idle()))),
      };
    };
    const stopping = values.watch ? stopSignal() : undefined;
    const controller = election ? await runWhileLeading({ ...election.options, connection }, startBoth, common.onError) : await startBoth();
    if (stopping) return runUntilStopped(io, controller, stopping, election?.lost);
    await controller.idle();
    await controller.stop();
    return 0;
  },
};
