import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearJournal, JournalWriter, journalFile, loadPartialCheck, readJournal } from '../src/checkout/journal.js';
import type { CheckoutAction } from '../src/checkout/plan.js';
import { TdvcError } from '../src/errors.js';

const O = (c: string): string => c.repeat(64);

async function collect(file: string, window: number): Promise<CheckoutAction[][]> {
  const out: CheckoutAction[][] = [];
  for await (const w of readJournal(file, window)) out.push(w);
  return out;
}

test('journal: a dead checkout vouches for short, newer files it writes; a live one, other files and bigger files do not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-journal-'));
  try {
    assert.equal(loadPartialCheck(dir, 'data')('x', 1, Date.now()), false, 'no journal: nothing is a leftover');
    const w = JournalWriter.create(dir, 'data');
    w.write({ kind: 'remove', path: 'a' });
    w.write({ kind: 'write', entry: { path: 'x', oid: O('1'), size: 100, exec: false }, replace: false });
    w.write({ kind: 'write', entry: { path: 'y', oid: O('2'), size: 10, exec: true }, replace: true });
    w.write({ kind: 'remove', path: 'z' });
    // planned but not installed: the journal of an earlier checkout is what counts
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, Date.now()), false, 'a spooled plan vouches for nothing');
    const file = w.install();
    assert.equal(file, journalFile(dir, 'data'));
    assert.deepEqual(readdirSync(dir), [file.slice(dir.length + 1)], 'the spool became the journal: no temp file left');
    // our own journal stands for a checkout that failed in this process: treated as finished
    const now = Date.now();
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, now), true);
    assert.equal(loadPartialCheck(dir, 'data')('x', 101, now), false, 'bigger than planned: not ours');
    assert.equal(loadPartialCheck(dir, 'data')('z', 1, now), false, 'removed, not written');
    assert.equal(loadPartialCheck(dir, 'data')('q', 1, now), false, 'not listed');
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, now - 60_000), false, 'older than the checkout');
    // asked out of order, the cursor starts over
    const check = loadPartialCheck(dir, 'data');
    assert.equal(check('y', 10, now), true);
    assert.equal(check('x', 100, now), true);
    assert.equal(check('y', 11, now), false);
    // a journal of a live process (a checkout still running) vouches for nothing
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.replace(`\t${process.pid}\t`, '\t1\t'));
    assert.equal(loadPartialCheck(dir, 'data')('x', 50, now), false, 'pid 1 is alive');
    await clearJournal(dir, 'data');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: the plan reads back in order, a window at a time, with paths that hold tabs and non-ASCII names', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-journal-'));
  try {
    const actions: CheckoutAction[] = [
      { kind: 'remove', path: 'a\tb' },
      { kind: 'chmod', entry: { path: 'c', oid: O('3'), size: 0, exec: true } },
      { kind: 'write', entry: { path: 'd/é\tx', oid: O('4'), size: 7, exec: false }, replace: true },
      { kind: 'write', entry: { path: 'e', oid: O('5'), size: 0, exec: true }, replace: false },
      { kind: 'remove', path: 'f/g' },
    ];
    const w = JournalWriter.create(dir, 'ds');
    for (const a of actions) w.write(a);
    const file = w.install();
    const windows = await collect(file, 2);
    assert.deepEqual(windows.map((x) => x.length), [2, 2, 2]);
    // the folder a written file needs comes before it (the dataset's root needs none)
    const withFolders = [...actions.slice(0, 2), { kind: 'folder', path: 'd' }, ...actions.slice(2)];
    assert.deepEqual(windows.flat(), withFolders);
    // only the kinds asked for
    const some: CheckoutAction[] = [];
    for await (const w of readJournal(file, 10, ['remove', 'folder'])) some.push(...w);
    assert.deepEqual(some, [actions[0], { kind: 'folder', path: 'd' }, actions[4]]);
    // a spool that is discarded leaves nothing
    const d = JournalWriter.create(dir, 'other');
    d.write(actions[0]!);
    d.discard();
    assert.deepEqual(readdirSync(dir), [file.slice(dir.length + 1)]);

    // a plan of several chunks (lines cut at chunk ends) reads back whole and in order
    const big = join(dir, 'big');
    const many = JournalWriter.create(big, 'ds');
    const n = 30_000;
    for (let k = 0; k < n; k++) many.write({ kind: 'write', entry: { path: `folder-${String(k).padStart(6, '0')}/ünïcode-file-${k}.bin`, oid: O('a'), size: k, exec: k % 2 === 0 }, replace: k % 3 === 0 });
    assert.equal(readdirSync(big).length, 1, 'spooled to a temp file once it outgrew memory');
    const bigFile = many.install();
    let seen = 0;
    let sizes = 0;
    let bigWindows = 0;
    for await (const win of readJournal(bigFile, 8192, ['write'])) {
      bigWindows++;
      for (const a of win) {
        assert.equal(a.kind, 'write');
        if (a.kind !== 'write') continue;
        assert.equal(a.entry.path, `folder-${String(seen).padStart(6, '0')}/ünïcode-file-${seen}.bin`);
        assert.equal(a.replace, seen % 3 === 0);
        assert.equal(a.entry.exec, seen % 2 === 0);
        sizes += a.entry.size;
        seen++;
      }
    }
    assert.equal(seen, n);
    assert.equal(bigWindows, Math.ceil(n / 8192));
    let folders = 0;
    for await (const win of readJournal(bigFile, 8192, ['folder'])) folders += win.length;
    assert.equal(folders, n, 'one folder line where the folder changes');
    assert.equal(sizes, (n * (n - 1)) / 2);
    // a big spool discarded takes the folder it made with it
    const fresh = join(dir, 'fresh');
    const dropped = JournalWriter.create(fresh, 'ds');
    for (let k = 0; k < 2 * n; k++) dropped.write({ kind: 'remove', path: `some/fairly/long/path/name-${k}` });
    assert.equal(readdirSync(fresh).length, 1);
    dropped.discard();
    assert.deepEqual(readdirSync(dir).sort(), ['big', file.slice(dir.length + 1)].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: a damaged journal stops the checkout with ECORRUPT naming it; a journal of the old JSON form is still read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-journal-'));
  try {
    const w = JournalWriter.create(dir, 'ds');
    w.write({ kind: 'remove', path: 'a' });
    const file = w.install();
    writeFileSync(file, readFileSync(file, 'utf8') + 'W\tnot-a-size\tx\n');
    await assert.rejects(collect(file, 10), (err: unknown) => err instanceof TdvcError && err.code === 'ECORRUPT' && err.message.includes(file));
    writeFileSync(file, readFileSync(file, 'utf8').slice(0, -1) + 'W\t1');
    await assert.rejects(collect(file, 10), (err: unknown) => err instanceof TdvcError && err.code === 'ECORRUPT');
    await clearJournal(dir, 'ds');
    // the form of earlier versions (one JSON object), left by a killed checkout before an upgrade
    const legacy = join(dir, file.slice(dir.length + 1).replace(/\.journal$/, '.json'));
    writeFileSync(legacy, JSON.stringify({ host: (await import('node:os')).hostname(), pid: 2 ** 22 + 12345, startedMs: Date.now() - 1000, files: { x: 5 } }));
    assert.equal(loadPartialCheck(dir, 'ds')('x', 5, Date.now()), true);
    assert.equal(loadPartialCheck(dir, 'ds')('constructor', 0, Date.now()), false, 'only its own keys');
    await clearJournal(dir, 'ds');
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
