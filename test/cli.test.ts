import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../lib/cli.js';
import { createCsr, exportPrivateKeyPem, nodeSubject } from '../lib/index.js';
import { fixtureAuthorities, fixtureKey } from './helpers/fixtures.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('inspect describes certificates, CSRs and keys without printing key material', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kubepki-cli-'));
  try {
    const { root } = await fixtureAuthorities('ecdsa-p256');
    const key = await fixtureKey('ecdsa-p256', undefined, 1);
    const keyPem = await exportPrivateKeyPem(key);
    const csr = await createCsr({ keyPair: key, subject: nodeSubject('n1'), sans: { ips: ['10.0.0.1'] } });
    const file = join(dir, 'all.pem');
    await writeFile(file, root.certificate.pem + csr.pem + keyPem);
    const result = await run('inspect', file, '--json');
    assert.is(result.code, 0);
    const items = JSON.parse(result.out) as Record<string, unknown>[];
    assert.equal(items.map((i) => i.type), ['certificate', 'certificate request', 'private key']);
    assert.is(items[0]!.subject, 'CN=root-ecdsa-p256');
    assert.equal(items[1]!.sans, ['IP:10.0.0.1']);
    const body = keyPem.split('\n')[1]!;
    assert.not.ok(result.out.includes(body.slice(0, 20)), 'no key material in the output');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('errors are reported with their code and a non-zero exit', async () => {
  const result = await run('inspect', '/dev/null');
  assert.is(result.code, 1);
  assert.match(result.err, /ERR_PEM/);
  assert.is((await run('frobnicate')).code, 2);
  assert.is((await run('help')).code, 0);
  assert.match((await run('version')).out, /^kubepki \d+\.\d+\.\d+/);
});

test.run();
