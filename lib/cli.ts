#!/usr/bin/env node
// The `kubepki` command: one verb per module under lib/cli/, each on top of the public API.
import { realpathSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PkiError } from './errors.js';
import { checkExpirationVerb, renewVerb, signVerb } from './cli/expiry.js';
import { approveVerb, kubeletBootstrapVerb, parseDuration, serveBootstrapVerb, signerVerb, tokenVerb } from './cli/bootstrap.js';
import { ioError } from './cluster/files.js';
import { verbHelp } from './cli/help.js';
import { didYouMean } from './cli/suggest.js';
import { DEFAULT_LOCK_TIMEOUT_MS, withDirectoryLock } from './cluster/lock.js';
import { initVerb } from './cli/init.js';
import { joinVerb } from './cli/join.js';
import { inspectVerb } from './cli/inspect.js';
import { auditVerb, bundleVerb, revokeVerb, rotateCaVerb, verifyVerb } from './cli/trust.js';
import { signCsrsVerb } from './cli/batch.js';
import { certsVerb } from './cli/certs.js';
import { parseVerbArgs, printable, terminalProgress, type Io, type Verb, type VerbArgs, type VerbOption } from './cli/io.js';

/** Every command, in the order `kubepki --help` lists them. */
export const VERBS: readonly Verb[] = [initVerb, checkExpirationVerb, renewVerb, signVerb, signCsrsVerb, tokenVerb, joinVerb, serveBootstrapVerb, kubeletBootstrapVerb, approveVerb, signerVerb, certsVerb, bundleVerb, verifyVerb, revokeVerb, auditVerb, rotateCaVerb, inspectVerb];

/**
 * The commands that write a PKI directory (`--dir`): each runs as its directory's only writer, holding
 * `<dir>/.kubepki.lock`; `--lock-timeout DURATION` (default 5s) is how long it waits for another writer.
 */
const WRITERS = new Set([initVerb.name, signVerb.name, renewVerb.name, tokenVerb.name, certsVerb.name, bundleVerb.name, revokeVerb.name, rotateCaVerb.name]);

const LOCK_TIMEOUT_OPTION: VerbOption = { type: 'string', value: 'DURATION', description: 'how long to wait while another kubepki writes the directory (DIR/.kubepki.lock)', default: `${DEFAULT_LOCK_TIMEOUT_MS / 1000}s` };

/** The exit codes, as `kubepki --help` documents them. */
export const EXIT_CODES = { success: 0, failure: 1, usage: 2 } as const;

const usage = (): string =>
  [
    'usage: kubepki <command> [options]   (kubepki <command> --help: its options, their defaults and values, and an example)',
    '',
    'commands:',
    ...VERBS.map((v) => `  ${v.name.padEnd(18)} ${v.summary}`),
    `  ${'version'.padEnd(18)} print the version`,
    `  ${'help'.padEnd(18)} print this text (help <command>: that command's)`,
    '',
    `${[...WRITERS].join(', ')} lock DIR/.kubepki.lock while they write; --lock-timeout DURATION (default ${DEFAULT_LOCK_TIMEOUT_MS / 1000}s) is how long they wait for another writer`,
    '',
    'exit codes:',
    `  ${EXIT_CODES.success}  success`,
    `  ${EXIT_CODES.failure}  failure: one line "kubepki: ERR_CODE: what failed" on standard error (a file, a certificate, the network, a refusal)`,
    `  ${EXIT_CODES.usage}  usage error: an unknown command or option, a missing or invalid value (kubepki: ERR_ARGUMENT: ...)`,
    '',
  ].join('\n');

/** The verb as it parses: a writer takes --lock-timeout too. */
function withCommonOptions(verb: Verb): Verb {
  return WRITERS.has(verb.name) ? { ...verb, options: { ...verb.options, 'lock-timeout': LOCK_TIMEOUT_OPTION } } : verb;
}

