import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, statSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { forEachLimit, hashFile, LAYOUT, parsePointer } from '@tdvc/core';
import { git, makeRepo, readTreeSync, tdvc, tempDir, TDVC_BIN, writeTree } from './helpers.js';

/**
 * Crash safety: `kill -9` in the middle of `tdvc add` / `tdvc checkout`, at several moments,
 * must never leave a cache object whose bytes do not match its name, a torn pointer file or a
 * half-written workspace file under its final name; running the command again finishes the job.
 */

const HAVE_B3SUM = spawnSync('b3sum', ['--version']).status === 0;
const SMALL_FILES = 3000;
const BIG = 200 << 20;

/**
 * Everything happens under one scratch folder: a tmpfs when we may mount one (a killed process
 * leaves the page cache exactly as on disk, and it keeps ~2 GB of writes off a slow disk),
 * otherwise the system temp folder.
 */
let work = { path: '', cleanup: () => {} };
let template = { path: '' };
let repoSeq = 0;
/** rel path (inside data/) → BLAKE3 of the template's files */
const expected = new Map<string, string>();

before(async () => {
  work = tempDir('tdvc-crash-');
  if (process.platform === 'linux' && process.getuid?.() === 0) {
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2g', 'tmpfs', work.path]);
    if (m.status === 0) {
      const dir = work.path;
      work = { path: dir, cleanup: () => (spawnSync('umount', [dir]), rmSync(dir, { recursive: true, force: true })) };
    }
  }
  template = { path: join(work.path, 'template') };
  const data = join(template.path, 'data');
  for (let i = 0; i < SMALL_FILES; i++) {
    const rel = `part${i % 10}/f${i}.txt`;
    if (i < 10) mkdirSync(join(data, `part${i}`), { recursive: true });
    const fd = openSync(join(data, rel), 'w');
    writeSync(fd, `small file ${i}\n${'x'.repeat(i % 97)}`);
    closeSync(fd);
  }
  const chunk = randomBytes(1 << 20);
  const fd = openSync(join(data, 'big.bin'), 'w');
  for (let i = 0; i < BIG >> 20; i++) {
    chunk.writeUInt32LE(i, 0); // every MiB differs
    writeSync(fd, chunk);
  }
  closeSync(fd);
  const rels = listFiles(data);
  const oids = await hashAll(rels.map((rel) => join(data, rel)));
  rels.forEach((rel, i) => expected.set(rel, oids[i]!));
  assert.equal(expected.size, SMALL_FILES + 1);
});
after(() => work.cleanup());

