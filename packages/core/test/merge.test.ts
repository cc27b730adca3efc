import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareUtf8, diffManifests, mergeManifests, parseManifest, serializeManifest, type ManifestEntry, type MergeConflict } from '../src/index.js';

const OIDS = ['a'.repeat(64), 'b'.repeat(64), 'c'.repeat(64), '0123456789abcdef'.repeat(4)];
const SIZE: Record<string, number> = { [OIDS[0]!]: 1, [OIDS[1]!]: 20, [OIDS[2]!]: 300, [OIDS[3]!]: 4000 };
// few paths so sides collide often; some are folders of others ('p' and 'p/q') to make file/folder clashes
const POOL = ['a', 'b', 'c.txt', 'd/e', 'd/f', 'p', 'p/q', 'p/q/r', 'x/y', 'x/y/z', 'ü/ф', '😀', '\uffff'];

const e = (path: string, o = 0, exec = false): ManifestEntry => ({ path, oid: OIDS[o]!, size: SIZE[OIDS[o]!]!, exec });
const sorted = (xs: readonly ManifestEntry[]): ManifestEntry[] => [...xs].sort((x, y) => compareUtf8(x.path, y.path));
const paths = (xs: ReadonlyArray<{ path: string }>): string[] => xs.map((x) => x.path);

/** Makes a list a valid manifest: sorted, and no file that is also a folder of another (drop the folder's files). */
function valid(entries: ManifestEntry[]): ManifestEntry[] {
  const files = new Set(entries.map((x) => x.path));
  const hasFileAncestor = (p: string): boolean => {
    for (let s = p.indexOf('/'); s > 0; s = p.indexOf('/', s + 1)) if (files.has(p.slice(0, s))) return true;
    return false;
  };
  return sorted(entries.filter((x) => !hasFileAncestor(x.path)));
}

const entryArb = (path: string): fc.Arbitrary<ManifestEntry> =>
  fc.record({ o: fc.integer({ min: 0, max: OIDS.length - 1 }), exec: fc.boolean() }).map(({ o, exec }) => e(path, o, exec));

const manifestArb: fc.Arbitrary<ManifestEntry[]> = fc
  .subarray(POOL)
  .chain((ps) => (ps.length === 0 ? fc.constant<ManifestEntry[]>([]) : (fc.tuple(...ps.map(entryArb)) as fc.Arbitrary<ManifestEntry[]>)))
  .map((xs) => valid(xs));

/** A side derived from base: most files kept, some deleted, changed or added. */
const sideArb = (base: ManifestEntry[]): fc.Arbitrary<ManifestEntry[]> =>
  fc
    .tuple(
      ...POOL.map((p) =>
        fc.oneof(
          { weight: 4, arbitrary: fc.constant<'keep' | 'delete'>('keep') },
          { weight: 1, arbitrary: fc.constant<'keep' | 'delete'>('delete') },
          { weight: 1, arbitrary: entryArb(p) },
        ),
      ),
    )
    .map((ops) => {
      const byPath = new Map(base.map((x) => [x.path, x]));
      POOL.forEach((p, i) => {
        const op = ops[i]!;
        if (op === 'delete') byPath.delete(p);
        else if (op !== 'keep') byPath.set(p, op);
      });
      return valid([...byPath.values()]);
    });

const threeWay = manifestArb.chain((base) => fc.tuple(fc.constant(base), sideArb(base), sideArb(base)));

const RUNS = { numRuns: 1500 };

function assertValidManifest(entries: ManifestEntry[], what: string): void {
  const text = serializeManifest(entries);
  let parsed: ManifestEntry[];
  try {
    parsed = parseManifest(text, what);
  } catch (err) {
    assert.fail(`${what} is not a valid manifest: ${(err as Error).message}\n${text}`);
  }
  assert.deepEqual(parsed, entries, `${what} survives a round trip`);
}

/** What `tdvc checkout --ours/--theirs -- DATASET` does with a conflicted merge: take one side of every conflict. */
function resolveAll(merged: ManifestEntry[], conflicts: MergeConflict[], side: 'ours' | 'theirs'): ManifestEntry[] {
  const m = new Map(merged.map((x) => [x.path, x]));
  for (const c of conflicts) {
    const pick = c[side];
    if (pick) m.set(c.path, pick);
    else m.delete(c.path);
  }
  return sorted([...m.values()]);
}

