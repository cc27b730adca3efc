import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decidingRule, parseIgnore, rulesAbove, type ActiveRules } from '../src/util/ignore-rules.js';
import { walkSorted, type WalkedFile } from '../src/util/walk.js';
import { WalkThread } from '../src/util/walk-thread.js';

/** Is repository path `path` ignored by one .tdvcignore at the root holding `text`? (each folder on the way tested, as the walk does) */
function ignored(text: string, path: string, isDir = false): boolean {
  const rules = parseIgnore(text, '.tdvcignore');
  const parts = path.split('/');
  const dir: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const rule = decidingRule([{ rules, dir }], parts[i]!, !last || isDir);
    if (rule && !rule.negate) return true;
    if (last) return false;
    dir.push(parts[i]!);
  }
  return false;
}

test('gitignore syntax: names at any depth, anchoring, folders only, negation, ** and classes', () => {
  assert.equal(ignored('.DS_Store', '.DS_Store'), true);
  assert.equal(ignored('.DS_Store', 'a/b/.DS_Store'), true);
  assert.equal(ignored('*.tmp', 'a/x.tmp'), true);
  assert.equal(ignored('*.tmp', 'a/x.tmpl'), false);
  assert.equal(ignored('*~', 'a/notes.txt~'), true);
  assert.equal(ignored('.*.swp', 'a/.x.swp'), true);
  // anchored: a slash at the start or in the middle
  assert.equal(ignored('/top.txt', 'top.txt'), true);
  assert.equal(ignored('/top.txt', 'a/top.txt'), false);
  assert.equal(ignored('a/x.bin', 'a/x.bin'), true);
  assert.equal(ignored('a/x.bin', 'b/a/x.bin'), false);
  assert.equal(ignored('a/*.bin', 'a/b/x.bin'), false, '* does not cross /');
  // folders only
  assert.equal(ignored('__pycache__/', 'm/__pycache__/x.pyc'), true);
  assert.equal(ignored('__pycache__/', 'm/__pycache__'), false, 'a file of that name stays');
  assert.equal(ignored('__pycache__/', 'm/__pycache__', true), true);
  // negation: the last matching rule wins
  assert.equal(ignored('*.log\n!keep.log', 'a/keep.log'), false);
  assert.equal(ignored('*.log\n!keep.log', 'a/other.log'), true);
  assert.equal(ignored('!keep.log\n*.log', 'a/keep.log'), true);
  // a file cannot be re-included when its folder is excluded
  assert.equal(ignored('tmp/\n!tmp/keep', 'tmp/keep'), true);
  // **
  assert.equal(ignored('**/ckpt', 'ckpt'), true);
  assert.equal(ignored('**/ckpt', 'a/b/ckpt'), true);
  assert.equal(ignored('runs/**', 'runs/a/b'), true);
  assert.equal(ignored('runs/**', 'runs', true), false, 'runs/** is what is inside runs');
  assert.equal(ignored('a/**/z', 'a/z'), true);
  assert.equal(ignored('a/**/z', 'a/b/c/z'), true);
  assert.equal(ignored('a/**/z', 'b/a/z'), false);
  // ? and classes
  assert.equal(ignored('shard-?.bin', 'shard-7.bin'), true);
  assert.equal(ignored('shard-?.bin', 'shard-17.bin'), false);
  assert.equal(ignored('shard-[0-4].bin', 'shard-3.bin'), true);
  assert.equal(ignored('shard-[!0-4].bin', 'shard-3.bin'), false);
  assert.equal(ignored('shard-[!0-4].bin', 'shard-8.bin'), true);
  // comments, blanks, escapes, trailing spaces, CRLF
  assert.equal(ignored('# x.tmp\n\nx.tmp \r\n', 'x.tmp'), true);
  assert.equal(ignored('#x', '#x'), false);
  assert.equal(ignored('\\#x', '#x'), true);
  assert.equal(ignored('\\!x', '!x'), true);
  assert.equal(ignored('x\\ ', 'x '), true);
  assert.equal(ignored('a\\*b', 'a*b'), true);
  assert.equal(ignored('a\\*b', 'axb'), false);
  // classes and specials as one-star globs (compiled to a RegExp) and as many-star globs (matched by hand) alike
  for (const pre of ['', '*']) {
    assert.equal(ignored(`${pre}x[a-c].(1)+`, 'xb.(1)+'), true);
    assert.equal(ignored(`${pre}x[a-c].(1)+`, 'xd.(1)+'), false);
    assert.equal(ignored(`${pre}y[]-].$`, 'y].$'), true);
    assert.equal(ignored(`${pre}y[]-].$`, 'y-.$'), true);
    assert.equal(ignored(`${pre}z[z-a]*`, 'zq'), false, 'a reversed range matches nothing and breaks nothing');
    assert.equal(ignored(`${pre}a?c*`, 'a\nc'), true, 'even names a manifest refuses are matched (they are dropped before the check)');
  }
});

