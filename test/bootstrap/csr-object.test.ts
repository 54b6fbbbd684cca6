import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signerNameProblem, validateConditions, validateCsrObject } from '../../lib/bootstrap/csr-object.js';
import { failureOf } from '../helpers/fixtures.js';
import { kubeletCsr } from './helpers.js';

test('a well-formed CSR object validates and yields its parsed request', async () => {
  const parsed = await validateCsrObject(await kubeletCsr({}));
  assert.is(parsed.subject.commonName, 'system:node:node-1');
});

const SIGNER_NAMES: [string, boolean][] = [
  ['kubernetes.io/kube-apiserver-client', true],
  ['example.com/my-signer', true],
  ['example.com/a.b', true],
  ['kubernetes.io/legacy-unknown', false],
  ['example/signer', false],
  ['example.com/', false],
  ['example.com/a/b', false],
  ['Example.com/x', false],
  ['', false],
];
for (const [name, ok] of SIGNER_NAMES) test(`signerName ${JSON.stringify(name)}`, () => assert.is(signerNameProblem(name) === undefined, ok));

const BAD: [string, (o: Awaited<ReturnType<typeof kubeletCsr>>) => unknown, string, string][] = [
  ['no usages', (o) => ({ ...o, spec: { ...o.spec, usages: [] } }), 'ERR_CSR_OBJECT', 'spec.usages'],
  ['an unknown usage', (o) => ({ ...o, spec: { ...o.spec, usages: ['digital signature', 'root'] } }), 'ERR_CSR_OBJECT', 'spec.usages[1]'],
  ['a duplicate usage', (o) => ({ ...o, spec: { ...o.spec, usages: ['client auth', 'client auth'] } }), 'ERR_CSR_OBJECT', 'spec.usages[1]'],
  ['expirationSeconds below 600', (o) => ({ ...o, spec: { ...o.spec, expirationSeconds: 599 } }), 'ERR_CSR_OBJECT', 'spec.expirationSeconds'],
  ['a bad signerName', (o) => ({ ...o, spec: { ...o.spec, signerName: 'kubernetes.io/legacy-unknown' } }), 'ERR_CSR_OBJECT', 'spec.signerName'],
  ['a request that is not PEM', (o) => ({ ...o, spec: { ...o.spec, request: Buffer.from('hello').toString('base64') } }), 'ERR_CSR_OBJECT', 'spec.request'],
  ['a missing request', (o) => ({ ...o, spec: { ...o.spec, request: '' } }), 'ERR_CSR_OBJECT', 'spec.request'],
  ['a bad metadata.name', (o) => ({ ...o, metadata: { name: '../etc' } }), 'ERR_CSR_OBJECT', 'metadata.name'],
  ['the wrong apiVersion', (o) => ({ ...o, apiVersion: 'certificates.k8s.io/v1beta1' }), 'ERR_CSR_OBJECT', 'apiVersion'],
  ['Approved and Denied together', (o) => ({ ...o, status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] } }), 'ERR_CSR_OBJECT', 'status.conditions'],
];
for (const [name, mutate, code, field] of BAD) {
  test(`validateCsrObject refuses ${name}`, async () => {
    const failure = await failureOf(async () => validateCsrObject(mutate(await kubeletCsr({}))));
    assert.equal([failure.code, failure.field], [code, field]);
  });
}

test('a request whose signature does not verify is ERR_CSR_SIGNATURE on spec.request', async () => {
  const object = await kubeletCsr({});
  const pem = Buffer.from(object.spec.request, 'base64').toString();
  const der = Buffer.from(pem.split('\n').slice(1, -2).join(''), 'base64');
  der[der.length - 1]! ^= 1;
  const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  const failure = await failureOf(() => validateCsrObject({ ...object, spec: { ...object.spec, request: Buffer.from(tampered).toString('base64') } }));
  assert.equal([failure.code, failure.field], ['ERR_CSR_SIGNATURE', 'spec.request']);
});

test('condition rules: True only, no duplicates', async () => {
  assert.is((await failureOf(() => validateConditions([{ type: 'Approved', status: 'False' as 'True' }]))).code, 'ERR_CSR_OBJECT');
  assert.is((await failureOf(() => validateConditions([{ type: 'Failed', status: 'True' }, { type: 'Failed', status: 'True' }]))).code, 'ERR_CSR_OBJECT');
  assert.is((await failureOf(() => validateConditions([{ type: 'Pending' as 'Failed', status: 'True' }]))).code, 'ERR_CSR_OBJECT');
});

test.run();
