// `tdvc gc` end to end with the real `git` binary: explicit scopes (workspace, branches, tags, all
// commits), dry-run by default, several projects sharing one cache, projects that vanished, the
// gc lock (stale and live holders) and gc of a filesystem remote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { git, makeRepo, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

interface GcJson {
  dryRun: boolean;
  where: string;
  referenced: number;
  removed: Array<{ oid: string; size: number }>;
  bytes: number;
  keptRecent: number;
  projects: string[];
  workspaces: Array<{ id: string; host: string; root: string; lastSeen: string }>;
  staleWorkspaces: string[];
}

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

async function gcJson(cwd: string, args: string[]): Promise<GcJson> {
  const r = await ok(cwd, ['gc', ...args, '--json']);
  return JSON.parse(r.stdout) as GcJson;
}

function commitAll(root: string, msg: string): void {
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', msg);
}

/** Every object id in a cache or remote folder (b3v1/xx/yyyy…), temp files excluded. */
function objectsIn(dir: string): Set<string> {
  const out = new Set<string>();
  const base = join(dir, 'b3v1');
  if (!existsSync(base)) return out;
  for (const fan of readdirSync(base)) {
    for (const n of readdirSync(join(base, fan))) if (!n.startsWith('.')) out.add(fan + n);
  }
  return out;
}

/** The object id a pointer file names (`hash: blake3:<hex>`). */
function pointerOid(root: string, rel: string): string {
  const m = /^hash: blake3:([0-9a-f]{64})$/m.exec(readFileSync(join(root, rel), 'utf8'));
  assert.ok(m, `no hash in ${rel}`);
  return m[1]!;
}

const oidOf = (content: string): string => hashBytes(Buffer.from(content));
const cacheOf = (root: string): string => join(root, '.tdvc', 'cache');
const oids = (r: GcJson): string[] => r.removed.map((x) => x.oid);

test('gc without a scope is a usage error and deletes nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a': 'a' });
    await ok(root, ['add', 'data']);
    const before = objectsIn(cacheOf(root));
    for (const args of [['gc'], ['gc', '--force'], ['gc', '--force', '--grace', '0']]) {
      const r = await tdvc(root, args);
      assert.equal(r.code, 2, `${args.join(' ')} must be a usage error: ${r.stderr}`);
      assert.match(r.stderr, /scope/);
    }
    assert.deepEqual(objectsIn(cacheOf(root)), before);
  } finally {
    cleanup();
  }
});

test('data only on another branch: listed by a dry run, kept by --all-branches, removed by --workspace --force', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'on main', 'data/shared.txt': 'everywhere' });
    await ok(root, ['add', 'data']);
    commitAll(root, 'main v1');
    const mainManifest = pointerOid(root, 'data.tdvc');
    git(root, 'checkout', '-qb', 'feature');
    writeTree(root, { 'data/feature-only.txt': 'only on the feature branch' });
    await ok(root, ['add', 'data']);
    commitAll(root, 'feature');
    const featureManifest = pointerOid(root, 'data.tdvc');
    git(root, 'checkout', '-q', 'main');
    await ok(root, ['checkout', '--force']);
    assert.equal(existsSync(join(root, 'data/feature-only.txt')), false);

    const featureOnly = [oidOf('only on the feature branch'), featureManifest].sort();
    const cache = cacheOf(root);
    const before = objectsIn(cache);
    for (const o of [...featureOnly, mainManifest, oidOf('on main'), oidOf('everywhere')]) assert.ok(before.has(o), `${o} is in the cache`);

    // the default grace period protects objects written a moment ago
    const graced = await gcJson(root, ['--workspace', '--force']);
    assert.deepEqual(graced.removed, []);
    assert.equal(graced.keptRecent, 2);
    assert.deepEqual(objectsIn(cache), before);

    // dry run (the default, and -n even with --force): reports, deletes nothing
    const dry = await ok(root, ['gc', '--workspace', '--grace', '0']);
    for (const o of featureOnly) assert.match(dry.stdout, new RegExp(`would remove ${o}`));
    assert.match(dry.stdout, /would remove 2 object\(s\)/);
    assert.match(dry.stdout, /nothing was deleted/);
    const dryJson = await gcJson(root, ['--workspace', '--grace', '0', '--force', '--dry-run']);
    assert.equal(dryJson.dryRun, true);
    assert.deepEqual(oids(dryJson), featureOnly);
    assert.deepEqual(objectsIn(cache), before, 'a dry run deletes nothing');

    const branches = await gcJson(root, ['--all-branches', '--force', '--grace', '0']);
    assert.deepEqual(branches.removed, [], 'everything is referenced by some branch tip');
    assert.deepEqual(objectsIn(cache), before);

    const ws = await gcJson(root, ['--workspace', '--force', '--grace', '0']);
    assert.equal(ws.dryRun, false);
    assert.deepEqual(oids(ws), featureOnly);
    const after = objectsIn(cache);
    assert.deepEqual([...after].sort(), [...before].filter((o) => !featureOnly.includes(o)).sort());
    // main's data is untouched and still checks out from the cache
    rmSync(join(root, 'data'), { recursive: true });
    await ok(root, ['checkout']);
    assert.equal(readFileSync(join(root, 'data/a.txt'), 'utf8'), 'on main');
    const st = JSON.parse((await ok(root, ['status', '--json'])).stdout) as { clean: boolean };
    assert.equal(st.clean, true);
    // the feature branch's data is now missing from the cache, and status says so
    git(root, 'checkout', '-q', 'feature');
    const missing = JSON.parse((await ok(root, ['status', '--json'])).stdout) as { datasets: Array<{ state: string }> };
    assert.equal(missing.datasets[0]!.state, 'manifest-missing');
  } finally {
    cleanup();
  }
});

