import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapKubelet,
  bootstrapTokenSecret,
  caPublicKeyPin,
  clusterInfoConfigMap,
  createCertificateAuthority,
  memoryTokenStore,
  parseBootstrapToken,
  startEmbeddedBootstrap,
  writeFileAtomic,
  type CertificateAuthority,
  type EmbeddedBootstrap,
} from '../../lib/index.js';
import { discoverCluster, joinKubeconfig } from '../../lib/bootstrap/discovery.js';
import { endpointServingCertificate } from '../../lib/bootstrap/endpoint-certificate.js';
import { CLUSTER_INFO_PATH, clusterInfoKubeconfig, signingTokens } from '../../lib/bootstrap/token.js';
import { failureOf } from '../helpers/fixtures.js';
import { withTempDir } from '../helpers/dirs.js';

const TOKEN = parseBootstrapToken('abcdef.0123456789abcdef');
const FAR = new Date('2099-01-01T00:00:00Z');

// The verification time, an hour into the CA's life (the TLS handshakes themselves use the system clock).
let T0: Date;
let ca: CertificateAuthority;
let other: CertificateAuthority;
let embedded: EmbeddedBootstrap;
let endpoint: string;

const issuerOf = (authority: CertificateAuthority) => ({ certificate: authority.certificate.pem, privateKey: authority.privateKey });

test.before(async () => {
  ca = await createCertificateAuthority({ commonName: 'discovery-ca' });
  other = await createCertificateAuthority({ commonName: 'someone-else' });
  T0 = new Date(ca.certificate.notBefore.getTime() + 3600_000);
  embedded = await startEmbeddedBootstrap({
    issuer: issuerOf(ca),
    tokens: memoryTokenStore([
      bootstrapTokenSecret(TOKEN, { expiration: FAR }),
      // Authentication only: cluster-info carries no signature for it.
      bootstrapTokenSecret(parseBootstrapToken('authon.0123456789abcdef'), { expiration: FAR, usages: ['authentication'] }),
    ]),
  });
  endpoint = embedded.server.url.slice('https://'.length);
});

test.after(async () => {
  await embedded.close();
});

/** An HTTPS server on 127.0.0.1 answering every GET of cluster-info with `body`, its certificate from `issuer`. */
async function fakeEndpoint(issuer: CertificateAuthority, body: (url: string) => object): Promise<{ server: Server; endpoint: string; url: string }> {
  const pair = await endpointServingCertificate(issuerOf(issuer), ['127.0.0.1']);
  let url = '';
  const server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    if (req.url !== CLUSTER_INFO_PATH) {
      res.writeHead(404).end();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body(url)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, endpoint: url.slice('https://'.length), url };
}

async function withFake<T>(issuer: CertificateAuthority, body: (url: string) => object, fn: (endpoint: string) => Promise<T>): Promise<T> {
  const fake = await fakeEndpoint(issuer, body);
  try {
    return await fn(fake.endpoint);
  } finally {
    await new Promise<void>((r) => {
      fake.server.close(() => r());
      fake.server.closeAllConnections();
    });
  }
}

test('the embedded endpoint serves cluster-info to anonymous GETs, signed for its signing tokens only', async () => {
  const found = await discoverCluster({ server: endpoint, token: TOKEN, caCertHashes: [caPublicKeyPin(ca.certificate)], now: T0 });
  assert.is(found.server, embedded.server.url);
  assert.is(found.caPem.trim(), ca.certificate.pem.trim());
  const authOnly = await failureOf(() => discoverCluster({ server: endpoint, token: 'authon.0123456789abcdef', caCertHashes: [caPublicKeyPin(ca.certificate)], now: T0 }));
  assert.is(authOnly.code, 'ERR_TOKEN');
});

test('a node joins through discovery (token + pin) and gets its client certificate', async () => {
  await withTempDir(async (dir) => {
    const found = await discoverCluster({ server: endpoint, token: 'abcdef.0123456789abcdef', caCertHashes: [caPublicKeyPin(other.certificate), caPublicKeyPin(ca.certificate).toUpperCase().replace('SHA256', 'sha256')], now: T0 });
    const bootstrapKubeconfig = join(dir, 'bootstrap-kubelet.conf');
    const text = joinKubeconfig(found, TOKEN);
    assert.match(text, /name: tls-bootstrap-token-user/);
    await writeFileAtomic({ path: bootstrapKubeconfig, content: text, mode: 0o600 });
    const result = await bootstrapKubelet({ bootstrapKubeconfig, kubeconfig: join(dir, 'kubelet.conf'), certDir: join(dir, 'pki'), nodeName: 'node-9', timeoutMs: 20_000 });
    assert.ok(result.bootstrapped);
    assert.is(result.certificate.subject.commonName, 'system:node:node-9');
    assert.ok(result.certificate.isIssuedBy(ca.certificate));
  });
});

