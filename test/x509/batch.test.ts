import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createCsr, issueCertificates, nodeSubject, PkiError, PROFILES, type BatchIssueRequest } from '../../lib/index.js';
import { createWorkerPool } from '../../lib/workers/pool.js';
import { kubeletCsr } from '../bootstrap/helpers.js';
import { fixtureAuthorities, fixtureKey, PROVIDERS } from '../helpers/fixtures.js';

async function requests(count: number, bad: ReadonlySet<number>, crypto?: Crypto): Promise<BatchIssueRequest[]> {
  const key = await fixtureKey('ecdsa-p256', crypto, 3);
  return Array.from({ length: count }, (_, i) => ({
    profile: PROFILES.kubeletClient,
    // A kubelet client certificate must be system:node:<name> in system:nodes: these are refused.
    subject: bad.has(i) ? { commonName: `mallory-${i}`, organizations: ['system:masters'] } : nodeSubject(`node-${i}`),
    publicKey: key.publicKey,
  }));
}

test('a batch over two worker threads issues every good request once and refuses the bad ones in their slots', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const bad = new Set([0, 77, 199]);
  const progress: number[] = [];
  const outcomes = await issueCertificates(await requests(200, bad), { issuer: root, workers: 2, chunkSize: 16, onProgress: (done, total) => progress.push(done / total) });
  assert.is(outcomes.length, 200);
  const serials = new Set<string>();
  outcomes.forEach((outcome, i) => {
    if (bad.has(i)) {
      assert.ok(outcome.error instanceof PkiError, `slot ${i} is refused`);
      assert.is(outcome.error.code, 'ERR_PROFILE');
      assert.ok(outcome.error.field?.startsWith('subject'), outcome.error.field);
      assert.is(outcome.certificate, undefined);
      return;
    }
    const certificate = outcome.certificate!;
    assert.is(certificate.subject.commonName, `system:node:node-${i}`, 'outcomes keep request order');
    assert.ok(certificate.isIssuedBy(root.certificate));
    serials.add(certificate.serialNumber);
  });
  assert.is(serials.size, 197, 'every serial is unique');
  assert.is(progress.length, Math.ceil(200 / 16));
  assert.ok(progress.every((p, i) => i === 0 || p > progress[i - 1]!), 'progress only grows');
  assert.is(progress.at(-1), 1);
});

test('a batch on a running pool uses its workers and leaves it running for the next batch', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const pool = createWorkerPool(2);
  try {
    for (const count of [40, 24]) {
      const outcomes = await issueCertificates(await requests(count, new Set()), { issuer: root, pool, chunkSize: 8 });
      assert.is(outcomes.filter((o) => o.certificate?.subject.commonName.startsWith('system:node:')).length, count);
    }
  } finally {
    await pool.close();
  }
});

test('the CA step refuses a CSR that asks a leaf profile for a CA certificate', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const object = await kubeletCsr({ requestCa: true });
  const csr = Buffer.from(object.spec.request, 'base64').toString();
  const [outcome] = await issueCertificates([{ csr, profile: PROFILES.kubeletClient }], { issuer: root, workers: 0 });
  assert.is(outcome!.error?.code, 'ERR_PROFILE');
  assert.match(outcome!.error!.message, /basicConstraints/);
  assert.is(outcome!.certificate, undefined);
});

test('workers: 0 issues in this thread with the same outcomes', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const outcomes = await issueCertificates(await requests(20, new Set([5])), { issuer: root, workers: 0 });
  assert.is(outcomes.filter((o) => o.certificate).length, 19);
  assert.is(outcomes[5]!.error?.code, 'ERR_PROFILE');
});

test("a CA key held by an injected provider stays in this thread and signs through the provider", async () => {
  const peculiar = PROVIDERS.find((p) => p.name === 'peculiar')!.crypto;
  const { root } = await fixtureAuthorities('ecdsa-p256', peculiar);
  const outcomes = await issueCertificates(await requests(10, new Set(), peculiar), { issuer: root, crypto: peculiar, workers: 2 });
  assert.ok(outcomes.every((o) => o.certificate?.isIssuedBy(root.certificate)));
});

test('the CA step in a batch: CSRs are verified, their subject is copied byte for byte, bad ones are refused', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const keyPair = await fixtureKey('ecdsa-p256', undefined, 3);
  const good = await createCsr({ keyPair, subject: nodeSubject('node-1') });
  const forbidden = await createCsr({ keyPair, subject: { commonName: 'system:node:node-2', organizations: ['system:masters'] } });
  const tampered = Uint8Array.from(good.der);
  tampered[tampered.length - 5]! ^= 0x01;
  const outcomes = await issueCertificates(
    [good.pem, tampered, forbidden.pem, good.der].map((csr) => ({ csr, profile: PROFILES.kubeletClient })),
    { issuer: root, workers: 2, chunkSize: 1 },
  );
  assert.ok(Buffer.from(outcomes[0]!.certificate!.subjectDer).equals(good.subjectDer));
  assert.equal(outcomes[0]!.certificate!.spki, good.publicKey.spki);
  assert.is(outcomes[1]!.error?.code, 'ERR_CSR_SIGNATURE');
  assert.is(outcomes[1]!.error?.field, 'requests[1].csr', 'the field names the slot');
  assert.is(outcomes[2]!.error?.code, 'ERR_PROFILE');
  assert.ok(outcomes[3]!.certificate);
});

test.run();
