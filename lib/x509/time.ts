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

/** Reads a UTCTime or GeneralizedTime in RFC 5280's profile (seconds present, `Z`, no fractions). */
export function decodeTime(tag: number, content: Uint8Array, field: string): Date {
  // YYMMDDHHMMSSZ or YYYYMMDDHHMMSSZ, read digit by digit: every certificate parsed has two.
  const yearDigits = tag === TAG_UTC_TIME ? 2 : tag === TAG_GENERALIZED_TIME ? 4 : 0;
  const text = (): string => Buffer.from(content).toString('latin1');
  if (!yearDigits || content.length !== yearDigits + 11 || content[yearDigits + 10] !== 0x5a) {
    throw new PkiError('ERR_DER', `not an RFC 5280 time (${yearDigits ? JSON.stringify(text()) : `tag 0x${tag.toString(16)}`})`, { field });
  }
  let at = 0;
  const digits = (count: number): number => {
    let value = 0;
    for (const end = at + count; at < end; at++) {
      const digit = content[at]! - 0x30;
      if (digit < 0 || digit > 9) throw new PkiError('ERR_DER', `not an RFC 5280 time (${JSON.stringify(text())})`, { field });
      value = value * 10 + digit;
    }
    return value;
  };
  const y = digits(yearDigits);
  const [mo, d, h, mi, s] = [digits(2), digits(2), digits(2), digits(2), digits(2)];
  const year = tag === TAG_UTC_TIME ? (y < 50 ? 2000 + y : 1900 + y) : y;
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  // Dates roll 31 February over into March; a real calendar date reads back unchanged.
  if (date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) {
    throw new PkiError('ERR_DER', `not a calendar time (${JSON.stringify(text())})`, { field });
  }
  return date;
}

function ascii(text: string): Uint8Array {
  return Buffer.from(text, 'latin1');
}