test('refusals: wrong pin, wrong token, unknown token, malformed pin', async () => {
  const pin = caPublicKeyPin(ca.certificate);
  const wrongPin = await failureOf(() => discoverCluster({ server: endpoint, token: TOKEN, caCertHashes: [caPublicKeyPin(other.certificate)], now: T0 }));
  assert.is(wrongPin.code, 'ERR_CERTIFICATE');
  const wrongSecret = await failureOf(() => discoverCluster({ server: endpoint, token: 'abcdef.0123456789abcdee', caCertHashes: [pin], now: T0 }));
  assert.is(wrongSecret.code, 'ERR_TOKEN');
  assert.is(wrongSecret.field, 'jws-kubeconfig-abcdef');
  assert.not.match(wrongSecret.message ?? '', /0123456789abcde/);
  const unknown = await failureOf(() => discoverCluster({ server: endpoint, token: 'zzzzzz.0123456789abcdef', caCertHashes: [pin], now: T0 }));
  assert.is(unknown.code, 'ERR_TOKEN');
  assert.match(unknown.message ?? '', /no signature/);
  assert.is((await failureOf(() => discoverCluster({ server: endpoint, token: TOKEN, caCertHashes: ['sha256:abc'] }))).code, 'ERR_ARGUMENT');
  assert.is((await failureOf(() => discoverCluster({ server: endpoint, token: TOKEN, caCertHashes: [] }))).code, 'ERR_ARGUMENT');
  assert.is((await failureOf(() => discoverCluster({ server: 'https://nowhere', token: TOKEN, caCertHashes: [pin] }))).code, 'ERR_ARGUMENT');
  // A pinned CA that has expired at `now`.
  assert.is((await failureOf(() => discoverCluster({ server: endpoint, token: TOKEN, caCertHashes: [pin], now: FAR }))).code, 'ERR_EXPIRED');
});

test('refusals from a hostile endpoint: tampered, unsigned, another CA signed with a leaked token, a server the CA does not vouch for', async () => {
  const pin = caPublicKeyPin(ca.certificate);
  const genuine = (url: string) => clusterInfoConfigMap(clusterInfoKubeconfig(url, ca.certificate.pem), [TOKEN]);
  // The genuine answer from a server with a certificate of the right CA is accepted: the fakes differ in one thing each.
  const ok = await withFake(ca, genuine, (at) => discoverCluster({ server: at, token: TOKEN, caCertHashes: [pin], now: T0 }));
  assert.is(ok.caPem, ca.certificate.pem);
  const tampered = await withFake(
    ca,
    (url) => {
      const map = genuine(url);
      return { ...map, data: { ...map.data, kubeconfig: clusterInfoKubeconfig('https://evil.example:6443', ca.certificate.pem) } };
    },
    (at) => failureOf(() => discoverCluster({ server: at, token: TOKEN, caCertHashes: [pin], now: T0 })),
  );
  assert.is(tampered.code, 'ERR_TOKEN');
  const unsigned = await withFake(ca, (url) => clusterInfoConfigMap(clusterInfoKubeconfig(url, ca.certificate.pem), []), (at) => failureOf(() => discoverCluster({ server: at, token: TOKEN, caCertHashes: [pin], now: T0 })));
  assert.is(unsigned.code, 'ERR_TOKEN');
  assert.match(unsigned.message ?? '', /no signature/);
  const otherCa = await withFake(other, (url) => clusterInfoConfigMap(clusterInfoKubeconfig(url, other.certificate.pem), [TOKEN]), (at) => failureOf(() => discoverCluster({ server: at, token: TOKEN, caCertHashes: [pin], now: T0 })));
  assert.is(otherCa.code, 'ERR_CERTIFICATE');
  // The genuine, signed cluster-info replayed by a server whose certificate the pinned CA did not issue.
  const replayed = await withFake(other, genuine, (at) => failureOf(() => discoverCluster({ server: at, token: TOKEN, caCertHashes: [pin], now: T0 })));
  assert.is(replayed.code, 'ERR_UNKNOWN_AUTHORITY');
  const notJson = await withFake(ca, () => ({ data: 'x' }), (at) => failureOf(() => discoverCluster({ server: at, token: TOKEN, caCertHashes: [pin], now: T0 })));
  assert.is(notJson.code, 'ERR_TOKEN');
});

test('signingTokens: only bootstrap tokens for signing that have not expired at now', async () => {
  const store = memoryTokenStore([
    bootstrapTokenSecret(TOKEN, { expiration: new Date(T0.getTime() + 1000) }),
    bootstrapTokenSecret(parseBootstrapToken('expird.0123456789abcdef'), { expiration: T0 }),
    bootstrapTokenSecret(parseBootstrapToken('authon.0123456789abcdef'), { expiration: FAR, usages: ['authentication'] }),
    { ...bootstrapTokenSecret(parseBootstrapToken('othert.0123456789abcdef'), { expiration: FAR }), type: 'Opaque' },
  ]);
  assert.equal((await signingTokens(store, T0)).map((t) => t.id), ['abcdef']);
  assert.equal(await signingTokens({ getSecret: async () => undefined }, T0), []);
});

test.run();
