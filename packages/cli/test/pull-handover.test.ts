// `pull` on a workspace that cannot share blocks with the cache (here forced with cache.type copy)
// moves a large downloaded object into the workspace instead of copying it. These tests check
// that the workspace file then serves as the local copy (status, fetch, push, status -r), goes
// back into the cache when a checkout replaces it, and is protected like any change once edited.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeRepo, tdvc, tempDir } from './helpers.js';

const BIG = (64 << 20) + 4096;

function objectPath(repo: string, oid: string): string {
  return join(repo, '.tdvc', 'cache', 'b3v1', oid.slice(0, 2), oid.slice(2));
}

function pointerOid(repo: string, pointer: string): string {
  const m = /hash: blake3:([0-9a-f]{64})/.exec(readFileSync(join(repo, pointer), 'utf8'));
  assert.ok(m, `no oid in ${pointer}`);
  return m[1]!;
}

async function ok(cwd: string, args: string[]): Promise<string> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A repository with `files` added, pushed to a folder remote and committed; and a clone that pulls with copies only. */
async function publishedAndCloned(files: Record<string, Buffer>, add: string[]): Promise<{ origin: string; clone: string; remote: string; cleanup: () => void }> {
  const { root, cleanup } = await makeRepo();
  const remote = tempDir('tdvc-remote-');
  const clones = tempDir('tdvc-clone-');
  for (const [rel, data] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), data);
  }
  for (const p of add) await ok(root, ['add', p]);
  await ok(root, ['remote', 'add', '-d', 'r', remote.path]);
  await ok(root, ['push']);
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'v1');
  const clone = join(clones.path, 'c');
  git(clones.path, 'clone', '-q', root, 'c');
  await ok(clone, ['config', 'cache.type', 'copy']);
  return {
    origin: root,
    clone,
    remote: remote.path,
    cleanup: () => (cleanup(), remote.cleanup(), clones.cleanup()),
  };
}

/** The origin commits a new version of big.bin (pushed), and the clone's Git checkout follows (no tdvc). */
async function commitNewVersion(w: { origin: string; clone: string }, data: Buffer | string): Promise<void> {
  writeFileSync(join(w.origin, 'big.bin'), data);
  await ok(w.origin, ['add', 'big.bin']);
  await ok(w.origin, ['push']);
  git(w.origin, 'commit', '-qam', 'new version');
  git(w.clone, 'pull', '-q');
}

test('pull moves a large downloaded file into place instead of copying it; the file then counts as the local copy', async () => {
  const data = randomBytes(BIG);
  const small = randomBytes(1000);
  const w = await publishedAndCloned({ 'big.bin': data, 'set/small': small }, ['big.bin', 'set']);
  const second = tempDir('tdvc-remote2-');
  try {
    const out = await ok(w.clone, ['pull']);
    assert.match(out, /1 large file\(s\) moved into the workspace/);
    const oid = pointerOid(w.clone, 'big.bin.tdvc');
    assert.deepEqual(readFileSync(join(w.clone, 'big.bin')), data);
    assert.equal(existsSync(objectPath(w.clone, oid)), false, 'the object left the cache: one copy on disk');
    const st = statSync(join(w.clone, 'big.bin'));
    assert.equal(st.mode & 0o777, 0o644, 'a normal writable workspace file');
    assert.equal(st.nlink, 1);
    // small files are copied as usual
    assert.deepEqual(readFileSync(join(w.clone, 'set/small')), small);

    const status = JSON.parse(await ok(w.clone, ['status', '--json'])) as { clean: boolean; datasets: Array<{ notInCache: string[] }> };
    assert.equal(status.clean, true);
    for (const d of status.datasets) assert.deepEqual(d.notInCache, []);
    const fetched = JSON.parse(await ok(w.clone, ['fetch', '--json'])) as { transferred: number; skipped: number };
    assert.equal(fetched.transferred, 0, 'fetch does not download what the workspace holds');
    assert.match(await ok(w.clone, ['status', '-r', 'r']), /in sync/);

    // pushing to another remote first copies the file into the cache, hashed as it is read
    await ok(w.clone, ['remote', 'add', 'other', second.path]);
    const pushed = JSON.parse(await ok(w.clone, ['push', '-r', 'other', '--json'])) as { transferred: number; failed: unknown[] };
    assert.deepEqual(pushed.failed, []);
    assert.deepEqual(readFileSync(join(second.path, 'b3v1', oid.slice(0, 2), oid.slice(2))), data);
    assert.deepEqual(readFileSync(objectPath(w.clone, oid)), data);
    assert.deepEqual(readFileSync(join(w.clone, 'big.bin')), data);
  } finally {
    w.cleanup();
    second.cleanup();
  }
});

