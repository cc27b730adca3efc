// Folder versions as trees (pointer version 2) end to end, with real git: repositories written by
// an older tdvc (version 1 pointers, flat manifests) keep working next to new versions, and push,
// fetch and gc move and keep what a tree needs, at a cost that follows the change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectStore, serializeManifest, serializePointer, hashBytes, type ManifestEntry } from '@tdvc/core';
import { git, makeRepo, readTreeSync, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

const pointerOid = (root: string, rel: string): string => /^hash: blake3:([0-9a-f]{64})$/m.exec(readFileSync(join(root, rel), 'utf8'))![1]!;

/** Every object file under a cache or folder remote. */
function objectsIn(dir: string): Set<string> {
  const out = new Set<string>();
  for (const fan of readdirSync(join(dir, 'b3v1'))) for (const n of readdirSync(join(dir, 'b3v1', fan))) if (!n.startsWith('.')) out.add(fan + n);
  return out;
}

/** What a tdvc of version 1 wrote: a flat manifest in the cache and a version 1 pointer, committed. */
async function commitV1Dataset(root: string, files: Record<string, string>): Promise<void> {
  const odb = new ObjectStore(join(root, '.tdvc', 'cache'));
  const entries: ManifestEntry[] = [];
  for (const [path, text] of Object.entries(files)) {
    const obj = await odb.putBytes(Buffer.from(text));
    entries.push({ path, oid: obj.oid, size: obj.size, exec: false });
  }
  const manifest = await odb.putBytes(Buffer.from(serializeManifest(entries)));
  writeFileSync(join(root, 'data.tdvc'), serializePointer({ version: 1, path: 'data', type: 'dir', oid: manifest.oid, size: entries.reduce((s, e) => s + e.size, 0), files: entries.length }));
  writeFileSync(join(root, '.gitignore'), '/data\n');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'v1 data');
}

function manyFiles(n: number, tag = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) out[`data/d${String(i % 40).padStart(2, '0')}/f${i}.txt`] = `file ${i}${tag}\n`;
  return out;
}

test('a version 1 repository: checkout, ls and diff work; re-adding writes version 2; v1 and v2 revisions diff, merge and check out', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    await ok(root, ['install']);
    await commitV1Dataset(root, { 'a.txt': 'A\n', 'sub/b.txt': 'B\n', 'sub/c.txt': 'C\n' });
    await ok(root, ['checkout']);
    assert.equal(readFileSync(join(root, 'data/sub/b.txt'), 'utf8'), 'B\n');
    assert.equal((await ok(root, ['ls'])).stdout, 'data/a.txt\ndata/sub/b.txt\ndata/sub/c.txt\n');
    assert.match(readFileSync(join(root, 'data.tdvc'), 'utf8'), /^tdvc: 1$/m);

    // a branch that an old tdvc keeps writing v1 on, and main moving to v2
    git(root, 'checkout', '-qb', 'old');
    await commitV1Dataset(root, { 'a.txt': 'A\n', 'sub/b.txt': 'B\n', 'sub/c.txt': 'C\n', 'old-only.txt': 'O\n' });
    git(root, 'checkout', '-q', 'main');
    await ok(root, ['checkout']);
    writeFileSync(join(root, 'data/sub/b.txt'), 'B2\n');
    await ok(root, ['add', 'data']);
    assert.match(readFileSync(join(root, 'data.tdvc'), 'utf8'), /^tdvc: 2$/m);
    git(root, 'commit', '-qam', 'v2 data');
    const d = JSON.parse((await ok(root, ['diff', 'HEAD~1', 'HEAD', '--json'])).stdout) as { datasets: Array<{ modified: Array<{ path: string }>; added: unknown[]; deleted: unknown[] }> };
    assert.deepEqual(d.datasets[0]!.modified.map((m) => m.path), ['data/sub/b.txt']);
    assert.equal(d.datasets[0]!.added.length + d.datasets[0]!.deleted.length, 0);

    // the merge driver merges a v1 side into a v2 side file by file
    git(root, 'merge', '-q', '--no-edit', 'old');
    assert.match(readFileSync(join(root, 'data.tdvc'), 'utf8'), /^tdvc: 2$/m);
    await ok(root, ['checkout']);
    assert.equal(readFileSync(join(root, 'data/sub/b.txt'), 'utf8'), 'B2\n');
    assert.equal(readFileSync(join(root, 'data/old-only.txt'), 'utf8'), 'O\n');

    // and the first (v1) revision still checks out exactly
    await ok(root, ['checkout', '--force', 'HEAD~2']);
    assert.equal(readFileSync(join(root, 'data/sub/b.txt'), 'utf8'), 'B\n');
    assert.deepEqual(readdirSync(join(root, 'data')).sort(), ['a.txt', 'sub']);
  } finally {
    cleanup();
  }
});

