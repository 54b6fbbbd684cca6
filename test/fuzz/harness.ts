// What every fuzz target must do, shared by the unit tests (test/fuzz/*.test.ts, a small budget) and the
// long runner (fuzz/run.ts): for any input, return or throw a PkiError with a known code; never another
// error, never take more than a second. Invariants broken on success throw an InvariantError, which
// counts as a crash like any other non-PkiError.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { PkiError } from '../../lib/index.js';
import { PKI_ERROR_CODES } from '../../lib/errors.js';
import type { Seeds } from './seeds.js';

/** One parser under test. */
export interface FuzzTarget<T = unknown> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  /** Runs the parser (and its invariants) on one input; throws what the parser throws. */
  run(input: T): unknown;
}

export type TargetFactory = (seeds: Seeds) => FuzzTarget<never>[];

export class InvariantError extends Error {
  override readonly name = 'InvariantError';
}

export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

export function sameValue(a: unknown, b: unknown, message: string): void {
  if (!isDeepStrictEqual(a, b)) throw new InvariantError(`${message}: ${show(a)} != ${show(b)}`);
}

const show = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))?.slice(0, 300) ?? String(value);
  } catch {
    return String(value);
  }
};

/** True for the one error a parser may throw: a PkiError whose code is in PKI_ERROR_CODES. */
export function isAcceptable(error: unknown): error is PkiError {
  return error instanceof PkiError && Object.hasOwn(PKI_ERROR_CODES, error.code);
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/** An input that took longer than this (CPU time) is a hang. */
export const HANG_MS = 1000;

export class HangError extends Error {
  override readonly name = 'HangError';
}

/**
 * Runs one input and classifies the outcome; `slowMs` of wall time counts as a hang. Never throws.
 */
export async function runInput<T>(target: FuzzTarget<T>, input: T, slowMs = HANG_MS): Promise<{ outcome: 'ok' | 'refused' | 'crash' | 'hang'; error?: unknown; ms: number }> {
  // CPU time, not wall time: a fuzzer sharing the machine (niced, beside tests) is descheduled for
  // longer than any input takes.
  const start = cpuMs();
  let outcome: 'ok' | 'refused' | 'crash' = 'ok';
  let error: unknown;
  try {
    await target.run(input);
  } catch (caught) {
    error = caught;
    outcome = isAcceptable(caught) ? 'refused' : 'crash';
  }
  const ms = cpuMs() - start;
  if (outcome !== 'crash' && ms > slowMs) return { outcome: 'hang', error: new HangError(`took ${ms.toFixed(0)} ms`), ms };
  return { outcome, error, ms };
}

/** The property the unit tests assert: no crash and no hang for any input. */
export function targetProperty<T>(target: FuzzTarget<T>, slowMs = HANG_MS): fc.IAsyncProperty<[T]> {
  return fc.asyncProperty(target.arbitrary, async (input) => {
    const result = await runInput(target, input, slowMs);
    if (result.outcome === 'crash' || result.outcome === 'hang') throw result.error;
  });
}

/** Serialises an input for fuzz/crashes: bytes as they are, text as UTF-8, anything else as JSON. */
export function encodeInput(input: unknown): { bytes: Uint8Array; kind: 'bytes' | 'text' | 'json' } {
  if (input instanceof Uint8Array) return { bytes: input, kind: 'bytes' };
  if (typeof input === 'string') return { bytes: Buffer.from(input, 'utf8'), kind: 'text' };
  const json = JSON.stringify(input, (_, value: unknown) => (value instanceof Uint8Array ? { $bytes: Buffer.from(value).toString('base64') } : value === undefined ? { $undefined: true } : value)) ?? 'null';
  return { bytes: Buffer.from(json, 'utf8'), kind: 'json' };
}

/** The inverse of encodeInput, to replay a saved input. */
export function decodeInput(bytes: Uint8Array, kind: 'bytes' | 'text' | 'json'): unknown {
  if (kind === 'bytes') return bytes;
  const text = Buffer.from(bytes).toString('utf8');
  if (kind === 'text') return text;
  return JSON.parse(text, (_, value: unknown) => {
    if (value && typeof value === 'object' && '$bytes' in value) return Uint8Array.from(Buffer.from(String((value as { $bytes: string }).$bytes), 'base64'));
    if (value && typeof value === 'object' && '$undefined' in value) return undefined;
    return value;
  });
}
