#!/usr/bin/env node
// The `kubepki` command: one verb per module under lib/cli/, each on top of the public API.
import { realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PkiError } from './errors.js';
import { checkExpirationVerb, renewVerb, signVerb } from './cli/expiry.js';
import { approveVerb, kubeletBootstrapVerb, parseDuration, serveBootstrapVerb, signerVerb, tokenVerb } from './cli/bootstrap.js';
import { DEFAULT_LOCK_TIMEOUT_MS, withDirectoryLock } from './cluster/lock.js';
import { initVerb } from './cli/init.js';
import { joinVerb } from './cli/join.js';
import { inspectVerb } from './cli/inspect.js';
import { auditVerb, bundleVerb, revokeVerb, rotateCaVerb, verifyVerb } from './cli/trust.js';
import { signCsrsVerb } from './cli/batch.js';
import { certsVerb } from './cli/certs.js';
import { parseVerbArgs, printable, terminalProgress, type Io, type Verb } from './cli/io.js';

const VERBS: readonly Verb[] = [initVerb, checkExpirationVerb, renewVerb, signVerb, signCsrsVerb, tokenVerb, joinVerb, serveBootstrapVerb, kubeletBootstrapVerb, approveVerb, signerVerb, certsVerb, bundleVerb, verifyVerb, revokeVerb, auditVerb, rotateCaVerb, inspectVerb];

/**
 * The commands that write a PKI directory (`--dir`): each runs as its directory's only writer, holding
 * `<dir>/.kubepki.lock`; `--lock-timeout DURATION` (default 5s) is how long it waits for another writer.
 */
const WRITERS = new Set([initVerb.name, signVerb.name, renewVerb.name, tokenVerb.name, certsVerb.name, bundleVerb.name, revokeVerb.name, rotateCaVerb.name]);

const usage = (): string =>
  `usage: kubepki <command> [options]   (kubepki <command> --help for its options)\n\ncommands:\n${VERBS.map((v) => `  ${v.name.padEnd(18)} ${v.summary}`).join('\n')}\n  ${'version'.padEnd(18)} print the version\n  ${'help'.padEnd(18)} print this text\n\n${[...WRITERS].join(', ')} lock DIR/.kubepki.lock while they write; --lock-timeout DURATION (default ${DEFAULT_LOCK_TIMEOUT_MS / 1000}s) is how long they wait for another writer\n`;

/** Takes `--lock-timeout DURATION` (or `=DURATION`) out of a writing command's arguments. */
function lockTimeout(argv: readonly string[]): { rest: string[]; lockTimeoutMs?: number } {
  const rest: string[] = [];
  let lockTimeoutMs: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === '--lock-timeout' || arg.startsWith('--lock-timeout=')) {
      const value = arg === '--lock-timeout' ? argv[++i] : arg.slice('--lock-timeout='.length);
      if (value === undefined) throw new PkiError('ERR_ARGUMENT', 'needs a duration such as 5s or 1m', { field: '--lock-timeout' });
      lockTimeoutMs = parseDuration(value, '--lock-timeout') * 1000;
    } else rest.push(arg);
  }
  return { rest, ...(lockTimeoutMs === undefined ? {} : { lockTimeoutMs }) };
}

/** Runs the command with `argv` (without node and script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = { out: (l) => console.log(l), err: (l) => console.error(l), progress: terminalProgress() }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'version' || command === '--version') {
      const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      io.out(`kubepki ${pkg.version}`);
      return 0;
    }
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      io.out(usage());
      return command === undefined ? 2 : 0;
    }
    const verb = VERBS.find((v) => v.name === command);
    if (!verb) {
      io.err(`kubepki: unknown command "${printable(command)}"\n${usage()}`);
      return 2;
    }
    const writer = WRITERS.has(verb.name);
    const { rest: verbArgs, lockTimeoutMs } = writer ? lockTimeout(rest) : { rest: [...rest], lockTimeoutMs: undefined };
    const args = parseVerbArgs(verb, verbArgs);
    if (args === 'help') {
      io.out(`usage: ${verb.usage}${writer ? ' [--lock-timeout DURATION]' : ''}\n\n${verb.summary}`);
      return 0;
    }
    const dir = args.values.dir;
    if (writer && typeof dir === 'string' && dir !== '') return await withDirectoryLock(resolve(dir), () => verb.run(args, io), { lockTimeoutMs });
    return await verb.run(args, io);
  } catch (error) {
    if (error instanceof PkiError) {
      io.err(`kubepki: ${error.code}: ${printable(error.message)}`);
      return error.code === 'ERR_ARGUMENT' ? 2 : 1;
    }
    throw error;
  }
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
