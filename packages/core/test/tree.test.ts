import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHUNKING,
  MalformedFileError,
  TreeBuilder,
  diffManifests,
  diffTrees,
  editTree,
  hashBytes,
  mergeManifests,
  mergeTrees,
  parseTreeNode,
  readAllEntries,
  serializeManifest,
  walkEntries,
  compareUtf8,
  type ManifestEntry,
  type TreeEdit,
  type TreeSource,
} from '../src/index.js';

/** An in-memory object store: what the tree code sees of the cache. */
class MemStore {
  readonly objects = new Map<string, string>();
  loads = 0;
  put = async (text: string): Promise<string> => {
    const oid = hashBytes(Buffer.from(text, 'utf8'));
    this.objects.set(oid, text);
    return oid;
  };
  source(where = 'test'): TreeSource {
    return {
      where,
      load: async (oid) => {
        this.loads++;
        const text = this.objects.get(oid);
        if (text === undefined) throw new Error(`no object ${oid}`);
        return parseTreeNode(text, `manifest ${oid}`);
      },
    };
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    s ^= s + Math.imul(s ^ (s >>> 7), s | 61);
    return ((s ^ (s >>> 14)) >>> 0) / 4294967296;
  };
}

const oidOf = (n: number): string => hashBytes(Buffer.from(`content ${n}`));

function dataset(n: number, opts: { folders?: number; seed?: number; pathPad?: number } = {}): ManifestEntry[] {
  const folders = opts.folders ?? Math.max(1, Math.floor(n / 100));
  const out: ManifestEntry[] = [];
  for (let i = 0; i < n; i++) {
    const f = i % folders;
    const pad = opts.pathPad ? 'p'.repeat(opts.pathPad) : '';
    out.push({ path: `d${String(f).padStart(5, '0')}/${pad}f${i}.bin`, oid: oidOf(i + (opts.seed ?? 0) * 1e7), size: (i % 8191) + 1, exec: i % 97 === 0 });
  }
  return out.sort((a, b) => compareUtf8(a.path, b.path));
}

async function build(store: MemStore, entries: readonly ManifestEntry[]): Promise<string> {
  const b = new TreeBuilder(store.put);
  for (const e of entries) await b.add(e);
  return (await b.finish()).oid;
}

function applyEdits(entries: readonly ManifestEntry[], edits: readonly TreeEdit[]): ManifestEntry[] {
  const m = new Map(entries.map((e) => [e.path, e]));
  for (const ed of edits) {
    if (ed.entry) m.set(ed.path, { ...ed.entry, path: ed.path });
    else m.delete(ed.path);
  }
  return [...m.values()].sort((a, b) => compareUtf8(a.path, b.path));
}

function randomEdits(entries: readonly ManifestEntry[], count: number, r: () => number): TreeEdit[] {
  const edits = new Map<string, TreeEdit>();
  while (edits.size < count) {
    const k = r();
    const e = entries[Math.floor(r() * entries.length)]!;
    if (k < 0.4) edits.set(e.path, { path: e.path, entry: { ...e, oid: oidOf(Math.floor(r() * 1e9)), size: e.size + 1 } });
    else if (k < 0.7) edits.set(e.path, { path: e.path });
    else {
      const p = `${e.path.slice(0, e.path.indexOf('/'))}/new-${Math.floor(r() * 1e9)}.bin`;
      edits.set(p, { path: p, entry: { path: p, oid: oidOf(Math.floor(r() * 1e9)), size: 7, exec: false } });
    }
  }
  return [...edits.values()].sort((a, b) => compareUtf8(a.path, b.path));
}

test('a small folder is one leaf; an empty one is an empty leaf; the walk gives the files back in order', async () => {
  const store = new MemStore();
  const few = dataset(10);
  const root = await build(store, few);
  assert.equal(store.objects.size, 1);
  assert.match(store.objects.get(root)!, /^tdvc-tree 2 leaf\n/);
  assert.deepEqual(await readAllEntries(store.source(), root), few);
  const empty = await build(store, []);
  assert.equal(store.objects.get(empty), 'tdvc-tree 2 leaf\n');
  assert.deepEqual(await readAllEntries(store.source(), empty), []);
});

