// Comparisons of string lists. Each caller picks the one whose treatment of order and repeats it means.

/** Same values, in any order, repeats ignored: [x, x, y] and [y, x] match. */
export function sameMembers(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && [...left].every((value) => right.has(value));
}

/** {@link sameMembers} and as many entries: when either list has no repeats, the other is a permutation of it. */
export function sameMembersAndLength(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && sameMembers(a, b);
}

/** Same values in the same order. */
export function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