test('rules: source and line, the deepest file first and its last matching rule', () => {
  const rules = parseIgnore('# c\n*.tmp\n!keep.tmp\n', 'data/.tdvcignore');
  assert.deepEqual(
    rules.map((r) => [r.source, r.line, r.text, r.negate]),
    [
      ['data/.tdvcignore', 2, '*.tmp', false],
      ['data/.tdvcignore', 3, '!keep.tmp', true],
    ],
  );
  const outer: ActiveRules = { rules: parseIgnore('*.bin', '.tdvcignore'), dir: ['data'] };
  const inner: ActiveRules = { rules: parseIgnore('!x.bin', 'data/.tdvcignore'), dir: [] };
  assert.equal(decidingRule([outer, inner], 'x.bin', false)?.source, 'data/.tdvcignore');
  assert.equal(decidingRule([outer, inner], 'y.bin', false)?.source, '.tdvcignore');
  // rules above a dataset see paths from their own folder: `/data/a` at the root, in the dataset `data`
  const above = rulesAbove({ datasetPath: 'data', above: [{ source: '.tdvcignore', text: '/data/a\n/a\n' }] });
  assert.equal(decidingRule(above, 'a', false)?.text, '/data/a');
});

test('hostile patterns cannot make matching slow (no backtracking regex)', () => {
  const rules = parseIgnore(`${'*a'.repeat(40)}b\n${'**/'.repeat(40)}q`, '.tdvcignore');
  const name = 'a'.repeat(5000);
  const deep = Array.from({ length: 200 }, () => 'x');
  const t0 = Date.now();
  assert.equal(decidingRule([{ rules, dir: deep }], name, false), undefined);
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
});

test('the walk drops what .tdvcignore files match, here and on the walk thread alike', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-ignore-walk-'));
  try {
    const files: Record<string, string> = {
      '.tdvcignore': '*.tmp\n__pycache__/\n!keep.tmp\n',
      'a.txt': 'a',
      'x.tmp': 'x',
      'keep.tmp': 'k',
      'm/__pycache__/c.pyc': 'c',
      'm/y.py': 'y',
      'sub/.tdvcignore': '/only-here\n!x2.tmp\n',
      'sub/only-here': 'o',
      'sub/deeper/only-here': 'd',
      'sub/x2.tmp': '2',
      'sub/z.tmp': 'z',
    };
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), text);
    }
    // an ignored folder is not descended into: an unreadable name inside it is never seen
    mkdirSync(join(dir, 'm', '__pycache__', 'bad'));
    writeFileSync(join(dir, 'm', '__pycache__', 'bad', 'a\nb'), '');
    const want = ['.tdvcignore', 'a.txt', 'keep.tmp', 'm/y.py', 'sub/.tdvcignore', 'sub/deeper/only-here', 'sub/x2.tmp'];
    const here = [...walkSorted(dir)];
    assert.deepEqual(here.map((f) => f.rel), want);
    const windows: WalkedFile[][] = [];
    const t = new WalkThread(dir, { window: 3 });
    try {
      for (let w = await t.next(); w; w = await t.next()) windows.push(w);
    } finally {
      await t.close();
    }
    assert.deepEqual(windows.flat(), here);
    // rules from above the walked folder, as the scan passes them for a dataset
    const ignore = { datasetPath: 'ds', above: [{ source: '.tdvcignore', text: 'a.txt\n/ds/m/\n' }] };
    assert.deepEqual(
      [...walkSorted(dir, { ignore })].map((f) => f.rel),
      want.filter((p) => p !== 'a.txt' && !p.startsWith('m/')),
    );
    const t2 = new WalkThread(dir, { window: 2, ignore });
    const got: WalkedFile[] = [];
    try {
      for (let w = await t2.next(); w; w = await t2.next()) got.push(...w);
    } finally {
      await t2.close();
    }
    assert.deepEqual(got.map((f) => f.rel), want.filter((p) => p !== 'a.txt' && !p.startsWith('m/')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