test('large folders split into bounded nodes; the root is the one node of the top level', async () => {
  const store = new MemStore();
  const entries = dataset(50_000);
  const root = await build(store, entries);
  let maxBytes = 0;
  let leaves = 0;
  for (const text of store.objects.values()) {
    maxBytes = Math.max(maxBytes, Buffer.byteLength(text));
    if (text.startsWith('tdvc-tree 2 leaf')) leaves++;
  }
  assert.ok(leaves > 50_000 / 256 && leaves < 50_000 / 16, `${leaves} leaves`);
  assert.ok(maxBytes <= CHUNKING.maxBytes + 4096, `largest node ${maxBytes} bytes`);
  assert.match(store.objects.get(root)!, /^tdvc-tree 2 node [2-9]\n/);
  assert.deepEqual(await readAllEntries(store.source(), root), entries);
});

test('canonical: editing a tree gives the same root as building the edited list from scratch', async () => {
  for (const [seed, n, folders, pad] of [
    [1, 30_000, 300, 0],
    [2, 30_000, 1, 0], // one flat folder
    [3, 3_000, 30, 1500], // long paths: nodes end by size (forced boundaries)
    [4, 200, 2, 0], // one leaf, then more
  ] as const) {
    const r = rng(seed);
    const store = new MemStore();
    let entries = dataset(n, { folders, pathPad: pad });
    let root = await build(store, entries);
    for (const count of [1, 3, 40, 400]) {
      const edits = randomEdits(entries, Math.min(count, entries.length), r);
      const edited = await editTree(store.source(), store.put, root, edits);
      entries = applyEdits(entries, edits);
      const rebuilt = await build(new MemStore(), entries);
      assert.equal(edited.oid, rebuilt, `seed ${seed}, ${count} edits`);
      assert.equal(edited.files, entries.length);
      assert.equal(edited.bytes, entries.reduce((s, e) => s + e.size, 0));
      root = edited.oid;
    }
    assert.deepEqual(await readAllEntries(store.source(), root), entries);
  }
});

test('a one-file change reads and writes O(depth) nodes, under 64 KiB of new node text', async () => {
  const store = new MemStore();
  const entries = dataset(200_000, { folders: 2000 });
  const root = await build(store, entries);
  const target = entries[123_456]!;
  const before = new Set(store.objects.keys());
  store.loads = 0;
  const edited = await editTree(store.source(), store.put, root, [{ path: target.path, entry: { ...target, oid: oidOf(-1) } }]);
  const fresh = [...store.objects.keys()].filter((k) => !before.has(k));
  const freshBytes = fresh.reduce((s, k) => s + Buffer.byteLength(store.objects.get(k)!), 0);
  assert.ok(fresh.length <= 6, `${fresh.length} new nodes`);
  assert.ok(freshBytes <= 64 * 1024, `${freshBytes} bytes of new nodes`);
  assert.ok(store.loads <= 12, `${store.loads} nodes read by the edit`);
  // the diff of the two versions reads as little
  store.loads = 0;
  const changes = [];
  for await (const c of diffTrees(store.source(), root, store.source(), edited.oid)) changes.push(c);
  assert.deepEqual(changes.map((c) => c.path), [target.path]);
  assert.ok(store.loads <= 14, `${store.loads} nodes read by the diff`);
});

