// Structure-aware mutators for the fuzz targets: DER trees (edit an element and re-encode every length
// above it, so the mutant gets past the framing and reaches the field decoders), raw bytes (flip, truncate,
// splice, break a length), text lines (PEM, YAML) and JSON-like objects (CSR objects, Secrets,
// ConfigMaps). Every mutation is plain data drawn by fast-check, so a failing input shrinks to the few
// edits that matter.
import fc from 'fast-check';

// ---------------------------------------------------------------------------------------------- DER trees

/** One DER element: primitive content, children, or a DER value wrapped in an OCTET/BIT STRING. */
export interface DerNode {
  readonly tag: number;
  readonly content?: Uint8Array;
  readonly children?: readonly DerNode[];
  /** For an OCTET STRING or BIT STRING whose content is itself DER: the prefix (BIT STRING's unused-bits byte) and the inner tree. */
  readonly wrapped?: { readonly prefix: Uint8Array; readonly node: DerNode };
}

/** Lenient reader: the element at `offset`, or undefined when it is not well framed (lengths up to 4 bytes). */
function frame(bytes: Uint8Array, offset: number): { tag: number; start: number; end: number } | undefined {
  if (offset + 2 > bytes.length) return undefined;
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined;
  let length = bytes[offset + 1]!;
  let start = offset + 2;
  if (length === 0x80) return undefined;
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4 || start + count > bytes.length) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!;
    start += count;
  }
  return start + length <= bytes.length ? { tag, start, end: start + length } : undefined;
}

function parseRange(bytes: Uint8Array, start: number, end: number, depth: number): DerNode[] | undefined {
  const out: DerNode[] = [];
  for (let offset = start; offset < end; ) {
    const element = frame(bytes, offset);
    if (!element || element.end > end) return undefined;
    out.push(nodeOf(bytes, element, depth));
    offset = element.end;
  }
  return out;
}

function nodeOf(bytes: Uint8Array, element: { tag: number; start: number; end: number }, depth: number): DerNode {
  const content = bytes.subarray(element.start, element.end);
  if (depth < 48 && (element.tag & 0x20) !== 0) {
    const children = parseRange(bytes, element.start, element.end, depth + 1);
    if (children) return { tag: element.tag, children };
  }
  // Extension values, keys in BIT STRINGs: descend when the whole content is one constructed element.
  const prefixLength = element.tag === 0x03 ? 1 : element.tag === 0x04 ? 0 : -1;
  if (depth < 48 && prefixLength >= 0 && content.length >= 2 + prefixLength && (prefixLength === 0 || content[0] === 0)) {
    const inner = content.subarray(prefixLength);
    const top = frame(inner, 0);
    if (top && top.end === inner.length && (top.tag === 0x30 || top.tag === 0x03 || top.tag === 0x04)) {
      return { tag: element.tag, wrapped: { prefix: content.subarray(0, prefixLength), node: nodeOf(inner, top, depth + 1) } };
    }
  }
  return { tag: element.tag, content };
}

const treeCache = new WeakMap<Uint8Array, DerNode>();

/** The tree of `der` (cached per seed); bytes that do not frame become one primitive node. */
export function parseTree(der: Uint8Array): DerNode {
  let tree = treeCache.get(der);
  if (!tree) {
    const top = frame(der, 0);
    tree = top && top.end === der.length ? nodeOf(der, top, 0) : { tag: 0x04, content: der };
    treeCache.set(der, tree);
  }
  return tree;
}

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const out: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) out.unshift(n & 0xff);
  return [0x80 | out.length, ...out];
}

/** Where each element's header sits in the encoding, in pre-order. */
export interface Header {
  readonly offset: number;
  readonly lengthOffset: number;
  readonly lengthSize: number;
  readonly contentLength: number;
}

