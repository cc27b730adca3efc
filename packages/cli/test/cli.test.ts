import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeRepo, tdvc, tempDir, writeTree } from './helpers.js';

test('add, commit, modify, checkout restores; status reports each kind of change', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'alpha', 'data/sub/b.txt': 'beta', 'data/c.txt': 'gamma' });
    const added = await tdvc(root, ['add', 'data']);
    assert.equal(added.code, 0, added.stderr);
    assert.match(readFileSync(join(root, 'data.tdvc'), 'utf8'), /^type: dir$/m);
    assert.match(readFileSync(join(root, '.gitignore'), 'utf8'), /^\/data$/m);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v1');
    assert.equal(git(root, 'status', '--porcelain'), '', 'data is git-ignored and everything else committed');

    writeFileSync(join(root, 'data/a.txt'), 'ALPHA');
    rmSync(join(root, 'data/c.txt'));
    writeFileSync(join(root, 'data/new.txt'), 'new');
    const st = await tdvc(root, ['status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const report = JSON.parse(st.stdout) as { clean: boolean; datasets: Array<{ added: string[]; modified: string[]; deleted: string[] }> };
    assert.equal(report.clean, false);
    assert.deepEqual(report.datasets[0]!.added, ['data/new.txt']);
    assert.deepEqual(report.datasets[0]!.modified, ['data/a.txt']);
    assert.deepEqual(report.datasets[0]!.deleted, ['data/c.txt']);

    const refused = await tdvc(root, ['checkout']);
    assert.equal(refused.code, 3, 'refuses to discard changes that are not in the cache');
    assert.match(refused.stderr, /data\/a\.txt/);
    assert.match(refused.stderr, /data\/new\.txt/);
    assert.equal(readFileSync(join(root, 'data/a.txt'), 'utf8'), 'ALPHA', 'nothing was touched');

    const forced = await tdvc(root, ['checkout', '--force']);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(join(root, 'data/a.txt'), 'utf8'), 'alpha');
    assert.equal(readFileSync(join(root, 'data/c.txt'), 'utf8'), 'gamma');
    assert.equal(existsSync(join(root, 'data/new.txt')), false);
    const clean = JSON.parse((await tdvc(root, ['status', '--json'])).stdout) as { clean: boolean };
    assert.equal(clean.clean, true);
  } finally {
    cleanup();
  }
});

test('checkout of an older commit brings back the older data; no-force checkout is allowed when changes are cached', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/x.csv': '1,2,3\n' });
    await tdvc(root, ['add', 'data']);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v1');
    writeTree(root, { 'data/x.csv': '4,5,6\n', 'data/y.csv': 'y\n' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    git(root, 'commit', '-qam', 'v2');
    git(root, 'checkout', '-q', 'HEAD~1', '--', 'data.tdvc');
    const co = await tdvc(root, ['checkout']);
    assert.equal(co.code, 0, co.stderr);
    assert.equal(readFileSync(join(root, 'data/x.csv'), 'utf8'), '1,2,3\n');
    assert.equal(existsSync(join(root, 'data/y.csv')), false);
    git(root, 'checkout', '-q', 'main', '--', 'data.tdvc');
    assert.equal((await tdvc(root, ['checkout'])).code, 0);
    assert.equal(readFileSync(join(root, 'data/y.csv'), 'utf8'), 'y\n');
  } finally {
    cleanup();
  }
});

test('a single file dataset and a path inside a dataset', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'model.bin': Buffer.alloc(1000, 7), 'd/one/a': 'a', 'd/two/b': 'b' });
    assert.equal((await tdvc(root, ['add', 'model.bin', 'd'])).code, 0);
    rmSync(join(root, 'model.bin'));
    rmSync(join(root, 'd/one/a'));
    rmSync(join(root, 'd/two/b'));
    const co = await tdvc(root, ['checkout', 'd/one']);
    assert.equal(co.code, 0, co.stderr);
    assert.equal(readFileSync(join(root, 'd/one/a'), 'utf8'), 'a');
    assert.equal(existsSync(join(root, 'd/two/b')), false, 'only the named path was checked out');
    assert.equal(existsSync(join(root, 'model.bin')), false);
    assert.equal((await tdvc(root, ['checkout', 'model.bin.tdvc'])).code, 0);
    assert.deepEqual(readFileSync(join(root, 'model.bin')), Buffer.alloc(1000, 7));
  } finally {
    cleanup();
  }
});

test('push to a local folder remote, clone elsewhere, pull', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  const clone = tempDir('tdvc-clone-');
  try {
    writeTree(root, { 'data/a': 'A', 'data/b/c': 'C' });
    await tdvc(root, ['add', 'data']);
    assert.equal((await tdvc(root, ['remote', 'add', '-d', 'local', store.path])).code, 0);
    const pushed = await tdvc(root, ['push', '--json']);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal((JSON.parse(pushed.stdout) as { transferred: number }).transferred, 3);
    assert.ok(readdirSync(join(store.path, 'b3v1')).length > 0);
    const again = JSON.parse((await tdvc(root, ['push', '--json'])).stdout) as { transferred: number; skipped: number };
    assert.equal(again.transferred, 0);
    assert.equal(again.skipped, 3);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'data');
    git(clone.path, 'clone', '-q', root, 'c');
    const c = join(clone.path, 'c');
    const pulled = await tdvc(c, ['pull']);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(readFileSync(join(c, 'data/b/c'), 'utf8'), 'C');
  } finally {
    cleanup();
    store.cleanup();
    clone.cleanup();
  }
});
