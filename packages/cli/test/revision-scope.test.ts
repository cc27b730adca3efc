// push, fetch and `status -r` beyond the working tree (--rev, --all-branches, --all-tags,
// --all-commits), with real git and a local folder remote: filling a new remote with every tagged
// version, checking that one holds what a tag needs, fetching an old version into a fresh clone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertOneClearError, git, makeRepo, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Every object id under a cache or folder remote. */
function objectsIn(dir: string): Set<string> {
  const out = new Set<string>();
  if (!existsSync(join(dir, 'b3v1'))) return out;
  for (const fan of readdirSync(join(dir, 'b3v1'))) for (const n of readdirSync(join(dir, 'b3v1', fan))) if (!n.startsWith('.')) out.add(fan + n);
  return out;
}

/** The file objects of a revision's datasets (`tdvc ls -l --json`). */
async function fileOids(root: string, rev: string, path?: string): Promise<string[]> {
  const r = await ok(root, ['ls', '--rev', rev, '--json', ...(path ? [path] : [])]);
  const rows = JSON.parse(r.stdout) as Array<{ oid: string }>;
  return rows.map((f) => f.oid);
}

test('push, fetch and status -r cover --rev, --all-tags, --all-branches and --all-commits; a path tracked only at some revisions; bad uses get one clear error', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-remote-');
  const clone = tempDir('tdvc-clone-');
  try {
    await ok(root, ['remote', 'add', '-d', 'store', store.path]);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'remote');
    // v1 (tagged): data and a dataset that later goes away
    writeTree(root, { 'data/a.txt': 'A1\n', 'data/sub/b.txt': 'B1\n', 'old/x.txt': 'X\n' });
    await ok(root, ['add', 'data', 'old']);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v1');
    git(root, 'tag', 'v1');
    // a branch with its own version
    git(root, 'checkout', '-qb', 'side');
    writeTree(root, { 'data/side.txt': 'S\n' });
    await ok(root, ['add', 'data']);
    git(root, 'commit', '-qam', 'side');
    git(root, 'checkout', '-q', 'main');
    await ok(root, ['checkout']);
    // v2 on main (the working tree): old/ untracked, data changed
    rmSync(join(root, 'old.tdvc'));
    writeTree(root, { 'data/a.txt': 'A2\n' });
    await ok(root, ['add', 'data']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v2');

    const v1 = await fileOids(root, 'v1');
    const v2 = await fileOids(root, 'HEAD');
    const side = await fileOids(root, 'side');
    const onlyV1 = v1.filter((o) => !v2.includes(o));
    const onlySide = side.filter((o) => !v2.includes(o) && !v1.includes(o));
    assert.ok(onlyV1.length >= 2 && onlySide.length === 1, `${onlyV1.length} ${onlySide.length}`);

    // --rev alone: that version, not the working tree's
    await ok(root, ['push', '--rev', 'v1']);
    let remote = objectsIn(store.path);
    for (const o of v1) assert.ok(remote.has(o), `v1 object ${o} pushed`);
    assert.ok(!remote.has(v2.find((o) => !v1.includes(o))!), 'the working tree is not pushed with --rev');

    // status -r: per version, named by revision
    const tags = JSON.parse((await ok(root, ['status', '-r', '--all-tags', '--json'])).stdout) as { datasets: Array<{ path: string; rev?: string; notPushed: string[] }> };
    const seen = tags.datasets.map((d) => `${d.path}@${d.rev ?? 'workspace'}:${d.notPushed.length}`).sort();
    // v1's data and old are on the remote; the working tree's data lacks its changed file
    assert.deepEqual(seen, ['data@v1:0', 'data@workspace:1', 'old@v1:0'], JSON.stringify(tags));
    const branches = await ok(root, ['status', '-r', '--all-branches']);
    assert.match(branches.stdout, /^data at side: 1 file\(s\) not pushed to store/m, branches.stdout);
    assert.match(branches.stdout, /^data: 1 file\(s\) not pushed to store/m, 'main is the working tree: listed once, as the working tree');

    // --all-branches: the working tree and every branch tip
    await ok(root, ['push', '--all-branches']);
    remote = objectsIn(store.path);
    for (const o of [...v1, ...v2, ...side]) assert.ok(remote.has(o), `object ${o} pushed`);
    const clean = await ok(root, ['status', '-r', '--all-commits']);
    assert.match(clean.stdout, /are in sync/);

    // a fresh clone fetches an old version only
    git(clone.path, 'clone', '-q', root, 'c');
    const c = join(clone.path, 'c');
    await ok(c, ['fetch', '--rev', 'v1', 'old']);
    const cache = objectsIn(join(c, '.tdvc', 'cache'));
    const oldOids = await fileOids(root, 'v1', 'old');
    assert.equal(oldOids.length, 1);
    assert.ok(cache.has(oldOids[0]!), 'old/ at v1 fetched');
    for (const o of [...v1, ...v2].filter((x) => !oldOids.includes(x))) assert.ok(!cache.has(o), 'nothing else fetched');
    // every commit of the local branches and tags (as gc counts them): side becomes one here
    git(c, 'branch', '-q', 'side', 'origin/side');
    await ok(c, ['fetch', '--all-commits']);
    const all = objectsIn(join(c, '.tdvc', 'cache'));
    for (const o of [...v1, ...v2, ...side]) assert.ok(all.has(o), `object ${o} fetched`);
    await ok(c, ['checkout', 'v1', '--', 'old']);

    // a path tracked at one revision only: fine with a scope that holds it, an error without
    await ok(root, ['push', 'old', '--all-commits']);
    assertOneClearError(await tdvc(root, ['push', 'old']), /old/, /not tracked/);
    assertOneClearError(await tdvc(root, ['push', 'nowhere', '--all-commits']), /nowhere/, /not tracked .* any of the versions/);
    assertOneClearError(await tdvc(root, ['push', '--rev', 'no-such-rev']), /no-such-rev/);
    const misuse = await tdvc(root, ['status', '--rev', 'v1']);
    assert.equal(misuse.code, 2);
    assertOneClearError(misuse, /--remote/);
  } finally {
    cleanup();
    store.cleanup();
    clone.cleanup();
  }
});