test('--all-commits keeps history, --all-tags keeps tagged versions, --all-branches only tips', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const versions = ['version zero', 'version one (tagged)', 'version two (tip)'];
    const manifests: string[] = [];
    for (const [i, v] of versions.entries()) {
      writeTree(root, { 'data/f.txt': v });
      await ok(root, ['add', 'data']);
      commitAll(root, `v${i}`);
      manifests.push(pointerOid(root, 'data.tdvc'));
      if (i === 1) git(root, 'tag', '-a', 'v1', '-m', 'release one'); // annotated: must be peeled
    }
    const only = versions.map((v, i) => [oidOf(v), manifests[i]!].sort());
    const cache = cacheOf(root);
    const all = objectsIn(cache);
    assert.equal(all.size, 6);

    assert.deepEqual((await gcJson(root, ['--all-commits', '--force', '--grace', '0'])).removed, []);
    assert.equal(objectsIn(cache).size, 6);

    const dryTags = await gcJson(root, ['--all-tags', '--grace', '0']);
    assert.deepEqual(oids(dryTags), only[0]);
    const tags = await gcJson(root, ['--all-tags', '--force', '--grace', '0']);
    assert.deepEqual(oids(tags), only[0], 'only the untagged, non-tip version goes');
    assert.deepEqual([...objectsIn(cache)].sort(), [...only[1]!, ...only[2]!].sort());

    const branches = await gcJson(root, ['--all-branches', '--force', '--grace', '0']);
    assert.deepEqual(oids(branches), only[1]);
    assert.deepEqual([...objectsIn(cache)].sort(), only[2]);
  } finally {
    cleanup();
  }
});

