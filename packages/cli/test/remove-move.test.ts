// tdvc remove and tdvc move: stop tracking a dataset (keeping or deleting its data) and rename
// one (pointer, .gitignore lines, stat index), on real repositories, with every error path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { assertOneClearError, git, makeRepo, snapshot, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(root: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(root, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')}: ${r.stderr}`);
  return r;
}

function objectPath(root: string, content: string): string {
  const oid = hashBytes(Buffer.from(content));
  return join(root, '.tdvc', 'cache', 'b3v1', oid.slice(0, 2), oid.slice(2));
}

function code(r: RunResult): string {
  return JSON.parse(r.stdout).error.code;
}

/** A repository with dataset `data` (a folder) and `models/m.bin` (a file), committed. */
async function repoWithData(): Promise<{ root: string; cleanup: () => void }> {
  const repo = await makeRepo();
  writeTree(repo.root, { 'data/a.txt': 'alpha', 'data/sub/b.txt': 'beta', 'models/m.bin': 'weights', 'src/code.py': 'print(1)' });
  await ok(repo.root, ['add', 'data', 'models/m.bin']);
  git(repo.root, 'add', '-A');
  git(repo.root, 'commit', '-qm', 'v1');
  return repo;
}

/** The repository's files, without the stat index (a refused --delete may have hashed files, as status does). */
function files(root: string): Map<string, string> {
  return new Map([...snapshot(root)].filter(([k]) => !k.startsWith('.tdvc/tmp')));
}

/** Every refused call leaves the repository exactly as it was. */
async function refused(root: string, args: string[], names: RegExp, codeWanted: string, exit?: number): Promise<void> {
  const before = files(root);
  const r = await tdvc(root, args);
  assertOneClearError(r, names);
  if (exit !== undefined) assert.equal(r.code, exit, r.stderr);
  const j = await tdvc(root, [...args, '--json']);
  assert.equal(code(j), codeWanted, j.stdout);
  assert.deepEqual(files(root), before, `tdvc ${args.join(' ')} changed nothing`);
}

test('remove: the pointer and its .gitignore line go, the data stays untracked and visible to Git; gc may then free it', async () => {
  const { root, cleanup } = await repoWithData();
  try {
    writeFileSync(join(root, '.gitignore'), '/scratch\n/data\n');
    const r = await ok(root, ['remove', 'data.tdvc']);
    assert.match(r.stdout, /removed data\.tdvc/);
    assert.equal(existsSync(join(root, 'data.tdvc')), false);
    assert.equal(readFileSync(join(root, '.gitignore'), 'utf8'), '/scratch\n', 'only the dataset line is removed');
    assert.equal(readFileSync(join(root, 'data', 'a.txt'), 'utf8'), 'alpha', 'the data is kept');
    const porcelain = git(root, 'status', '--porcelain');
    assert.match(porcelain, /\?\? data\//, 'the data is no longer ignored');
    assert.match(porcelain, / D data\.tdvc/);
    // models/.gitignore held only the dataset's line: the file goes with it
    await ok(root, ['remove', 'models/m.bin']);
    assert.equal(existsSync(join(root, 'models', '.gitignore')), false);
    assert.equal(existsSync(join(root, 'models', 'm.bin')), true);
    // nothing references the objects in the working tree any more (the commit does: gc -w frees them)
    assert.equal(existsSync(objectPath(root, 'alpha')), true, 'remove deletes nothing from the cache');
    await ok(root, ['gc', '-w', '--force', '--grace', '0']);
    assert.equal(existsSync(objectPath(root, 'alpha')), false, 'after remove, gc may free the data');
    const st = await ok(root, ['status', '--json']);
    assert.deepEqual(JSON.parse(st.stdout).datasets, []);
  } finally {
    cleanup();
  }
});

test('remove --delete deletes data that matches its pointer, refuses (exit 3) data with unrecorded changes unless --force', async () => {
  const { root, cleanup } = await repoWithData();
  try {
    writeFileSync(join(root, 'data', 'a.txt'), 'alpha, edited');
    writeFileSync(join(root, 'data', 'new.txt'), 'not added yet');
    const before = files(root);
    const r = await tdvc(root, ['remove', '--delete', 'data']);
    assertOneClearError(r, /data\/a\.txt/, /not in the cache/);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /data\/new\.txt/);
    assert.equal(code(await tdvc(root, ['remove', '--delete', 'data', '--json'])), 'EWOULDLOSE');
    assert.deepEqual(files(root), before, 'nothing deleted, nothing untracked');

    await ok(root, ['remove', '--delete', 'models/m.bin']);
    assert.equal(existsSync(join(root, 'models', 'm.bin')), false, 'unchanged data is deleted');
    assert.equal(existsSync(join(root, 'models', 'm.bin.tdvc')), false);
    assert.equal(readFileSync(objectPath(root, 'weights'), 'utf8'), 'weights', 'the cache keeps its object');

    await ok(root, ['remove', '--delete', '--force', 'data']);
    assert.equal(existsSync(join(root, 'data')), false);
    assert.equal(existsSync(join(root, 'data.tdvc')), false);
    assert.equal(readFileSync(join(root, 'src', 'code.py'), 'utf8'), 'print(1)');
  } finally {
    cleanup();
  }
});

