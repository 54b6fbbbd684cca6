// End to end on 127.0.0.1: each path's agents (Node https.Agent and undici Agent) succeed against a
// server with the right certificate and fail, with the reason, against the wrong ones.
import { request as httpsRequest, type Server } from 'node:https';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request as undiciRequest } from 'undici';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  apiserverToKubelet,
  apiserverToService,
  createCertificateAuthority,
  explainTlsError,
  importPrivateKeyPem,
  initPkiDirectory,
  componentToApiserver as componentToApiserver,
  nodeSubject,
  podToApiserver,
  PROFILES,
  storeCertificatePair,
  stringifyKubeconfig,
  type PathAgents,
} from '../../lib/index.js';
import { expiredServingPair, issuePair, serveTls, type Pair } from '../helpers/tls-servers.js';
import { withTempDir } from '../helpers/dirs.js';

function viaHttps(agents: PathAgents, url: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { agent: agents.https, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', (e) => reject(explainTlsError(e, agents.serverName)));
    req.end();
  });
}

async function viaUndici(agents: PathAgents, url: string): Promise<string> {
  try {
    const res = await undiciRequest(url, { dispatcher: agents.undici });
    return await res.body.text();
  } catch (error) {
    throw explainTlsError((error as { cause?: unknown }).cause ?? error, agents.serverName);
  }
}

const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: { code?: string }) => e.code ?? 'unknown');

test('apiserver -> kubelet: the node address against the IP SAN, the kubelet-serving bundle, the apiserver-kubelet-client identity; and every wrong server refused with its reason', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
    const read = (p: string) => readFile(join(dir, p), 'utf8');
    const ca = { certificate: await read('pki/ca.crt'), privateKey: (await importPrivateKeyPem(await read('pki/ca.key'))).privateKey };
    const servingPair = await issuePair(ca, PROFILES.kubeletServing, nodeSubject('node-1'), { dns: ['node-1'], ips: ['127.0.0.1'] });
    const client = { clientCertificate: await read('pki/apiserver-kubelet-client.crt'), clientKey: await read('pki/apiserver-kubelet-client.key') };
    const servers: Server[] = [];
    const start = async (pair: Pair, clientCa?: string) => {
      const s = await serveTls(pair, clientCa);
      servers.push(s.server);
      return s.port;
    };
    try {
      const good = await start(servingPair, ca.certificate);
      const agents = apiserverToKubelet({ kubeletServingBundle: ca.certificate, ...client, nodeAddress: '127.0.0.1', port: good });
      assert.equal(JSON.parse(await viaHttps(agents, agents.url)).client, 'kube-apiserver-kubelet-client');
      assert.equal(JSON.parse(await viaUndici(agents, agents.url)).client, 'kube-apiserver-kubelet-client');
      await agents.close();

      const foreignCa = await createCertificateAuthority({ commonName: 'kubernetes' });
      const cases: [string, Pair, string | undefined, string][] = [
        ['a certificate from another CA with the same subject', await issuePair(foreignCa, PROFILES.kubeletServing, nodeSubject('node-1'), { ips: ['127.0.0.1'] }), undefined, 'ERR_UNKNOWN_AUTHORITY'],
        ['the right CA with the wrong SAN', await issuePair(ca, PROFILES.kubeletServing, nodeSubject('node-1'), { ips: ['10.9.9.9'] }), undefined, 'ERR_NAME_MISMATCH'],
        ['an expired certificate', await expiredServingPair(ca, { ips: ['127.0.0.1'] }), undefined, 'ERR_EXPIRED'],
        ['a client-only certificate used as server', await issuePair(ca, PROFILES.client, { commonName: 'node-1' }, { ips: ['127.0.0.1'] }), undefined, 'ERR_PURPOSE'],
      ];
      for (const [name, pair, clientCa, code] of cases) {
        const port = await start(pair, clientCa);
        const a = apiserverToKubelet({ kubeletServingBundle: ca.certificate, ...client, nodeAddress: '127.0.0.1', port });
        assert.is(await codeOf(viaHttps(a, a.url)), code, `https: ${name}`);
        assert.is(await codeOf(viaUndici(a, a.url)), code, `undici: ${name}`);
        await a.close();
      }
      const demanding = await start(servingPair, ca.certificate);
      const anonymous = apiserverToService({ bundle: ca.certificate, service: 'x', namespace: 'y', address: '127.0.0.1', port: demanding });
      const withoutCert = apiserverToKubelet({ kubeletServingBundle: ca.certificate, clientCertificate: '', clientKey: '', nodeAddress: '127.0.0.1', port: demanding });
      assert.is(await codeOf(viaHttps(withoutCert, withoutCert.url)), 'ERR_UNAUTHORIZED', 'a server that demands a client certificate the agent lacks');
      await withoutCert.close();
      await anonymous.close();
    } finally {
      for (const s of servers) s.close();
    }
  });
});