test('a checkout that replaces a held file renames it back into the cache; an edited one is protected as a change', async () => {
  const v1 = randomBytes(BIG);
  const v2 = randomBytes(BIG);
  const w = await publishedAndCloned({ 'big.bin': v1 }, ['big.bin']);
  try {
    await ok(w.clone, ['pull']);
    const oid1 = pointerOid(w.clone, 'big.bin.tdvc');
    const ino1 = statSync(join(w.clone, 'big.bin')).ino;

    await commitNewVersion(w, v2);
    await ok(w.clone, ['pull']);
    assert.deepEqual(readFileSync(join(w.clone, 'big.bin')), v2);
    const cached1 = objectPath(w.clone, oid1);
    assert.equal(statSync(cached1).ino, ino1, 'v1 went back into the cache by rename, not by a copy');
    assert.equal(statSync(cached1).mode & 0o777, 0o444);
    assert.deepEqual(readFileSync(cached1), v1);

    // back to v1 (a checkout: no remote involved), and v2 goes into the cache in turn
    git(w.clone, 'checkout', '-q', 'HEAD~1', '--', 'big.bin.tdvc');
    await ok(w.clone, ['checkout']);
    assert.deepEqual(readFileSync(join(w.clone, 'big.bin')), v1);
    const oid2 = pointerOid(w.origin, 'big.bin.tdvc');
    assert.deepEqual(readFileSync(objectPath(w.clone, oid2)), v2);

    assert.deepEqual(readdirSync(join(w.clone, '.tdvc', 'tmp', 'held')), []);

    // only objects this pull downloaded are moved: v2 is in the cache now and stays there
    git(w.clone, 'checkout', '-q', 'HEAD', '--', 'big.bin.tdvc');
    assert.doesNotMatch(await ok(w.clone, ['pull']), /moved into the workspace/);
    assert.deepEqual(readFileSync(join(w.clone, 'big.bin')), v2);
    assert.deepEqual(readFileSync(objectPath(w.clone, oid2)), v2);
  } finally {
    w.cleanup();
  }
});

test('an edited held file is a change: checkout refuses to overwrite it and nothing reaches the cache', async () => {
  const v1 = randomBytes(BIG);
  const w = await publishedAndCloned({ 'big.bin': v1 }, ['big.bin']);
  try {
    await ok(w.clone, ['pull']);
    const oid1 = pointerOid(w.clone, 'big.bin.tdvc');
    await commitNewVersion(w, 'v2');
    await ok(w.clone, ['fetch']);

    appendFileSync(join(w.clone, 'big.bin'), 'edit');
    const refused = await tdvc(w.clone, ['checkout']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /would discard changes[\s\S]*big\.bin/);
    assert.equal(existsSync(objectPath(w.clone, oid1)), false, 'the edited file did not enter the cache as the old object');
    git(w.clone, 'checkout', '-q', 'HEAD~1', '--', 'big.bin.tdvc');
    const status = JSON.parse(await ok(w.clone, ['status', '--json'])) as { datasets: Array<{ modified: string[]; notInCache: string[] }> };
    assert.deepEqual(status.datasets[0]!.modified, ['big.bin']);
    assert.deepEqual(status.datasets[0]!.notInCache, ['big.bin'], 'the edited file no longer stands for v1');
    git(w.clone, 'checkout', '-q', 'HEAD', '--', 'big.bin.tdvc');

    await ok(w.clone, ['checkout', '--force']);
    assert.equal(readFileSync(join(w.clone, 'big.bin'), 'utf8'), 'v2');
    // the old version is gone locally, but the remote still has it
    git(w.clone, 'checkout', '-q', 'HEAD~1', '--', 'big.bin.tdvc');
    await ok(w.clone, ['pull']);
    assert.deepEqual(readFileSync(join(w.clone, 'big.bin')), v1);
  } finally {
    w.cleanup();
  }
});

