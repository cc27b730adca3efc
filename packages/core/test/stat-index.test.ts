import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashBytes, scanPath, StatIndex } from '../src/index.js';

function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-index-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const OID = 'c'.repeat(64);
const T = 1_700_000_000; // whole seconds, so every filesystem stores it exactly

test('stat index: an entry is trusted only when its mtime is older than the index file', async () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    const idx = StatIndex.load(indexDir, 'data');
    const key = (mtimeMs: number) => ({ ino: 42, size: 10, mtimeMs });
    idx.record('old', key(T * 1000 - 1), OID);
    idx.record('same', key(T * 1000), OID);
    idx.record('newer', key(T * 1000 + 1), OID);
    await idx.save();
    const file = StatIndex.fileFor(indexDir, 'data');
    utimesSync(file, T, T);

    const loaded = StatIndex.load(indexDir, 'data');
    assert.equal(loaded.size, 3);
    assert.equal(loaded.lookup('old', key(T * 1000 - 1)), OID, 'older than the index: trusted');
    assert.equal(loaded.lookup('same', key(T * 1000)), undefined, 'same tick as the index: racy, not trusted');
    assert.equal(loaded.lookup('newer', key(T * 1000 + 1)), undefined, 'newer than the index: not trusted');
    // any stat difference is a miss
    assert.equal(loaded.lookup('old', { ino: 43, size: 10, mtimeMs: T * 1000 - 1 }), undefined);
    assert.equal(loaded.lookup('old', { ino: 42, size: 11, mtimeMs: T * 1000 - 1 }), undefined);
    assert.equal(loaded.lookup('old', { ino: 42, size: 10, mtimeMs: T * 1000 - 2 }), undefined);
    assert.equal(loaded.lookup('absent', key(0)), undefined);

    // once the index is rewritten later, the same entries become trustworthy
    utimesSync(file, T + 10, T + 10);
    const later = StatIndex.load(indexDir, 'data');
    assert.equal(later.lookup('same', key(T * 1000)), OID);
    assert.equal(later.lookup('newer', key(T * 1000 + 1)), OID);
  } finally {
    cleanup();
  }
});

test('stat index: a file rewritten within the index tick (same size, same mtime) is hashed again by scan', async () => {
  const { dir, cleanup } = tmp();
  try {
    const data = join(dir, 'data');
    const indexDir = join(dir, 'index');
    mkdirSync(data);
    const f = join(data, 'f.txt');
    writeFileSync(f, 'aaaa');
    utimesSync(f, T, T);
    const first = StatIndex.load(indexDir, 'data');
    const s1 = await scanPath(data, first);
    assert.equal(s1.kind, 'dir');
    if (s1.kind !== 'dir') return;
    assert.equal(s1.files[0]!.oid, hashBytes(Buffer.from('aaaa')));
    await first.save();
    const file = StatIndex.fileFor(indexDir, 'data');
    utimesSync(file, T, T); // the index was saved in the same timestamp tick...

    const ino = statSync(f).ino;
    writeFileSync(f, 'bbbb'); // ...as this same-size rewrite, which keeps the inode
    utimesSync(f, T, T);
    assert.equal(statSync(f).ino, ino);

    const s2 = await scanPath(data, StatIndex.load(indexDir, 'data'));
    assert.equal(s2.kind, 'dir');
    if (s2.kind !== 'dir') return;
    assert.equal(s2.hashed, 1, 'the racy entry was not trusted');
    assert.equal(s2.files[0]!.oid, hashBytes(Buffer.from('bbbb')));

    // control: with the index clearly newer than the file, the entry is trusted without reading
    const idx = StatIndex.load(indexDir, 'data');
    idx.record('f.txt', statSync(f), hashBytes(Buffer.from('bbbb')));
    await idx.save(true);
    utimesSync(file, T + 5, T + 5);
    const s3 = await scanPath(data, StatIndex.load(indexDir, 'data'));
    assert.equal(s3.kind === 'dir' && s3.hashed, 0);
  } finally {
    cleanup();
  }
});

test('stat index: a damaged index file is just a cold cache', () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    mkdirSync(indexDir);
    writeFileSync(StatIndex.fileFor(indexDir, 'data'), '{"v":1,"rows":{"a":[1,2');
    assert.equal(StatIndex.load(indexDir, 'data').size, 0);
    writeFileSync(StatIndex.fileFor(indexDir, 'data'), '{"v":99,"rows":{"a":[1,2,3,"x"]}}');
    assert.equal(StatIndex.load(indexDir, 'data').size, 0);
  } finally {
    cleanup();
  }
});

