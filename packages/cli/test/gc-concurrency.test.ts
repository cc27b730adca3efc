// gc against concurrent writers, with real processes: a writer's lock in <cache>/locks/ makes
// `gc --force` wait and then refuse (deleting nothing); locks of dead or silent processes are
// ignored; a running gc makes writers wait; and the real races: `tdvc add` reusing old unreferenced
// objects, and a checkout in a second workspace sharing the cache, each racing `gc --grace 0`.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { git, makeRepo, readTreeSync, tdvc, tempDir, TDVC_BIN, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  const r = await tdvc(cwd, args, env);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

function commitAll(root: string, msg: string): void {
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', msg);
}

const oidOf = (content: string): string => hashBytes(Buffer.from(content));
const cacheOf = (root: string): string => join(root, '.tdvc', 'cache');
const objectPath = (cache: string, oid: string): string => join(cache, 'b3v1', oid.slice(0, 2), oid.slice(2));

function objectsIn(cache: string): Set<string> {
  const out = new Set<string>();
  const base = join(cache, 'b3v1');
  if (!existsSync(base)) return out;
  for (const fan of readdirSync(base)) {
    if (fan.length !== 2) continue;
    for (const n of readdirSync(join(base, fan))) if (!n.startsWith('.')) out.add(fan + n);
  }
  return out;
}

/** Makes every object older than any grace period (as if written long ago and since unreferenced). */
function backdateObjects(cache: string): number {
  const old = new Date(Date.now() - 2 * 86400_000);
  let n = 0;
  for (const oid of objectsIn(cache)) {
    utimesSync(objectPath(cache, oid), old, old);
    n++;
  }
  return n;
}

function pointerOid(root: string, rel: string): string {
  const m = /^hash: blake3:([0-9a-f]{64})$/m.exec(readFileSync(join(root, rel), 'utf8'));
  assert.ok(m, `no hash in ${rel}`);
  return m[1]!;
}

/** The objects the directory pointer `rel` needs (its manifest and every file) that the cache lacks. */
function missingObjects(root: string, cache: string, rel: string): string[] {
  const manifest = pointerOid(root, rel);
  if (!existsSync(objectPath(cache, manifest))) return [`manifest ${manifest}`];
  const tree = readTreeSync(cache, manifest);
  assert.ok(tree.entries.length > 0 || tree.missingNodes.length > 0);
  return [...tree.missingNodes.map((n) => `tree node ${n}`), ...tree.entries.filter((e) => !existsSync(objectPath(cache, e.oid))).map((e) => `${e.path} ${e.oid}`)];
}

async function assertClean(root: string): Promise<void> {
  const st = JSON.parse((await ok(root, ['status', '--json'])).stdout) as { clean: boolean };
  assert.equal(st.clean, true, `status is clean in ${root}: ${JSON.stringify(st)}`);
}

// the host part of lock names, as util/fs.ts spells it
const HOST = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');

/** Writes a writer's lock into `<cache>/locks/` as a tdvc process `pid` on `host` would. */
function plantWriterLock(cache: string, pid: number, purpose: string, host = hostname()): string {
  mkdirSync(join(cache, 'locks'), { recursive: true });
  const p = join(cache, 'locks', `w-${host === hostname() ? HOST : host}-${pid}-${randomBytes(6).toString('hex')}.json`);
  writeFileSync(p, JSON.stringify({ owner: 'someone', host, pid, startedAt: new Date().toISOString(), purpose }));
  return p;
}

