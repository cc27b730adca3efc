// `tdvc cache status`: who uses a cache (from any machine), how much each references, what gc
// would free — and that its "would free" is what gc then frees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hashBytes, parsePointer, type CacheStatus } from '@tdvc/core';
import { git, makeRepo, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')}: ${r.stderr}`);
  return r;
}

async function status(cwd: string, extra: string[] = []): Promise<CacheStatus> {
  return JSON.parse((await ok(cwd, ['cache', 'status', '--json', ...extra])).stdout) as CacheStatus;
}

const objectPath = (cache: string, oid: string): string => join(cache, 'b3v1', oid.slice(0, 2), oid.slice(2));

test('cache status: every workspace with what it references, live writers, stale and hostile records, and what gc would free (which gc then frees)', async () => {
  const shared = tempDir('tdvc-status-cache-');
  const a = await makeRepo();
  const b = await makeRepo();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    for (const r of [a, b]) await ok(r.root, ['cache', 'dir', shared.path]);
    // B: a folder of three files, one of them also A's file
    const bFiles = { 'data/x.txt': 'x'.repeat(1000), 'data/y.txt': 'y'.repeat(300), 'data/common.txt': 'common' };
    writeTree(b.root, bFiles);
    await ok(b.root, ['add', 'data']);
    const bManifest = parsePointer(readFileSync(join(b.root, 'data.tdvc'), 'utf8'), 'data.tdvc').oid;
    git(b.root, 'add', '-A');
    git(b.root, 'commit', '-qm', 'data');
    // A: one file shared with B, and one added then dropped (unreferenced: gc would free it)
    writeTree(a.root, { 'common.txt': 'common', 'junk.bin': 'j'.repeat(5000) });
    await ok(a.root, ['add', 'common.txt']);
    await ok(a.root, ['add', 'junk.bin']);
    rmSync(join(a.root, 'junk.bin.tdvc'));
    const junk = hashBytes(Buffer.from('j'.repeat(5000)));

    const st = await status(a.root, ['--grace', '0']);
    assert.equal(st.cacheDir, shared.path);
    assert.equal(st.objects, 5, 'x, y, common, B manifest, junk');
    const me = st.workspaces.find((w) => w.current)!;
    assert.equal(me.root, a.root);
    assert.equal(me.versions, 1, "A's working tree now has one pointer file");
    assert.equal(me.objects, 1);
    assert.equal(me.bytes, 'common'.length);
    const other = st.workspaces.find((w) => w.root === b.root)!;
    assert.ok(other && !other.current, `B listed: ${JSON.stringify(st.workspaces)}`);
    assert.equal(other.host, hostname());
    assert.equal(other.versions, 1, 'working tree and HEAD hold the same version');
    assert.equal(other.objects, 4, 'three files and their list');
    const manifestSize = statSync(objectPath(shared.path, bManifest)).size;
    assert.equal(other.bytes, 1000 + 300 + 'common'.length + manifestSize);
    assert.equal(other.stale, false);
    assert.deepEqual(st.gcWouldFree, { objects: 1, bytes: 5000, keptRecent: 0, keptRecentBytes: 0, graceMs: 0 });
    // with the default grace period the fresh junk is only "newer than the grace period"
    const st1h = await status(a.root);
    assert.deepEqual(st1h.gcWouldFree, { objects: 0, bytes: 0, keptRecent: 1, keptRecentBytes: 5000, graceMs: 3600_000 });

    // the text form: both workspaces, and the figure
    const text = (await ok(a.root, ['cache', 'status', '--grace', '0'])).stdout;
    assert.match(text, new RegExp(`${b.root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(text, /would free 1 object\(s\), 4\.9 KiB/);

    // what status said gc would free is what gc frees
    const gcRes = JSON.parse((await ok(a.root, ['gc', '--workspace', '--all-branches', '--all-tags', '--force', '--grace', '0', '--json'])).stdout) as { removed: Array<{ oid: string }> };
    assert.deepEqual(gcRes.removed.map((r) => r.oid), [junk]);
    assert.equal((await status(a.root, ['--grace', '0'])).gcWouldFree?.objects, 0);

    // a record written by someone else: control characters in its text never reach the terminal;
    // one not refreshed for 31 days is marked stale
    const evilId = 'abcdefabcdefabcd';
    const evil = join(shared.path, 'workspaces', `${evilId}.json`);
    writeFileSync(evil, JSON.stringify({ format: 1, id: evilId, host: 'h\u001b]0;pwned\u0007', user: 'u\r\n', root: '/x', lastSeen: 'then', roots: { dirs: [], files: [] }, commits: {} }));
    const old = Date.now() / 1000 - 31 * 86400;
    utimesSync(evil, old, old);
    const st2 = await status(a.root);
    const e = st2.workspaces.find((w) => w.id === evilId)!;
    assert.equal(e.stale, true);
    assert.ok(!/[\u0000-\u001f]/.test(e.host + e.user), `sanitised: ${JSON.stringify(e)}`);
    const text2 = (await ok(a.root, ['cache', 'status'])).stdout;
    assert.ok(!/[\u0000-\u0009\u000b-\u001f]/.test(text2), 'no control characters in the text output');
    assert.match(text2, /not seen for over 30 days/);

    // a writer running now (a live process holding a writer lock) is shown
    mkdirSync(join(shared.path, 'locks'), { recursive: true });
    writeFileSync(
      join(shared.path, 'locks', `w-${hostname()}-${sleeper.pid}-abcdef000001.json`),
      JSON.stringify({ owner: 'carol', host: hostname(), pid: sleeper.pid, startedAt: new Date().toISOString(), purpose: 'add data' }),
    );
    const st3 = await status(a.root);
    assert.deepEqual(st3.writers.map((w) => `${w.owner} ${w.purpose}`), ['carol add data']);
    assert.match((await ok(a.root, ['cache', 'status'])).stdout, /writing now: add data by carol@/);

    // a registered project gc can neither open nor match to a record: status says gc would refuse
    const ghostRoot = join(shared.path, 'no-such-project');
    writeFileSync(
      join(shared.path, 'projects', '0123456789abcdef.json'),
      JSON.stringify({ id: '0123456789abcdef', root: ghostRoot, host: 'elsewhere', registeredAt: new Date().toISOString() }),
    );
    const st4 = await status(a.root);
    assert.equal(st4.gcWouldFree, undefined);
    assert.match(st4.gcRefusal ?? '', /cannot see 1 project/);
    assert.match((await ok(a.root, ['cache', 'status'])).stdout, /gc would refuse: .*cannot see 1 project/);
  } finally {
    sleeper.kill('SIGKILL');
    a.cleanup();
    b.cleanup();
    shared.cleanup();
  }
});
