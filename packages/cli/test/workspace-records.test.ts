import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes, parsePointer } from '@tdvc/core';
import { git, makeRepo, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')}: ${r.stderr}`);
  return r;
}

const oidOf = (s: string): string => hashBytes(Buffer.from(s));
const objectThere = (cache: string, oid: string): boolean => existsSync(join(cache, 'b3v1', oid.slice(0, 2), oid.slice(2)));

test('gc keeps what another workspace references through its published record, without opening it: uncommitted data, other branches; stale records are reported, forgotten ones freed', async () => {
  const shared = tempDir('tdvc-shared-cache-');
  const a = await makeRepo();
  const b = await makeRepo();
  const away = tempDir('tdvc-elsewhere-');
  try {
    for (const r of [a, b]) await ok(r.root, ['cache', 'dir', shared.path]);
    writeTree(a.root, { 'a.txt': 'A' });
    await ok(a.root, ['add', 'a.txt']);
    // B: v1 committed on a branch that is not checked out, v2 only in the working tree
    git(b.root, 'add', '-A');
    git(b.root, 'commit', '-qm', 'init: tdvc config with the shared cache');
    git(b.root, 'checkout', '-qb', 'exp');
    writeTree(b.root, { 'data/f.txt': 'B v1' });
    await ok(b.root, ['add', 'data']);
    const v1 = parsePointer(readFileSync(join(b.root, 'data.tdvc'), 'utf8'), 'data.tdvc').oid;
    git(b.root, 'add', '-A');
    git(b.root, 'commit', '-qm', 'v1');
    git(b.root, 'checkout', '-q', 'main');
    writeTree(b.root, { 'data/f.txt': 'B v2' });
    await ok(b.root, ['add', 'data']);
    const recordName = readdirSync(join(shared.path, 'workspaces')).find(
      (n) => (JSON.parse(readFileSync(join(shared.path, 'workspaces', n), 'utf8')) as { root: string }).root === b.root,
    );
    assert.ok(recordName, 'B published a record');

    // B's disk is gone from this machine's view (another machine's workspace, or a path that
    // means something else here): gc cannot open it, and must keep its data anyway
    renameSync(b.root, join(away.path, 'b'));
    const gcA = JSON.parse((await ok(a.root, ['gc', '--workspace', '--force', '--grace', '0', '--json'])).stdout) as {
      removed: Array<{ oid: string }>;
      workspaces: Array<{ id: string; root: string }>;
      staleWorkspaces: string[];
    };
    for (const o of [oidOf('B v1'), oidOf('B v2'), v1]) assert.ok(objectThere(shared.path, o), `${o} kept`);
    assert.ok(gcA.workspaces.some((w) => w.root === b.root), 'gc says whose records it kept');
    assert.deepEqual(gcA.staleWorkspaces, []);

    // B comes back: both versions check out from the shared cache, no remote needed
    renameSync(join(away.path, 'b'), b.root);
    await ok(b.root, ['checkout', '--force']);
    assert.equal(readFileSync(join(b.root, 'data/f.txt'), 'utf8'), 'B v2');
    await ok(b.root, ['checkout', '--rev', 'exp', '--', 'data']);
    assert.equal(readFileSync(join(b.root, 'data/f.txt'), 'utf8'), 'B v1');

    // a record not refreshed for 40 days is reported, and its data still kept
    renameSync(b.root, join(away.path, 'b'));
    const rec = join(shared.path, 'workspaces', recordName);
    const old = new Date(Date.now() - 40 * 24 * 3600_000);
    utimesSync(rec, old, old);
    const stale = await ok(a.root, ['gc', '--workspace', '--force', '--grace', '0']);
    assert.match(stale.stdout, new RegExp(`workspace ${recordName.slice(0, 16)} .*last seen`));
    assert.ok(objectThere(shared.path, oidOf('B v1')));

    // forgotten on purpose: its data goes (the registration of its old path is forgotten too)
    const bad = await tdvc(a.root, ['gc', '--forget-workspace', '../x']);
    assert.equal(bad.code, 2, bad.stderr);
    await ok(a.root, ['gc', '--forget-workspace', recordName.slice(0, 16)]);
    const projectIds = readdirSync(join(shared.path, 'projects')).map((n) => n.slice(0, 16));
    for (const id of projectIds) await tdvc(a.root, ['gc', '--forget-project', id]);
    await ok(a.root, ['gc', '--workspace', '--force', '--grace', '0']);
    assert.equal(objectThere(shared.path, oidOf('B v1')), false, "a forgotten workspace's data is freed");
    assert.ok(objectThere(shared.path, oidOf('A')), "the caller's own data stays");
  } finally {
    a.cleanup();
    b.cleanup();
    away.cleanup();
    shared.cleanup();
  }
});
