import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sameMembers, sameMembersAndLength, sameOrder } from '../lib/lists.js';

test('sameMembers ignores order and repeats', () => {
  assert.ok(sameMembers(['a', 'b'], ['b', 'a']));
  assert.ok(sameMembers(['a', 'a', 'b'], ['b', 'a']));
  assert.ok(sameMembers([], []));
  assert.not.ok(sameMembers(['a'], ['a', 'b']));
});

test('sameMembersAndLength also wants as many entries', () => {
  assert.ok(sameMembersAndLength(['a', 'b'], ['b', 'a']));
  assert.not.ok(sameMembersAndLength(['a', 'a', 'b'], ['b', 'a']));
  assert.not.ok(sameMembersAndLength(['a', 'a'], ['a', 'b']));
  // Not a multiset comparison: with repeats on both sides only the members and the length count.
  assert.ok(sameMembersAndLength(['a', 'a', 'b'], ['a', 'b', 'b']));
});

test('sameOrder wants the same values in the same order', () => {
  assert.ok(sameOrder(['a', 'b'], ['a', 'b']));
  assert.not.ok(sameOrder(['a', 'b'], ['b', 'a']));
  assert.not.ok(sameOrder(['a'], ['a', 'a']));
});

test.run();