/** `--dir` and the other directory options: not a file, and there already when the command reads it. */
async function checkDirectories(verb: Verb, values: VerbArgs['values']): Promise<void> {
  for (const [name, option] of Object.entries(verb.options)) {
    const given = values[name];
    if (option.directory === undefined || typeof given !== 'string' || given === '') continue;
    const path = resolve(given);
    const field = `--${name}`;
    const found = await stat(path).catch((cause: NodeJS.ErrnoException) => {
      if (cause.code === 'ENOENT') return undefined;
      if (cause.code === 'ENOTDIR') throw new PkiError('ERR_DIRECTORY', `${path}: a folder on its path is a file`, { field, cause });
      throw ioError(path, 'cannot be read', cause);
    });
    if (found === undefined && option.directory === 'existing') throw new PkiError('ERR_DIRECTORY', `${path} does not exist`, { field });
    if (found !== undefined && !found.isDirectory()) throw new PkiError('ERR_DIRECTORY', `${path} is a file, not a directory`, { field });
  }
}

/** Node's system errors (ENOENT, EACCES, EADDRINUSE...) carry a code and one line of message. */
const isSystemError = (error: unknown): error is NodeJS.ErrnoException => error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!);

/** Any error as the one line the command prints, and its exit code. */
function failure(error: unknown): { line: string; exitCode: number } {
  if (error instanceof PkiError) return { line: `kubepki: ${error.code}: ${printable(error.message)}`, exitCode: error.code === 'ERR_ARGUMENT' ? EXIT_CODES.usage : EXIT_CODES.failure };
  if (isSystemError(error)) return { line: `kubepki: ERR_IO: ${printable(error.message.split('\n')[0]!)}`, exitCode: EXIT_CODES.failure };
  const message = error instanceof Error ? error.message : String(error);
  return { line: `kubepki: ERR_INTERNAL: ${printable(message.split('\n')[0]!)} (a bug in kubepki: KUBEPKI_DEBUG=1 prints the stack)`, exitCode: EXIT_CODES.failure };
}

/** Runs the command with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = { out: (l) => console.log(l), err: (l) => console.error(l), progress: terminalProgress() }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'version' || command === '--version') {
      const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      io.out(`kubepki ${pkg.version}`);
      return EXIT_CODES.success;
    }
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      const about = command === 'help' && rest[0] !== undefined ? findVerb(rest[0]) : undefined;
      io.out(about ? verbHelp(withCommonOptions(about)) : usage());
      return command === undefined ? EXIT_CODES.usage : EXIT_CODES.success;
    }
    const verb = withCommonOptions(findVerb(command));
    const args = parseVerbArgs(verb, rest, VERBS);
    if (args === 'help') {
      io.out(verbHelp(verb));
      return EXIT_CODES.success;
    }
    await checkDirectories(verb, args.values);
    const lockTimeoutText = typeof args.values['lock-timeout'] === 'string' ? args.values['lock-timeout'] : undefined;
    const lockTimeoutMs = lockTimeoutText === undefined ? undefined : parseDuration(lockTimeoutText, '--lock-timeout') * 1000;
    const dir = args.values.dir;
    if (WRITERS.has(verb.name) && typeof dir === 'string' && dir !== '') return await withDirectoryLock(resolve(dir), () => verb.run(args, io), { lockTimeoutMs });
    return await verb.run(args, io);
  } catch (error) {
    const { line, exitCode } = failure(error);
    io.err(line);
    if (process.env.KUBEPKI_DEBUG && error instanceof Error && !(error instanceof PkiError)) io.err(String(error.stack));
    return exitCode;
  }
}

/** The verb named `name`; ERR_ARGUMENT with the closest name otherwise. */
function findVerb(name: string): Verb {
  const verb = VERBS.find((v) => v.name === name);
  if (verb) return verb;
  throw new PkiError('ERR_ARGUMENT', `unknown command "${printable(name)}"${didYouMean(name, [...VERBS.map((v) => v.name), 'version', 'help'])} (kubepki --help lists the commands)`);
}

// Run only when executed (directly or through npm's bin symlink), not when imported by tests.
const runAsCommand = (): boolean => {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false; // argv[1] is no file: a worker thread's eval, a REPL
  }
};
if (runAsCommand()) {
  process.exitCode = await main(process.argv.slice(2));
}