/** Every non-directory under `dir`, as '/'-separated relative paths. */
function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(dir, rel))) {
    const r = rel === '' ? name : `${rel}/${name}`;
    if (lstatSync(join(dir, r)).isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out.sort();
}

/** A Git repository with tdvc initialised and a copy of the template dataset in data/. */
async function repoWithData(): Promise<{ root: string; cleanup: () => void }> {
  const root = join(work.path, `repo${repoSeq++}`);
  mkdirSync(root);
  const cleanup = (): void => rmSync(root, { recursive: true, force: true });
  git(root, 'init', '-q', '-b', 'main');
  const init = await tdvc(root, ['init']);
  assert.equal(init.code, 0, init.stderr);
  const cp = spawnSync('cp', ['-a', join(template.path, 'data'), join(root, 'data')]);
  assert.equal(cp.status, 0, String(cp.stderr));
  return { root, cleanup };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `tdvc ARGS`, waits until `ready()` holds (or the command ends), waits `delayMs` more,
 * then SIGKILLs it. Returns whether the kill landed while the command was still running.
 */
async function runAndKill(cwd: string, args: string[], ready: () => boolean, delayMs: number): Promise<{ killed: boolean; code: number | null }> {
  const child = spawn(process.execPath, [TDVC_BIN, ...args], { cwd, stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  const t0 = Date.now();
  while (!done && !ready() && Date.now() - t0 < 30_000) await sleep(2);
  if (delayMs > 0 && !done) await sleep(delayMs);
  if (!done) child.kill('SIGKILL');
  const { code, signal } = await exited;
  return { killed: signal === 'SIGKILL', code };
}

/**
 * BLAKE3 of many files: with the independent `b3sum` binary when it is installed (one process per
 * 500 files, far faster than thousands of opens through the test's libuv pool), else with tdvc's own.
 */
async function hashAll(paths: string[]): Promise<string[]> {
  if (HAVE_B3SUM) {
    const out: string[] = [];
    for (let i = 0; i < paths.length; i += 500) {
      const r = spawnSync('b3sum', ['--no-names', '--', ...paths.slice(i, i + 500)], { encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, r.stderr);
      out.push(...r.stdout.split('\n').filter((l) => l !== ''));
    }
    assert.equal(out.length, paths.length);
    return out;
  }
  const out: string[] = new Array(paths.length);
  await forEachLimit(paths.keys(), 32, async (i) => void (out[i] = (await hashFile(paths[i]!)).oid));
  return out;
}

/** Every object under its final name hashes to that name; returns their ids. */
async function verifyCache(root: string): Promise<Set<string>> {
  const base = join(root, '.tdvc', 'cache', LAYOUT);
  const names: string[] = [];
  if (!existsSync(base)) return new Set();
  for (const fan of readdirSync(base)) {
    // a temp file beside the fan-out folders: a large file or a reflink probe a kill cut short
    if (fan.startsWith('.tmp-')) continue;
    for (const name of readdirSync(join(base, fan))) {
      if (name.startsWith('.')) continue; // a killed writer's temp file: never looked up
      assert.match(`${fan}/${name}`, /^[0-9a-f]{2}\/[0-9a-f]{62}$/, `only objects and dot-temp files in the cache: ${fan}/${name}`);
      names.push(fan + name);
    }
  }
  const found = await hashAll(names.map((n) => join(base, n.slice(0, 2), n.slice(2))));
  names.forEach((n, i) => assert.equal(found[i], n, `object ${n.slice(0, 2)}/${n.slice(2)} must hold the bytes its name says`));
  return new Set(names);
}

/** A pointer file is either absent or complete, and then everything it names is in the cache. */
function verifyPointer(root: string, cached: Set<string>): 'absent' | 'valid' {
  const p = join(root, 'data.tdvc');
  if (!existsSync(p)) return 'absent';
  const ptr = parsePointer(readFileSync(p, 'utf8'), 'data.tdvc');
  assert.equal(ptr.type, 'dir');
  assert.ok(cached.has(ptr.oid), 'the manifest of a written pointer is in the cache');
  const tree = readTreeSync(join(root, '.tdvc', 'cache'), ptr.oid);
  assert.deepEqual(tree.missingNodes, [], 'every node of the tree is in the cache');
  const entries = tree.entries;
  assert.deepEqual(new Map(entries.map((e) => [e.path, e.oid])), expected, 'the pointer records the whole dataset');
  for (const e of entries) assert.ok(cached.has(e.oid), `object of ${e.path} is in the cache`);
  return 'valid';
}

/**
 * The dataset folder holds exactly the expected files (or, with `partial`, a subset), each complete.
 * After a killed checkout (`partial`), a file may be cut short where the process died: checkout
 * writes in place, so that is allowed only for files listed in the checkout journal, which is how
 * the next checkout knows them for its own unfinished work.
 */
async function verifyWorkspace(root: string, partial: boolean): Promise<number> {
  const dir = join(root, 'data');
  const files = existsSync(dir) ? listFiles(dir) : [];
  for (const rel of files) {
    assert.ok(expected.has(rel), `unexpected file in the dataset folder (a temp file?): data/${rel}`);
    assert.ok(lstatSync(join(dir, rel)).isFile() || lstatSync(join(dir, rel)).isSymbolicLink(), `data/${rel} is a file`);
  }
  const found = await hashAll(files.map((rel) => join(dir, rel)));
  const journaled = partial ? journalFiles(root) : new Map<string, number>();
  files.forEach((rel, i) => {
    const planned = journaled.get(rel);
    if (found[i] !== expected.get(rel) && planned !== undefined) {
      assert.ok(lstatSync(join(dir, rel)).size < planned, `data/${rel} is a cut-short leftover of the killed checkout`);
      return;
    }
    assert.equal(found[i], expected.get(rel), `data/${rel} is complete and correct${partial ? ' (or listed in the checkout journal)' : ''}`);
  });
  if (!partial) assert.equal(files.length, expected.size, 'every file is there');
  return files.length;
}

/**
 * Paths (with their planned sizes) listed in any checkout journal left in the workspace: the text
 * journal (`<16 hex>.journal`, a line `W\tSIZE\tOID\tFLAGS\tPATH` per file to write) and the JSON
 * form of earlier versions. A journal still being spooled (a temp file) when the process was killed
 * is not one: nothing was written under it.
 */
function journalFiles(root: string): Map<string, number> {
  const dir = join(root, '.tdvc', 'tmp', 'journal');
  const out = new Map<string, number>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.journal')) {
      for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
        const f = line.split('\t');
        if (f[0] === 'W' && f.length >= 5) out.set(f.slice(4).join('\t'), Number(f[1]));
      }
    } else if (name.endsWith('.json')) {
      const j = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { files: Record<string, number> };
      for (const [p, size] of Object.entries(j.files)) out.set(p, size);
    }
  }
  return out;
}

async function assertClean(root: string): Promise<void> {
  const st = await tdvc(root, ['status', '--json']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal((JSON.parse(st.stdout) as { clean: boolean }).clean, true, st.stdout);
}

/** Temp files a killed writer left in the cache's fan-out folders (harmless, but they take space). */
/** Temp files in the cache: in fan-out folders (small objects) and in the layout folder (large files streamed in). */
function cacheTempPaths(root: string): string[] {
  const base = join(root, '.tdvc', 'cache', LAYOUT);
  if (!existsSync(base)) return [];
  const out: string[] = [];
  for (const name of readdirSync(base)) {
    if (name.startsWith('.')) out.push(join(base, name));
    else if (name.length === 2) for (const f of readdirSync(join(base, name))) if (f.startsWith('.')) out.push(join(base, name, f));
  }
  return out;
}

function cacheTempFiles(root: string): number {
  return cacheTempPaths(root).length;
}

function largeCacheTempFiles(root: string): number {
  return cacheTempPaths(root).filter((p) => (statSync(p, { throwIfNoEntry: false })?.size ?? 0) > 1 << 20).length;
}

function scratchDirs(root: string): string[] {
  const tmp = join(root, '.tdvc', 'tmp');
  return existsSync(tmp) ? readdirSync(tmp).filter((n) => n.startsWith('scratch-')) : [];
}

/** The pid of a process that has exited: what a killed writer's pid looks like afterwards. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim());
}

/** A temp name as `uniqueTempName(prefix)` makes it on this host for process `pid`. */
function localTempName(prefix: string, pid: number): string {
  return `${prefix}-${hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}-${pid}-0123456789ab`;
}

test('kill -9 during tdvc add (3,000 files + 200 MiB) at several moments; a re-run finishes cleanly', { timeout: 120_000 }, async () => {
  const outcomes: string[] = [];
  for (const delayMs of [0, 300, 900]) {
    const { root, cleanup } = await repoWithData();
    try {
      const cacheLayout = join(root, '.tdvc', 'cache', LAYOUT);
      const run = await runAndKill(root, ['add', 'data'], () => existsSync(cacheLayout), delayMs);
      const cached = await verifyCache(root);
      const pointer = verifyPointer(root, cached);
      outcomes.push(`${delayMs} ms: ${run.killed ? 'killed' : `exited ${run.code}`}, ${cached.size} objects, ${cacheTempFiles(root)} temp files, pointer ${pointer}`);
      await verifyWorkspace(root, false); // add never damages the data it reads

      const again = await tdvc(root, ['add', 'data']);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(verifyPointer(root, await verifyCache(root)), 'valid');
      await verifyWorkspace(root, false);
      await assertClean(root);
      assert.deepEqual(scratchDirs(root), [], 'the killed run’s scratch folder was cleaned up');
    } finally {
      cleanup();
    }
  }
  console.log(`# add kills: ${outcomes.join('; ')}`);
  assert.ok(outcomes.some((o) => o.includes('killed')), `at least one kill landed mid-way: ${outcomes.join('; ')}`);
});

test('kill -9 during tdvc checkout of a deleted dataset at several moments; a re-run restores it exactly', { timeout: 120_000 }, async () => {
  const { root, cleanup } = await repoWithData();
  const outcomes: string[] = [];
  try {
    const added = await tdvc(root, ['add', 'data']);
    assert.equal(added.code, 0, added.stderr);
    const folderMade = (): boolean => existsSync(join(root, 'data'));
    const firstFile = (): boolean => folderMade() && listFiles(join(root, 'data')).length > 0;
    for (const [what, ready, delayMs] of [
      ['folder created', folderMade, 0],
      ['first file written', firstFile, 0],
      ['first file written', firstFile, 150],
    ] as const) {
      rmSync(join(root, 'data'), { recursive: true, force: true });
      const run = await runAndKill(root, ['checkout'], ready, delayMs);
      const present = await verifyWorkspace(root, true); // only complete files under final names
      // files were being written: the journal that lets the next checkout recognise them is there, whole
      if (run.killed && present > 0) assert.deepEqual(new Set(journalFiles(root).keys()), new Set(expected.keys()), 'the killed checkout left its journal, listing every file');
      outcomes.push(`${what} + ${delayMs} ms: ${run.killed ? 'killed' : `exited ${run.code}`}, ${present}/${expected.size} files present`);
      assert.equal(verifyPointer(root, await verifyCache(root)), 'valid', 'checkout does not touch the pointer');

      const again = await tdvc(root, ['checkout']);
      assert.equal(again.code, 0, again.stderr);
      await verifyWorkspace(root, false);
      await assertClean(root);
      assert.deepEqual(scratchDirs(root), [], 'no scratch folders left');
    }
  } finally {
    cleanup();
  }
  console.log(`# checkout kills: ${outcomes.join('; ')}`);
  assert.ok(outcomes.some((o) => o.includes('killed')), `at least one kill landed mid-way: ${outcomes.join('; ')}`);
});

test('after a killed add, tdvc fsck removes the dead writer’s temp files from the cache and finds nothing corrupt', { timeout: 120_000 }, async () => {
  const { root, cleanup } = await repoWithData();
  try {
    // kill while the 200 MiB file is being copied in: small files' temp files live for microseconds
    const run = await runAndKill(root, ['add', 'data'], () => largeCacheTempFiles(root) > 0, 0);
    assert.ok(run.killed, 'killed while writing to the cache');
    assert.ok(cacheTempFiles(root) > 0, 'the killed writer left a temp file (e.g. part of a 200 MiB copy)');
    const fsck = await tdvc(root, ['fsck', '--json']);
    const report = JSON.parse(fsck.stdout) as { ok: boolean; corrupt: unknown[]; removedTemps: string[] };
    assert.deepEqual(report.corrupt, [], 'nothing under a final name is corrupt');
    assert.ok(report.removedTemps.length > 0, fsck.stdout);
    assert.equal(fsck.code, 4, 'fsck exits non-zero when it had to repair something');
    const left = spawnSync('find', ['.tdvc/cache', '-name', '.*'], { cwd: root, encoding: 'utf8' }).stdout;
    assert.equal(cacheTempFiles(root), 0, `stale temp files of the killed add are gone:\n${left}`);
    assert.equal((await tdvc(root, ['fsck'])).code, 0, 'a second fsck finds nothing to do');
    await verifyCache(root);
    const again = await tdvc(root, ['add', 'data']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(verifyPointer(root, await verifyCache(root)), 'valid');
    await assertClean(root);
  } finally {
    cleanup();
  }
});

test('fsck removes dead writers’ temp files wherever writers leave them: cache root, layout, fan-out folders, project registry', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'a\n' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    const name = localTempName('.tmp', deadPid());
    const cache = join(root, '.tdvc', 'cache');
    const places = ['', LAYOUT, join(LAYOUT, 'ab'), 'projects'];
    for (const p of places) {
      mkdirSync(join(cache, p), { recursive: true });
      writeFileSync(join(cache, p, name), 'half written');
    }
    const fsck = await tdvc(root, ['fsck', '--json']);
    const report = JSON.parse(fsck.stdout) as { removedTemps: string[] };
    assert.equal(report.removedTemps.length, places.length, fsck.stdout);
    for (const p of places) assert.equal(existsSync(join(cache, p, name)), false, `${join(p, name)} removed`);
    assert.equal(fsck.code, 4);
  } finally {
    cleanup();
  }
});

test('status tells a file cut short by a killed checkout (listed in its journal) from a user’s change; checkout finishes it', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const full = 'x'.repeat(64 * 1024);
    writeTree(root, { 'data/a.bin': full, 'data/b.txt': 'b\n' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    // what a checkout killed while writing a.bin leaves: a dead process's journal, a short file
    const journals = join(root, '.tdvc', 'tmp', 'journal');
    mkdirSync(journals, { recursive: true });
    const journal = { host: hostname(), pid: deadPid(), startedMs: Date.now() - 1000, files: { 'a.bin': full.length } };
    writeFileSync(join(journals, createHash('sha1').update('data').digest('hex').slice(0, 16) + '.json'), JSON.stringify(journal));
    writeFileSync(join(root, 'data', 'a.bin'), full.slice(0, 1000));
    writeFileSync(join(root, 'data', 'b.txt'), 'B\n'); // a user's edit, not in the journal
    const st = await tdvc(root, ['status']);
    assert.match(st.stdout, /1 file\(s\) left unfinished by an interrupted checkout/, st.stdout);
    assert.match(st.stdout, /unfinished: data\/a\.bin/);
    const json = JSON.parse((await tdvc(root, ['status', '--json'])).stdout) as { datasets: Array<{ interrupted: string[]; modified: string[] }> };
    assert.deepEqual(json.datasets[0]!.interrupted, ['data/a.bin']);
    assert.deepEqual(json.datasets[0]!.modified, ['data/b.txt']);
    assert.match(st.stdout, /modified: data\/b\.txt/);
    // checkout finishes the leftover on its own, and protects the edit unless told
    const refused = await tdvc(root, ['checkout', 'data']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /data\/b\.txt/);
    assert.doesNotMatch(refused.stderr, /a\.bin/);
    const co = await tdvc(root, ['checkout', '--force', 'data']);
    assert.equal(co.code, 0, co.stderr);
    assert.equal(readFileSync(join(root, 'data', 'a.bin'), 'utf8'), full);
    assert.match((await tdvc(root, ['status'])).stdout, /up to date/);
  } finally {
    cleanup();
  }
});

test('fsck --remote on a folder remote removes killed pushes’ temp files: dead local writers at once, other hosts’ after a day', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-store-');
  try {
    writeTree(root, { 'data/a.txt': 'a\n', 'data/b.txt': 'b\n' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    assert.equal((await tdvc(root, ['remote', 'add', '-d', 'store', store.path])).code, 0);
    assert.equal((await tdvc(root, ['push'])).code, 0);
    const fan = join(store.path, LAYOUT, 'ab');
    mkdirSync(fan, { recursive: true });
    const deadLocal = localTempName('.tmp', deadPid());
    const liveLocal = localTempName('.tmp', process.pid); // a push running now
    const foreignOld = '.tmp-otherhost-4242-0123456789ab';
    const foreignNew = '.tmp-otherhost-4243-0123456789ab';
    for (const n of [deadLocal, liveLocal, foreignOld, foreignNew]) writeFileSync(join(fan, n), 'half pushed');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    utimesSync(join(fan, foreignOld), twoDaysAgo, twoDaysAgo);
    const fsck = await tdvc(root, ['fsck', '--remote', 'store', '--json']);
    const report = JSON.parse(fsck.stdout) as { checked: number; corrupt: unknown[]; removedTemps: string[] };
    assert.equal(report.checked, 3, 'two files and the manifest checked');
    assert.deepEqual(report.corrupt, []);
    assert.deepEqual(report.removedTemps.sort(), [join(LAYOUT, 'ab', deadLocal), join(LAYOUT, 'ab', foreignOld)].sort());
    assert.equal(fsck.code, 4, 'repairs are reported with a non-zero exit');
    assert.deepEqual(readdirSync(fan).sort(), [foreignNew, liveLocal].sort(), 'a running push and a recent foreign one are left alone');
    assert.equal((await tdvc(root, ['fsck', '--remote', 'store'])).code, 0, 'nothing more to do');
  } finally {
    cleanup();
    store.cleanup();
  }
});

test('add removes the scratch folder of a killed add even when this run needs none (link type copy)', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'a\n' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0); // the link type that works here is now known
    const left = localTempName('scratch-add', deadPid());
    mkdirSync(join(root, '.tdvc', 'tmp', left, 'l0'), { recursive: true });
    writeTree(root, { 'data/b.txt': 'b\n' });
    const again = await tdvc(root, ['add', 'data']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(scratchDirs(root), [], 'the killed add’s scratch folder is gone');
  } finally {
    cleanup();
  }
});
