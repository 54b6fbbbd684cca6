import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  loadCurrentPair,
  nodeSubject,
  PROFILES,
  storeCertificatePair,
  type Certificate,
  type Clock,
} from '../../lib/index.js';
import { rotationDeadline, RotationManager, systemClock } from '../../lib/bootstrap/rotation.js';
import { failureOf, fixtureAuthorities } from '../helpers/fixtures.js';
import { withTempDir } from '../helpers/dirs.js';

const DAY = 86_400_000;

/** A clock whose sleep returns at once and moves time forward: tests never wait for real. */
function fakeClock(start: Date): Clock & { sleeps: number[] } {
  let now = start.getTime();
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(now),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
      await new Promise((r) => setImmediate(r));
    },
  };
}

test('the rotation deadline lies in [70%, 90%) of the lifetime', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date(notBefore.getTime() + 100 * DAY);
  for (const r of [0, 0.25, 0.5, 0.999999, ...Array.from({ length: 200 }, Math.random)]) {
    const at = (rotationDeadline({ notBefore, notAfter }, () => r).getTime() - notBefore.getTime()) / (100 * DAY);
    assert.ok(at >= 0.7 && at < 0.9, String(at));
  }
});

async function nodeCertificate(at: Date, ips: string[] = []): Promise<{ certificate: Certificate; keyPem: string }> {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const key = await generateKeyPair();
  const certificate = await issueCertificate({
    profile: ips.length ? PROFILES.kubeletServing : PROFILES.kubeletClient,
    subject: nodeSubject('node-1'),
    sans: ips.length ? { ips } : undefined,
    publicKey: key.publicKey,
    issuer: root,
    validity: { notBefore: at, notAfter: new Date(at.getTime() + DAY) },
    now: at,
  });
  return { certificate, keyPem: await exportPrivateKeyPem(key) };
}

