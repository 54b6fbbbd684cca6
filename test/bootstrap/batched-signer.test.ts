// The signer controller over worker threads: approved CSRs are signed in batches, each exactly once;
// rule breaches end Failed as in-thread; other signers' CSRs are left alone.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Certificate, createCsr, memoryRegistry, nodeSubject, startSigner, type Subject } from '../../lib/index.js';
import { csrObject, SIGNERS } from '../../lib/bootstrap/csr-object.js';
import { encodePem } from '../../lib/crypto/pem.js';
import { signCsrObjectBatch, workerCsr } from '../../lib/bootstrap/signer.js';
import { validateCsr } from '../../lib/bootstrap/csr-object.js';
import { fixtureAuthorities, fixtureKey } from '../helpers/fixtures.js';

const BOOTSTRAPPER = { username: 'system:bootstrap:abcdef', groups: ['system:bootstrappers', 'system:authenticated'] };

test('40 approved CSRs are signed in batches over two workers, each once; a rule breach fails; another signer is untouched', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const registry = await memoryRegistry();
  const outcomes: string[] = [];
  const errors: unknown[] = [];
  const signer = await startSigner(registry, { signerName: SIGNERS.kubeApiserverClientKubelet, issuer: root, workers: 2, batchSize: 8, onOutcome: (name, o) => outcomes.push(`${name}:${o.outcome}`), onError: (e) => errors.push(e) });
  const submit = async (name: string, subject: Subject, signerName: string = SIGNERS.kubeApiserverClientKubelet): Promise<void> => {
    const csr = await createCsr({ keyPair: await fixtureKey('ecdsa-p256', undefined, 20 + (name.length % 4)), subject });
    await registry.create(csrObject(name, csr.pem, signerName, ['digital signature', 'client auth']), BOOTSTRAPPER);
    await registry.setApproval(name, { type: 'Approved', status: 'True', reason: 'test' });
  };
  for (let i = 0; i < 40; i++) await submit(`csr-${i}`, nodeSubject(`node-${i}`));
  await submit('csr-bad', { commonName: 'not-a-node', organizations: ['system:nodes'] });
  await submit('csr-other', nodeSubject('node-x'), 'example.com/other');
  await signer.idle();
  signer.stop();
  assert.equal(errors, []);
  const serials = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const object = (await registry.get(`csr-${i}`))!;
    const certificate = Certificate.from(Buffer.from(object.status!.certificate!, 'base64').toString());
    assert.is(certificate.subject.commonName, `system:node:node-${i}`);
    assert.ok(certificate.isIssuedBy(root.certificate));
    serials.add(certificate.serialNumber);
  }
  assert.is(serials.size, 40);
  assert.is(outcomes.filter((o) => o.endsWith(':issued')).length, 40, 'each CSR issued exactly once');
  const bad = (await registry.get('csr-bad'))!;
  assert.is(bad.status?.certificate, undefined);
  assert.is(bad.status?.conditions?.find((c) => c.type === 'Failed')?.reason, 'SignerValidationFailure');
  assert.is((await registry.get('csr-other'))!.status?.certificate, undefined);
});

test('a worker verifies a request itself unless the calling thread sends it validated (its DER and key type)', async () => {
  const { root } = await fixtureAuthorities('ecdsa-p256');
  const csr = await createCsr({ keyPair: await fixtureKey('ecdsa-p256', undefined, 24), subject: nodeSubject('node-f') });
  const der = Uint8Array.from(csr.der);
  der[der.length - 5]! ^= 0x01; // inside the signature
  const object = { ...csrObject('csr-forged', encodePem('CERTIFICATE REQUEST', der), SIGNERS.kubeApiserverClientKubelet, ['digital signature', 'client auth']), status: { conditions: [{ type: 'Approved' as const, status: 'True' as const }] } };
  const wire = { signerName: SIGNERS.kubeApiserverClientKubelet, caDer: root.certificate.der, privateKey: root.privateKey };
  const [outcome] = await signCsrObjectBatch([{ object }], wire);
  assert.is(outcome!.outcome, 'failed');
  assert.match((outcome as { message: string }).message, /self-signature does not verify/);

  // Sent validated, the request is parsed from the DER in the message and not verified again: what the
  // calling thread validated is trusted, whatever the object's own spec.request holds.
  const genuine = { ...csrObject('csr-genuine', csr.pem, SIGNERS.kubeApiserverClientKubelet, ['digital signature', 'client auth']), status: { conditions: [{ type: 'Approved' as const, status: 'True' as const }] } };
  const validated = await validateCsr(genuine);
  const [sent] = await signCsrObjectBatch([workerCsr(genuine, validated)], wire);
  assert.is(sent!.outcome, 'issued');
  assert.is(Certificate.from((sent as { der: Uint8Array }).der).subject.commonName, 'system:node:node-f');
  const [trusted] = await signCsrObjectBatch([{ object, validated: { requestDer: der, keySpec: validated.request.publicKey.spec } }], wire);
  assert.is(trusted!.outcome, 'issued');
});

test.run();
