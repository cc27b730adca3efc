import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareUtf8, hashBytes, scanPath, scanStream, SCAN_WINDOW, StatIndex, walkSorted } from '../src/index.js';

function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-scan-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const T = 1_700_000_000;

/** Names whose canonical order differs from a walk that sorts names alone, or sorts by UTF-16. */
const TRICKY = ['a', 'a.txt', 'a-b', 'a0', 'b', 'é', '\u{1F600}x', '\uFF21', 'Z', '_'];

test('walkSorted yields paths in canonical (UTF-8 byte) order: a folder sorts as its name plus "/"', () => {
  const { dir, cleanup } = tmp();
  try {
    // 'a' is a folder: its files (a/…) come after 'a-b', 'a.txt' and before 'a0' ('/' is 0x2F)
    mkdirSync(join(dir, 'a', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'a', 'sub', 'x'), 'x');
    writeFileSync(join(dir, 'a', 'z'), 'z');
    for (const n of TRICKY.slice(1)) writeFileSync(join(dir, n), n);
    mkdirSync(join(dir, '\u{1F600}'));
    writeFileSync(join(dir, '\u{1F600}', 'in'), 'in');
    const walked = [...walkSorted(dir)].map((f) => f.rel);
    const sorted = [...walked].sort(compareUtf8);
    assert.deepEqual(walked, sorted);
    assert.equal(walked.length, TRICKY.length - 1 + 3);
    // UTF-16 order would put the astral (surrogate) name before U+FF21; UTF-8 puts it after
    assert.ok(walked.indexOf('\uFF21') < walked.indexOf('\u{1F600}x'));
    const around = walked.filter((p) => p.startsWith('a'));
    assert.deepEqual(around, ['a-b', 'a.txt', 'a/sub/x', 'a/z', 'a0']);
  } finally {
    cleanup();
  }
});

test('stat index: many rows with shared prefixes and astral names survive a save and a reload, read as a stream', async () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    const idx = StatIndex.load(indexDir, 'data');
    const rows: Array<[string, number]> = [];
    for (let i = 0; i < 30_000; i++) rows.push([`d${i % 97}/f\u{1F600}${i}${i % 3 === 0 ? 'é' : ''}`, i]);
    rows.sort((x, y) => compareUtf8(x[0], y[0]));
    const at = (i: number): number => T * 1000 - 1 - i; // older than the index file
    for (const [p, i] of rows) idx.record(p, { ino: i, size: i * 3, mtimeMs: at(i) }, hashBytes(Buffer.from(p)));
    await idx.save();
    utimesSync(StatIndex.fileFor(indexDir, 'data'), T, T);
    const again = StatIndex.load(indexDir, 'data');
    assert.equal(again.size, rows.length);
    // in order (the cursor moves forward), then one out of order (it starts over)
    for (const [p, i] of rows) assert.equal(again.lookup(p, { ino: i, size: i * 3, mtimeMs: at(i) }), hashBytes(Buffer.from(p)), p);
    const [p0, i0] = rows[0]!;
    assert.equal(again.lookup(p0, { ino: i0, size: i0 * 3, mtimeMs: at(i0) }), hashBytes(Buffer.from(p0)));
    assert.equal(again.lookup('d1/absent', { ino: 1, size: 1, mtimeMs: 1 }), undefined);
    // past the last row (the cursor at the end of the file), then an earlier one: found again
    assert.equal(again.lookup('zzz', { ino: 1, size: 1, mtimeMs: 1 }), undefined);
    const [p1, i1] = rows[1]!;
    assert.equal(again.lookup(p1, { ino: i1, size: i1 * 3, mtimeMs: at(i1) }), hashBytes(Buffer.from(p1)));
  } finally {
    cleanup();
  }
});

