import { parseArgs } from 'node:util';
import { PkiError } from '../errors.js';
import { didYouMean } from './suggest.js';

/** Where a command writes: standard output and standard error, replaceable in tests. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Progress of a long batch; the command line draws a bar on a terminal and stays silent otherwise. */
  progress?(done: number, total: number): void;
}

/** A progress bar on standard error, redrawn in place; nothing when standard error is not a terminal. */
export function terminalProgress(stream: Pick<NodeJS.WriteStream, 'isTTY' | 'write'> = process.stderr, now: () => number = () => performance.now()): Io['progress'] {
  if (!stream.isTTY) return undefined;
  let started: number | undefined;
  return (done, total) => {
    started ??= now();
    stream.write(`\r${progressLine(done, total, (now() - started) / 1000)}${done >= total ? '\n' : ''}`);
  };
}

/** `[#####.....] 6/12 50% 3.2/s 2s left`: the rate and the time left once something is done. */
export function progressLine(done: number, total: number, elapsedSeconds: number): string {
  const width = 30;
  const filled = total ? Math.min(width, Math.round((done / total) * width)) : width;
  const percent = total ? Math.floor((done / total) * 100) : 100;
  const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
  const pace = done > 0 && rate > 0 ? ` ${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s ${done >= total ? `in ${formatSeconds(elapsedSeconds)}` : `${formatSeconds((total - done) / rate)} left`}` : '';
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${percent}%${pace}`;
}

function formatSeconds(seconds: number): string {
  const s = Math.ceil(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}

/** One option of a verb: how it parses, and what its help says. */
export interface VerbOption {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  readonly short?: string;
  /** What it does, in a few words. */
  readonly description: string;
  /** The value's placeholder in the help: DIR, FILE, DURATION. */
  readonly value?: string;
  /** What applies without it, as the help shows it. */
  readonly default?: string;
  /** The values it takes (from the library's tables), checked before the verb runs. */
  readonly values?: readonly string[];
  /** A comma-separated list, each item one of `values`. */
  readonly list?: boolean;
  /** A directory the verb reads (`existing`: it must be there) or writes (`created` when missing); a file there is refused. */
  readonly directory?: 'existing' | 'created';
}

/** `--dir` of a command that works on an existing PKI directory. */
export const PKI_DIR_OPTION: VerbOption = { type: 'string', value: 'DIR', description: 'the PKI directory (kubeconfigs in DIR, certificates in DIR/pki)', directory: 'existing' };

export const JSON_OPTION: VerbOption = { type: 'boolean', description: 'print the result as JSON' };

/** A positional argument, for the help. */
export interface VerbArgument {
  readonly name: string;
  readonly description: string;
  readonly values?: readonly string[];
}

export type VerbArgs = { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };

/** A command of `kubepki`: its options are declared once, and both parsing and the help are made from them. */
export interface Verb {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Readonly<Record<string, VerbOption>>;
  /** Its positional arguments; none: positionals are refused. */
  readonly arguments?: readonly VerbArgument[];
  /** One or more complete command lines. */
  readonly example: string | readonly string[];
  run(args: VerbArgs, io: Io): Promise<number>;
}

/** The flag as typed, `--name` or `-n`, from parseArgs' messages. */
const QUOTED_OPTION = /'(-{1,2}[^' =]+)/;

/**
 * Parses a verb's arguments strictly; `--help` prints its usage. Every refusal is ERR_ARGUMENT naming the
 * flag in kubepki's words (parseArgs' own messages never reach the user), with the closest flag of the verb,
 * or the verb a flag belongs to, as a suggestion. `otherVerbs` are looked at for that suggestion only.
 */
export function parseVerbArgs(verb: Verb, argv: readonly string[], otherVerbs: readonly Verb[] = []): VerbArgs | 'help' {
  const options = Object.fromEntries(Object.entries(verb.options).map(([name, o]) => [name, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]));
  let parsed: VerbArgs;
  try {
    const result = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean', short: 'h' } } });
    if (result.values.help) return 'help';
    parsed = result as VerbArgs;
  } catch (cause) {
    throw argumentError(verb, cause, otherVerbs);
  }
  for (const [name, option] of Object.entries(verb.options)) {
    const given = parsed.values[name];
    if (option.values === undefined || given === undefined || typeof given === 'boolean') continue;
    for (const text of [given].flat()) for (const item of option.list ? text.split(',').map((v) => v.trim()).filter(Boolean) : [text]) checkValue(`--${name}`, item, option.values);
  }
  if (!verb.arguments?.length && parsed.positionals.length) {
    const [first] = parsed.positionals as [string];
    // A path where --dir was meant, or a flag without its dashes.
    const hint = verb.options.dir && /[/.]/.test(first) ? `; did you mean --dir ${printable(first)}?` : didYouMean(`--${first}`, flagNames(verb));
    throw new PkiError('ERR_ARGUMENT', `unexpected argument "${printable(first)}": kubepki ${verb.name} takes options only${hint}`, { field: verb.name });
  }
  return parsed;
}

/** ERR_ARGUMENT unless `value` is one of `allowed`, suggesting the closest. */
export function checkValue(field: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) throw new PkiError('ERR_ARGUMENT', `"${printable(value)}" is not one of ${allowed.join(', ')}${didYouMean(value, allowed)}`, { field });
}

const flagNames = (verb: Verb): string[] => [...Object.keys(verb.options).map((name) => `--${name}`), '--help'];

function argumentError(verb: Verb, cause: unknown, otherVerbs: readonly Verb[]): PkiError {
  const code = (cause as { code?: string }).code;
  const message = cause instanceof Error ? cause.message : String(cause);
  const flag = QUOTED_OPTION.exec(message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) {
    const name = flag.replace(/^-+/, '');
    const owners = otherVerbs.filter((v) => v !== verb && Object.hasOwn(v.options, name)).map((v) => v.name);
    const elsewhere = owners.length ? ` (${flag} is an option of ${owners.slice(0, 3).join(', ')})` : '';
    return new PkiError('ERR_ARGUMENT', `unknown option of kubepki ${verb.name}${didYouMean(flag, flagNames(verb))}${elsewhere} (kubepki ${verb.name} --help lists its options)`, { field: flag, cause });
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag) {
    const option = verb.options[flag.replace(/^-+/, '')];
    const takesValue = option?.type === 'string';
    return new PkiError('ERR_ARGUMENT', takesValue ? `needs a value${option.value ? ` (${option.value})` : ''}` : 'takes no value', { field: flag, cause });
  }
  return new PkiError('ERR_ARGUMENT', `the arguments cannot be read: ${message.split('\n')[0]}`, { field: verb.name, cause });
}

/** A required string option. */
export function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new PkiError('ERR_ARGUMENT', 'is required', { field: `--${name}` });
  return value;
}

export function optional(values: Record<string, unknown>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `24h`, `30m`, `1h30m`, `90s`: a Go-style duration in seconds. */
export function parseDuration(text: string, field: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  if (!text || !match) throw new PkiError('ERR_ARGUMENT', `"${text}" is not a duration like 24h, 30m or 1h30m`, { field });
  return Number(match[1] ?? 0) * 3600 + Number(match[2] ?? 0) * 60 + Number(match[3] ?? 0);
}

export function list(values: Record<string, unknown>, name: string): string[] {
  const value = optional(values, name);
  return value ? value.split(',').map((v) => v.trim()).filter(Boolean) : [];
}

// C0 and C1 controls, DEL, the Unicode line and paragraph separators and the bidirectional controls.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\\\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text taken from a certificate, a request or a Secret, made safe to print on one line of a terminal or a
 * log: control characters, line separators and bidirectional controls become `\xNN` or `\uNNNN`, and a
 * backslash is doubled, so a printed line can neither be forged nor rearranged by what it quotes.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    if (c === '\\') return '\\\\';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
