// The two halves of the test suite, and their runner: `node --import tsx test/suites.ts unit|interop`.
//
// unit: Node only (child processes are Node itself), no network beyond 127.0.0.1, no root, no Debian
//   package; `npm run test:unit`, under 2 minutes on 2 cores.
// interop: everything a real program judges or serves: Go, OpenSSL, GnuTLS, nginx, etcd, SoftHSM2,
//   faketime and the Kubernetes 1.20 control plane built from Debian's source, and the Node tests that
//   run real processes for long; `npm run test:interop`, which runs scripts/setup-judges.sh first. It is
//   test/interop/ and the files listed below.
// test/package/suites.test.ts checks that no unit file starts a judge.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Interop files outside test/interop/, relative to test/, each with the judge it needs. */
export const INTEROP_ELSEWHERE: Readonly<Record<string, string>> = {
  'clock-ahead.test.ts': 'runs the corpus, the examples and the lifecycle under faketime (Debian faketime)',
  'cli/sign-pkcs11.test.ts': 'signs through a SoftHSM2 token (Debian softhsm2)',
  'cluster/rotation.test.ts': "asks the Go judge (trixie's Go 1.24) about a cross-signed chain",
  'cli/inspect.test.ts': 'compares `kubepki inspect` with `openssl x509` (Debian openssl)',
  // Node only, but real processes for many seconds each: out of the unit suite's 2 minutes.
  'resilience/crash.test.ts': 'kills Node writers mid-write, dozens of times (about 80 s)',
  'resilience/concurrency.test.ts': 'runs `kubepki serve-bootstrap` under concurrent clients (about 20 s)',
  'resilience/load.test.ts': 'puts 200 connections on the bootstrap endpoint (timing-sensitive on a busy machine)',
  'examples.test.ts': 'runs every example as its own process (about 12 s)',
  'cluster/lock.test.ts': 'holds the directory lock across processes and waits out its timeouts (about 11 s)',
};

export type Suite = 'unit' | 'interop';

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether a test file (relative to test/, with forward slashes) belongs to `suite`. */
export function inSuite(suite: Suite, file: string): boolean {
  const interop = file.startsWith('interop/') || Object.hasOwn(INTEROP_ELSEWHERE, file);
  return suite === 'interop' ? interop : !interop;
}

/** uvu's arguments (after the binary) for one suite: the folder, the file pattern and the ignores. */
export function uvuArguments(suite: Suite): string[] {
  const elsewhere = Object.keys(INTEROP_ELSEWHERE).map((file) => escape(file.replace(/\.test\.ts$/, '')));
  if (suite === 'interop') return ['test', `^(interop/.*|${elsewhere.join('|')})\\.test\\.ts$`];
  return ['test', '\\.test\\.ts$', '-i', '^interop', ...elsewhere.flatMap((file) => ['-i', `^${file}\\.test\\.ts$`])];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const suite = process.argv[2];
  if (suite !== 'unit' && suite !== 'interop') {
    console.error('usage: node --import tsx test/suites.ts unit|interop');
    process.exit(2);
  }
  const uvu = fileURLToPath(new URL('../node_modules/uvu/bin.js', import.meta.url));
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', uvu, ...uvuArguments(suite), '--no-color'], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
