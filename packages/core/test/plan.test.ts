import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCheckout, type ManifestEntry, type PresentFile } from '../src/index.js';

const O = (c: string): string => c.repeat(64);
const e = (path: string, oid: string, exec = false): ManifestEntry => ({ path, oid, size: 1, exec });
const cache = (...oids: string[]) => {
  const s = new Set(oids);
  return (oid: string): boolean => s.has(oid);
};
const present = (entries: Record<string, string | [string, boolean]>): Map<string, PresentFile> =>
  new Map(Object.entries(entries).map(([p, v]) => [p, Array.isArray(v) ? { oid: v[0], exec: v[1] } : { oid: v, exec: false }]));

test('plan: identical workspace is all unchanged', () => {
  const target = [e('a', O('1')), e('d/b', O('2'))];
  const plan = planCheckout(target, present({ a: O('1'), 'd/b': O('2') }), { inCache: cache(O('1'), O('2')) });
  assert.deepEqual(plan, { write: [], remove: [], chmod: [], unchanged: 2, missing: [], wouldLose: [] });
});

test('plan: unchanged even when the object is not in the cache', () => {
  const plan = planCheckout([e('a', O('1'))], present({ a: O('1') }), { inCache: cache() });
  assert.equal(plan.unchanged, 1);
  assert.deepEqual(plan.missing, []);
  assert.deepEqual(plan.write, []);
});

test('plan: absent files are written, extra files removed, exec bit fixed by chmod', () => {
  const target = [e('new', O('1')), e('changed', O('2')), e('mode', O('3'), true)];
  const plan = planCheckout(target, present({ changed: O('9'), mode: [O('3'), false], extra: O('8') }), {
    inCache: cache(O('1'), O('2'), O('3'), O('8'), O('9')),
  });
  assert.deepEqual(plan.write.map((w) => w.path).sort(), ['changed', 'new']);
  assert.deepEqual(plan.remove, ['extra']);
  assert.deepEqual(plan.chmod.map((c) => c.path), ['mode']);
  assert.equal(plan.unchanged, 0);
  assert.deepEqual(plan.wouldLose, [], 'everything overwritten or removed is in the cache');
});

test('plan: modified or extra content that is not in the cache would be lost', () => {
  const target = [e('a', O('1')), e('b', O('2'))];
  const plan = planCheckout(target, present({ a: O('7'), b: O('2'), untracked: O('6'), cachedExtra: O('5') }), {
    inCache: cache(O('1'), O('2'), O('5')),
  });
  assert.deepEqual(plan.wouldLose, ['a', 'untracked']);
  assert.deepEqual(plan.write.map((w) => w.path), ['a']);
  assert.deepEqual(plan.remove, ['cachedExtra', 'untracked']);
});

test('plan: target objects not in the cache are missing, and not written', () => {
  const target = [e('gone', O('1')), e('have', O('2')), e('modified', O('3'))];
  const plan = planCheckout(target, present({ modified: O('9') }), { inCache: cache(O('2')) });
  assert.deepEqual(plan.missing.map((m) => m.path), ['gone', 'modified']);
  assert.deepEqual(plan.write.map((w) => w.path), ['have']);
  assert.deepEqual(plan.remove, [], 'a file whose replacement is missing is kept, not removed');
  assert.deepEqual(plan.wouldLose, [], 'nothing is overwritten, so nothing is lost');
});

test('plan: subPaths restrict every decision to the named sub-trees', () => {
  const target = [e('a/x', O('1')), e('a/y', O('2')), e('ab/z', O('3')), e('b/w', O('4'))];
  const ws = present({ 'a/x': O('9'), 'ab/z': O('8'), 'b/extra': O('7'), 'a/extra': O('6') });
  const plan = planCheckout(target, ws, { subPaths: ['a'], inCache: cache(O('1'), O('2'), O('3'), O('4')) });
  assert.deepEqual(plan.write.map((w) => w.path).sort(), ['a/x', 'a/y'], '"ab" is not inside "a"');
  assert.deepEqual(plan.remove, ['a/extra']);
  assert.deepEqual(plan.wouldLose, ['a/extra', 'a/x']);

  const single = planCheckout(target, ws, { subPaths: ['b/w'], inCache: cache(O('4')) });
  assert.deepEqual(single.write.map((w) => w.path), ['b/w']);
  assert.deepEqual(single.remove, []);
  assert.deepEqual(single.wouldLose, []);

  const all = planCheckout(target, ws, { subPaths: ['b', ''], inCache: cache(O('1'), O('2'), O('3'), O('4')) });
  assert.equal(all.write.length, 4, "'' means the whole dataset");
  assert.deepEqual(all.remove, ['a/extra', 'b/extra']);
});

test('plan: a half-written leftover of a killed checkout is overwritten without asking; anything else is still protected', () => {
  const target = [e('a', O('1')), e('b', O('2'))];
  const ws = present({ a: O('7'), b: O('8'), stray: O('9') });
  const isLeftover = (path: string): boolean => path === 'a';
  const plan = planCheckout(target, ws, { inCache: cache(O('1'), O('2')), isLeftover });
  assert.deepEqual(plan.write.map((w) => w.path).sort(), ['a', 'b']);
  assert.deepEqual(plan.wouldLose, ['b', 'stray'], 'only the journal-listed leftover is exempt');
});