test('two projects share a cache: gc from A keeps what B references; a deleted project makes gc refuse until forgotten', async () => {
  const shared = tempDir('tdvc-shared-cache-');
  const a = await makeRepo();
  const b = await makeRepo();
  const c = await makeRepo();
  try {
    for (const r of [a, b, c]) await ok(r.root, ['cache', 'dir', shared.path]);
    writeTree(a.root, { 'data/x': 'A old' });
    await ok(a.root, ['add', 'data']);
    writeTree(a.root, { 'data/x': 'A new', 'data/common': 'common' });
    await ok(a.root, ['add', 'data']);
    // B's data is only in B's workspace pointer files (never committed)
    writeTree(b.root, { 'set/y': 'B only', 'set/common': 'common' });
    await ok(b.root, ['add', 'set']);
    const bManifest = pointerOid(b.root, 'set.tdvc');
    writeTree(c.root, { 'c.bin': 'C only' });
    await ok(c.root, ['add', 'c.bin']);

    const registered = readdirSync(join(shared.path, 'projects')).filter((n) => n.endsWith('.json'));
    assert.equal(registered.length, 3);

    const res = await gcJson(a.root, ['--workspace', '--force', '--grace', '0']);
    assert.deepEqual([...res.projects].sort(), [a.root, b.root, c.root].sort());
    const aOldManifestGone = res.removed.length;
    assert.ok(oids(res).includes(oidOf('A old')), 'what only A used to reference goes');
    assert.equal(aOldManifestGone, 2, `A's old file and old manifest: ${JSON.stringify(res.removed)}`);
    const left = objectsIn(shared.path);
    for (const o of [oidOf('B only'), oidOf('common'), bManifest, oidOf('C only'), oidOf('A new')]) assert.ok(left.has(o), `${o} kept`);

    // C's folder is deleted: its published record still says what it needs, so gc keeps that
    rmSync(c.root, { recursive: true, force: true });
    writeTree(a.root, { 'data/x': 'A newer' });
    await ok(a.root, ['add', 'data']); // leaves 'A new' + a manifest unreferenced
    const kept = await gcJson(a.root, ['--workspace', '--force', '--grace', '0']);
    assert.ok(!oids(kept).includes(oidOf('C only')), "a gone workspace's data stays while its record does");
    assert.ok(oids(kept).includes(oidOf('A new')));
    assert.ok(kept.workspaces.some((w) => w.root === c.root), 'gc names the workspaces whose records it kept');

    // a project registered by a tdvc that published no record: gc cannot know what it needed, so it
    // refuses (and deletes nothing)
    const records = join(shared.path, 'workspaces');
    const cRecord = readdirSync(records).find((n) => (JSON.parse(readFileSync(join(records, n), 'utf8')) as { root: string }).root === c.root)!;
    rmSync(join(records, cRecord));
    writeTree(a.root, { 'data/x': 'A newest' });
    await ok(a.root, ['add', 'data']); // leaves 'A newer' + a manifest unreferenced
    const before = objectsIn(shared.path);
    const refused = await tdvc(a.root, ['gc', '--workspace', '--force', '--grace', '0']);
    assert.notEqual(refused.code, 0);
    assert.ok(refused.stderr.includes(c.root), `names the project: ${refused.stderr}`);
    const refusedJson = JSON.parse((await tdvc(a.root, ['gc', '--workspace', '--grace', '0', '--json'])).stdout) as {
      error: { code: string; data: { projects: Array<{ id: string; root: string }> } };
    };
    assert.equal(refusedJson.error.code, 'EPROJECTS');
    assert.deepEqual(
      refusedJson.error.data.projects.map((p) => p.root),
      [c.root],
    );
    const id = refusedJson.error.data.projects[0]!.id;
    assert.ok(refused.stderr.includes(id), 'the message shows the id to forget');
    assert.deepEqual(objectsIn(shared.path), before, 'a refused gc deletes nothing');

    const unknown = await tdvc(a.root, ['gc', '--forget-project', '0123456789abcdef']);
    assert.notEqual(unknown.code, 0, 'forgetting an unknown project is an error');
    await ok(a.root, ['gc', '--forget-project', id]);
    const res2 = await gcJson(a.root, ['--workspace', '--force', '--grace', '0']);
    assert.deepEqual([...res2.projects].sort(), [a.root, b.root].sort());
    assert.ok(oids(res2).includes(oidOf('C only')), "the forgotten project's data goes");
    assert.ok(oids(res2).includes(oidOf('A newer')));
    assert.equal(res2.removed.length, 3, `C's file, A's previous file and manifest: ${JSON.stringify(res2.removed)}`);
    const final = objectsIn(shared.path);
    for (const o of [oidOf('B only'), oidOf('common'), bManifest, oidOf('A newest')]) assert.ok(final.has(o), `${o} kept`);
    // B still checks out from the shared cache
    rmSync(join(b.root, 'set'), { recursive: true });
    await ok(b.root, ['checkout']);
    assert.equal(readFileSync(join(b.root, 'set/y'), 'utf8'), 'B only');
  } finally {
    for (const r of [a, b, c]) r.cleanup();
    shared.cleanup();
  }
});