test('diffTrees matches a diff of the flat lists, also against a v1 manifest and an empty side', async () => {
  const r = rng(9);
  const store = new MemStore();
  const a = dataset(20_000, { folders: 100 });
  const b = applyEdits(a, randomEdits(a, 300, r));
  const ra = await build(store, a);
  const rb = await build(store, b);
  const v1 = await store.put(serializeManifest(a));
  const flat = diffManifests(a, b);
  const expected = [
    ...flat.added.map((e) => ({ path: e.path, after: e })),
    ...flat.deleted.map((e) => ({ path: e.path, before: e })),
    ...flat.modified.map((m) => ({ path: m.path, before: m.before, after: m.after })),
  ].sort((x, y) => compareUtf8(x.path, y.path));
  for (const from of [ra, v1]) {
    const got = [];
    for await (const c of diffTrees(store.source(), from, store.source(), rb)) got.push(c);
    assert.deepEqual(got, expected);
  }
  const added = [];
  for await (const c of diffTrees(store.source(), undefined, store.source(), rb)) added.push(c.path);
  assert.deepEqual(added, b.map((e) => e.path));
  const none = [];
  for await (const c of diffTrees(store.source(), rb, store.source(), rb)) none.push(c);
  assert.equal(none.length, 0);
});

test('a walk of a sub-path reads only the nodes that can hold it', async () => {
  const store = new MemStore();
  const entries = dataset(50_000, { folders: 500 });
  const root = await build(store, entries);
  store.loads = 0;
  const got = [];
  for await (const e of walkEntries(store.source(), root, { from: 'd00123', to: 'd001230' })) got.push(e.path);
  assert.deepEqual(got, entries.filter((e) => e.path.startsWith('d00123/')).map((e) => e.path));
  assert.ok(store.loads <= 10, `${store.loads} nodes read`);
});

test('tampered trees are refused naming the manifest: wrong first path, wrong level, order or file/folder across nodes', async () => {
  const store = new MemStore();
  const entries = dataset(5_000, { folders: 50 });
  const root = await build(store, entries);
  const text = store.objects.get(root)!;
  const lines = text.trimEnd().split('\n');
  const walkAll = async (oid: string) => {
    for await (const _ of walkEntries(store.source(), oid)) void _;
  };
  // a child reference whose first path is not the child's
  const wrongFirst = await store.put([lines[0], ...lines.slice(1).map((l, i) => (i === 1 ? l.replace(/ d(\d)/, ' d9$1') : l))].join('\n') + '\n');
  await assert.rejects(walkAll(wrongFirst), (err: unknown) => err instanceof MalformedFileError && /first file/.test((err as Error).message));
  // a leaf presented as a level-2 node's child
  const level = await store.put(text.replace(/^tdvc-tree 2 node (\d+)/, (_m, k) => `tdvc-tree 2 node ${Number(k) + 1}`));
  await assert.rejects(walkAll(level), MalformedFileError);
  // two leaves whose files overlap in order
  const leafA = await store.put('tdvc-tree 2 leaf\n' + `${oidOf(1)} 1 - a/x\n${oidOf(2)} 1 - b\n`);
  const leafB = await store.put('tdvc-tree 2 leaf\n' + `${oidOf(3)} 1 - a/y\n`);
  const overlap = await store.put(`tdvc-tree 2 node 1\n${leafA} 2 2 a/x\n${leafB} 1 1 a/y\n`);
  await assert.rejects(walkAll(overlap), /out of order/);
  // a file in one leaf and a folder of the same name in the next
  const leafC = await store.put('tdvc-tree 2 leaf\n' + `${oidOf(1)} 1 - a\n${oidOf(2)} 1 - a.txt\n`);
  const leafD = await store.put('tdvc-tree 2 leaf\n' + `${oidOf(3)} 1 - a/b\n`);
  const clash = await store.put(`tdvc-tree 2 node 1\n${leafC} 2 2 a\n${leafD} 1 1 a/b\n`);
  await assert.rejects(walkAll(clash), /both a file and a folder/);
  // a .git component in a child's first path, and a node of an unknown format
  assert.throws(() => parseTreeNode(`tdvc-tree 2 node 1\n${leafD} 1 1 x/.git/config\n`, 'm'), /reserved/);
  assert.throws(() => parseTreeNode('tdvc-tree 3 leaf\n', 'm'), /format or level this tdvc does not read/);
});