test('stat index: a truncated or foreign file is a cold cache; the rows before the damage still count', async () => {
  const { dir, cleanup } = tmp();
  try {
    const indexDir = join(dir, 'index');
    const idx = StatIndex.load(indexDir, 'data');
    const OID = 'c'.repeat(64);
    for (let i = 0; i < 100; i++) idx.record(`f${String(i).padStart(3, '0')}`, { ino: i, size: 1, mtimeMs: 1000 }, OID);
    await idx.save();
    const file = StatIndex.fileFor(indexDir, 'data');
    const full = readFileSync(file);
    writeFileSync(file, full.subarray(0, full.length - 50)); // the last row cut
    const cut = StatIndex.load(indexDir, 'data');
    assert.equal(cut.lookup('f000', { ino: 0, size: 1, mtimeMs: 1000 }), OID);
    assert.equal(cut.lookup('f099', { ino: 99, size: 1, mtimeMs: 1000 }), undefined);
    writeFileSync(file, '{"v":2,"paths":["f000"]}');
    assert.equal(StatIndex.load(indexDir, 'data').size, 0);
    assert.equal(StatIndex.load(indexDir, 'data').lookup('f000', { ino: 0, size: 1, mtimeMs: 1000 }), undefined);
  } finally {
    cleanup();
  }
});

test('scanStream: windows in canonical order across window boundaries; the index is rewritten only when something changed', async () => {
  const { dir, cleanup } = tmp();
  try {
    const data = join(dir, 'data');
    const indexDir = join(dir, 'index');
    const n = SCAN_WINDOW * 2 + 500;
    for (let d = 0; d < 10; d++) mkdirSync(join(data, `d${d}`), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(data, `d${i % 10}`, `f${i}`), `file ${i}`);
    const scanAll = async (): Promise<{ windows: number[]; paths: string[]; hashed: number }> => {
      const s = await scanStream(data, StatIndex.load(indexDir, 'data'));
      assert.equal(s.kind, 'dir');
      if (s.kind !== 'dir') throw new Error('not a dir');
      const windows: number[] = [];
      const paths: string[] = [];
      for await (const w of s.windows) {
        windows.push(w.length);
        for (const f of w) {
          paths.push(f.rel);
          assert.equal(f.oid, hashBytes(Buffer.from(`file ${f.rel.split('/f')[1]}`)));
        }
      }
      return { windows, paths, hashed: s.counts.hashed };
    };
    // first scan: everything hashed; the index is saved by a full scan
    const idx = StatIndex.load(indexDir, 'data');
    const first = await scanPath(data, idx);
    assert.equal(first.kind === 'dir' && first.hashed, n);
    await idx.save();
    const file = StatIndex.fileFor(indexDir, 'data');
    utimesSync(file, T * 2, T * 2); // newer than every file: every row is trusted

    const again = await scanAll();
    assert.deepEqual(again.windows, [SCAN_WINDOW, SCAN_WINDOW, 500]);
    assert.deepEqual(again.paths, [...again.paths].sort(compareUtf8));
    assert.equal(again.hashed, 0, 'the index vouched for every file');

    // a scan that finds nothing new leaves the index file as it was (no rewrite of a million rows)
    const unchanged = StatIndex.load(indexDir, 'data');
    const s2 = await scanPath(data, unchanged);
    assert.equal(s2.kind === 'dir' && s2.hashed, 0);
    await unchanged.save();
    assert.equal(statSync(file).mtimeMs, T * 2 * 1000, 'not rewritten');
    assert.deepEqual(readdirSync(indexDir).length, 1, 'no temp files left');

    // a deleted file and a changed one: rewritten, and the next scan trusts what it recorded
    rmSync(join(data, 'd3', 'f3'));
    const last = join(data, `d${(n - 3) % 10}`, `f${n - 3}`);
    writeFileSync(last, `file ${n - 3}`); // same bytes, another mtime
    utimesSync(last, T, T);
    const changed = StatIndex.load(indexDir, 'data');
    const s3 = await scanPath(data, changed);
    assert.equal(s3.kind === 'dir' && s3.hashed, 1);
    await changed.save();
    assert.notEqual(statSync(file).mtimeMs, T * 2 * 1000, 'rewritten');
    const after = StatIndex.load(indexDir, 'data');
    assert.equal(after.size, n - 1);
    const s4 = await scanPath(data, after);
    assert.equal(s4.kind === 'dir' && s4.hashed, 0);
  } finally {
    cleanup();
  }
});
