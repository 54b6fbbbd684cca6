import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PkiError } from '../errors.js';

/** Where a command writes: standard output and standard error, replaceable in tests. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Progress of a long batch; the command line draws a bar on a terminal and stays silent otherwise. */
  progress?(done: number, total: number): void;
}

/** A progress bar on standard error, redrawn in place; nothing when standard error is not a terminal. */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Io['progress'] {
  if (!stream.isTTY) return undefined;
  return (done, total) => {
    const width = 30;
    const filled = total ? Math.round((done / total) * width) : width;
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done >= total ? '\n' : ''}`);
  };
}

export interface Verb {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  run(args: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] }, io: Io): Promise<number>;
}

/** Parses a verb's arguments strictly; `--help` prints its usage. Unknown options are ERR_ARGUMENT. */
export function parseVerbArgs(verb: Verb, argv: readonly string[]): { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] } | 'help' {
  try {
    const parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { ...verb.options, help: { type: 'boolean', short: 'h' } } });
    if (parsed.values.help) return 'help';
    return parsed as { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  } catch (cause) {
    throw new PkiError('ERR_ARGUMENT', (cause as Error).message, { field: verb.name, cause });
  }
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