function writerLocks(cache: string): string[] {
  const dir = join(cache, 'locks');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function deadPid(): number {
  const done = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(done.stdout);
  assert.ok(pid > 0);
  return pid;
}

interface Background {
  done: Promise<RunResult>;
  exited: () => boolean;
  kill: () => void;
}

function tdvcInBackground(cwd: string, args: string[], env: Record<string, string> = {}): Background {
  const child = spawn(process.execPath, [TDVC_BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      exited = true;
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
  return { done, exited: () => exited, kill: () => void child.kill('SIGKILL') };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function errorOf(r: RunResult): { code: string; message: string; hint?: string } {
  return (JSON.parse(r.stdout) as { error: { code: string; message: string; hint?: string } }).error;
}

/** A repository where 'one' is garbage (unreferenced) and 'two' is what f.txt.tdvc references. */
async function repoWithGarbage(): Promise<{ root: string; cache: string; garbage: string; cleanup: () => void }> {
  const { root, cleanup } = await makeRepo();
  writeTree(root, { 'f.txt': 'one' });
  await ok(root, ['add', 'f.txt']);
  writeTree(root, { 'f.txt': 'two' });
  await ok(root, ['add', 'f.txt']);
  const cache = cacheOf(root);
  assert.ok(objectsIn(cache).has(oidOf('one')));
  return { root, cache, garbage: oidOf('one'), cleanup };
}

const GC = ['gc', '-w', '--force', '--grace', '0', '--json'];

test('a live writer lock makes gc --force wait, then refuse naming the holder, deleting nothing', async () => {
  const { root, cache, garbage, cleanup } = await repoWithGarbage();
  const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
  try {
    assert.ok(sleeper.pid);
    const lock = plantWriterLock(cache, sleeper.pid, 'add in /elsewhere');
    const before = objectsIn(cache);
    const t0 = Date.now();
    const refused = await tdvc(root, GC, { TDVC_GC_LOCK_WAIT_MS: '1500' });
    const waited = Date.now() - t0;
    assert.notEqual(refused.code, 0, refused.stdout);
    const err = errorOf(refused);
    assert.equal(err.code, 'ELOCKED');
    assert.match(err.message, new RegExp(`someone@${hostname()} \\(pid ${sleeper.pid}, add in /elsewhere`));
    assert.match(err.message, /deleted nothing/);
    assert.ok(waited >= 1500, `gc waited for the writer before refusing (${waited} ms)`);
    assert.deepEqual(objectsIn(cache), before, 'nothing deleted');
    assert.ok(existsSync(lock), "the live writer's lock is left alone");
    assert.equal(existsSync(join(cache, 'gc.lock')), false, 'gc released its own lock');
    const plain = await tdvc(root, GC.slice(0, -1), { TDVC_GC_LOCK_WAIT_MS: '200' });
    assert.notEqual(plain.code, 0);
    assert.match(plain.stderr, new RegExp(`pid ${sleeper.pid}`));
    assert.match(plain.stderr, /hint: run gc again when they have finished/);
    // a dry run takes no lock and waits for nothing
    const dry = JSON.parse((await ok(root, ['gc', '-w', '--grace', '0', '--json'])).stdout) as { removed: Array<{ oid: string }> };
    assert.deepEqual(dry.removed.map((r) => r.oid), [garbage]);

    // the writer finishes while gc waits: gc goes on and collects
    const waiting = tdvcInBackground(root, GC, { TDVC_GC_LOCK_WAIT_MS: '30000' });
    await sleep(800);
    assert.equal(waiting.exited(), false, 'gc is waiting for the writer');
    assert.ok(objectsIn(cache).has(garbage));
    rmSync(lock);
    const res = await waiting.done;
    assert.equal(res.code, 0, res.stderr + res.stdout);
    assert.deepEqual((JSON.parse(res.stdout) as { removed: Array<{ oid: string }> }).removed.map((r) => r.oid), [garbage]);
  } finally {
    sleeper.kill('SIGKILL');
    cleanup();
  }
});

test('writer locks of dead processes are removed and those without heartbeat ignored; a fresh one from another host counts', async () => {
  const { root, cache, garbage, cleanup } = await repoWithGarbage();
  try {
    const dead = plantWriterLock(cache, deadPid(), 'add, killed');
    const silent = plantWriterLock(cache, 4242, 'checkout on a host that went away', 'some-other-host.example');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(silent, old, old);
    const t0 = Date.now();
    const res = await ok(root, GC);
    assert.ok(Date.now() - t0 < 20_000, 'no waiting for dead writers');
    assert.deepEqual((JSON.parse(res.stdout) as { removed: Array<{ oid: string }> }).removed.map((r) => r.oid), [garbage]);
    assert.equal(existsSync(dead), false, "a dead local process's lock is removed");
    assert.ok(existsSync(silent), "another host's silent lock is ignored, not removed (only its host can tell)");

    // another host, fresh heartbeat: cannot be checked, so it is respected
    writeTree(root, { 'f.txt': 'three' });
    await ok(root, ['add', 'f.txt']);
    const fresh = plantWriterLock(cache, 4242, 'add on another host', 'some-other-host.example');
    const refused = await tdvc(root, GC, { TDVC_GC_LOCK_WAIT_MS: '300' });
    assert.equal(errorOf(refused).code, 'ELOCKED');
    assert.match(errorOf(refused).message, /some-other-host\.example \(pid 4242, add on another host/);
    assert.ok(objectsIn(cache).has(oidOf('two')), 'nothing deleted');
    rmSync(fresh);
    // fsck clears what killed writers of this host left
    const killed = plantWriterLock(cache, deadPid(), 'add, killed');
    assert.equal((await tdvc(root, ['fsck'])).code, 0);
    assert.equal(existsSync(killed), false);
  } finally {
    cleanup();
  }
});

test('a writer that finds a live gc lock steps back and waits; it fails clearly if gc does not finish', async () => {
  const { root, cache, cleanup } = await repoWithGarbage();
  const sleeper = spawn('sleep', ['120'], { stdio: 'ignore' });
  try {
    assert.ok(sleeper.pid);
    const gcLock = join(cache, 'gc.lock');
    const plant = (): void =>
      writeFileSync(gcLock, JSON.stringify({ owner: 'someone', host: hostname(), pid: sleeper.pid, startedAt: new Date().toISOString(), purpose: 'gc from elsewhere' }));
    plant();
    writeTree(root, { 'g.txt': 'new data' });
    const t0 = Date.now();
    const refused = await tdvc(root, ['add', 'g.txt', '--json'], { TDVC_WRITER_LOCK_WAIT_MS: '1000' });
    assert.notEqual(refused.code, 0);
    const err = errorOf(refused);
    assert.equal(err.code, 'ELOCKED');
    assert.match(err.message, new RegExp(`garbage-collected by someone@${hostname()} \\(pid ${sleeper.pid}, gc from elsewhere`));
    assert.ok(Date.now() - t0 >= 1000, 'the writer waited');
    assert.equal(existsSync(join(root, 'g.txt.tdvc')), false, 'nothing added');
    assert.ok(!objectsIn(cache).has(oidOf('new data')), 'nothing written to the cache');
    assert.deepEqual(writerLocks(cache), [], 'the writer took its lock back');

    // gc finishes while the writer waits: the writer goes on
    const waiting = tdvcInBackground(root, ['add', 'g.txt'], { TDVC_WRITER_LOCK_WAIT_MS: '30000' });
    await sleep(800);
    assert.equal(waiting.exited(), false, 'the writer is waiting for gc');
    rmSync(gcLock);
    const res = await waiting.done;
    assert.equal(res.code, 0, res.stderr);
    assert.ok(objectsIn(cache).has(oidOf('new data')));
    assert.deepEqual(writerLocks(cache), [], 'released at the end');

    // a gc lock whose holder died does not hold writers up
    writeFileSync(gcLock, JSON.stringify({ owner: 'someone', host: hostname(), pid: deadPid(), startedAt: new Date().toISOString(), purpose: 'gc, killed' }));
    writeTree(root, { 'g.txt': 'newer data' });
    await ok(root, ['add', 'g.txt'], { TDVC_WRITER_LOCK_WAIT_MS: '1000' });
  } finally {
    sleeper.kill('SIGKILL');
    cleanup();
  }
});

const isRoot = process.platform === 'linux' && process.getuid?.() === 0;

test('a user who cannot create files in <cache>/locks gets a clear error, not a crash', { skip: isRoot ? false : 'needs root to run tdvc as another user' }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'a' });
    await ok(root, ['add', 'data']);
    commitAll(root, 'data');
    rmSync(join(root, 'data'), { recursive: true });
    // the workspace belongs to `nobody`; the cache stays root's, readable but not writable to others
    const nobody = 65534;
    spawnSync('chown', ['-R', `${nobody}:${nobody}`, root]);
    spawnSync('chown', ['-R', '0:0', cacheOf(root)]);
    chmodSync(root, 0o755);
    chmodSync(cacheOf(root), 0o755);
    const r = spawnSync(process.execPath, [TDVC_BIN, 'checkout'], {
      cwd: root,
      uid: nobody,
      gid: nobody,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: root },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error: cannot create a lock file in ${cacheOf(root)}/locks: permission denied`));
    assert.match(r.stderr, /hint: .*write access to the cache folder/);
    assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/);
  } finally {
    cleanup();
  }
});

/** Runs `gc -w --force --grace 0` from `root` again and again while `writer` runs; returns the results. */
async function gcWhile(root: string, writer: Background): Promise<RunResult[]> {
  const out: RunResult[] = [];
  while (!writer.exited()) out.push(await tdvc(root, GC));
  for (const r of out) {
    if (r.code !== 0) assert.equal(errorOf(r).code, 'ELOCKED', `a gc may only refuse because of the writer: ${r.stdout}${r.stderr}`);
  }
  return out;
}

function bigDataset(prefix: string, n: number): Record<string, string | Buffer> {
  const files: Record<string, string | Buffer> = {};
  for (let i = 0; i < n; i++) files[`${prefix}/f${i}.txt`] = `${prefix} file ${i}\n`;
  return files;
}

test('race: tdvc add reusing old unreferenced objects while gc --grace 0 runs again and again', async (t) => {
  const { root, cleanup } = await makeRepo();
  try {
    const cache = cacheOf(root);
    // the files of data/old are in the cache already, unreferenced and old: add reuses them
    // without rewriting (so their mtime stays old), the very objects a gc deletes
    writeTree(root, bigDataset('data/old', 2000));
    await ok(root, ['add', 'data']);
    rmSync(join(root, 'data.tdvc'));
    assert.ok(backdateObjects(cache) > 2000);
    // plus enough new data that the add takes a while
    writeTree(root, { ...bigDataset('data/new', 3000), 'data/big.bin': randomBytes(200 << 20) });

    const adding = tdvcInBackground(root, ['add', 'data']);
    const gcs = await gcWhile(root, adding);
    const added = await adding.done;
    assert.equal(added.code, 0, added.stderr);
    t.diagnostic(`${gcs.length} gc run(s) during the add: ${gcs.map((r) => (r.code === 0 ? `removed ${(JSON.parse(r.stdout) as { removed: unknown[] }).removed.length}` : errorOf(r).code)).join(', ')}`);
    assert.ok(gcs.length >= 1, 'gc ran while the add did');

    assert.deepEqual(missingObjects(root, cache, 'data.tdvc'), [], 'every object the new pointer file references is in the cache');
    await assertClean(root);
    rmSync(join(root, 'data'), { recursive: true });
    await ok(root, ['checkout', '--force']);
    await assertClean(root);
    assert.equal(statSync(join(root, 'data/big.bin')).size, 200 << 20);
    assert.equal(readFileSync(join(root, 'data/old/f7.txt'), 'utf8'), 'data/old file 7\n');
    assert.deepEqual(writerLocks(cache), [], 'no lock left behind');
  } finally {
    cleanup();
  }
});

test('race: checkout in a second workspace sharing the cache while gc --grace 0 from the first runs again and again', async (t) => {
  const shared = tempDir('tdvc-shared-cache-');
  const a = await makeRepo();
  const clones = tempDir('tdvc-clone-');
  try {
    await ok(a.root, ['cache', 'dir', shared.path]);
    writeTree(a.root, { ...bigDataset('data/small', 3000), 'data/big.bin': randomBytes(200 << 20) });
    await ok(a.root, ['add', 'data']);
    commitAll(a.root, 'v1');
    const b = join(clones.path, 'b');
    git(clones.path, 'clone', '-q', a.root, 'b');
    // copies, so that the checkout takes a while (and nothing shares an inode with the cache)
    await ok(b, ['config', '--local', 'cache.type', 'copy']);
    // in A the dataset is gone: for gc from A its objects are garbage, and old
    git(a.root, 'rm', '-q', 'data.tdvc');
    commitAll(a.root, 'drop the data');
    assert.ok(backdateObjects(shared.path) > 3000);

    const checkingOut = tdvcInBackground(b, ['checkout']);
    // start the gc once the checkout is under way (writing its first files)
    while (!checkingOut.exited() && !existsSync(join(b, 'data'))) await sleep(5);
    const gcs = await gcWhile(a.root, checkingOut);
    // and gc after it: B is registered now, its workspace keeps what it checked out
    await assertCheckoutSurvivedGc(t, await checkingOut.done, gcs, a.root, b, shared.path);
    assert.deepEqual(writerLocks(shared.path), [], 'no lock left behind');
  } finally {
    a.cleanup();
    clones.cleanup();
    shared.cleanup();
  }
});

test('race: `tdvc checkout REV` in a registered second workspace (plan, move Git, link) while gc --grace 0 from the first runs', async (t) => {
  const shared = tempDir('tdvc-shared-cache-');
  const a = await makeRepo();
  const clones = tempDir('tdvc-clone-');
  try {
    await ok(a.root, ['cache', 'dir', shared.path]);
    writeTree(a.root, { ...bigDataset('data/small', 3000), 'data/big.bin': randomBytes(200 << 20) });
    await ok(a.root, ['add', 'data']);
    commitAll(a.root, 'v1');
    const v1 = git(a.root, 'rev-parse', 'HEAD').trim();
    rmSync(join(a.root, 'data'), { recursive: true });
    writeTree(a.root, { 'data/only.txt': 'v2' });
    await ok(a.root, ['add', 'data']);
    commitAll(a.root, 'v2');
    const b = join(clones.path, 'b');
    git(clones.path, 'clone', '-q', a.root, 'b');
    await ok(b, ['config', '--local', 'cache.type', 'copy']);
    // B is registered and at v2, like A: for gc -w v1's objects are garbage until B's pointer
    // file names them, which `checkout REV` writes (by moving Git) only after it has planned
    await ok(b, ['checkout']);
    assert.ok(backdateObjects(shared.path) > 3000);

    const switching = tdvcInBackground(b, ['checkout', v1]);
    // gc starts once the checkout has taken its lock. (A gc that takes gc.lock before the checkout
    // has started deletes v1 rightly: nothing referenced it, and the checkout then waits for gc and
    // finds v1 gone, as if it had run after gc. That order is not the race under test.)
    while (!switching.exited() && !writerLocks(shared.path).some((n) => n.startsWith('w-'))) await sleep(2);
    const gcs = await gcWhile(a.root, switching);
    await assertCheckoutSurvivedGc(t, await switching.done, gcs, a.root, b, shared.path);
  } finally {
    a.cleanup();
    clones.cleanup();
    shared.cleanup();
  }
});

/**
 * After a checkout in workspace `b` raced gc runs from `a`: the checkout succeeded, gc really ran
 * meanwhile, a gc after it keeps everything b's pointer file references, and b checks out again.
 */
async function assertCheckoutSurvivedGc(t: TestContext, co: RunResult, gcs: RunResult[], a: string, b: string, cache: string): Promise<void> {
  assert.equal(co.code, 0, co.stderr + co.stdout);
  t.diagnostic(`${gcs.length} gc run(s) during the checkout: ${gcs.map((r) => (r.code === 0 ? `removed ${(JSON.parse(r.stdout) as { removed: unknown[] }).removed.length}` : errorOf(r).code)).join(', ')}`);
  assert.ok(gcs.length >= 1, 'gc ran while the checkout did');
  await ok(a, GC);
  assert.deepEqual(missingObjects(b, cache, 'data.tdvc'), [], 'every object the checked-out pointer file references is in the cache');
  await assertClean(b);
  rmSync(join(b, 'data'), { recursive: true });
  await ok(b, ['checkout', '--force']);
  await assertClean(b);
  assert.equal(statSync(join(b, 'data/big.bin')).size, 200 << 20);
}
