import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TdvcError, writeFileAtomic } from '../src/index.js';

test('writeFileAtomic replaces a file whole and leaves no temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-atomic-'));
  try {
    const p = join(dir, 'data.tdvc');
    writeFileSync(p, 'old content that is longer than the new one');
    await writeFileAtomic(p, 'new\n');
    assert.equal(readFileSync(p, 'utf8'), 'new\n');
    assert.equal(statSync(p).mode & 0o777, 0o644);
    assert.deepEqual(readdirSync(dir), ['data.tdvc']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic failures are TdvcErrors naming the file being written, not its temp file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-atomic-'));
  try {
    const p = join(dir, 'missing-folder', 'data.tdvc');
    await assert.rejects(writeFileAtomic(p, 'x'), (err: unknown) => {
      assert.ok(err instanceof TdvcError, `expected a TdvcError, got ${String(err)}`);
      assert.equal(err.code, 'ENOENT');
      assert.equal(err.path, p);
      assert.match(err.message, /missing-folder\/data\.tdvc: no such file or directory/);
      assert.doesNotMatch(err.message, /\.tmp-/);
      return true;
    });
    // renaming over a folder fails after the temp file was written: the temp file is removed
    const blocked = join(dir, 'blocked');
    mkdirSync(join(blocked, 'child'), { recursive: true });
    await assert.rejects(writeFileAtomic(blocked, 'x'), (err: unknown) => err instanceof Error && (err as TdvcError).path === blocked);
    assert.deepEqual(readdirSync(dir), ['blocked'], 'no temp file left beside it');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
