import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walkSorted, type WalkedFile } from '../src/util/walk.js';
import { WalkThread } from '../src/util/walk-thread.js';
import { TdvcError } from '../src/errors.js';

async function drain(t: WalkThread): Promise<WalkedFile[][]> {
  const out: WalkedFile[][] = [];
  try {
    for (let w = await t.next(); w; w = await t.next()) out.push(w);
  } finally {
    await t.close();
  }
  return out;
}

test('WalkThread: the same files, stat data and canonical order as walkSorted, in windows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-walk-thread-'));
  try {
    for (let i = 0; i < 300; i++) {
      mkdirSync(join(dir, `d${i % 13}`, i % 2 ? 'sub' : ''), { recursive: true });
      writeFileSync(join(dir, `d${i % 13}`, i % 2 ? 'sub' : '', `f${i}`), `x${i}`);
    }
    for (const name of ['a', 'a.txt', 'a-b', '\u{1F600}', '\uFF21']) writeFileSync(join(dir, name), name);
    mkdirSync(join(dir, 'a0'));
    writeFileSync(join(dir, 'a0', 'inner'), 'i');
    chmodSync(join(dir, 'a.txt'), 0o755);
    const here = [...walkSorted(dir)];
    let seen = 0;
    const windows = await drain(new WalkThread(dir, { window: 7, onFile: (n) => (seen = n) }));
    assert.ok(windows.slice(0, -1).every((w) => w.length === 7), 'full windows but the last');
    assert.deepEqual(windows.flat(), here);
    assert.equal(seen, here.length, 'progress counts every file');
    assert.equal(here.find((f) => f.rel === 'a.txt')?.exec, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('WalkThread: an error on the thread comes back with its code, path and hint; an empty folder has no windows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-walk-thread-'));
  try {
    mkdirSync(join(dir, 'empty'));
    assert.deepEqual(await drain(new WalkThread(join(dir, 'empty'), { window: 4 })), []);
    mkdirSync(join(dir, 'ds'));
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'ds', `f${String(i).padStart(2, '0')}`), 'x');
    symlinkSync('/etc/passwd', join(dir, 'ds', 'zz-escape'));
    let expected: unknown;
    try {
      [...walkSorted(join(dir, 'ds'))];
    } catch (err) {
      expected = err;
    }
    assert.ok(expected instanceof TdvcError);
    await assert.rejects(drain(new WalkThread(join(dir, 'ds'), { window: 4 })), (err: unknown) => {
      assert.ok(err instanceof TdvcError);
      assert.equal(err.code, expected.code);
      assert.equal(err.message, expected.message);
      assert.equal(err.path, expected.path);
      assert.equal(err.hint, expected.hint);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