/** Re-encodes a tree with correct DER lengths, recording the headers. */
export function encodeTree(root: DerNode): { bytes: Uint8Array; headers: Header[] } {
  const headers: Header[] = [];
  const chunks: (Uint8Array | number[])[] = [];
  let size = 0;
  const push = (chunk: Uint8Array | number[]): void => {
    chunks.push(chunk);
    size += chunk.length;
  };
  const contentSize = (node: DerNode): number => {
    if (node.children) return node.children.reduce((n, child) => n + encodedSize(child), 0);
    if (node.wrapped) return node.wrapped.prefix.length + encodedSize(node.wrapped.node);
    return node.content!.length;
  };
  const sizes = new Map<DerNode, number>();
  const encodedSize = (node: DerNode): number => {
    let cached = sizes.get(node);
    if (cached === undefined) {
      const inner = contentSize(node);
      cached = 1 + lengthBytes(inner).length + inner;
      sizes.set(node, cached);
    }
    return cached;
  };
  const emit = (node: DerNode): void => {
    const inner = contentSize(node);
    const length = lengthBytes(inner);
    headers.push({ offset: size, lengthOffset: size + 1, lengthSize: length.length, contentLength: inner });
    push([node.tag, ...length]);
    if (node.children) node.children.forEach(emit);
    else if (node.wrapped) {
      push(node.wrapped.prefix);
      emit(node.wrapped.node);
    } else push(node.content!);
  };
  emit(root);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes, headers };
}

function countNodes(node: DerNode): number {
  if (node.children) return 1 + node.children.reduce((n, child) => n + countNodes(child), 0);
  if (node.wrapped) return 1 + countNodes(node.wrapped.node);
  return 1;
}

function nodeAt(root: DerNode, index: number): DerNode {
  let seen = 0;
  let found: DerNode = root;
  const walk = (node: DerNode): boolean => {
    if (seen++ === index) {
      found = node;
      return true;
    }
    if (node.children) return node.children.some(walk);
    if (node.wrapped) return walk(node.wrapped.node);
    return false;
  };
  walk(root);
  return found;
}

/** Replaces the node at pre-order `index` by what `edit` returns (none: deleted; several: repeated). */
function editAt(root: DerNode, index: number, edit: (node: DerNode) => DerNode[]): DerNode {
  let seen = 0;
  const visit = (node: DerNode): DerNode[] => {
    if (seen++ === index) return edit(node);
    if (node.children) {
      const before = seen;
      const children = node.children.flatMap(visit);
      return [seen === before ? node : { tag: node.tag, children }];
    }
    if (node.wrapped) {
      const [inner] = visit(node.wrapped.node);
      return [inner ? { tag: node.tag, wrapped: { prefix: node.wrapped.prefix, node: inner } } : { tag: node.tag, content: node.wrapped.prefix }];
    }
    return [node];
  };
  return visit(root)[0] ?? root;
}

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'hex'));
const ascii = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text, 'latin1'));