test('mergeManifests: a side unchanged from base gives the other side, without conflicts', () => {
  fc.assert(
    fc.property(threeWay, ([base, ours, theirs]) => {
      const a = mergeManifests(base, base, theirs);
      assert.deepEqual(a.merged, theirs);
      assert.deepEqual(a.conflicts, []);
      const b = mergeManifests(base, ours, base);
      assert.deepEqual(b.merged, ours);
      assert.deepEqual(b.conflicts, []);
      const c = mergeManifests(base, ours, ours);
      assert.deepEqual(c.merged, ours, 'the same change on both sides');
      assert.deepEqual(c.conflicts, []);
    }),
    RUNS,
  );
});

test('mergeManifests: swapping ours and theirs gives the same conflict paths and the same clean result', () => {
  fc.assert(
    fc.property(threeWay, ([base, ours, theirs]) => {
      const r1 = mergeManifests(base, ours, theirs);
      const r2 = mergeManifests(base, theirs, ours);
      const c1 = new Set(paths(r1.conflicts));
      const c2 = new Set(paths(r2.conflicts));
      assert.deepEqual([...c1].sort(compareUtf8), [...c2].sort(compareUtf8), 'same conflict paths');
      const clean = (r: typeof r1): ManifestEntry[] => r.merged.filter((x) => !c1.has(x.path));
      assert.deepEqual(clean(r1), clean(r2), 'same merged entries outside the conflicts');
      // each conflict's sides are swapped
      const bySide = new Map(r2.conflicts.map((c) => [c.path, c]));
      for (const c of r1.conflicts) {
        const s = bySide.get(c.path)!;
        assert.deepEqual([c.ours, c.theirs, c.base], [s.theirs, s.ours, s.base], `sides of ${c.path}`);
      }
    }),
    RUNS,
  );
});

test('mergeManifests: no file is lost: every file either side still has is merged or a conflict', () => {
  fc.assert(
    fc.property(threeWay, ([base, ours, theirs]) => {
      const r = mergeManifests(base, ours, theirs);
      const b = new Map(base.map((x) => [x.path, x]));
      const o = new Map(ours.map((x) => [x.path, x]));
      const t = new Map(theirs.map((x) => [x.path, x]));
      const kept = new Set([...paths(r.merged), ...paths(r.conflicts)]);
      const same = (x?: ManifestEntry, y?: ManifestEntry): boolean => (x === undefined ? y === undefined : y !== undefined && x.oid === y.oid && x.exec === y.exec && x.size === y.size);
      for (const p of new Set([...o.keys(), ...t.keys()])) {
        const cleanlyDeleted = (!o.has(p) && same(t.get(p), b.get(p))) || (!t.has(p) && same(o.get(p), b.get(p)));
        if (!cleanlyDeleted) assert.ok(kept.has(p), `${p} is neither merged nor a conflict`);
      }
      // and nothing appears from nowhere: every merged entry is one side's version of that path
      for (const m of r.merged) assert.ok([o.get(m.path), t.get(m.path)].some((x) => same(x, m)), `${m.path} comes from a side`);
      // a clean merge (no conflicts) is exactly the union of both sides' changes
      if (r.conflicts.length === 0) {
        for (const p of new Set([...b.keys(), ...o.keys(), ...t.keys()])) {
          const want = same(o.get(p), b.get(p)) ? t.get(p) : o.get(p);
          assert.ok(same(r.merged.find((x) => x.path === p), want), `${p} takes the changed side`);
        }
      }
    }),
    RUNS,
  );
});

test('mergeManifests: output is sorted and a valid manifest, and stays valid when conflicts are resolved either way', () => {
  fc.assert(
    fc.property(threeWay, ([base, ours, theirs]) => {
      const r = mergeManifests(base, ours, theirs);
      for (let i = 1; i < r.merged.length; i++) assert.ok(compareUtf8(r.merged[i - 1]!.path, r.merged[i]!.path) < 0, 'merged strictly sorted');
      for (let i = 1; i < r.conflicts.length; i++) assert.ok(compareUtf8(r.conflicts[i - 1]!.path, r.conflicts[i]!.path) < 0, 'conflicts sorted, one per path');
      assertValidManifest(r.merged, 'merged');
      assertValidManifest(resolveAll(r.merged, r.conflicts, 'ours'), 'resolved with --ours');
      assertValidManifest(resolveAll(r.merged, r.conflicts, 'theirs'), 'resolved with --theirs');
    }),
    RUNS,
  );
});

