// Usage errors: one line in kubepki's words (never parseArgs' own), the closest verb, flag or value offered, exit 2.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { editDistance } from '../../lib/cli/suggest.js';
import { runCli } from '../helpers/cli.js';

const oneLine = (text: string): void => assert.is(text.split('\n').length, 1, text);
const NODE_WORDING = /Unknown option|To specify a positional|argument missing|does not take an argument|ambiguous/;

test('a misspelled verb gets "did you mean", exit 2', async () => {
  const result = await runCli('inti', '--dir', '/tmp/x');
  assert.is(result.code, 2);
  oneLine(result.err);
  assert.is(result.err, 'kubepki: ERR_ARGUMENT: unknown command "inti"; did you mean init? (kubepki --help lists the commands)');
  assert.match((await runCli('check-expiry')).err, /did you mean check-expiration\?/);
  assert.match((await runCli('rotateca')).err, /did you mean rotate-ca\?/);
  assert.not.match((await runCli('frobnicate')).err, /did you mean/);
});

test('a misspelled flag gets "did you mean", and a flag of another verb names it', async () => {
  const typo = await runCli('init', '--dir', '/tmp/x', '--forse');
  assert.is(typo.code, 2);
  oneLine(typo.err);
  assert.is(typo.err, 'kubepki: ERR_ARGUMENT: --forse: unknown option of kubepki init; did you mean --force? (kubepki init --help lists its options)');
  assert.match((await runCli('renew', 'all', '--dri', '/tmp')).err, /--dri: unknown option of kubepki renew; did you mean --dir\?/);
  assert.match((await runCli('init', '--listen', '127.0.0.1:1')).err, /--listen: unknown option of kubepki init \(--listen is an option of serve-bootstrap\)/);
  const value = await runCli('init', '--dir', '/tmp/x', '--node-name', 'a', '--advertise-address', '10.0.0.1', '--key-type', 'ecdsa-256');
  assert.is(value.code, 2);
  assert.is(value.err, 'kubepki: ERR_ARGUMENT: --key-type: "ecdsa-256" is not one of ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072, rsa-4096, ed25519; did you mean ecdsa-p256?');
  assert.match((await runCli('check-expiration', '/etc/kubernetes')).err, /unexpected argument "\/etc\/kubernetes": kubepki check-expiration takes options only; did you mean --dir \/etc\/kubernetes\?/);
});

test("parseArgs' messages never reach the user: a missing value, a value to a switch, an unknown short flag", async () => {
  for (const [argv, expected] of [
    [['init', '--dir'], 'kubepki: ERR_ARGUMENT: --dir: needs a value (DIR)'],
    [['init', '--dir', '--force'], 'kubepki: ERR_ARGUMENT: --dir: needs a value (DIR)'],
    [['init', '--json=yes'], 'kubepki: ERR_ARGUMENT: --json: takes no value'],
    [['init', '-x'], undefined],
  ] as const) {
    const result = await runCli(...argv);
    assert.is(result.code, 2, argv.join(' '));
    oneLine(result.err);
    assert.not.match(result.err, NODE_WORDING);
    if (expected) assert.is(result.err, expected);
  }
});

test('exit codes: 0 success, 2 usage error, 1 failure', async () => {
  assert.is((await runCli('help')).code, 0);
  assert.is((await runCli()).code, 2);
  assert.is((await runCli('init', '--node-name', 'a')).code, 2, 'a required flag missing');
  assert.is((await runCli('inspect', '/nonexistent/kubepki.pem')).code, 1);
  assert.is((await runCli('verify', '--ca', '/nonexistent/ca.crt', '/nonexistent/kubepki.pem')).code, 1);
});

test('the edit distance counts a swap of neighbours as one edit', () => {
  assert.is(editDistance('force', 'forse'), 1);
  assert.is(editDistance('init', 'inti'), 1);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('kitten', 'sitting'), 3);
});

test.run();