test('push of a one-file change uploads the file and the nodes on its way to the root; a no-op push uploads nothing; gc keeps every node', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  try {
    writeTree(root, manyFiles(6000));
    await ok(root, ['add', 'data']);
    const tree = readTreeSync(join(root, '.tdvc', 'cache'), pointerOid(root, 'data.tdvc'));
    assert.ok(tree.nodes.length > 10, `${tree.nodes.length} nodes: a tree of several levels`);
    await ok(root, ['remote', 'add', '-d', 'r', store.path]);
    const first = JSON.parse((await ok(root, ['push', '--json'])).stdout) as { transferred: number };
    assert.equal(first.transferred, 6000 + tree.nodes.length);
    assert.deepEqual(objectsIn(store.path), objectsIn(join(root, '.tdvc', 'cache')));

    const noop = JSON.parse((await ok(root, ['push', '--json'])).stdout) as { transferred: number; skipped: number };
    assert.equal(noop.transferred, 0);
    assert.equal(noop.skipped, 6001, 'the root and the files under it');

    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'one');
    writeFileSync(join(root, 'data/d07/f1207.txt'), 'changed\n');
    await ok(root, ['add', 'data']);
    const after = readTreeSync(join(root, '.tdvc', 'cache'), pointerOid(root, 'data.tdvc'));
    const newNodes = after.nodes.filter((n) => !tree.nodes.includes(n));
    assert.ok(newNodes.length >= 2 && newNodes.length <= 4, `${newNodes.length} new nodes (one per level)`);
    // status -r sees the one file the remote lacks (it asks only about files under nodes the remote lacks)
    const before = JSON.parse((await ok(root, ['status', '-r', 'r', '--json'])).stdout) as { datasets: Array<{ notPushed: string[]; manifestOnRemote: boolean }> };
    assert.deepEqual(before.datasets[0]!.notPushed, ['data/d07/f1207.txt']);
    assert.equal(before.datasets[0]!.manifestOnRemote, false);
    const one = JSON.parse((await ok(root, ['push', '--json'])).stdout) as { transferred: number };
    const synced = JSON.parse((await ok(root, ['status', '-r', 'r', '--json'])).stdout) as { datasets: Array<{ notPushed: string[]; manifestOnRemote: boolean }> };
    assert.deepEqual(synced.datasets[0]!.notPushed, []);
    assert.equal(synced.datasets[0]!.manifestOnRemote, true);
    assert.equal(one.transferred, 1 + newNodes.length);
    git(root, 'commit', '-qam', 'two');

    // gc keeps both versions' nodes (shared ones once) and the remote holds everything: a clone pulls the old version
    const gc = JSON.parse((await ok(root, ['gc', '--all-commits', '--force', '--grace', '0', '--json'])).stdout) as { removed: unknown[] };
    assert.deepEqual(gc.removed, []);
    const clone = tempDir('tdvc-clone-');
    try {
      git(clone.path, 'clone', '-q', root, 'c');
      const c = join(clone.path, 'c');
      await ok(c, ['pull']);
      assert.equal(readFileSync(join(c, 'data/d07/f1207.txt'), 'utf8'), 'changed\n');
      git(c, 'checkout', '-q', 'HEAD~1');
      await ok(c, ['pull']);
      assert.equal(readFileSync(join(c, 'data/d07/f1207.txt'), 'utf8'), 'file 1207\n');
    } finally {
      clone.cleanup();
    }
  } finally {
    cleanup();
    store.cleanup();
  }
});

test('pull of one folder of a dataset fetches only the tree nodes that can hold it', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  const clone = tempDir('tdvc-clone-');
  try {
    writeTree(root, manyFiles(6000));
    await ok(root, ['add', 'data']);
    await ok(root, ['remote', 'add', '-d', 'r', store.path]);
    await ok(root, ['push']);
    const all = readTreeSync(join(root, '.tdvc', 'cache'), pointerOid(root, 'data.tdvc')).nodes;
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'data');
    git(clone.path, 'clone', '-q', root, 'c');
    const c = join(clone.path, 'c');
    await ok(c, ['pull', 'data/d13']);
    assert.equal(readFileSync(join(c, 'data/d13/f13.txt'), 'utf8'), 'file 13\n');
    assert.deepEqual(readdirSync(join(c, 'data')), ['d13']);
    const fetched = [...objectsIn(join(c, '.tdvc', 'cache'))].filter((o) => all.includes(o));
    assert.ok(fetched.length < all.length / 3, `${fetched.length} of ${all.length} nodes fetched`);
    // the rest comes with a full pull
    await ok(c, ['pull']);
    assert.equal(readdirSync(join(c, 'data')).length, 40);
  } finally {
    cleanup();
    store.cleanup();
    clone.cleanup();
  }
});

test('a tree node corrupted on the remote fails the fetch naming it; nothing of that version is checked out half', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  const clone = tempDir('tdvc-clone-');
  try {
    writeTree(root, manyFiles(3000));
    await ok(root, ['add', 'data']);
    await ok(root, ['remote', 'add', '-d', 'r', store.path]);
    await ok(root, ['push']);
    const nodes = readTreeSync(join(root, '.tdvc', 'cache'), pointerOid(root, 'data.tdvc')).nodes;
    const victim = nodes[nodes.length - 1]!; // a leaf
    const at = join(store.path, 'b3v1', victim.slice(0, 2), victim.slice(2));
    const text = readFileSync(at, 'utf8');
    const nl = text.indexOf('\n') + 1;
    writeFileSync(at, text.slice(0, nl) + (text[nl] === 'a' ? 'b' : 'a') + text.slice(nl + 1));
    assert.notEqual(hashBytes(readFileSync(at)), victim);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'data');
    git(clone.path, 'clone', '-q', root, 'c');
    const c = join(clone.path, 'c');
    const r = await tdvc(c, ['pull']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(victim.slice(0, 12)));
  } finally {
    cleanup();
    store.cleanup();
    clone.cleanup();
  }
});
