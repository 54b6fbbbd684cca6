// Every parser under a small fast-check budget in `npm test`; `npm run fuzz` runs the same targets for a
// million inputs each. A failure prints the seed and path to replay it (fast-check's own report).
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runInput, targetProperty, type FuzzTarget } from './harness.js';
import { getSeeds } from './seeds.js';
import { makeTargets } from './targets.js';

const RUNS = Number(process.env.KUBEPKI_FUZZ_RUNS ?? 150);
const targets = makeTargets(await getSeeds());

test('there is a target for every parser the fuzzer knows', () => {
  const names = targets.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  for (const parser of ['pem.readPemBlocks', 'der.assertDer', 'certificate.from', 'csr.parseCsr', 'keys.importPrivateKeyPem', 'crl.parseRevocationList', 'token.parseBootstrapToken', 'kubeconfig.parseKubeconfig', 'csrObject.validateCsrObject']) {
    assert.ok(names.includes(parser), parser);
  }
});

test('the harness counts a TypeError as a crash and a PkiError as a refusal', async () => {
  const crashing: FuzzTarget<number> = { name: 'crash', arbitrary: fc.nat(), run: () => (undefined as unknown as { x: number }).x };
  assert.is((await runInput(crashing, 1)).outcome, 'crash');
  const seeds = await getSeeds();
  const pem = targets.find((t) => t.name === 'pem.readPemBlocks') as FuzzTarget<unknown>;
  assert.is((await runInput(pem, 'not pem')).outcome, 'refused');
  assert.is((await runInput(pem, seeds.pems[0])).outcome, 'ok');
});

for (const target of targets) {
  test(`fuzz ${target.name}: only PkiErrors, no hang`, async () => {
    await fc.assert(targetProperty(target as FuzzTarget<unknown>), { numRuns: RUNS, seed: Number(process.env.KUBEPKI_FUZZ_SEED ?? 0x6b756265) });
  });
}

test.run();