test('remove: unknown, outside, untracked and inside-a-dataset paths, a duplicate, and links on the way are refused with nothing changed', async () => {
  const { root, cleanup } = await repoWithData();
  const out = tempDir('tdvc-outside-');
  try {
    writeFileSync(join(out.path, 'secret.tdvc'), 'precious');
    await refused(root, ['remove', 'nope'], /nope/, 'ENOTTRACKED', 1);
    await refused(root, ['remove', join(out.path, 'secret')], /outside the repository/, 'EOUTSIDE', 2);
    await refused(root, ['remove', 'src/code.py'], /src\/code\.py/, 'ENOTTRACKED', 1);
    await refused(root, ['remove', 'data/sub'], /inside the dataset data/, 'EBADPATH');
    await refused(root, ['remove', 'data', 'data.tdvc'], /data/, 'EUSAGE', 2);
    // a .gitignore that is a link (to a file outside) is never rewritten
    writeTree(root, { 'sets/other/x.txt': 'x' });
    await ok(root, ['add', 'sets/other']);
    const gi = join(root, 'sets', '.gitignore');
    writeFileSync(join(out.path, 'gi'), '/other\n');
    // replace sets/.gitignore by a link to a file outside
    rmSync(gi);
    symlinkSync(join(out.path, 'gi'), gi);
    await refused(root, ['remove', 'sets/other'], /sets\/\.gitignore/, 'ESYMLINK');
    assert.equal(readFileSync(join(out.path, 'gi'), 'utf8'), '/other\n');
    // a pointer file that is a link: refused by name, its target never read or deleted
    rmSync(join(root, 'models', 'm.bin.tdvc'));
    symlinkSync(join(out.path, 'secret.tdvc'), join(root, 'models', 'm.bin.tdvc'));
    const r = await tdvc(root, ['remove', 'models/m.bin']);
    assertOneClearError(r, /models\/m\.bin\.tdvc/, /symbolic link/);
    assert.equal(readFileSync(join(out.path, 'secret.tdvc'), 'utf8'), 'precious');
    assert.ok(lstatSync(join(root, 'models', 'm.bin.tdvc')).isSymbolicLink());
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('move: a dataset to another folder moves data, pointer (path line), both .gitignore lines and the stat index: nothing is hashed again', async () => {
  const { root, cleanup } = await repoWithData();
  try {
    const oldPointer = readFileSync(join(root, 'data.tdvc'), 'utf8');
    // a change not yet added moves with the data
    writeFileSync(join(root, 'data', 'a.txt'), 'alpha, edited');
    const r = await ok(root, ['move', 'data', 'sets/train']);
    assert.match(r.stdout, /moved data to sets\/train/);
    assert.equal(existsSync(join(root, 'data')), false);
    assert.equal(existsSync(join(root, 'data.tdvc')), false);
    assert.equal(readFileSync(join(root, 'sets', 'train', 'sub', 'b.txt'), 'utf8'), 'beta');
    const pointer = readFileSync(join(root, 'sets', 'train.tdvc'), 'utf8');
    assert.equal(pointer, oldPointer.replace('path: data\n', 'path: train\n'), 'same hash, new name');
    assert.equal(existsSync(join(root, '.gitignore')), false, 'the root .gitignore held only /data');
    assert.equal(readFileSync(join(root, 'sets', '.gitignore'), 'utf8'), '/train\n');
    assert.equal(git(root, 'status', '--porcelain', '--untracked-files=all', 'sets'), '?? sets/.gitignore\n?? sets/train.tdvc\n', 'the data stays ignored');

    // the first command after the move: the stat index moved with the dataset
    const again = JSON.parse((await ok(root, ['add', 'sets/train', '--json'])).stdout).added[0];
    assert.equal(again.changed, true, 'the unrecorded change moved along (and is recorded now)');
    assert.equal(again.hashed, 1, 'only the edited file is read');
    const st = JSON.parse((await ok(root, ['status', '--json'])).stdout);
    assert.equal(st.clean, true, JSON.stringify(st));

    // a file dataset into an existing folder, as mv does
    mkdirSync(join(root, 'archive'));
    await ok(root, ['move', 'models/m.bin.tdvc', 'archive']);
    assert.equal(readFileSync(join(root, 'archive', 'm.bin'), 'utf8'), 'weights');
    assert.match(readFileSync(join(root, 'archive', 'm.bin.tdvc'), 'utf8'), /^path: m\.bin$/m);
    assert.equal(existsSync(join(root, 'models', '.gitignore')), false);
    assert.equal((await ok(root, ['status', '--json'])).code, 0);
    // gc keeps the moved data: the objects are referenced under the new name
    await ok(root, ['gc', '-w', '--force', '--grace', '0']);
    assert.equal(existsSync(objectPath(root, 'beta')), true);
    assert.equal(existsSync(objectPath(root, 'weights')), true);
  } finally {
    cleanup();
  }
});

test('move: unknown, outside, untracked, inside-a-dataset and existing targets, and links on the way, are refused with nothing changed', async () => {
  const { root, cleanup } = await repoWithData();
  const out = tempDir('tdvc-outside-');
  try {
    writeTree(root, { 'other/x.txt': 'x' });
    await ok(root, ['add', 'other']);
    writeFileSync(join(out.path, 'keep.txt'), 'precious');
    await refused(root, ['move', 'nope', 'x'], /nope/, 'ENOTTRACKED', 1);
    await refused(root, ['move', 'src/code.py', 'x'], /src\/code\.py/, 'ENOTTRACKED', 1);
    await refused(root, ['move', join(out.path, 'keep.txt'), 'x'], /outside the repository/, 'EOUTSIDE', 2);
    await refused(root, ['move', 'data', join(out.path, 'data')], /outside the repository/, 'EOUTSIDE', 2);
    await refused(root, ['move', 'data', '../elsewhere'], /outside the repository/, 'EOUTSIDE', 2);
    await refused(root, ['move', 'data/sub', 'x'], /inside the dataset data/, 'EBADPATH');
    await refused(root, ['move', 'data', 'other'], /other\.tdvc already tracks it/, 'EEXISTS');
    await refused(root, ['move', 'data', 'other.tdvc'], /other/, 'EEXISTS');
    await refused(root, ['move', 'data', 'src/code.py'], /src\/code\.py/, 'EEXISTS');
    await refused(root, ['move', 'data', 'other/inner'], /inside the dataset other/, 'EBADPATH');
    await refused(root, ['move', 'models', 'x'], /models/, 'ENOTTRACKED');
    await refused(root, ['move', 'data', 'data'], /already is/, 'EBADPATH');
    await refused(root, ['move', 'data', '.git/hooks/data'], /\.git/, 'EBADPATH', 2);
    // a name a pointer file cannot hold: the DST is named, not blamed on a committed pointer
    await refused(root, ['move', 'data', 'da\nta'], /cannot use "da\\nta": path contains a line break/, 'EBADPATH', 2);
    await refused(root, ['move', 'data/a.txt', 'data/b\nc.txt'], /line break/, 'EBADPATH', 2);
    // a DST that is a link to a folder outside is refused, never followed
    symlinkSync(out.path, join(root, 'escape'));
    await refused(root, ['move', 'data', 'escape'], /escape/, 'ESYMLINK');
    await refused(root, ['move', 'data', 'escape/data'], /escape/, 'ESYMLINK');
    symlinkSync(join(out.path, 'missing'), join(root, 'dangling'));
    await refused(root, ['move', 'data', 'dangling'], /dangling/, 'ESYMLINK');
    assert.equal(readFileSync(join(out.path, 'keep.txt'), 'utf8'), 'precious');
    assert.equal(existsSync(join(out.path, 'data')), false, 'nothing was written outside');
    assert.equal(existsSync(join(out.path, 'missing')), false);
    // a pointer that is a link: refused by name, its target untouched
    writeFileSync(join(out.path, 'p.tdvc'), readFileSync(join(root, 'other.tdvc')));
    rmSync(join(root, 'other.tdvc'));
    symlinkSync(join(out.path, 'p.tdvc'), join(root, 'other.tdvc'));
    const r = await tdvc(root, ['move', 'other', 'renamed']);
    assertOneClearError(r, /other\.tdvc/, /symbolic link/);
    assert.equal(existsSync(join(root, 'renamed')), false);
    assert.ok(lstatSync(join(root, 'other.tdvc')).isSymbolicLink());
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('move inside a folder dataset: a tree edit (no file hashed), the workspace renamed, the stat index told; the tree is the one a fresh add builds', async () => {
  const { root, cleanup } = await repoWithData();
  try {
    writeTree(root, { 'data/sub/c.txt': 'gamma', 'data/z.txt': 'zeta' });
    await ok(root, ['add', 'data']);
    const before = readFileSync(join(root, 'data.tdvc'), 'utf8');
    const r = await ok(root, ['move', 'data/sub', 'data/renamed']);
    assert.match(r.stdout, /moved data\/sub to data\/renamed/);
    assert.match(r.stdout, /git add -A -- data\.tdvc\n/, 'only the pointer changed');
    assert.equal(readFileSync(join(root, 'data', 'renamed', 'c.txt'), 'utf8'), 'gamma');
    assert.equal(existsSync(join(root, 'data', 'sub')), false);
    const after = readFileSync(join(root, 'data.tdvc'), 'utf8');
    assert.notEqual(after, before);
    assert.match(after, /^files: 4$/m);
    const listed = JSON.parse((await ok(root, ['ls', 'data', '--json'])).stdout).map((f: { path: string }) => f.path);
    assert.deepEqual(listed, ['data/a.txt', 'data/renamed/b.txt', 'data/renamed/c.txt', 'data/z.txt']);
    // a file into an existing folder, and to a new folder
    await ok(root, ['move', 'data/a.txt', 'data/renamed']);
    await ok(root, ['move', 'data/z.txt', 'data/deep/er/z2.txt']);
    assert.equal(readFileSync(join(root, 'data', 'deep', 'er', 'z2.txt'), 'utf8'), 'zeta');
    // the first command after the moves
    const pointer = readFileSync(join(root, 'data.tdvc'), 'utf8');
    const again = JSON.parse((await ok(root, ['add', 'data', '--json'])).stdout).added[0];
    assert.equal(again.changed, false, 'the edited tree is exactly the tree of the moved files');
    assert.equal(again.hashed, 0, 'no moved file was read again');
    assert.equal(readFileSync(join(root, 'data.tdvc'), 'utf8'), pointer);
    const st = JSON.parse((await ok(root, ['status', '--json'])).stdout);
    assert.equal(st.clean, true, JSON.stringify(st));
  } finally {
    cleanup();
  }
});

test('move inside a folder dataset: out of the dataset, onto a recorded file or under one, into itself, a missing path and a link on the way are refused', async () => {
  const { root, cleanup } = await repoWithData();
  const out = tempDir('tdvc-outside-');
  try {
    symlinkSync(out.path, join(root, 'data', 'escape'));
    await refused(root, ['move', 'data/a.txt', 'elsewhere.txt'], /moves only within it/, 'EBADPATH');
    await refused(root, ['move', 'data/a.txt', 'data/sub/b.txt'], /data\/sub\/b\.txt/, 'EEXISTS');
    // recorded there, even when the workspace lacks it
    rmSync(join(root, 'data', 'sub', 'b.txt'));
    await refused(root, ['move', 'data/a.txt', 'data/sub/b.txt'], /records a file there/, 'EEXISTS');
    await refused(root, ['move', 'data/sub', 'data/a.txt/x'], /data\/a\.txt is a file/, 'EEXISTS');
    await refused(root, ['move', 'data/sub', 'data/sub/deeper'], /inside data\/sub itself/, 'EBADPATH');
    await refused(root, ['move', 'data/missing', 'data/x'], /data\/missing/, 'ENOTTRACKED');
    await refused(root, ['move', 'data/a.txt', 'data/escape'], /escape/, 'ESYMLINK');
    await refused(root, ['move', 'data/a.txt', 'data/escape/a.txt'], /escape/, 'ESYMLINK');
    await refused(root, ['move', 'data/a.txt', join(out.path, 'a.txt')], /outside the repository/, 'EOUTSIDE', 2);
    assert.deepEqual(snapshot(out.path), new Map(), 'nothing was written outside');
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('move with cache.type symlink: links are renamed, not followed, and status stays clean', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    await ok(root, ['config', 'cache.type', 'symlink']);
    writeTree(root, { 'data/a.txt': 'alpha', 'data/sub/b.txt': 'beta', 'm.bin': 'weights' });
    await ok(root, ['add', 'data', 'm.bin']);
    assert.ok(lstatSync(join(root, 'm.bin')).isSymbolicLink());
    await ok(root, ['move', 'm.bin', 'models/m.bin']);
    assert.ok(lstatSync(join(root, 'models', 'm.bin')).isSymbolicLink());
    await ok(root, ['move', 'data/a.txt', 'data/sub/a.txt']);
    await ok(root, ['move', 'data', 'sets/data']);
    assert.equal(readFileSync(join(root, 'sets', 'data', 'sub', 'a.txt'), 'utf8'), 'alpha');
    assert.equal(readFileSync(objectPath(root, 'alpha'), 'utf8'), 'alpha', 'the cache object is untouched');
    const st = JSON.parse((await ok(root, ['status', '--json'])).stdout);
    assert.equal(st.clean, true, JSON.stringify(st));
  } finally {
    cleanup();
  }
});