/** Values that sit on the edges of what the decoders accept. */
export const INTERESTING: Readonly<Record<string, readonly { tag?: number; content: Uint8Array }[]>> = {
  integer: ['', '00', '0000', '007f', '0080', '80', 'ff', 'ff80', 'ff7f', '7fffffffffffffffff', 'ff'.repeat(21), '01' + '00'.repeat(8), '02', '7f'].map((h) => ({ tag: 0x02, content: hex(h) })),
  oid: [
    '',
    '80',
    'ff',
    '2a86',
    '2a8001',
    '8001',
    'ffffffffffffffffff7f',
    '551d11', // subjectAltName
    '551d13', // basicConstraints
    '551d0f', // keyUsage
    '551d25', // extKeyUsage
    '551d0e', // subjectKeyIdentifier
    '551d23', // authorityKeyIdentifier
    '550403', // CN
    '55040a', // O
    '2a8648ce3d040302', // ecdsa-with-SHA256
    '2a8648ce3d040303',
    '2a864886f70d01010b', // sha256WithRSAEncryption
    '2a864886f70d010105', // sha1WithRSAEncryption
    '2b6570', // Ed25519
    '2a8648ce3d0201', // ecPublicKey
    '2a8648ce3d030107', // P-256
    '2b81040022', // P-384
    '2b81040023', // P-521
    '2a864886f70d010101', // rsaEncryption
    '2a864886f70d01090e', // extensionRequest
    '2b06010505070301', // serverAuth
    '2b06010505070302', // clientAuth
  ].map((h) => ({ tag: 0x06, content: hex(h) })),
  time: [
    [0x17, '991231235959Z'],
    [0x17, '500101000000Z'],
    [0x17, '491231235959Z'],
    [0x17, '230230000000Z'],
    [0x17, '231301000000Z'],
    [0x17, '230101246000Z'],
    [0x17, '2301010000Z'],
    [0x17, '230101000000+0100'],
    [0x17, '230101000000.5Z'],
    [0x17, ''],
    [0x17, '24022900000 Z'],
    [0x18, '20491231235959Z'],
    [0x18, '99991231235959Z'],
    [0x18, '00000101000000Z'],
    [0x18, '20240229000000Z'],
    [0x18, '20230229000000Z'],
    [0x18, '20230101000000.123Z'],
    [0x18, '+0230101000000Z'],
  ].map(([tag, text]) => ({ tag: tag as number, content: ascii(text as string) })),
  string: [
    [0x0c, ''],
    [0x0c, 'system:node:node-1'],
    [0x0c, 'a\u0000b'],
    [0x0c, 'x'.repeat(1025)],
    [0x13, 'system:nodes'],
    [0x16, 'node-1.example.com'],
    [0x1e, 'abc'],
    [0x1e, '\u0000a'],
    [0x14, '\u00ff'],
    [0x12, '12 34'],
    [0x05, ''],
  ]
    .map(([tag, text]) => ({ tag: tag as number, content: ascii(text as string) }))
    .concat([
      { tag: 0x0c, content: hex('c328') },
      { tag: 0x0c, content: hex('fffe') },
      { tag: 0x0c, content: hex('f09f9880') },
    ]),
  boolean: ['', '00', 'ff', '01', '0000'].map((h) => ({ tag: 0x01, content: hex(h) })),
  bitString: ['', '00', '0780', '08ff', '00ffffff', '01fe', '05a0', '0000000000'].map((h) => ({ tag: 0x03, content: hex(h) })),
  generalName: [
    [0x87, '0a000001'],
    [0x87, '20010db8000000000000000000000001'],
    [0x87, '00000000000000000000ffff0a000001'],
    [0x87, ''],
    [0x87, '0a0000'],
    [0x87, '0a000001ff'],
    [0x82, ''],
    [0x82, '2a2e6578616d706c652e636f6d'],
    [0x82, '00'],
    [0x82, '7f'],
    [0x81, '6140622e63'],
    [0x86, '68747470733a2f2f78'],
    [0x80, ''],
    [0xa0, ''],
    [0x88, '2a03'],
  ].map(([tag, h]) => ({ tag: tag as number, content: hex(h as string) })),
};
const INTERESTING_LIST = Object.values(INTERESTING).flat();

export type TreeOp =
  | { op: 'dup'; at: number; times: number }
  | { op: 'delete'; at: number }
  | { op: 'tag'; at: number; tag: number }
  | { op: 'content'; at: number; bytes: Uint8Array }
  | { op: 'graft'; at: number; seed: number; from: number }
  | { op: 'nest'; at: number; depth: number; tag: number }
  | { op: 'value'; at: number; pick: number }
  | { op: 'insert'; at: number; pick: number };

export type ByteOp =
  | { op: 'flip'; pos: number; bit: number }
  | { op: 'set'; pos: number; value: number }
  | { op: 'truncate'; pos: number }
  | { op: 'insert'; pos: number; bytes: Uint8Array }
  | { op: 'delete'; pos: number; count: number }
  | { op: 'splice'; pos: number; seed: number; from: number }
  | { op: 'length'; at: number; kind: 'plus' | 'minus' | 'indefinite' | 'long' | 'nonMinimal' | 'huge' | 'zero' };

const index = fc.nat({ max: 1 << 20 });
const byte = fc.integer({ min: 0, max: 255 });
const smallBytes = fc.uint8Array({ maxLength: 24 });

export const treeOp: fc.Arbitrary<TreeOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('value' as const), at: index, pick: index }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dup' as const), at: index, times: fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 2, max: 4 }) }, { weight: 1, arbitrary: fc.constantFrom(64, 1000, 20_001) }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: index }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('graft' as const), at: index, seed: index, from: index }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tag' as const), at: index, tag: fc.oneof(byte, fc.constantFrom(0x30, 0x31, 0x04, 0x03, 0x02, 0x06, 0x05, 0x0c, 0xa0, 0xa3, 0x80, 0x82, 0x87, 0x17, 0x18)) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('content' as const), at: index, bytes: smallBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: index, pick: index }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('nest' as const),
      at: index,
      depth: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(31, 32, 33, 48, 200) }),
      tag: fc.constantFrom(0x30, 0x31, 0xa0, 0xa3, 0x24),
    }),
  },
);

