// status and add read the workspace, the stat index and the dataset's tree as sorted streams, a
// window of files at a time: what they report must not depend on where the windows end. A dataset
// larger than several windows, with changes in each window, at window edges, and among names whose
// canonical order differs from a plain sort ('a' folder vs 'a.txt', 'a-b', astral names). Large
// enough that the scans after the first walk on a thread of their own (WalkThread).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCAN_WINDOW, WALK_THREAD_MIN_FILES, compareUtf8 } from '@tdvc/core';
import { git, makeRepo, tdvc, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

interface Status {
  clean: boolean;
  datasets: Array<{ added: string[]; modified: string[]; deleted: string[]; notInCache: string[] }>;
}

test('status and add across many scan windows: every added, modified and deleted file, wherever the windows end', { timeout: 300_000 }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    // more files than the stat index needs to have the walk run on a thread of its own (from the second scan on)
    const n = Math.max(SCAN_WINDOW * 2 + 1000, WALK_THREAD_MIN_FILES + 500);
    const files: string[] = [];
    for (let i = 0; i < n; i++) files.push(`d${String(i % 37).padStart(2, '0')}/f${i}`);
    files.push('a.txt', 'a-b', 'a/x', 'a/sub/y', 'a0', '\u{1F600}', '\uFF21');
    for (const f of files) {
      mkdirSync(join(root, 'data', f, '..'), { recursive: true });
      writeFileSync(join(root, 'data', f), `v1 ${f}\n`);
    }
    const added = await ok(root, ['add', 'data', '--json']);
    assert.equal((JSON.parse(added.stdout) as { added: Array<{ files: number }> }).added[0]!.files, files.length);
    assert.equal((JSON.parse((await ok(root, ['status', '--json'])).stdout) as Status).clean, true);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');

    // canonical order of every path: changes at the first and last file, at each window edge and next to it
    const order = [...files].sort(compareUtf8);
    const picks = new Set([0, 1, SCAN_WINDOW - 1, SCAN_WINDOW, SCAN_WINDOW + 1, 2 * SCAN_WINDOW, order.length - 1, order.indexOf('a/x'), order.indexOf('a-b')]);
    const modified: string[] = [];
    const deleted: string[] = [];
    let k = 0;
    for (const i of picks) {
      const f = order[i]!;
      if (k++ % 2 === 0) {
        writeFileSync(join(root, 'data', f), `v2 ${f}\n`);
        modified.push(`data/${f}`);
      } else {
        rmSync(join(root, 'data', f));
        deleted.push(`data/${f}`);
      }
    }
    const newFiles = ['a.u', 'a/new', 'd00/f0x', 'zzz/new', '\u{1F601}'];
    for (const f of newFiles) {
      mkdirSync(join(root, 'data', f, '..'), { recursive: true });
      writeFileSync(join(root, 'data', f), `new ${f}\n`);
    }
    const sort = (xs: string[]): string[] => [...xs].sort(compareUtf8);
    const st = JSON.parse((await tdvc(root, ['status', '--json'])).stdout) as Status;
    assert.equal(st.clean, false);
    const ds = st.datasets[0]!;
    assert.deepEqual(sort(ds.modified), sort(modified));
    assert.deepEqual(sort(ds.deleted), sort(deleted));
    assert.deepEqual(sort(ds.added), sort(newFiles.map((f) => `data/${f}`)));
    assert.deepEqual(ds.notInCache, []);
    // reported in canonical order, as the streams meet
    assert.deepEqual(ds.modified, sort(ds.modified));
    // diff against the workspace (streamed the same way) names the same files
    const d = (JSON.parse((await ok(root, ['diff', '--json'])).stdout) as { datasets: Array<Record<'added' | 'modified' | 'deleted', Array<{ path: string }>>> }).datasets[0]!;
    assert.deepEqual(d.modified.map((f) => f.path), ds.modified);
    assert.deepEqual(d.deleted.map((f) => f.path), ds.deleted);
    assert.deepEqual(d.added.map((f) => f.path), ds.added);

    // add records exactly that change; the version diffs against the last one file by file
    const again = (JSON.parse((await ok(root, ['add', 'data', '--json'])).stdout) as { added: Array<{ files: number; hashed: number }> }).added;
    assert.equal(again[0]!.files, files.length - deleted.length + newFiles.length);
    assert.equal(again[0]!.hashed, modified.length + newFiles.length, 'only what changed was read');
    assert.equal((JSON.parse((await ok(root, ['status', '--json'])).stdout) as Status).clean, true);
    const ls = (await ok(root, ['ls'])).stdout.trim().split('\n');
    assert.equal(ls.length, again[0]!.files);
    assert.deepEqual(ls, sort(ls));

    // the data restored from the cache after deleting it all reads back clean
    rmSync(join(root, 'data'), { recursive: true });
    await ok(root, ['checkout']);
    assert.equal((JSON.parse((await ok(root, ['status', '--json'])).stdout) as Status).clean, true);
  } finally {
    cleanup();
  }
});
