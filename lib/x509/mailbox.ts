// An RFC 2821 mailbox and a domain split into labels, read exactly as Go's crypto/x509 reads them when it
// checks names against name constraints (parseRFC2821Mailbox and domainToReverseLabels in verify.go).

export interface Mailbox {
  readonly local: string;
  readonly domain: string;
}

/** A domain's labels, last first; undefined for an empty label, a trailing dot or a byte outside 33..126. */
export function reverseLabels(domain: string): string[] | undefined {
  if (domain === '') return [];
  const labels = domain.split('.').reverse();
  for (const label of labels) {
    if (label === '') return undefined;
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      if (c < 33 || c > 126) return undefined;
    }
  }
  return labels;
}

const ATEXT = /^[0-9A-Za-z!#$%&'*+\-/=?^_`{|}~.]$/;

const isQuotedPairText = (c: number): boolean => c === 11 || c === 12 || (c >= 1 && c <= 9) || (c >= 14 && c <= 127);
// qtext, with the space Go accepts (RFC 3696's examples assume it).
const isQuotedText = (c: number): boolean =>
  c === 11 || c === 12 || c === 32 || c === 33 || c === 127 || (c >= 1 && c <= 8) || (c >= 14 && c <= 31) || (c >= 35 && c <= 91) || (c >= 93 && c <= 126);

/** `local@domain`, the local part a dot-atom or a quoted string; undefined when it does not parse. */
export function parseMailbox(text: string): Mailbox | undefined {
  if (text === '') return undefined;
  let local = '';
  let i = 0;
  if (text[0] === '"') {
    i = 1;
    for (;;) {
      if (i >= text.length) return undefined;
      const c = text.charCodeAt(i++);
      if (c === 0x22) break;
      if (c === 0x5c) {
        if (i >= text.length || !isQuotedPairText(text.charCodeAt(i))) return undefined;
        local += text[i++];
      } else if (isQuotedText(c)) local += text[i - 1];
      else return undefined;
    }
  } else {
    while (i < text.length) {
      if (text[i] === '\\') {
        // Go accepts an escaped character outside quotes too (RFC 3696's examples).
        if (++i >= text.length) return undefined;
        local += text[i++];
      } else if (ATEXT.test(text[i]!)) local += text[i++];
      else break;
    }
    if (local === '' || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  }
  if (text[i] !== '@') return undefined;
  const domain = text.slice(i + 1);
  return reverseLabels(domain) ? { local, domain } : undefined;
}
