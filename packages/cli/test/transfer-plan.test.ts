// push/fetch --dry-run say what would move and move nothing; a download whose temp file cannot be
// created is one failed object in the summary, not an aborted fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { git, makeRepo, snapshot, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r;
}

interface SyncJson {
  transferred: number;
  skipped: number;
  failed: Array<{ oid: string; code: string; message: string }>;
  wouldTransfer?: { objects: number; bytes: number; manifests: number };
  unknownVersions?: number;
}

const json = (r: RunResult): SyncJson => JSON.parse(r.stdout) as SyncJson;

test('push --dry-run and fetch --dry-run: what would move, nothing moved; then the real transfers move exactly that', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  const clone = tempDir('tdvc-clone-');
  try {
    await ok(root, ['remote', 'add', '-d', 'r', store.path]);
    writeTree(root, { 'data/a.txt': 'aaaa', 'data/b.txt': 'bb', 'model.bin': 'mmmmmm' });
    await ok(root, ['add', 'data', 'model.bin']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');

    const before = snapshot(store.path);
    const dry = json(await ok(root, ['push', '--dry-run', '--json']));
    assert.equal(dry.transferred, 0);
    assert.equal(dry.wouldTransfer?.objects, 4, 'two files of data, its file list, model.bin');
    assert.equal(dry.wouldTransfer?.manifests, 1);
    assert.deepEqual(snapshot(store.path), before, 'a dry run uploads nothing');
    const text = (await ok(root, ['push', '-n'])).stdout;
    assert.match(text, /would upload 4 object\(s\).*nothing was moved/);

    const real = json(await ok(root, ['push', '--json']));
    assert.equal(real.transferred, 4, 'the real push moves what the dry run said');
    assert.equal(json(await ok(root, ['push', '--dry-run', '--json'])).wouldTransfer?.objects, 0);

    // a clone with an empty cache: its dry run cannot read the folder's file list (not fetched)
    git(clone.path, 'clone', '-q', root, 'ws');
    const ws = join(clone.path, 'ws');
    const wsBefore = snapshot(ws);
    const dryFetch = json(await ok(ws, ['fetch', '--dry-run', '--json']));
    assert.equal(dryFetch.unknownVersions, 1);
    assert.equal(dryFetch.wouldTransfer?.objects, 2, 'the file list and model.bin');
    assert.deepEqual(snapshot(ws), wsBefore, 'a dry run downloads nothing');
    const fetched = json(await ok(ws, ['fetch', '--json']));
    assert.equal(fetched.transferred, 4);
    assert.equal(json(await ok(ws, ['fetch', '--dry-run', '--json'])).wouldTransfer?.objects, 0);
  } finally {
    cleanup();
    store.cleanup();
    clone.cleanup();
  }
});

test('fetch: an object whose temp file cannot be created fails alone; the others arrive', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  const clone = tempDir('tdvc-clone-');
  try {
    await ok(root, ['remote', 'add', '-d', 'r', store.path]);
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`data/f${i}.txt`] = `file ${i}`;
    writeTree(root, files);
    await ok(root, ['add', 'data']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    await ok(root, ['push']);
    git(clone.path, 'clone', '-q', root, 'ws');
    const ws = join(clone.path, 'ws');
    // the clone's cache: one object's fan-out folder is a file, so its temp file cannot be made
    const victim = hashBytes(Buffer.from('file 3'));
    const layout = join(ws, '.tdvc', 'cache', 'b3v1');
    mkdirSync(layout, { recursive: true });
    writeFileSync(join(layout, victim.slice(0, 2)), 'in the way');
    const r = await tdvc(ws, ['fetch', '--json']);
    assert.equal(r.code, 5, `a failed transfer exits 5: ${r.stderr}`);
    const res = json(r);
    assert.deepEqual(res.failed.map((f) => f.oid), [victim]);
    const others = Object.values(files).filter((c) => c !== 'file 3').length;
    assert.equal(res.transferred, others + 1, 'every other file and the file list arrived');
    rmSync(join(layout, victim.slice(0, 2)));
    chmodSync(layout, 0o755);
    assert.equal(json(await ok(ws, ['fetch', '--json'])).transferred, 1, 'a second fetch gets the one that failed');
  } finally {
    cleanup();
    store.cleanup();
    clone.cleanup();
  }
});
