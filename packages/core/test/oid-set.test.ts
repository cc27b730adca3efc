import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { OidPrefixSet } from '../src/util/oid-set.js';

test('OidPrefixSet: holds what was added through growth, counts each id once, and answers no for others', () => {
  const set = new OidPrefixSet();
  const ids = Array.from({ length: 200_000 }, () => randomBytes(32).toString('hex'));
  for (const id of ids) set.add(id);
  for (const id of ids.slice(0, 1000)) set.add(id);
  assert.equal(set.size, ids.length);
  for (const id of ids) assert.ok(set.has(id));
  let wrong = 0;
  for (let i = 0; i < 200_000; i++) if (set.has(randomBytes(32).toString('hex'))) wrong++;
  assert.equal(wrong, 0);
  const zero = '0'.repeat(16) + 'f'.repeat(48);
  assert.equal(set.has(zero), false);
  set.add(zero);
  assert.ok(set.has(zero));
  assert.equal(set.size, ids.length + 1);
  // ids that share their first 64 bits count as one (the documented, safe-side approximation)
  const twin = ids[0]!.slice(0, 16) + 'e'.repeat(48);
  assert.ok(set.has(twin));
});

test('OidPrefixSet: ids that are not random (consecutive prefixes) do not make it slow', () => {
  const set = new OidPrefixSet();
  for (let n = 0; n < 1_000_000; n++) set.add(n.toString(16).padStart(16, '0') + 'a'.repeat(48));
  for (let i = 0; i < 50_000; i++) set.add(randomBytes(32).toString('hex'));
  assert.equal(set.size, 1_050_000);
  // without spreading, consecutive keys fill one run of slots and a later insert walks all of it
  assert.ok(set.longestProbe < 1000, `an insert walked ${set.longestProbe} slots`);
});
