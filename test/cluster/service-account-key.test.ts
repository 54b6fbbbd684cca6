// sa.key is what kube-apiserver's --service-account-signing-key-file reads, and it takes only RSA and
// ECDSA keys ("unknown private key type ed25519.PrivateKey, must be *rsa.PrivateKey, *ecdsa.PrivateKey"):
// whatever the certificates' key type, the service-account key is RSA or ECDSA.
import { createPrivateKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { exportPrivateKeyPem, generateKeyPair, initPkiDirectory, writeCertificateRequests, type KeySpec } from '../../lib/index.js';
import { serviceAccountKeySpec } from '../../lib/cluster/plan.js';
import { PkiError } from '../../lib/errors.js';
import { runCli } from '../helpers/cli.js';
import { withTempDir } from '../helpers/dirs.js';

const config = { nodeName: 'cp-1', advertiseAddress: '10.0.0.10', konnectivity: false } as const;

async function saKeyType(dir: string): Promise<{ type: string | undefined; curve?: string; bits?: number }> {
  const key = createPrivateKey(await readFile(join(dir, 'pki/sa.key')));
  return { type: key.asymmetricKeyType, curve: key.asymmetricKeyDetails?.namedCurve, bits: key.asymmetricKeyDetails?.modulusLength };
}

test('init --key-type ed25519 writes Ed25519 certificates and an ECDSA P-256 sa.key (sa.pub matching)', async () => {
  await withTempDir(async (dir) => {
    const result = await runCli('init', '--dir', dir, '--node-name', 'cp-1', '--advertise-address', '10.0.0.10', '--key-type', 'ed25519', '--no-konnectivity');
    assert.is(result.code, 0, result.err);
    assert.equal(await saKeyType(dir), { type: 'ec', curve: 'prime256v1', bits: undefined });
    assert.is(createPrivateKey(await readFile(join(dir, 'pki/apiserver.key'))).asymmetricKeyType, 'ed25519');
    // A second run keeps it.
    const again = await initPkiDirectory(dir, { ...config, keySpec: 'ed25519' });
    assert.ok(again.reused.includes('sa'));
  });
});

test('the external-CA mode (init --csr-only) also writes an ECDSA sa.key for ed25519', async () => {
  await withTempDir(async (dir) => {
    await writeCertificateRequests(dir, { ...config, keySpec: 'ed25519' });
    assert.is((await saKeyType(dir)).type, 'ec');
  });
});

test('RSA and ECDSA clusters keep their own type for sa.key', () => {
  const specs: KeySpec[] = ['rsa-2048', 'rsa-3072', 'rsa-4096', 'ecdsa-p256', 'ecdsa-p384'];
  for (const spec of specs) assert.is(serviceAccountKeySpec(spec), spec);
  assert.is(serviceAccountKeySpec('ed25519'), 'ecdsa-p256');
});

test('an Ed25519 sa.key left by an earlier version is a conflict; force replaces it with an ECDSA key', async () => {
  await withTempDir(async (dir) => {
    await initPkiDirectory(dir, { ...config, keySpec: 'ed25519' });
    await writeFile(join(dir, 'pki/sa.key'), await exportPrivateKeyPem(await generateKeyPair('ed25519')), { mode: 0o600 });
    const error = await initPkiDirectory(dir, { ...config, keySpec: 'ed25519' }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof PkiError && error.code === 'ERR_EXISTS' && /sa\.key.*Ed25519/.test(error.message), String(error));
    const forced = await initPkiDirectory(dir, { ...config, keySpec: 'ed25519' }, { force: true });
    assert.ok(forced.replaced.includes('sa'));
    assert.is((await saKeyType(dir)).type, 'ec');
  });
});

test.run();
