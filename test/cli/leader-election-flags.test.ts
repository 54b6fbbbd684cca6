// The --leader-elect flags of `kubepki approve` and `kubepki signer`, checked before any connection is made
// (the real kube-apiserver judges the election itself in test/interop/kube/leader-election.test.ts).
import { tmpdir } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { leaderElectionFromFlags } from '../../lib/cli/leader-election-flags.js';
import { runCli } from '../helpers/cli.js';

const io = { out: () => undefined, err: () => undefined };
const missing = '/nonexistent/kubepki-test.conf';

test('--leader-elect needs --watch, and the other --leader-elect-* flags need --leader-elect', async () => {
  for (const verb of [['approve'], ['signer', '--dir', tmpdir()]]) {
    const once = await runCli(...verb, '--kubeconfig', missing, '--leader-elect');
    assert.is(once.code, 2);
    assert.match(once.err, /ERR_ARGUMENT: --leader-elect: needs --watch/);
    const stray = await runCli(...verb, '--kubeconfig', missing, '--watch', '--leader-elect-retry-period', '1s');
    assert.is(stray.code, 2);
    assert.match(stray.err, /--leader-elect-retry-period: needs --leader-elect/);
  }
});

test('the durations follow client-go rules and name the flag at fault', async () => {
  const run = (...flags: string[]) => runCli('approve', '--kubeconfig', missing, '--watch', '--leader-elect', ...flags);
  assert.match((await run('--leader-elect-lease-duration', '10s')).err, /--leader-elect-lease-duration: must be longer than --leader-elect-renew-deadline/);
  assert.match((await run('--leader-elect-retry-period', '9s')).err, /--leader-elect-renew-deadline: must be longer than 1.2 x --leader-elect-retry-period/);
  assert.match((await run('--leader-elect-retry-period', 'soon')).err, /--leader-elect-retry-period: "soon" is not a duration/);
  assert.match((await run('--leader-elect-retry-period', '0s')).err, /--leader-elect-retry-period: must be positive/);
  // Valid flags get as far as the kubeconfig.
  assert.match((await run('--leader-elect-lease-duration', '4s', '--leader-elect-renew-deadline', '3s', '--leader-elect-retry-period', '1s')).err, /no such kubeconfig/);
});

test('the defaults are kube-controller-manager\'s; the lease name defaults per command', () => {
  const election = leaderElectionFromFlags({ 'leader-elect': true }, { leaseName: 'kubepki-signer', watch: true, io })!;
  assert.equal(
    { leaseName: election.options.leaseName, namespace: election.options.namespace, lease: election.options.leaseDurationMs, renew: election.options.renewDeadlineMs, retry: election.options.retryPeriodMs },
    { leaseName: 'kubepki-signer', namespace: undefined, lease: 15_000, renew: 10_000, retry: 2_000 },
  );
  const named = leaderElectionFromFlags({ 'leader-elect': true, 'leader-elect-lease-name': 'mine', 'leader-elect-lease-duration': '1m' }, { leaseName: 'kubepki-signer', watch: true, io })!;
  assert.equal([named.options.leaseName, named.options.leaseDurationMs], ['mine', 60_000]);
  assert.is(leaderElectionFromFlags({}, { leaseName: 'x', watch: true, io }), undefined);
});

test('kubepki lists the signer command; its help names the flags', async () => {
  assert.match((await runCli('--help')).out, /\n {2}signer +sign a real cluster's approved kubelet CSRs/);
  const help = await runCli('signer', '--help');
  assert.is(help.code, 0);
  assert.match(help.out, /kubepki signer .*--dir PKI_DIR \[--watch \[--leader-elect \[--leader-elect-lease-name NAME\] \[--leader-elect-lease-duration 15s\] \[--leader-elect-renew-deadline 10s\] \[--leader-elect-retry-period 2s\]\]\]/);
});

test.run();