export const byteOp: fc.Arbitrary<ByteOp> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), pos: index, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), pos: index, value: byte }),
  fc.record({ op: fc.constant('truncate' as const), pos: index }),
  fc.record({ op: fc.constant('insert' as const), pos: index, bytes: smallBytes }),
  fc.record({ op: fc.constant('delete' as const), pos: index, count: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('splice' as const), pos: index, seed: index, from: index }),
  fc.record({ op: fc.constant('length' as const), at: index, kind: fc.constantFrom('plus', 'minus', 'indefinite', 'long', 'nonMinimal', 'huge', 'zero') }),
);

export interface DerMutation {
  readonly seed: number;
  readonly tree: readonly TreeOp[];
  readonly bytes: readonly ByteOp[];
}

/** Mostly structural edits (valid framing), sometimes raw byte damage on top. */
export const derMutation: fc.Arbitrary<DerMutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ seed: index, tree: fc.array(treeOp, { minLength: 1, maxLength: 3 }), bytes: fc.constant([]) }) },
  { weight: 3, arbitrary: fc.record({ seed: index, tree: fc.constant([]), bytes: fc.array(byteOp, { minLength: 1, maxLength: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ seed: index, tree: fc.array(treeOp, { maxLength: 2 }), bytes: fc.array(byteOp, { maxLength: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ seed: index, tree: fc.constant([]), bytes: fc.constant([]) }) },
);

const MAX_NODES = 100_000;

function applyTreeOp(root: DerNode, op: TreeOp, pool: readonly Uint8Array[]): DerNode {
  const count = countNodes(root);
  const at = op.at % count;
  switch (op.op) {
    case 'dup':
      // Capped so that repeated dups of large subtrees stay past the parsers' limits without exhausting
      // the generator's own memory (a million nodes of certificate is gigabytes).
      return editAt(root, at, (node) => Array.from({ length: Math.min(op.times, Math.max(2, Math.floor(MAX_NODES / (count + countNodes(node))))) }, () => node));
    case 'delete':
      return editAt(root, at, () => []);
    case 'tag':
      return editAt(root, at, (node) => [{ ...node, tag: op.tag }]);
    case 'content':
      return editAt(root, at, (node) => [{ tag: node.tag, content: op.bytes }]);
    case 'graft': {
      const donor = parseTree(pool[op.seed % pool.length]!);
      const graft = nodeAt(donor, op.from % countNodes(donor));
      return editAt(root, at, () => [graft]);
    }
    case 'nest':
      return editAt(root, at, (node) => {
        let wrapped = node;
        for (let i = 0; i < op.depth; i++) wrapped = { tag: op.tag, children: [wrapped] };
        return [wrapped];
      });
    case 'value': {
      const value = INTERESTING_LIST[op.pick % INTERESTING_LIST.length]!;
      return editAt(root, at, (node) => [{ tag: value.tag ?? node.tag, content: value.content }]);
    }
    case 'insert': {
      const value = INTERESTING_LIST[op.pick % INTERESTING_LIST.length]!;
      return editAt(root, at, (node) => [{ tag: value.tag ?? 0x04, content: value.content }, node]);
    }
  }
}

function applyByteOp(bytes: Uint8Array, headers: readonly Header[], op: ByteOp, pool: readonly Uint8Array[]): Uint8Array {
  const at = (n: number): number => (bytes.length === 0 ? 0 : n % bytes.length);
  switch (op.op) {
    case 'flip': {
      if (bytes.length === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[at(op.pos)]! ^= 1 << op.bit;
      return out;
    }
    case 'set': {
      if (bytes.length === 0) return bytes;
      const out = Uint8Array.from(bytes);
      out[at(op.pos)] = op.value;
      return out;
    }
    case 'truncate':
      return bytes.slice(0, op.pos % (bytes.length + 1));
    case 'insert': {
      const pos = op.pos % (bytes.length + 1);
      return Uint8Array.from([...bytes.subarray(0, pos), ...op.bytes, ...bytes.subarray(pos)]);
    }
    case 'delete': {
      const pos = at(op.pos);
      return Uint8Array.from([...bytes.subarray(0, pos), ...bytes.subarray(pos + op.count)]);
    }
    case 'splice': {
      const other = pool[op.seed % pool.length]!;
      const pos = op.pos % (bytes.length + 1);
      return Uint8Array.from([...bytes.subarray(0, pos), ...other.subarray(op.from % (other.length + 1))]);
    }
    case 'length': {
      const header = headers[op.at % Math.max(1, headers.length)];
      if (!header || header.lengthOffset + header.lengthSize > bytes.length) return bytes;
      const before = bytes.subarray(0, header.lengthOffset);
      const after = bytes.subarray(header.lengthOffset + header.lengthSize);
      const length = header.contentLength;
      const encoded =
        op.kind === 'plus'
          ? lengthBytes(length + 1)
          : op.kind === 'minus'
            ? lengthBytes(Math.max(0, length - 1))
            : op.kind === 'indefinite'
              ? [0x80]
              : op.kind === 'long'
                ? [0x85, 0, 0, 0, 0, length & 0xff]
                : op.kind === 'nonMinimal'
                  ? [0x82, (length >> 8) & 0xff, length & 0xff]
                  : op.kind === 'huge'
                    ? [0x84, 0xff, 0xff, 0xff, 0xff]
                    : [0x00];
      return Uint8Array.from([...before, ...encoded, ...after]);
    }
  }
}

/** Applies a mutation to seed `pool[m.seed]` (tree edits, then byte edits). */
export function mutateDer(pool: readonly Uint8Array[], m: DerMutation): Uint8Array {
  const seed = pool[m.seed % pool.length]!;
  let tree = parseTree(seed);
  for (const op of m.tree) tree = applyTreeOp(tree, op, pool);
  const encoded = m.tree.length ? encodeTree(tree) : { bytes: seed, headers: m.bytes.length ? encodeTree(tree).headers : [] };
  let bytes = encoded.bytes;
  for (const op of m.bytes) bytes = applyByteOp(bytes, encoded.headers, op, pool);
  return bytes === seed ? Uint8Array.from(seed) : bytes;
}

/** DER inputs: mutants of the seeds, and sometimes plain random bytes. */
export function derInput(pool: () => readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 6, arbitrary: derMutation.map((m) => mutateDer(pool(), m)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 2, maxLength: 64 }).map((b) => Uint8Array.from([0x30, ...lengthBytes(b.length), ...b])) },
  );
}

// ------------------------------------------------------------------------------------------------- text

export type TextOp =
  | { op: 'dropLine'; at: number }
  | { op: 'dupLine'; at: number }
  | { op: 'swapLines'; at: number; with: number }
  | { op: 'insertLine'; at: number; pick: number }
  | { op: 'replaceLine'; at: number; pick: number }
  | { op: 'insertText'; pos: number; text: string }
  | { op: 'deleteText'; pos: number; count: number }
  | { op: 'truncate'; pos: number }
  | { op: 'crlf' }
  | { op: 'indent'; at: number; spaces: number };

export function textOp(dictionary: readonly string[]): fc.Arbitrary<TextOp> {
  return fc.oneof(
    fc.record({ op: fc.constant('dropLine' as const), at: index }),
    fc.record({ op: fc.constant('dupLine' as const), at: index }),
    fc.record({ op: fc.constant('swapLines' as const), at: index, with: index }),
    { weight: 2, arbitrary: fc.record({ op: fc.constant('insertLine' as const), at: index, pick: fc.nat({ max: dictionary.length - 1 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('replaceLine' as const), at: index, pick: fc.nat({ max: dictionary.length - 1 }) }) },
    fc.record({ op: fc.constant('insertText' as const), pos: index, text: fc.oneof(fc.string({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom(...dictionary)) }),
    fc.record({ op: fc.constant('deleteText' as const), pos: index, count: fc.integer({ min: 1, max: 32 }) }),
    fc.record({ op: fc.constant('truncate' as const), pos: index }),
    fc.record({ op: fc.constant('crlf' as const) }),
    fc.record({ op: fc.constant('indent' as const), at: index, spaces: fc.integer({ min: 1, max: 6 }) }),
  );
}

export function mutateText(text: string, ops: readonly TextOp[], dictionary: readonly string[]): string {
  let out = text;
  for (const op of ops) {
    const lines = out.split('\n');
    const line = (n: number): number => n % lines.length;
    switch (op.op) {
      case 'dropLine':
        lines.splice(line(op.at), 1);
        break;
      case 'dupLine':
        lines.splice(line(op.at), 0, lines[line(op.at)]!);
        break;
      case 'swapLines': {
        const [a, b] = [line(op.at), line(op.with)];
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        break;
      }
      case 'insertLine':
        lines.splice(op.at % (lines.length + 1), 0, dictionary[op.pick]!);
        break;
      case 'replaceLine':
        lines[line(op.at)] = dictionary[op.pick]!;
        break;
      case 'indent':
        lines[line(op.at)] = ' '.repeat(op.spaces) + lines[line(op.at)]!;
        break;
      case 'insertText': {
        const pos = op.pos % (out.length + 1);
        out = out.slice(0, pos) + op.text + out.slice(pos);
        continue;
      }
      case 'deleteText': {
        const pos = op.pos % (out.length + 1);
        out = out.slice(0, pos) + out.slice(pos + op.count);
        continue;
      }
      case 'truncate':
        out = out.slice(0, op.pos % (out.length + 1));
        continue;
      case 'crlf':
        out = out.replace(/\n/g, '\r\n');
        continue;
    }
    out = lines.join('\n');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- objects

/** Keys that trip code which treats parsed JSON or YAML as a plain, trusted object. */
export const NASTY_KEYS = ['toString', 'valueOf', '__proto__', 'constructor', 'hasOwnProperty', 'then', 'length', 'name', 'data', 'type', 'status', 'conditions', 'request', 'usages', 'metadata', 'spec'];

const jsonKey = fc.oneof({ weight: 3, arbitrary: fc.string({ maxLength: 6 }) }, { weight: 2, arbitrary: fc.constantFrom(...NASTY_KEYS) });

/** JSON values (built through JSON.parse, so `__proto__` is an own key as it is in parsed input). */
export const jsonValue: fc.Arbitrary<unknown> = fc
  .letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, 600, 599, '', 'true', 'True', 'x', 'certificates.k8s.io/v1', 'CertificateSigningRequest', 'Approved', 'Denied', 'Failed', 'null'),
      fc.string({ maxLength: 12 }),
      fc.integer(),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(jsonKey, tie('value'), { maxKeys: 4 }),
    ),
  }))
  .value.map((value) => JSON.parse(JSON.stringify(value) ?? 'null') as unknown);

export type ObjectOp = { op: 'set'; at: number; value: unknown } | { op: 'delete'; at: number } | { op: 'nest'; at: number; depth: number } | { op: 'addKey'; at: number; key: string; value: unknown };

export const objectOp: fc.Arbitrary<ObjectOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), at: index, value: jsonValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), at: index }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('nest' as const), at: index, depth: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom(40, 100)) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addKey' as const), at: index, key: jsonKey, value: jsonValue }) },
);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Paths to every value of a JSON tree, in pre-order (the root is []). */
function paths(value: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(prefix);
  if (out.length > 4096) return out;
  if (Array.isArray(value)) value.forEach((item, i) => paths(item, [...prefix, i], out));
  else if (value !== null && typeof value === 'object') for (const key of Object.keys(value)) paths((value as Record<string, unknown>)[key], [...prefix, key], out);
  return out;
}

