/** One block as Go's `pem.Decode` returns it: the type, the headers and the decoded bytes. */
export interface GoPemBlock {
  readonly type: string;
  readonly headers: ReadonlyMap<string, string>;
  readonly bytes: Uint8Array;
}

const PEM_START = '\n-----BEGIN ';
const PEM_END = '\n-----END ';
const PEM_END_OF_LINE = '-----';
// Go's base64.StdEncoding: padded, '\r' and '\n' ignored (spaces and tabs are removed before), non-zero trailing bits accepted.
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Every block `text` holds, found as Go's encoding/pem `Decode` (Go 1.21+) finds them, called until it returns nil:
 * text around blocks is skipped, a malformed block (bad END line, bad base64) is skipped and the search goes
 * on after its BEGIN line, `Key: value` lines after BEGIN are headers. This is the leniency kube-apiserver's
 * validation has; kubepki's own reader (pem.ts) is strict.
 */
export function decodeGoPem(text: string): GoPemBlock[] {
  const blocks: GoPemBlock[] = [];
  let rest = text;
  for (;;) {
    const found = decodeOne(rest);
    if (!found) return blocks;
    blocks.push(found.block);
    rest = found.rest;
  }
}

function getLine(data: string): [string, string] {
  let i = data.indexOf('\n');
  let j: number;
  if (i < 0) {
    i = data.length;
    j = i;
  } else {
    j = i + 1;
    if (i > 0 && data[i - 1] === '\r') i--;
  }
  return [data.slice(0, i).replace(/[ \t]+$/, ''), data.slice(j)];
}

function decodeOne(data: string): { block: GoPemBlock; rest: string } | undefined {
  let rest = data;
  for (;;) {
    if (rest.startsWith(PEM_START.slice(1))) rest = rest.slice(PEM_START.length - 1);
    else {
      const at = rest.indexOf(PEM_START);
      if (at < 0) return undefined;
      rest = rest.slice(at + PEM_START.length);
    }
    let typeLine: string;
    [typeLine, rest] = getLine(rest);
    if (!typeLine.endsWith(PEM_END_OF_LINE)) continue;
    typeLine = typeLine.slice(0, -PEM_END_OF_LINE.length);

    const headers = new Map<string, string>();
    let truncated = false;
    for (;;) {
      if (rest.length === 0) {
        truncated = true;
        break;
      }
      const [line, next] = getLine(rest);
      const colon = line.indexOf(':');
      if (colon < 0) break;
      headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      rest = next;
    }
    if (truncated) return undefined;

    let endIndex: number;
    let endTrailerIndex: number;
    // Without headers the END line may come at once, without a newline before it.
    if (headers.size === 0 && rest.startsWith(PEM_END.slice(1))) {
      endIndex = 0;
      endTrailerIndex = PEM_END.length - 1;
    } else {
      endIndex = rest.indexOf(PEM_END);
      endTrailerIndex = endIndex + PEM_END.length;
    }
    if (endIndex < 0) continue;

    let endTrailer = rest.slice(endTrailerIndex);
    const endTrailerLen = typeLine.length + PEM_END_OF_LINE.length;
    if (endTrailer.length < endTrailerLen) continue;
    const restOfEndLine = endTrailer.slice(endTrailerLen);
    endTrailer = endTrailer.slice(0, endTrailerLen);
    if (!endTrailer.startsWith(typeLine) || !endTrailer.endsWith(PEM_END_OF_LINE)) continue;
    if (getLine(restOfEndLine)[0].length !== 0) continue;

    const base64 = rest.slice(0, endIndex).replace(/[ \t\r\n]/g, '');
    if (!STD_BASE64.test(base64)) continue;
    const bytes = Buffer.from(base64, 'base64');
    return {
      block: { type: typeLine, headers, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
      rest: getLine(rest.slice(endIndex + PEM_END.length - 1))[1],
    };
  }
}
