// A stand-in API server on 127.0.0.1 (port 0) that answers GETs of fixed paths with fixed JSON, 404 otherwise.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCertificateAuthority, nodeSubject, PROFILES } from '../../lib/index.js';
import type { KubeConnection } from '../../lib/bootstrap/kube-client.js';
import { issuePair } from './tls-servers.js';

export async function fakeApi(answers: Record<string, unknown>): Promise<{ connection: KubeConnection; requests: string[]; close: () => Promise<void> }> {
  const ca = await createCertificateAuthority({ commonName: 'fake-api-ca' });
  const pair = await issuePair(ca, PROFILES.kubeletServing, nodeSubject('fake-api'), { ips: ['127.0.0.1'] });
  const requests: string[] = [];
  const server = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const path = (req.url ?? '').split('?')[0]!;
    if (req.method === 'GET' && Object.hasOwn(answers, path)) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[path]));
    else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', reason: 'NotFound', message: `${path} not found` }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    connection: { server: `https://127.0.0.1:${port}`, ca: ca.certificate.pem, token: 'fake' },
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
