import { encodeElement } from '../crypto/der.js';
import { PkiError } from '../errors.js';

const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * A certificate time as RFC 5280 4.1.2.5 and Go write it: UTCTime `YYMMDDHHMMSSZ` for the years 1950 to
 * 2049, GeneralizedTime `YYYYMMDDHHMMSSZ` otherwise; whole seconds, always UTC.
 */
export function encodeTime(date: Date): Uint8Array {
  const year = date.getUTCFullYear();
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  if (year >= 1950 && year < 2050) return encodeElement(TAG_UTC_TIME, ascii(`${two(year % 100)}${rest}`));
  return encodeElement(TAG_GENERALIZED_TIME, ascii(`${String(year).padStart(4, '0')}${rest}`));
}

const UTC_TIME = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/;

/** Reads a UTCTime or GeneralizedTime in RFC 5280's profile (seconds present, `Z`, no fractions). */
export function decodeTime(tag: number, content: Uint8Array, field: string): Date {
  const text = Buffer.from(content).toString('latin1');
  const match = tag === TAG_UTC_TIME ? UTC_TIME.exec(text) : tag === TAG_GENERALIZED_TIME ? GENERALIZED_TIME.exec(text) : null;
  if (!match) throw new PkiError('ERR_DER', `not an RFC 5280 time (${tag === TAG_UTC_TIME || tag === TAG_GENERALIZED_TIME ? JSON.stringify(text) : `tag 0x${tag.toString(16)}`})`, { field });
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  const year = tag === TAG_UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y;
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  // Dates roll 31 February over into March; a real calendar date reads back unchanged.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new PkiError('ERR_DER', `not a calendar time (${JSON.stringify(text)})`, { field });
  }
  return date;
}

function ascii(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}