test('mergeTrees gives what mergeManifests (the reference) gives: merged files and conflicts, file/folder clashes included', async () => {
  const r = rng(21);
  for (let round = 0; round < 12; round++) {
    const store = new MemStore();
    const base = dataset(round < 6 ? 3_000 : 300, { folders: 30, seed: round });
    const ours = applyEdits(base, randomEdits(base, 1 + Math.floor(r() * 60), r));
    let theirs = applyEdits(base, randomEdits(base, 1 + Math.floor(r() * 60), r));
    if (round % 3 === 0) {
      // both sides change some of the same files, differently or alike
      const shared = randomEdits(base, 20, r);
      theirs = applyEdits(theirs, shared);
      // the first five alike, the rest (where they set a file) to other contents
      const oursShared = applyEdits(ours, shared.map((e, i) => (i >= 5 && e.entry ? { ...e, entry: { ...e.entry, oid: oidOf(1e6 + i) } } : e)));
      ours.splice(0, ours.length, ...oursShared);
    }
    if (round % 4 === 1) {
      // a file on one side where the other adds a folder of that name (and the other way round)
      const f = base[7]!.path;
      // theirs turns the file into a folder, ours edits the file
      theirs = applyEdits(theirs, [{ path: f }, { path: `${f}/inner.bin`, entry: { path: '', oid: oidOf(77), size: 3, exec: false } }]);
      ours.splice(0, ours.length, ...applyEdits(ours, [{ path: f, entry: { ...base[7]!, oid: oidOf(76) } }]));
      ours.splice(0, ours.length, ...applyEdits(ours, [{ path: 'zz-new', entry: { path: '', oid: oidOf(78), size: 1, exec: false } }]));
      theirs = applyEdits(theirs, [{ path: 'zz-new/x', entry: { path: '', oid: oidOf(79), size: 1, exec: false } }]);
    }
    const [rb, ro, rt] = [await build(store, base), await build(store, ours), await build(store, theirs)];
    const want = mergeManifests(base, ours, theirs);
    const got = await mergeTrees(store.source(), store.put, rb, ro, rt);
    assert.equal(got.tree.oid, await build(new MemStore(), want.merged), `round ${round}: merged tree`);
    assert.deepEqual(got.conflicts, want.conflicts, `round ${round}: conflicts`);
    if (round % 4 === 1) assert.ok(want.conflicts.some((c) => c.kind === 'file-folder'), `round ${round} has a file/folder clash`);
    if (round % 3 === 0) assert.ok(want.conflicts.some((c) => c.kind === 'both-modified'), `round ${round} has files changed on both sides`);
    // and without a common ancestor
    const noBase = mergeManifests([], ours, theirs);
    const got2 = await mergeTrees(store.source(), store.put, undefined, ro, rt);
    assert.equal(got2.tree.oid, await build(new MemStore(), noBase.merged), `round ${round}: merged tree without a base`);
    assert.deepEqual(got2.conflicts, noBase.conflicts);
  }
});

test('a merge of two one-file changes reads a few dozen nodes of a 200,000-file tree', async () => {
  const store = new MemStore();
  const base = dataset(200_000, { folders: 2000 });
  const rb = await build(store, base);
  const a = base[1_000]!;
  const b = base[150_000]!;
  const ro = (await editTree(store.source(), store.put, rb, [{ path: a.path, entry: { ...a, oid: oidOf(-2) } }])).oid;
  const rt = (await editTree(store.source(), store.put, rb, [{ path: b.path, entry: { ...b, oid: oidOf(-3) } }])).oid;
  store.loads = 0;
  const got = await mergeTrees(store.source(), store.put, rb, ro, rt);
  assert.deepEqual(got.conflicts, []);
  assert.ok(store.loads <= 40, `${store.loads} nodes read`);
  const both = await editTree(store.source(), store.put, ro, [{ path: b.path, entry: { ...b, oid: oidOf(-3) } }]);
  assert.equal(got.tree.oid, both.oid);
});
