// A CSR name may have up to 253 characters (Kubernetes allows it, the kubelet's node-csr-<hash> names
// are shorter but any client may choose one). The persisted registry keeps one file per CSR: neither that
// file nor its temporary name may exceed NAME_MAX (255 bytes), or the endpoint answers 500.
import { request } from 'node:https';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapTokenSecret,
  createCsr,
  formatBootstrapToken,
  generateBootstrapToken,
  generateKeyPair,
  initPkiDirectory,
  memoryRegistry,
  memoryTokenStore,
  startBootstrapServer,
} from '../../lib/index.js';
import { csrObject } from '../../lib/bootstrap/csr-object.js';
import { registryFileName } from '../../lib/bootstrap/registry-files.js';
import { withTempDir } from '../helpers/dirs.js';

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

async function nodeCsr(name: string) {
  const keyPair = await generateKeyPair();
  const csr = await createCsr({ keyPair, subject: { commonName: 'system:node:worker-1', organizations: ['system:nodes'] } });
  return csrObject(name, csr.pem, 'kubernetes.io/kube-apiserver-client-kubelet', ['digital signature', 'client auth']);
}

function post(url: string, ca: string, token: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('a CSR named with 233 to 253 characters POSTed to the embedded endpoint is 201, persisted and reloaded', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { nodeName: 'cp-1', advertiseAddress: '127.0.0.1', konnectivity: false });
    const ca = await readFile(join(dir, 'pki/ca.crt'), 'utf8');
    const token = formatBootstrapToken(generateBootstrapToken());
    const csrs = join(dir, 'csrs');
    const registry = await memoryRegistry({ dir: csrs });
    const server = await startBootstrapServer({
      registry,
      tokens: memoryTokenStore([bootstrapTokenSecret({ id: token.slice(0, 6), secret: token.slice(7) })]),
      tls: { cert: await readFile(join(dir, 'pki/apiserver.crt'), 'utf8'), key: await readFile(join(dir, 'pki/apiserver.key'), 'utf8'), clientCa: ca },
    });
    try {
      const names = [233, 234, 250, 253].map((length) => `node-csr-${'x'.repeat(length - 9)}`);
      // Two 253-character names that differ only at the end get two files.
      names.push(`node-csr-${'x'.repeat(243)}y`);
      for (const name of names) {
        const res = await post(`${server.url}${CSRS}`, ca, token, await nodeCsr(name));
        assert.is(res.status, 201, `${name.length}: ${res.body}`);
        assert.is(JSON.parse(res.body).metadata.name, name);
      }
      const files = await readdir(csrs);
      assert.is(files.length, names.length, files.join('\n'));
      for (const file of files) assert.ok(Buffer.byteLength(file) <= 255 && file.endsWith('.json') && !file.includes('.tmp-'), file);
      for (const name of names.slice(0, 3)) assert.ok(files.includes(`${name}.json`), `${name.length}: <name>.json while it fits`);
      const reopened = await memoryRegistry({ dir: csrs });
      assert.equal((await reopened.list()).map((c) => c.metadata.name).sort(), [...names].sort());
    } finally {
      await server.close();
    }
  });
});

test('registryFileName: <name>.json up to 255 bytes, else a prefix and a hash of the whole name, within NAME_MAX', () => {
  assert.is(registryFileName('node-csr-abc'), 'node-csr-abc.json');
  const a = registryFileName(`${'a'.repeat(252)}b`);
  const b = registryFileName(`${'a'.repeat(252)}c`);
  assert.is.not(a, b);
  assert.ok(Buffer.byteLength(a) <= 255 && Buffer.byteLength(b) <= 255);
});

test.run();
