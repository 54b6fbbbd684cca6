// The Debian package of every judge program the tests start by name. A missing program is a failure
// that names its package, never a skip: `npm run setup:judges` (scripts/setup-judges.sh, which
// `npm run test:interop` runs first) installs them all.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export const JUDGE_PACKAGES: Readonly<Record<string, string>> = {
  openssl: 'openssl',
  certtool: 'gnutls-bin',
  go: 'golang-go',
  etcd: 'etcd-server',
  nginx: 'nginx',
  'softhsm2-util': 'softhsm2',
  faketime: 'faketime',
};

/** The error for a judge program that is not installed, naming its Debian package. */
export function missingJudgeError(file: string): Error {
  const pkg = JUDGE_PACKAGES[file];
  const what = pkg ? `Debian's ${pkg} package` : 'the judges';
  return new Error(`${file} is not installed: install ${what} (npm run setup:judges installs every judge; npm run test:interop runs it first)`);
}

const onPath = (file: string): boolean =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, file), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

/** Throws missingJudgeError when `file` is a judge program, named without a path, that is not on PATH. */
export function requireJudge(file: string): void {
  if (Object.hasOwn(JUDGE_PACKAGES, file) && !onPath(file)) throw missingJudgeError(file);
}

/** A spawn error that says the program does not exist (ENOENT), as missingJudgeError; any other unchanged. */
export function explainSpawnError(file: string, error: unknown): unknown {
  return (error as { code?: unknown }).code === 'ENOENT' && (error as { syscall?: unknown }).syscall?.toString().startsWith('spawn') ? missingJudgeError(file) : error;
}
