// A stand-in for the Konnectivity proxy-server's apiserver side in http-connect mode (the real proxy-server is not
// packaged here): an HTTP CONNECT proxy over mutual TLS on 127.0.0.1 that presents pki/konnectivity-server,
// requires a client certificate from the CA the proxy-server's --server-ca-cert names, pipes each tunnel to its
// target and logs it. It stands for the server and its agents at once: the target is dialled from here.
import { createServer, type Server } from 'node:https';
import { connect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export interface KonnectivityStandIn {
  readonly port: number;
  /** One line per tunnel opened (`CONNECT host:port from CN=...`) or handshake refused. */
  readonly log: string[];
  /** Tunnels opened so far. */
  tunnels(): number;
  /** Bytes carried so far, both ways, over every tunnel (TLS between the apiserver and the target: counted, not read). */
  bytes(): number;
  close(): Promise<void>;
}

export async function startKonnectivityStandIn(tls: { cert: string; key: string; ca: string }): Promise<KonnectivityStandIn> {
  const log: string[] = [];
  let opened = 0;
  let carried = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer({ cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (_req, res) => {
    res.writeHead(405).end('CONNECT only\n');
  });
  server.on('connection', track);
  server.on('tlsClientError', (error: Error & { code?: string }) => log.push(`refused a handshake: ${error.code ?? ''} ${error.message}`.trim()));
  server.on('connect', (req, client: Socket) => {
    const cn = (client as TLSSocket).getPeerCertificate?.().subject?.CN ?? '?';
    const target = req.url ?? '';
    const at = target.lastIndexOf(':');
    const upstream = connect(Number(target.slice(at + 1)), target.slice(0, at).replace(/^\[|\]$/g, ''));
    track(upstream);
    upstream.once('connect', () => {
      opened++;
      log.push(`CONNECT ${target} from CN=${cn}`);
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      upstream.on('data', (chunk: Buffer) => (carried += chunk.length));
      client.on('data', (chunk: Buffer) => (carried += chunk.length));
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (error) => {
      log.push(`CONNECT ${target} from CN=${cn} failed: ${error.message}`);
      client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    });
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    log,
    tunnels: () => opened,
    bytes: () => carried,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