test('stat index: walk order, files recorded after the walk and forgotten files all survive a save and reload', async () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    const key = (ino: number) => ({ ino, size: 1, mtimeMs: T * 1000 - 5000 });
    const first = StatIndex.load(indexDir, 'data');
    for (const [i, p] of ['a', 'b', 'c'].entries()) first.record(p, key(i), OID);
    await first.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);

    const idx = StatIndex.load(indexDir, 'data');
    // a scan that sees a and c (b is gone); lookups out of order still find the rows
    assert.equal(idx.lookup('c', key(2)), OID);
    assert.equal(idx.lookup('a', key(0)), OID);
    idx.visit('a', key(0), OID, false);
    idx.visit('c', key(2), OID, false);
    idx.endVisits();
    idx.record('new', key(9), OID); // written after the walk, e.g. by a checkout
    idx.forget('a'); // removed by the checkout
    await idx.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);

    const again = StatIndex.load(indexDir, 'data');
    assert.equal(again.size, 2);
    assert.equal(again.lookup('c', key(2), 0), OID);
    assert.equal(again.lookup('new', key(9), 1), OID);
    assert.equal(again.lookup('a', key(0)), undefined, 'forgotten');
    assert.equal(again.lookup('b', key(1)), undefined, 'not seen by the last walk');
  } finally {
    cleanup();
  }
});

test('stat index: changes spilled a window at a time merge with the scan and with what is still in memory', async () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    const key = (ino: number) => ({ ino, size: 1, mtimeMs: T * 1000 - 5000 });
    const OTHER = 'd'.repeat(64);
    const first = StatIndex.load(indexDir, 'data');
    for (const [i, p] of ['a', 'b', 'c', 'd', 'e'].entries()) first.record(p, key(i), OID);
    await first.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);

    const idx = StatIndex.load(indexDir, 'data');
    for (const [i, p] of ['a', 'b', 'c', 'd', 'e'].entries()) idx.visit(p, key(i), OID, true);
    idx.endVisits();
    // window 1: b rewritten, a removed
    idx.forget('a');
    idx.record('b', key(20), OTHER);
    idx.spill();
    // window 2: new files after b, and d removed
    idx.record('c0', key(30), OTHER);
    idx.forget('d');
    idx.spill();
    assert.equal(idx.lookup('c0', key(30)), undefined, 'spilled changes are out of memory (lookup does not see them)');
    // out of order (before what was spilled): kept in memory, and still wins at save
    idx.record('b', key(21), OID);
    idx.spill();
    // later changes that stay in memory
    idx.record('f', key(40), OTHER);
    await idx.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);

    const again = StatIndex.load(indexDir, 'data');
    assert.equal(again.size, 5, 'b c c0 e f');
    assert.equal(again.lookup('a', key(0)), undefined, 'forgotten in a spilled window');
    assert.equal(again.lookup('b', key(21)), OID, 'the newest record of b');
    assert.equal(again.lookup('c', key(2)), OID, 'a scanned row nothing changed');
    assert.equal(again.lookup('c0', key(30)), OTHER);
    assert.equal(again.lookup('d', key(3)), undefined, 'forgotten in a spilled window');
    assert.equal(again.lookup('e', key(4)), OID);
    assert.equal(again.lookup('f', key(40)), OTHER);
    assert.deepEqual(readdirSync(indexDir).filter((n) => !n.endsWith('.idx')), [], 'no spill file left');
  } finally {
    cleanup();
  }
});

test('stat index: spilled windows alone become the index; with rows on disk they are merged, not put in their place', async () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    const key = (ino: number) => ({ ino, size: 1, mtimeMs: T * 1000 - 5000 });
    // a checkout into an empty folder: nothing on disk, two windows spilled
    const fresh = StatIndex.load(indexDir, 'data');
    for (let i = 0; i < 6; i++) fresh.record(`w1-${i}`, key(i), OID);
    fresh.spill();
    for (let i = 0; i < 6; i++) fresh.record(`w2-${i}`, key(10 + i), OID);
    fresh.spill();
    await fresh.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);
    const loaded = StatIndex.load(indexDir, 'data');
    assert.equal(loaded.size, 12);
    for (let i = 0; i < 6; i++) {
      assert.equal(loaded.lookup(`w1-${i}`, key(i), 0), OID);
      assert.equal(loaded.lookup(`w2-${i}`, key(10 + i), 0), OID);
    }
    assert.deepEqual(readdirSync(indexDir).filter((n) => !n.endsWith('.idx')), [], 'no spill file left');

    // no scan this time: the rows on disk stay, the spilled ones join them
    const more = StatIndex.load(indexDir, 'data');
    more.record('w1-9', key(99), OID);
    more.spill();
    await more.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);
    const merged = StatIndex.load(indexDir, 'data');
    assert.equal(merged.size, 13);
    assert.equal(merged.lookup('w1-0', key(0), 0), OID);
    assert.equal(merged.lookup('w1-9', key(99), 0), OID);
  } finally {
    cleanup();
  }
});