test('a client certificate is renewed inside the window, and the current symlink always names a complete pair', async () => {
  await withTempDir(async (certDir) => {
    const clock = fakeClock(new Date(Math.ceil(Date.now() / 1000) * 1000));
    const store = { certDir, prefix: 'kubelet-client', now: () => clock.now() };
    const first = await nodeCertificate(clock.now());
    await storeCertificatePair(store, first.certificate.pem, first.keyPem);
    const rotations: Date[] = [];
    let reads = 0;
    let reading = true;
    const reader = (async () => {
      while (reading) {
        const pair = await loadCurrentPair(store);
        assert.ok(pair && pair.certificate.subject.commonName === 'system:node:node-1');
        reads++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const manager = new RotationManager({
      clock,
      random: () => 0.5,
      current: async () => (await loadCurrentPair(store))?.certificate,
      template: () => ({ commonName: 'system:node:node-1', organizations: ['system:nodes'] }),
      rotate: async () => {
        rotations.push(clock.now());
        const next = await nodeCertificate(clock.now());
        await storeCertificatePair(store, next.certificate.pem, next.keyPem);
      },
    });
    manager.start();
    while (rotations.length < 3) await new Promise((r) => setImmediate(r));
    await manager.stop();
    reading = false;
    await reader;
    const start = first.certificate.notBefore.getTime();
    assert.is((rotations[0]!.getTime() - start) / DAY, 0.8, 'at 80% with random 0.5');
    assert.is((rotations[1]!.getTime() - rotations[0]!.getTime()) / DAY, 0.8);
    assert.ok(reads > 0);
    const current = await readlink(join(certDir, 'kubelet-client-current.pem'));
    assert.ok((await lstat(join(certDir, current))).isFile());
  });
});

test('a certificate that no longer matches its template (a new address) is rotated at once', async () => {
  const clock = fakeClock(new Date());
  let current = (await nodeCertificate(clock.now(), ['10.0.0.11'])).certificate;
  const template = { commonName: 'system:node:node-1', organizations: ['system:nodes'], ips: ['10.0.0.11'] };
  let rotated = 0;
  const manager = new RotationManager({
    clock,
    current: async () => current,
    template: () => template,
    rotate: async () => {
      rotated++;
      current = (await nodeCertificate(clock.now(), [...template.ips])).certificate;
    },
  });
  assert.is(await manager.runOnce(), 'waiting');
  template.ips = ['10.0.0.11', 'fd00::11'];
  assert.is(await manager.runOnce(), 'rotated');
  assert.is(rotated, 1);
  assert.is(await manager.runOnce(), 'waiting');
});

test('failed rotations back off 2 s, 4 s, 8 s, 16 s, 32 s, then every 32 s', async () => {
  const clock = fakeClock(new Date());
  let attempts = 0;
  const manager = new RotationManager({
    clock,
    current: async () => undefined,
    template: () => ({ commonName: 'system:node:node-1', organizations: ['system:nodes'] }),
    rotate: async () => {
      attempts++;
      throw new Error('the API server is unreachable');
    },
  });
  manager.start();
  while (attempts < 8) await new Promise((r) => setImmediate(r));
  await manager.stop();
  assert.equal(clock.sleeps.slice(0, 7), [2000, 4000, 8000, 16000, 32000, 32000, 32000]);
});

test('no template (no address known yet) means no request', async () => {
  const manager = new RotationManager({ current: async () => undefined, template: () => undefined, rotate: async () => assert.unreachable() });
  assert.is(await manager.runOnce(), 'no-template');
});

test('the store refuses a key that does not match and a regular file in place of the symlink', async () => {
  await withTempDir(async (certDir) => {
    const store = { certDir, prefix: 'kubelet-client', now: () => new Date() };
    const a = await nodeCertificate(new Date());
    const b = await nodeCertificate(new Date());
    assert.is((await failureOf(() => storeCertificatePair(store, a.certificate.pem, b.keyPem))).code, 'ERR_KEY');
    assert.is(await loadCurrentPair(store), undefined, 'nothing was written');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(certDir, 'kubelet-client-current.pem'), a.certificate.pem + a.keyPem);
    assert.is((await failureOf(() => storeCertificatePair(store, a.certificate.pem, a.keyPem))).code, 'ERR_DIRECTORY');
  });
});

test('a pair stored twice in the same second replaces the first whole, into a folder the store makes', async () => {
  await withTempDir(async (root) => {
    const certDir = join(root, 'pki', 'kubelet');
    const second = new Date('2026-11-23T10:00:00.250Z');
    const store = { certDir, prefix: 'kubelet-server', now: () => second };
    const a = await nodeCertificate(new Date());
    const b = await nodeCertificate(new Date());
    const first = await storeCertificatePair(store, a.certificate.pem, a.keyPem);
    const again = await storeCertificatePair(store, b.certificate.pem, b.keyPem);
    assert.is(again, first);
    assert.is(await readlink(join(certDir, 'kubelet-server-current.pem')), 'kubelet-server-2026-11-23-10-00-00.pem');
    const current = await loadCurrentPair(store);
    assert.equal(current?.certificate.der, b.certificate.der);
    assert.is(current?.keyPem, b.keyPem);
    const { readdir } = await import('node:fs/promises');
    assert.equal((await readdir(certDir)).sort(), ['kubelet-server-2026-11-23-10-00-00.pem', 'kubelet-server-current.pem']);
  });
});

test('the system clock sleeps until a deadline months away, not at once (setTimeout caps its delay at 2^31 - 1 ms)', async () => {
  const abort = new AbortController();
  const monthsAway = 250 * 86_400_000;
  let woke = false;
  const sleeping = systemClock.sleep(monthsAway, abort.signal).then(() => (woke = true));
  await new Promise((r) => setTimeout(r, 100));
  assert.not.ok(woke, 'a delay beyond the 32-bit limit must not fire after 1 ms');
  abort.abort();
  await sleeping;
  assert.ok(woke);
});

test('a stop that came before the system clock went to sleep ends the sleep at once', async () => {
  const abort = new AbortController();
  abort.abort();
  let woke = false;
  const sleeping = systemClock.sleep(250 * 86_400_000, abort.signal).then(() => (woke = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(woke, 'an already aborted signal must not leave the sleep waiting for its timer');
  await sleeping;
});

test.run();