/** Writes `<cache>/gc.lock` as another gc would. */
function writeLock(cache: string, pid: number, host = hostname()): string {
  const p = join(cache, 'gc.lock');
  writeFileSync(p, JSON.stringify({ owner: 'someone', host, pid, startedAt: new Date().toISOString(), purpose: 'gc from elsewhere' }));
  return p;
}

/** f.txt added as "one", then as "two": the cache holds one unreferenced object. Returns the cache folder. */
async function addedTwice(root: string): Promise<string> {
  writeTree(root, { 'f.txt': 'one' });
  await ok(root, ['add', 'f.txt']);
  writeTree(root, { 'f.txt': 'two' });
  await ok(root, ['add', 'f.txt']);
  return cacheOf(root);
}

test('gc lock: a dead holder on this host is taken over; a live holder makes gc --force fail with ELOCKED', async () => {
  const { root, cleanup } = await makeRepo();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const cache = await addedTwice(root);
    const stale = oidOf('one');
    assert.ok(objectsIn(cache).has(stale));

    // live holder (a child process of this test, on this host, fresh heartbeat)
    assert.ok(sleeper.pid);
    const lockPath = writeLock(cache, sleeper.pid);
    // a second gc waits for the one running (TDVC_GC_LOCK_WAIT_MS, 60 s by default), then refuses
    const briefly = { TDVC_GC_LOCK_WAIT_MS: '300' };
    const t0 = Date.now();
    const locked = await tdvc(root, ['gc', '--workspace', '--force', '--grace', '0', '--json'], briefly);
    assert.ok(Date.now() - t0 >= 300, 'it waited before refusing');
    assert.notEqual(locked.code, 0);
    const err = (JSON.parse(locked.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'ELOCKED');
    assert.match(err.message, new RegExp(`someone@${hostname()} \\(pid ${sleeper.pid}\\b`));
    const plain = await tdvc(root, ['gc', '--workspace', '--force', '--grace', '0'], briefly);
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, new RegExp(`pid ${sleeper.pid}`));
    assert.ok(objectsIn(cache).has(stale), 'nothing deleted while locked');
    assert.ok(existsSync(lockPath), "the live holder's lock is left alone");
    // a dry run takes no lock
    const dry = await gcJson(root, ['--workspace', '--grace', '0']);
    assert.deepEqual(oids(dry), [stale]);

    // another host, fresh heartbeat: cannot be checked, so it is respected
    writeLock(cache, 1, 'some-other-host.example');
    const otherHost = await tdvc(root, ['gc', '--workspace', '--force', '--grace', '0', '--json'], briefly);
    assert.equal((JSON.parse(otherHost.stdout) as { error: { code: string } }).error.code, 'ELOCKED');
    // ... until its heartbeat is older than 120 s
    const old = new Date(Date.now() - 200_000);
    utimesSync(lockPath, old, old);
    writeTree(root, { 'f.txt': 'three' });
    await ok(root, ['add', 'f.txt']);
    const tookOverOld = await gcJson(root, ['--workspace', '--force', '--grace', '0']);
    assert.deepEqual(oids(tookOverOld).sort(), [stale, oidOf('two')].sort());
    assert.equal(existsSync(lockPath), false, 'released after gc');

    // dead holder on this host, fresh heartbeat: taken over at once
    const done = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(done.stdout);
    assert.ok(deadPid > 0);
    writeLock(cache, deadPid);
    writeTree(root, { 'f.txt': 'four' });
    await ok(root, ['add', 'f.txt']);
    const tookOver = await gcJson(root, ['--workspace', '--force', '--grace', '0']);
    assert.deepEqual(oids(tookOver), [oidOf('three')]);
    assert.equal(existsSync(lockPath), false, 'released after gc');
    assert.deepEqual(
      readdirSync(cache).filter((n) => n.startsWith('gc.lock')),
      [],
      'no renamed-away stale lock files are left',
    );
  } finally {
    sleeper.kill('SIGKILL');
    cleanup();
  }
});

