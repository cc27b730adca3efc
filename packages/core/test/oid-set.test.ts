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

test('OidSet: exact membership through growth and deletes; ids sharing their first 64 bits stay apart; non-ids are never members', async () => {
  const { OidSet } = await import('../src/util/oid-set.js');
  const set = new OidSet();
  const id = (n: number, tail = 0): string => `${n.toString(16).padStart(16, '0')}${'ab'.repeat(16)}${tail.toString(16).padStart(16, '0')}`;
  for (let i = 0; i < 50_000; i++) set.add(id(i));
  // every id, those whose add made the table grow included
  assert.equal(set.size, 50_000);
  for (let i = 0; i < 50_000; i++) assert.ok(set.has(id(i)), `id ${i}`);
  for (let i = 0; i < 50_000; i++) set.add(id(i)); // twice: counted once
  assert.equal(set.size, 50_000);
  // same first 64 bits (what OidPrefixSet would confuse), other last bits: not members
  for (let i = 0; i < 1000; i++) assert.equal(set.has(id(i, 1)), false);
  for (let i = 0; i < 50_000; i += 2) assert.equal(set.delete(id(i)), true);
  assert.equal(set.delete(id(0)), false);
  assert.equal(set.size, 25_000);
  for (let i = 0; i < 50_000; i++) assert.equal(set.has(id(i)), i % 2 === 1, `id ${i}`);
  // deleted slots are reused, and what lies beyond them is still found
  for (let i = 0; i < 50_000; i += 2) set.add(id(i));
  assert.equal(set.size, 50_000);
  for (let i = 0; i < 50_000; i++) assert.ok(set.has(id(i)));
  for (const bad of ['', 'x'.repeat(64), id(1).toUpperCase(), id(1).slice(1), id(1) + '0']) {
    set.add(bad);
    assert.equal(set.has(bad), false, bad);
  }
  assert.equal(set.size, 50_000);
});

test('OidSet: reserve makes room once; ids added before and after it, beyond what was reserved, are all found', async () => {
  const { OidSet } = await import('../src/util/oid-set.js');
  const set = new OidSet();
  const ids = Array.from({ length: 30_000 }, () => randomBytes(32).toString('hex'));
  for (const id of ids.slice(0, 100)) set.add(id);
  set.reserve(10_000);
  for (const id of ids.slice(100)) set.add(id); // 3× what was reserved: it grows again
  assert.equal(set.size, ids.length);
  for (const id of ids) assert.ok(set.has(id));
  assert.equal(set.has(randomBytes(32).toString('hex')), false);
});
