// Judge: nginx with `ssl_verify_client on` as a real TLS server for the apiserver -> service path.
import { spawnSync } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { request as undiciRequest } from 'undici';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { apiserverToService, createCertificateAuthority, exportPrivateKeyPem, generateKeyPair, issueCertificate, PROFILES } from '../../lib/index.js';
import { withTempDir } from '../helpers/dirs.js';
import { freePort, startDaemon, waitFor } from '../helpers/processes.js';
import { requireJudge } from '../helpers/judge-packages.js';

test('nginx demanding client certificates: the agent with the client certificate is served, without it is refused, a wrong CA is refused by the agent', async () => {
  await withTempDir(async (dir) => {
    const ca = await createCertificateAuthority({ commonName: 'service-ca' });
    const serverKey = await generateKeyPair();
    const server = await issueCertificate({ profile: PROFILES.server, subject: { commonName: 'metrics' }, sans: { dns: ['metrics.monitoring.svc'] }, publicKey: serverKey.publicKey, issuer: ca });
    const clientKey = await generateKeyPair();
    const client = await issueCertificate({ profile: PROFILES.client, subject: { commonName: 'kube-apiserver-proxy' }, publicKey: clientKey.publicKey, issuer: ca });
    await mkdir(join(dir, 'logs'));
    await writeFile(join(dir, 'server.crt'), server.pem);
    await writeFile(join(dir, 'server.key'), await exportPrivateKeyPem(serverKey), { mode: 0o600 });
    await writeFile(join(dir, 'ca.crt'), ca.certificate.pem);
    const port = await freePort();
    await writeFile(
      join(dir, 'nginx.conf'),
      `daemon off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs/error.log')};
events {}
http {
  access_log off;
  client_body_temp_path ${dir};
  proxy_temp_path ${dir};
  fastcgi_temp_path ${dir};
  uwsgi_temp_path ${dir};
  scgi_temp_path ${dir};
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${join(dir, 'server.crt')};
    ssl_certificate_key ${join(dir, 'server.key')};
    ssl_client_certificate ${join(dir, 'ca.crt')};
    ssl_verify_client on;
    location / { return 200 "hello $ssl_client_s_dn"; }
  }
}
`,
    );
    requireJudge('nginx');
    const check = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
    assert.is(check.status, 0, check.stderr);
    const nginx = startDaemon('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')]);
    try {
      const options = { bundle: ca.certificate.pem, service: 'metrics', namespace: 'monitoring', address: '127.0.0.1', port };
      const withCert = apiserverToService({ ...options, clientCertificate: client.pem, clientKey: await exportPrivateKeyPem(clientKey) });
      await waitFor('nginx', async () => (await undiciRequest(`${withCert.url}/`, { dispatcher: withCert.undici })).statusCode === 200, 15, nginx);
      const answer = await undiciRequest(`${withCert.url}/`, { dispatcher: withCert.undici });
      assert.match(await answer.body.text(), /CN=kube-apiserver-proxy/);
      const without = apiserverToService(options);
      const refused = await undiciRequest(`${without.url}/`, { dispatcher: without.undici });
      assert.is(refused.statusCode, 400, 'nginx answers 400 "No required SSL certificate was sent"');
      await refused.body.text();
      const other = await createCertificateAuthority({ commonName: 'service-ca' });
      const wrong = apiserverToService({ ...options, bundle: other.certificate.pem });
      const error = await undiciRequest(`${wrong.url}/`, { dispatcher: wrong.undici }).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
      assert.is(error, 'ERR_UNKNOWN_AUTHORITY');
      for (const agents of [withCert, without, wrong]) await agents.close();
    } finally {
      await nginx.stop();
    }
  });
});

test.run();