test('apiserver -> proxied service: the certificate is checked for <svc>.<ns>.svc, not the address dialled', async () => {
  const ca = await createCertificateAuthority({ commonName: 'metrics-ca' });
  const good = await serveTls(await issuePair(ca, PROFILES.server, { commonName: 'metrics' }, { dns: ['metrics-server.kube-system.svc'] }));
  const other = await serveTls(await issuePair(ca, PROFILES.server, { commonName: 'metrics' }, { dns: ['other.kube-system.svc'] }));
  try {
    const ok = apiserverToService({ bundle: ca.certificate.pem, service: 'metrics-server', namespace: 'kube-system', address: '127.0.0.1', port: good.port });
    assert.ok(JSON.parse(await viaHttps(ok, ok.url)));
    assert.ok(JSON.parse(await viaUndici(ok, ok.url)));
    const bad = apiserverToService({ bundle: ca.certificate.pem, service: 'metrics-server', namespace: 'kube-system', address: '127.0.0.1', port: other.port });
    assert.is(await codeOf(viaHttps(bad, bad.url)), 'ERR_NAME_MISMATCH');
    await ok.close();
    await bad.close();
  } finally {
    good.server.close();
    other.server.close();
  }
});

test('kubelet -> apiserver: the rotated kubelet-client-current.pem is used by the next connection, without a restart', async () => {
  await withTempDir(async (dir) => {
    const ca = await createCertificateAuthority();
    const server = await serveTls(await issuePair(ca, PROFILES.server, { commonName: 'kube-apiserver' }, { ips: ['127.0.0.1'] }), ca.certificate.pem);
    try {
      const certDir = join(dir, 'pki');
      await mkdir(certDir);
      const store = (at: number) => ({ certDir, prefix: 'kubelet-client', now: () => new Date(at) });
      const issue = async () => issuePair(ca, PROFILES.kubeletClient, nodeSubject('node-1'));
      const first = await issue();
      await storeCertificatePair(store(Date.now()), first.cert, first.key);
      const current = join(certDir, 'kubelet-client-current.pem');
      const kubeconfig = join(dir, 'kubelet.conf');
      await writeFile(kubeconfig, stringifyKubeconfig({ clusterName: 'k', server: `https://127.0.0.1:${server.port}`, caPem: ca.certificate.pem, userName: 'u', clientCertificateFile: current, clientKeyFile: current }));
      const agents = componentToApiserver(kubeconfig);
      const serialOf = async () => JSON.parse(await viaHttps(agents, agents.url)).serial as string;
      const undiciSerial = async () => JSON.parse(await viaUndici(agents, agents.url)).serial as string;
      const before = await serialOf();
      assert.is(await serialOf(), before, 'a kept-alive connection keeps its certificate until rotation');
      assert.is(await undiciSerial(), before);
      assert.is(await undiciSerial(), before);
      const second = await issue();
      await storeCertificatePair(store(Date.now() + 5000), second.cert, second.key);
      const after = await serialOf();
      assert.is.not(after, before);
      assert.is(await undiciSerial(), after, 'undici too: the next request handshakes with the rotated certificate');
      await agents.close();
    } finally {
      server.server.close();
    }
  });
});

test('pod -> apiserver: ca.crt of the service account, the token re-read when it changes, the service env', async () => {
  await withTempDir(async (dir) => {
    const ca = await createCertificateAuthority();
    const server = await serveTls(await issuePair(ca, PROFILES.server, { commonName: 'kube-apiserver' }, { ips: ['127.0.0.1'], dns: ['kubernetes.default.svc'] }));
    try {
      await writeFile(join(dir, 'ca.crt'), ca.certificate.pem);
      await writeFile(join(dir, 'token'), 'first-token');
      const agents = podToApiserver({ serviceAccountDir: dir, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(server.port) } });
      assert.ok(JSON.parse(await viaHttps(agents, agents.url)));
      assert.is(agents.authorization(), 'Bearer first-token');
      await writeFile(join(dir, 'token'), 'second-token-longer');
      assert.is(agents.authorization(), 'Bearer second-token-longer');
      await agents.close();
      assert.throws(() => podToApiserver({ serviceAccountDir: dir, env: {} }));
    } finally {
      server.server.close();
    }
  });
});

test('an agent without a CA is an error, never the system trust store', async () => {
  assert.throws(() => apiserverToService({ bundle: '', service: 's', namespace: 'n', address: '127.0.0.1', port: 1 }), /CA bundle is required/);
});

test.run();