test('the cache keeps its copy when two files need the object, or pull.move_large_files is false', async () => {
  const data = randomBytes(BIG);
  const other = randomBytes(BIG);
  const w = await publishedAndCloned({ 'set/a.bin': data, 'set/b.bin': data, 'one.bin': other }, ['set', 'one.bin']);
  try {
    await ok(w.clone, ['config', 'pull.move_large_files', 'false']);
    const out = await ok(w.clone, ['pull']);
    assert.doesNotMatch(out, /moved into the workspace/);
    const oid = pointerOid(w.clone, 'one.bin.tdvc');
    assert.deepEqual(readFileSync(objectPath(w.clone, oid)), other);

    await ok(w.clone, ['config', 'pull.move_large_files', 'true']);
    const fresh = join(w.clone, '..', 'd');
    git(join(w.clone, '..'), 'clone', '-q', w.origin, 'd');
    await ok(fresh, ['config', 'cache.type', 'copy']);
    assert.match(await ok(fresh, ['pull']), /1 large file\(s\) moved/, 'one.bin moved; set/a.bin and set/b.bin share an object and are copied');
    assert.deepEqual(readFileSync(join(fresh, 'set/a.bin')), data);
    assert.deepEqual(readFileSync(join(fresh, 'set/b.bin')), data);
    assert.equal(existsSync(objectPath(fresh, oid)), false);
  } finally {
    w.cleanup();
  }
});

test('a held object wanted by another dataset is copied into the cache from the file, which stays', async () => {
  const data = randomBytes(BIG);
  const w = await publishedAndCloned({ 'big.bin': data, 'copy/big.bin': data }, ['big.bin', 'copy']);
  try {
    assert.match(await ok(w.clone, ['pull', 'big.bin']), /1 large file\(s\) moved/);
    const oid = pointerOid(w.clone, 'big.bin.tdvc');
    const ino = statSync(join(w.clone, 'big.bin')).ino;
    const pulled = JSON.parse(await ok(w.clone, ['pull', 'copy', '--json'])) as { transferred: number };
    assert.equal(pulled.transferred, 1, 'only the manifest of copy/ is downloaded; the file comes from big.bin');
    assert.deepEqual(readFileSync(join(w.clone, 'copy/big.bin')), data);
    assert.equal(statSync(join(w.clone, 'big.bin')).ino, ino, 'big.bin stays where it is');
    assert.deepEqual(readFileSync(objectPath(w.clone, oid)), data);
    assert.deepEqual(readdirSync(join(w.clone, '.tdvc', 'tmp', 'held')), [], 'the cache holds it again: no record left');
  } finally {
    w.cleanup();
  }
});

test('an edit that keeps the size and puts the mtime back is caught by the ctime: not taken into the cache as the object', async () => {
  const v1 = randomBytes(BIG);
  const w = await publishedAndCloned({ 'big.bin': v1 }, ['big.bin']);
  try {
    await ok(w.clone, ['pull']);
    const oid1 = pointerOid(w.clone, 'big.bin.tdvc');
    await commitNewVersion(w, 'v2');
    await ok(w.clone, ['fetch']);

    const file = join(w.clone, 'big.bin');
    const ref = join(w.clone, '..', 'times');
    writeFileSync(ref, '');
    execFileSync('touch', ['-r', file, ref]); // keeps the nanoseconds, as tools that restore mtimes do
    const before = statSync(file, { bigint: true });
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from('tampered'), 0, 8, 1000);
    closeSync(fd);
    execFileSync('touch', ['-r', ref, file]);
    const after = statSync(file, { bigint: true });
    assert.deepEqual([after.ino, after.size, after.mtimeNs], [before.ino, before.size, before.mtimeNs], 'only the ctime tells');

    const refused = await tdvc(w.clone, ['checkout']);
    assert.equal(refused.code, 3, refused.stderr);
    assert.match(refused.stderr, /would discard changes[\s\S]*big\.bin/);
    assert.equal(existsSync(objectPath(w.clone, oid1)), false);
  } finally {
    w.cleanup();
  }
});
