// Every path's agents against the same five wrong servers: each refuses, with its reason. The right
// server for each path is in paths.test.ts (Node servers), the control-plane test (real apiserver, etcd)
// and here for Konnectivity's two mutual-TLS legs.
import { request } from 'node:https';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  apiserverToEtcd,
  apiserverToKonnectivity,
  apiserverToKubelet,
  apiserverToService,
  componentToApiserver,
  createCertificateAuthority,
  explainTlsError,
  importPrivateKeyPem,
  initPkiDirectory,
  konnectivityAgentToServer,
  podToApiserver,
  PROFILES,
  type Issuer,
  type PathAgents,
} from '../../lib/index.js';
import { expiredServingPair, issuePair, serveTls, type Pair } from '../helpers/tls-servers.js';
import { withTempDir } from '../helpers/dirs.js';

const call = (agents: PathAgents, port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request(`https://127.0.0.1:${port}/`, { agent: agents.https, ...(agents.serverName === '127.0.0.1' ? {} : { servername: agents.serverName }) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', (e) => reject(explainTlsError(e, agents.serverName)));
    req.end();
  });

test('Konnectivity: agent -> server and apiserver -> server are mutual TLS; the right server answers with the client identity', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1' });
    const read = (p: string) => readFile(join(dir, p), 'utf8');
    const ca = await read('pki/ca.crt');
    const server = await serveTls({ cert: await read('pki/konnectivity-server.crt'), key: await read('pki/konnectivity-server.key') }, ca);
    try {
      const agent = konnectivityAgentToServer({ ca, clientCertificate: await read('pki/konnectivity-agent.crt'), clientKey: await read('pki/konnectivity-agent.key'), serverHost: '127.0.0.1', port: server.port });
      assert.is(JSON.parse(await call(agent, server.port)).client, 'konnectivity-agent');
      const apiserver = apiserverToKonnectivity({ ca, clientCertificate: await read('pki/konnectivity-client.crt'), clientKey: await read('pki/konnectivity-client.key'), serverHost: '127.0.0.1', port: server.port });
      assert.is(JSON.parse(await call(apiserver, server.port)).client, 'kube-apiserver-konnectivity-client');
      await agent.close();
      await apiserver.close();
    } finally {
      server.server.close();
    }
  });
});

test('every path refuses the five wrong servers with the reason', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1' });
    const read = (p: string) => readFile(join(dir, p), 'utf8');
    const caPem = await read('pki/ca.crt');
    const ca: Issuer = { certificate: caPem, privateKey: (await importPrivateKeyPem(await read('pki/ca.key'))).privateKey };
    const client = { clientCertificate: await read('pki/apiserver-kubelet-client.crt'), clientKey: await read('pki/apiserver-kubelet-client.key') };
    const sa = join(dir, 'sa');
    await mkdir(sa);
    await writeFile(join(sa, 'ca.crt'), caPem);
    await writeFile(join(sa, 'token'), 't');
    // Each path, given the port of the server under test. All trust the cluster CA and expect 127.0.0.1.
    const paths: [string, (port: number) => PathAgents][] = [
      ['kubelet/component -> apiserver', () => componentToApiserver(join(dir, 'admin.conf'))],
      ['pod -> apiserver', (port) => podToApiserver({ serviceAccountDir: sa, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) } })],
      ['apiserver -> kubelet', (port) => apiserverToKubelet({ kubeletServingBundle: caPem, ...client, nodeAddress: '127.0.0.1', port })],
      ['apiserver -> service', (port) => apiserverToService({ bundle: caPem, service: 'svc', namespace: 'ns', address: '127.0.0.1', port })],
      ['Konnectivity', (port) => konnectivityAgentToServer({ ca: caPem, ...client, serverHost: '127.0.0.1', port })],
      ['apiserver -> etcd', (port) => apiserverToEtcd({ ca: caPem, ...client, serverHost: '127.0.0.1', port })],
    ];
    const names = (path: string) => (path === 'apiserver -> service' ? { dns: ['svc.ns.svc'] } : { ips: ['127.0.0.1'] });
    const wrongNames = (path: string) => (path === 'apiserver -> service' ? { dns: ['other.ns.svc'] } : { ips: ['10.9.9.9'] });
    const foreign = await createCertificateAuthority({ commonName: 'kubernetes' });
    const failures: string[] = [];
    for (const [path, make] of paths) {
      const servers: [string, Pair, string | undefined, string][] = [
        ['another CA, same subject', await issuePair(foreign, PROFILES.server, { commonName: 'x' }, names(path)), undefined, 'ERR_UNKNOWN_AUTHORITY'],
        ['right CA, wrong SAN', await issuePair(ca, PROFILES.server, { commonName: 'x' }, wrongNames(path)), undefined, 'ERR_NAME_MISMATCH'],
        ['expired', await expiredServingPair({ certificate: caPem, privateKey: ca.privateKey }, names(path)), undefined, 'ERR_EXPIRED'],
        ['client-only certificate as server', await issuePair(ca, PROFILES.client, { commonName: 'x' }, names(path)), undefined, 'ERR_PURPOSE'],
      ];
      for (const [what, p, clientCa, code] of servers) {
        const { server, port } = await serveTls(p, clientCa);
        const agents = make(port);
        const got = await call(agents, port).then(() => 'ok', (e: { code?: string }) => e.code);
        if (got !== code) failures.push(`${path} / ${what}: expected ${code}, got ${got}`);
        await agents.close();
        server.close();
      }
    }
    // A server that demands a client certificate, for the paths that may go without one.
    const demanding = await serveTls(await issuePair(ca, PROFILES.server, { commonName: 'x' }, { ips: ['127.0.0.1'] }), caPem);
    const pod = podToApiserver({ serviceAccountDir: sa, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(demanding.port) } });
    const got = await call(pod, demanding.port).then(() => 'ok', (e: { code?: string }) => e.code);
    if (got !== 'ERR_UNAUTHORIZED') failures.push(`pod -> apiserver / client certificate demanded: got ${got}`);
    await pod.close();
    demanding.server.close();
    assert.equal(failures, []);
  });
});

test.run();