test('two gc at once: the second waits for the first to finish, then runs', async () => {
  const { root, cleanup } = await makeRepo();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const cache = await addedTwice(root);
    // the first gc: a live process holding gc.lock
    const lockPath = writeLock(cache, sleeper.pid!);
    const second = tdvc(root, ['gc', '--workspace', '--force', '--grace', '0', '--json'], { TDVC_GC_LOCK_WAIT_MS: '30000' });
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(objectsIn(cache).has(oidOf('one')), 'nothing deleted while the first gc runs');
    rmSync(lockPath); // the first gc is done
    const r = await second;
    assert.equal(r.code, 0, `the second gc ran once the first was done: ${r.stderr}${r.stdout}`);
    assert.deepEqual(oids(JSON.parse(r.stdout) as GcJson), [oidOf('one')]);
  } finally {
    sleeper.kill('SIGKILL');
    cleanup();
  }
});

test('gc --remote on a filesystem remote removes only unreferenced remote objects', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-gc-remote-');
  try {
    await ok(root, ['remote', 'add', '-d', 'store', store.path]);
    writeTree(root, { 'data/keep': 'kept', 'data/drop': 'dropped later' });
    await ok(root, ['add', 'data']);
    const m1 = pointerOid(root, 'data.tdvc');
    commitAll(root, 'v1');
    await ok(root, ['push']);
    rmSync(join(root, 'data/drop'));
    writeTree(root, { 'data/new': 'new' });
    await ok(root, ['add', 'data']);
    const m2 = pointerOid(root, 'data.tdvc');
    commitAll(root, 'v2');
    await ok(root, ['push']);
    // an object nothing ever referenced, and a temp file of a writer still at work
    const strayContent = 'stray object';
    const stray = oidOf(strayContent);
    writeTree(store.path, { [`b3v1/${stray.slice(0, 2)}/${stray.slice(2)}`]: strayContent });
    const tmpName = `b3v1/${stray.slice(0, 2)}/.tmp-otherhost-123-0123456789ab`;
    writeTree(store.path, { [tmpName]: 'partial' });

    const remoteBefore = objectsIn(store.path);
    assert.equal(remoteBefore.size, 6);
    const cacheBefore = objectsIn(cacheOf(root));

    const graced = await gcJson(root, ['--remote', 'store', '--workspace']);
    assert.deepEqual(oids(graced), [], 'objects younger than the grace period stay on the remote');
    const dry = await gcJson(root, ['--remote', 'store', '--workspace', '--grace', '0']);
    assert.equal(dry.dryRun, true);
    assert.deepEqual(oids(dry).sort(), [oidOf('dropped later'), m1, stray].sort());
    assert.deepEqual(objectsIn(store.path), remoteBefore);

    const keepHistory = await gcJson(root, ['--remote', 'store', '--all-commits', '--force', '--grace', '0']);
    assert.deepEqual(oids(keepHistory), [stray]);

    const res = await gcJson(root, ['--remote', 'store', '--workspace', '--force', '--grace', '0']);
    assert.deepEqual(oids(res).sort(), [oidOf('dropped later'), m1].sort());
    assert.deepEqual([...objectsIn(store.path)].sort(), [oidOf('kept'), oidOf('new'), m2].sort());
    assert.ok(existsSync(join(store.path, tmpName)), "another writer's temp file is not gc's business");
    assert.deepEqual(objectsIn(cacheOf(root)), cacheBefore, 'gc --remote leaves the cache alone');
    // a fresh clone can still pull the current version
    const clone = tempDir('tdvc-gc-clone-');
    try {
      git(clone.path, 'clone', '-q', root, 'c');
      const c = join(clone.path, 'c');
      await ok(c, ['pull']);
      assert.equal(readFileSync(join(c, 'data/new'), 'utf8'), 'new');
      assert.equal(readFileSync(join(c, 'data/keep'), 'utf8'), 'kept');
    } finally {
      clone.cleanup();
    }
  } finally {
    cleanup();
    store.cleanup();
  }
});