function setPath(root: Json, path: readonly (string | number)[], update: (current: Json, parent: Json, key: string | number) => Json | undefined): Json {
  if (path.length === 0) return update(root, null, '') ?? null;
  let parent = root as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, Json>;
  const key = path[path.length - 1]!;
  const next = update(parent[key]!, parent, key);
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  } else Object.defineProperty(parent, key, { value: next, enumerable: true, writable: true, configurable: true });
  return root;
}

/** Applies object edits to a deep copy of `value` (a JSON value). */
export function mutateObject(value: unknown, ops: readonly ObjectOp[]): unknown {
  let root = JSON.parse(JSON.stringify(value)) as Json;
  for (const op of ops) {
    const all = paths(root);
    const path = all[op.at % all.length]!;
    switch (op.op) {
      case 'set':
        root = setPath(root, path, () => op.value as Json);
        break;
      case 'delete':
        root = path.length ? setPath(root, path, () => undefined) : root;
        break;
      case 'nest':
        root = setPath(root, path, (current) => {
          let wrapped = current;
          for (let i = 0; i < op.depth; i++) wrapped = [wrapped];
          return wrapped;
        });
        break;
      case 'addKey':
        root = setPath(root, path, (current) => {
          if (current === null || typeof current !== 'object' || Array.isArray(current)) return current;
          Object.defineProperty(current, op.key, { value: op.value as Json, enumerable: true, writable: true, configurable: true });
          return current;
        });
        break;
    }
  }
  return root;
}