test('mergeManifests: examples of each kind of conflict', () => {
  const base = [e('a', 0), e('b', 0), e('c', 0)];
  const r = mergeManifests(base, [e('a', 1), e('b', 1), e('n', 1), e('z', 2)], [e('a', 2), e('c', 1), e('n', 2), e('z', 2)]);
  assert.deepEqual(
    r.conflicts.map((c) => [c.path, c.kind]),
    [
      ['a', 'both-modified'],
      ['b', 'modified-deleted'],
      ['c', 'deleted-modified'],
      ['n', 'both-added'],
    ],
  );
  // merged keeps our side of each conflict, the surviving side of modify/delete, and the clean add
  assert.deepEqual(r.merged, [e('a', 1), e('b', 1), e('c', 1), e('n', 1), e('z', 2)]);
  // exec bit alone is a change
  const x = mergeManifests([e('s', 0)], [e('s', 0, true)], [e('s', 0)]);
  assert.deepEqual(x, { merged: [e('s', 0, true)], conflicts: [] });
  // a file on one side, a folder of the same name on the other
  const ff = mergeManifests([], [e('p', 0)], [e('p/q', 1)]);
  assert.ok(ff.conflicts.length > 0 && ff.conflicts.every((c) => c.kind === 'file-folder'));
  assert.deepEqual(ff.merged, [e('p', 0)], 'our side wins in the merged list');
  assert.deepEqual(resolveAll(ff.merged, ff.conflicts, 'theirs'), [e('p/q', 1)]);
  assert.deepEqual(resolveAll(ff.merged, ff.conflicts, 'ours'), [e('p', 0)]);
});

test('diffManifests: examples', () => {
  const before = [e('a', 0), e('b', 0), e('c', 0, false), e('d/e', 0)];
  const after = [e('a', 0), e('b', 1), e('c', 0, true), e('d/f', 2), e('😀', 3)];
  const d = diffManifests(before, after);
  assert.deepEqual(paths(d.added), ['d/f', '😀']);
  assert.deepEqual(paths(d.deleted), ['d/e']);
  assert.deepEqual(d.modified, [
    { path: 'b', before: e('b', 0), after: e('b', 1) },
    { path: 'c', before: e('c', 0), after: e('c', 0, true) },
  ]);
  assert.deepEqual(diffManifests([], []), { added: [], deleted: [], modified: [] });
  assert.deepEqual(diffManifests([], after).added, after);
  assert.deepEqual(diffManifests(before, []).deleted, before);
  // UTF-8 order, not UTF-16: U+FFFF sorts before an astral character
  const u = diffManifests([e('\uffff', 0)], [e('\uffff', 0), e('😀', 1)]);
  assert.deepEqual(paths(u.added), ['😀']);
  assert.deepEqual(u.deleted, []);
});

test('diffManifests: applying the diff to the old list gives the new one; reversing swaps added and deleted', () => {
  fc.assert(
    fc.property(manifestArb, manifestArb, (a, b) => {
      const d = diffManifests(a, b);
      const m = new Map(a.map((x) => [x.path, x]));
      for (const x of d.deleted) assert.ok(m.delete(x.path));
      for (const x of d.modified) {
        assert.deepEqual(m.get(x.path), x.before);
        m.set(x.path, x.after);
      }
      for (const x of d.added) {
        assert.equal(m.has(x.path), false);
        m.set(x.path, x);
      }
      assert.deepEqual(sorted([...m.values()]), b);
      const r = diffManifests(b, a);
      assert.deepEqual(r.added, d.deleted);
      assert.deepEqual(r.deleted, d.added);
      assert.deepEqual(paths(r.modified), paths(d.modified));
      assert.deepEqual(diffManifests(a, a), { added: [], deleted: [], modified: [] });
    }),
    RUNS,
  );
});
