import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes, ObjectStore, serializeManifest, serializePointer, type ManifestEntry } from '@tdvc/core';
import { assertOneClearError, git, makeRepo, snapshot, tdvc, TDVC_BIN, tempDir, writeTree, type RunResult } from './helpers.js';

// An attacker's repository is built with plain git commands (links committed, pointer files and
// manifests written by hand and stored under their correct BLAKE3 names), then the victim runs
// tdvc in a clone of it. Every test checks that files outside the repository are untouched.

interface Outside {
  dir: string;
  before: Map<string, string>;
  assertUntouched(): void;
  cleanup(): void;
}

/** A folder outside every repository, with files an attacker would like to overwrite or read. */
function outsideFolder(): Outside {
  const t = tempDir('tdvc-outside-');
  writeTree(t.path, { 'a.txt': 'precious a', 'keep.txt': 'precious', 'id_rsa': 'PRIVATE KEY hunter2', 'ds/images/x.png': 'x' });
  const before = snapshot(t.path);
  return { dir: t.path, before, assertUntouched: () => assert.deepEqual(snapshot(t.path), before, 'files outside the repository are untouched'), cleanup: t.cleanup };
}

/** The attacker's repository, with a folder remote holding `files` as dataset `data`, pushed. */
async function attackerWithData(files: Record<string, string>): Promise<{ root: string; remote: string; cleanup: () => void }> {
  const repo = await makeRepo();
  const remote = tempDir('tdvc-remote-');
  writeTree(repo.root, Object.fromEntries(Object.entries(files).map(([k, v]) => [`data/${k}`, v])));
  for (const args of [['add', 'data'], ['remote', 'add', '-d', 'r', remote.path], ['push']]) {
    const r = await tdvc(repo.root, args);
    assert.equal(r.code, 0, r.stderr);
  }
  return { root: repo.root, remote: remote.path, cleanup: () => (repo.cleanup(), remote.cleanup()) };
}

function commitAll(root: string, msg: string, ...force: string[]): void {
  git(root, 'add', '-A');
  if (force.length > 0) git(root, 'add', '-f', ...force);
  git(root, 'commit', '-qm', msg);
}

function cloneOf(src: string): { root: string; cleanup: () => void } {
  const t = tempDir('tdvc-victim-');
  const root = join(t.path, 'clone');
  git(t.path, 'clone', '-q', src, root);
  return { root, cleanup: t.cleanup };
}

/** Stores a hand-written folder dataset in a cache and returns its pointer text. */
async function handWrittenDataset(cacheDir: string, name: string, files: Record<string, string>): Promise<string> {
  const odb = new ObjectStore(cacheDir);
  const entries: ManifestEntry[] = [];
  for (const [path, content] of Object.entries(files)) {
    const { oid, size } = await odb.putBytes(Buffer.from(content));
    entries.push({ path, oid, size, exec: false });
  }
  const m = await odb.putBytes(Buffer.from(serializeManifest(entries)));
  return serializePointer({ version: 1, path: name, type: 'dir', oid: m.oid, size: entries.reduce((s, e) => s + e.size, 0), files: entries.length });
}

function objectPath(root: string, content: string): string {
  const oid = hashBytes(Buffer.from(content));
  return join(root, '.tdvc', 'cache', 'b3v1', oid.slice(0, 2), oid.slice(2));
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, String(r.stderr));
}

/** A UNIX socket at `path`, left behind by a process that exits without closing it. */
function mksocket(path: string): void {
  const r = spawnSync(process.execPath, ['-e', "require('node:net').createServer().listen(process.argv[1], () => process.exit(0))", path]);
  assert.equal(r.status, 0, String(r.stderr));
  assert.equal(lstatSync(path).isSocket(), true);
}

/** Where `content` lives in a folder remote. */
function remoteObjectPath(remote: string, content: string): string {
  const oid = hashBytes(Buffer.from(content));
  return join(remote, 'b3v1', oid.slice(0, 2), oid.slice(2));
}

function quarantined(root: string): string[] {
  const q = join(root, '.tdvc', 'cache', 'quarantine');
  return existsSync(q) ? readdirSync(q) : [];
}

// ---- 1. symbolic links on write and delete paths --------------------------------------------

test('a committed data -> /elsewhere next to data.tdvc: pull, checkout (--force, --rev), status and add refuse; nothing outside changes', async () => {
  const out = outsideFolder();
  const a = await attackerWithData({ 'a.txt': 'attacker a', 'new.txt': 'planted' });
  const v = { root: '', cleanup: () => {} };
  try {
    rmSync(join(a.root, 'data'), { recursive: true });
    symlinkSync(out.dir, join(a.root, 'data'));
    commitAll(a.root, 'data is a link', 'data');
    Object.assign(v, cloneOf(a.root));
    assert.ok(lstatSync(join(v.root, 'data')).isSymbolicLink(), 'git made the link in the clone');
    for (const args of [['pull'], ['checkout', '--force'], ['checkout', '--rev', 'HEAD', '--', 'data'], ['pull', '--force'], ['status'], ['add', 'data']]) {
      const r = await tdvc(v.root, args);
      assertOneClearError(r, /data/, /symbolic link/);
      out.assertUntouched();
    }
  } finally {
    v.cleanup();
    a.cleanup();
    out.cleanup();
  }
});

test('a link among the folders above a dataset: checkout --rev of an older version and add refuse', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'sub/data/f.txt': 'v1' });
    assert.equal((await tdvc(root, ['add', 'sub/data'])).code, 0);
    commitAll(root, 'v1');
    git(root, 'rm', '-rq', 'sub');
    rmSync(join(root, 'sub'), { recursive: true, force: true });
    symlinkSync(out.dir, join(root, 'sub'));
    commitAll(root, 'sub is a link');
    const r = await tdvc(root, ['checkout', '--rev', 'HEAD~1', '--', 'sub/data']);
    assertOneClearError(r, /sub/, /symbolic link/);
    out.assertUntouched();

    // made by the user, not committed: add must not write data.tdvc or .gitignore through it
    symlinkSync(join(out.dir, 'ds'), join(root, 'datasets'));
    const r2 = await tdvc(root, ['add', 'datasets/images']);
    assertOneClearError(r2, /datasets/, /symbolic link/);
    out.assertUntouched();
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('a link to a folder inside a dataset (force-added to Git) is never written through, --force included', async () => {
  const out = outsideFolder();
  const a = await attackerWithData({ 'sub/a.txt': 'attacker a', 'y.txt': 'y' });
  const v = { root: '', cleanup: () => {} };
  try {
    rmSync(join(a.root, 'data', 'sub'), { recursive: true });
    symlinkSync(out.dir, join(a.root, 'data', 'sub'));
    commitAll(a.root, 'link inside the dataset', 'data/sub');
    Object.assign(v, cloneOf(a.root));
    for (const args of [['pull'], ['checkout', '--force']]) {
      const r = await tdvc(v.root, args);
      assertOneClearError(r, /data\/sub/, /symbolic link|link/);
      out.assertUntouched();
    }
  } finally {
    v.cleanup();
    a.cleanup();
    out.cleanup();
  }
});

test('add never writes through a pointer file or .gitignore that is a link, nor copies the target into the repository', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/f.txt': 'f' });
    symlinkSync(join(out.dir, 'id_rsa'), join(root, '.gitignore'));
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, /\.gitignore/, /symbolic link/);
    assert.doesNotMatch(r.stderr, /hunter2/);
    out.assertUntouched();
    unlinkSync(join(root, '.gitignore'));

    symlinkSync(join(out.dir, 'keep.txt'), join(root, 'data.tdvc'));
    const r2 = await tdvc(root, ['add', 'data']);
    assertOneClearError(r2, /data\.tdvc/, /symbolic link/);
    out.assertUntouched();
    const ignore = join(root, '.gitignore');
    assert.equal(existsSync(ignore) && readFileSync(ignore, 'utf8').includes('hunter2'), false);
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('.tdvc or .tdvc/tmp as a link: commands refuse instead of writing over there', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/f.txt': 'f' });
    mkdirSync(join(out.dir, 'tmp'));
    const beforeTmp = snapshot(out.dir);
    rmSync(join(root, '.tdvc', 'tmp'), { recursive: true, force: true });
    symlinkSync(join(out.dir, 'tmp'), join(root, '.tdvc', 'tmp'));
    assertOneClearError(await tdvc(root, ['add', 'data']), /tmp/, /symbolic link/);
    assert.deepEqual(snapshot(out.dir), beforeTmp);
    unlinkSync(join(root, '.tdvc', 'tmp'));

    renameSync(join(root, '.tdvc'), join(out.dir, 'tdvc-dir'));
    symlinkSync(join(out.dir, 'tdvc-dir'), join(root, '.tdvc'));
    const before = snapshot(out.dir);
    for (const args of [['status'], ['add', 'data']]) {
      assertOneClearError(await tdvc(root, args), /\.tdvc/, /symbolic link/);
      assert.deepEqual(snapshot(out.dir), before);
    }
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('tdvc install refuses a hook or a .gitattributes that is a link', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    mkdirSync(join(root, '.git', 'hooks'), { recursive: true });
    symlinkSync(join(out.dir, 'keep.txt'), join(root, '.git', 'hooks', 'post-checkout'));
    assertOneClearError(await tdvc(root, ['install']), /post-checkout/, /symbolic link/);
    out.assertUntouched();
    unlinkSync(join(root, '.git', 'hooks', 'post-checkout'));
    symlinkSync(join(out.dir, 'keep.txt'), join(root, '.gitattributes'));
    assertOneClearError(await tdvc(root, ['install']), /\.gitattributes/, /symbolic link/);
    out.assertUntouched();
  } finally {
    cleanup();
    out.cleanup();
  }
});

// ---- 2. reserved names ------------------------------------------------------------------------

test('pointer files naming .git, .GIT, git~1 or .tdvc are refused; .git/config stays intact', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const config = readFileSync(join(root, '.git', 'config'));
    const text = await handWrittenDataset(join(root, '.tdvc', 'cache'), '.git', { config: '[core]\n\tfsmonitor = touch /tmp/pwned\n' });
    writeFileSync(join(root, '.git.tdvc'), text);
    for (const args of [['checkout'], ['checkout', '--force'], ['status']]) {
      const r = await tdvc(root, args);
      assertOneClearError(r, /\.git\.tdvc/, /reserved|\.git/);
      assert.equal(r.code, 2);
    }
    assert.deepEqual(readFileSync(join(root, '.git', 'config')), config);
    rmSync(join(root, '.git.tdvc'));

    for (const [pointer, name] of [['sub/.GIT.tdvc', '.GIT'], ['x/git~1.tdvc', 'git~1'], ['y/.git .tdvc', '.git '], ['z/.tdvc.tdvc', '.tdvc']] as const) {
      mkdirSync(join(root, pointer, '..'), { recursive: true });
      writeFileSync(join(root, pointer), text.replace('path: .git', `path: ${name}`));
      assertOneClearError(await tdvc(root, ['checkout', '--force']), new RegExp(pointer.split('/')[0]!), /reserved/);
      rmSync(join(root, pointer));
    }

    // committed under .tdvc/, where the working-tree search never looks but a revision listing does
    mkdirSync(join(root, '.tdvc', 'evil'), { recursive: true });
    writeFileSync(join(root, '.tdvc', 'evil', 'tmp.tdvc'), text.replace('path: .git', 'path: tmp'));
    commitAll(root, 'pointer under .tdvc', '.tdvc/evil/tmp.tdvc');
    assertOneClearError(await tdvc(root, ['checkout', '--rev', 'HEAD']), /\.tdvc\/evil/, /reserved/);
    assert.equal(existsSync(join(root, '.tdvc', 'evil', 'tmp')), false);
    assertOneClearError(await tdvc(root, ['add', '.GIT/x']), /\.GIT/);
  } finally {
    cleanup();
  }
});

test('manifest entries with a .git component anywhere (any case) are refused before anything is written', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    for (const bad of ['.git/hooks/post-checkout', 'sub/.Git/config', 'a/GIT~1/config', 'b/.git./config', 'c/\u200c.git/config']) {
      writeFileSync(join(root, 'data.tdvc'), await handWrittenDataset(join(root, '.tdvc', 'cache'), 'data', { 'ok.txt': 'ok', [bad]: '#!/bin/sh\ntouch /tmp/pwned\n' }));
      const r = await tdvc(root, ['checkout', '--force']);
      assertOneClearError(r, /manifest/, /reserved/);
      assert.equal(existsSync(join(root, 'data')), false, `nothing written for ${JSON.stringify(bad)}`);
    }
  } finally {
    cleanup();
  }
});

// ---- 3. every version add records can be restored ---------------------------------------------

test('add refuses names a manifest cannot hold (line break, backslash, bytes that are not UTF-8, a .git folder) and records nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const cases: Array<[string | Buffer, RegExp]> = [
      ['data/bad\nname', /line break/],
      ['data/back\\slash', /backslash/],
      [Buffer.concat([Buffer.from(join(root, 'data') + '/'), Buffer.from([0x66, 0xff, 0x6f])]), /66ff6f.*not valid UTF-8/],
      ['data/nested/.git/config', /reserved/],
    ];
    for (const [name, why] of cases) {
      rmSync(join(root, 'data'), { recursive: true, force: true });
      writeTree(root, { 'data/good.txt': 'good' });
      if (typeof name === 'string') writeTree(root, { [name]: 'x' });
      else writeFileSync(name, 'x');
      const r = await tdvc(root, ['add', 'data']);
      assertOneClearError(r, /data/, why);
      assert.equal(existsSync(join(root, 'data.tdvc')), false, 'no pointer file was written');
    }
  } finally {
    cleanup();
  }
});

test('links inside a dataset: one leaving the dataset is refused (its target never enters the cache); one to a file inside is read as it; symlink checkouts re-add cleanly', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/real.txt': 'real' });
    symlinkSync(join(out.dir, 'id_rsa'), join(root, 'data', 'key'));
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, /data\/key/, /leaves the dataset/);
    assert.equal(existsSync(objectPath(root, 'PRIVATE KEY hunter2')), false, 'the secret is not in the cache');
    unlinkSync(join(root, 'data', 'key'));

    symlinkSync('real.txt', join(root, 'data', 'alias'));
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    rmSync(join(root, 'data'), { recursive: true });
    assert.equal((await tdvc(root, ['checkout'])).code, 0);
    assert.ok(lstatSync(join(root, 'data', 'alias')).isFile(), 'checked out as the file it pointed to');
    assert.equal(readFileSync(join(root, 'data', 'alias'), 'utf8'), 'real');

    assert.equal((await tdvc(root, ['config', 'cache.type', 'symlink'])).code, 0);
    rmSync(join(root, 'data'), { recursive: true });
    assert.equal((await tdvc(root, ['checkout'])).code, 0);
    assert.ok(lstatSync(join(root, 'data', 'real.txt')).isSymbolicLink());
    const st = await tdvc(root, ['status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    const again = await tdvc(root, ['add', 'data', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).added[0].changed, false, 'a symlink checkout re-adds as the same version');
    out.assertUntouched();
  } finally {
    cleanup();
    out.cleanup();
  }
});

// ---- 4. bounded reads of committed files ---------------------------------------------------------

test('pointer and config files that are links, FIFOs or huge are refused; a malformed one is not echoed', { timeout: 60_000 }, async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    writeFileSync(join(out.dir, 'env'), 'tdvc: 1\nAPI_TOKEN=hunter2\n');
    symlinkSync(join(out.dir, 'env'), join(root, 'data.tdvc'));
    const r = await tdvc(root, ['status']);
    assertOneClearError(r, /data\.tdvc/, /symbolic link/);
    assert.doesNotMatch(r.stderr + r.stdout, /hunter2/);
    unlinkSync(join(root, 'data.tdvc'));

    mkfifo(join(root, 'data.tdvc'));
    assertOneClearError(await tdvc(root, ['checkout']), /data\.tdvc/, /named pipe/);
    unlinkSync(join(root, 'data.tdvc'));

    writeFileSync(join(root, 'data.tdvc'), '# ' + 'x'.repeat(2 << 20) + '\n');
    assertOneClearError(await tdvc(root, ['status']), /data\.tdvc/, /too large/);

    writeFileSync(join(root, 'data.tdvc'), 'API_TOKEN=hunter2\npath hunter2\n');
    const bad = await tdvc(root, ['status']);
    assertOneClearError(bad, /data\.tdvc.*line 1/);
    assert.doesNotMatch(bad.stderr, /hunter2/);
    writeFileSync(join(root, 'data.tdvc'), 'tdvc: 1\npath: data\ntype: hunter2\nhash: blake3:00\nsize: 1\n');
    assert.doesNotMatch((await tdvc(root, ['status'])).stderr, /hunter2/);
    rmSync(join(root, 'data.tdvc'));

    renameSync(join(root, '.tdvc', 'config'), join(out.dir, 'config'));
    symlinkSync(join(out.dir, 'config'), join(root, '.tdvc', 'config'));
    assertOneClearError(await tdvc(root, ['status']), /config/, /symbolic link/);
  } finally {
    cleanup();
    out.cleanup();
  }
});

// ---- 5. only regular files are objects ----------------------------------------------------------

/** A repo with data/a.txt and data/b.txt added, pushed to a folder remote, and the folder removed. */
async function addedAndRemoved(): Promise<{ root: string; remote: string; cleanup: () => void }> {
  const { root, cleanup } = await makeRepo();
  const remote = tempDir('tdvc-remote-');
  writeTree(root, { 'data/a.txt': 'AAAA', 'data/b.txt': 'BBBB', 'data/c.txt': 'CCCC' });
  for (const args of [['add', 'data'], ['remote', 'add', '-d', 'r', remote.path], ['push']]) {
    const r = await tdvc(root, args);
    assert.equal(r.code, 0, r.stderr);
  }
  rmSync(join(root, 'data'), { recursive: true });
  return { root, remote: remote.path, cleanup: () => (cleanup(), remote.cleanup()) };
}

/** Replaces the cache entry of `content` by something made by `make` (the entry's folder is made writable first). */
function replaceEntry(path: string, make: (p: string) => void): void {
  chmodSync(join(path, '..'), 0o755);
  rmSync(path, { force: true });
  make(path);
}

function assertIntegrityFailure(r: RunResult, ...names: RegExp[]): void {
  assert.equal(r.code, 4, `exit 4 (integrity); stderr:\n${r.stderr}`);
  for (const n of names) assert.match(r.stderr, n);
  assert.doesNotMatch(r.stderr, /internal error|^\s+at /m, r.stderr);
}

test('cache entries that are FIFOs or links are never waited on or read through: checkout, fsck, push, and pull from a folder remote', { timeout: 120_000 }, async () => {
  const out = outsideFolder();
  const { root, remote, cleanup } = await addedAndRemoved();
  try {
    replaceEntry(objectPath(root, 'AAAA'), mkfifo);
    replaceEntry(objectPath(root, 'BBBB'), (p) => symlinkSync(join(out.dir, 'id_rsa'), p));
    const r = await tdvc(root, ['checkout']);
    assertIntegrityFailure(r, /data\/a\.txt: expected [0-9a-f]{64}.*named pipe/, /data\/b\.txt: expected [0-9a-f]{64}.*symbolic link/);
    assert.equal(existsSync(join(root, 'data', 'a.txt')), false);
    assert.equal(existsSync(join(root, 'data', 'b.txt')), false, 'the link target never reaches the workspace');
    assert.equal(readFileSync(join(root, 'data', 'c.txt'), 'utf8'), 'CCCC', 'the good file is checked out');
    assert.equal(quarantined(root).length, 2, 'both entries moved to quarantine');
    const pulled = await tdvc(root, ['pull']);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(readFileSync(join(root, 'data', 'a.txt'), 'utf8'), 'AAAA');

    replaceEntry(objectPath(root, 'AAAA'), mkfifo);
    const fsck = await tdvc(root, ['fsck']);
    assert.equal(fsck.code, 4, fsck.stderr + fsck.stdout);
    assert.equal(quarantined(root).length, 3);
    assert.equal((await tdvc(root, ['pull'])).code, 0);

    replaceEntry(objectPath(root, 'BBBB'), mkfifo);
    const other = tempDir('tdvc-remote2-');
    try {
      assert.equal((await tdvc(root, ['remote', 'add', 'r2', other.path])).code, 0);
      const push = await tdvc(root, ['push', '-r', 'r2']);
      assert.equal(push.code, 5, push.stderr);
      assert.match(push.stderr, /named pipe/);
    } finally {
      other.cleanup();
    }

    // the remote's entry is a FIFO: pull reports it and does not hang
    rmSync(join(root, '.tdvc', 'cache'), { recursive: true, force: true });
    rmSync(join(root, 'data'), { recursive: true, force: true });
    const oidC = hashBytes(Buffer.from('CCCC'));
    replaceEntry(join(remote, 'b3v1', oidC.slice(0, 2), oidC.slice(2)), mkfifo);
    const pull = await tdvc(root, ['pull']);
    assert.equal(pull.code, 5, pull.stderr);
    assert.match(pull.stderr, /named pipe/);
    out.assertUntouched();
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('a UNIX socket under an object name is refused like a FIFO: checkout quarantines it and writes the rest, fsck quarantines it (exit 4)', { timeout: 120_000 }, async () => {
  const { root, cleanup } = await addedAndRemoved();
  try {
    replaceEntry(objectPath(root, 'BBBB'), mksocket);
    const r = await tdvc(root, ['checkout']);
    assertIntegrityFailure(r, /data\/b\.txt: expected [0-9a-f]{64}.*socket/);
    assert.doesNotMatch(r.stderr, /ENXIO/);
    assert.equal(readFileSync(join(root, 'data', 'a.txt'), 'utf8'), 'AAAA', 'files before it are written');
    assert.equal(readFileSync(join(root, 'data', 'c.txt'), 'utf8'), 'CCCC', 'files after it are written');
    assert.equal(existsSync(join(root, 'data', 'b.txt')), false);
    assert.deepEqual(quarantined(root).map((n) => lstatSync(join(root, '.tdvc', 'cache', 'quarantine', n)).isSocket()), [true], 'the socket is moved aside as itself');
    assert.equal((await tdvc(root, ['pull'])).code, 0);
    assert.equal(readFileSync(join(root, 'data', 'b.txt'), 'utf8'), 'BBBB');

    replaceEntry(objectPath(root, 'CCCC'), mksocket);
    const fsck = await tdvc(root, ['fsck']);
    assertIntegrityFailure(fsck, /corrupt: [0-9a-f]{64} .*socket/);
    assert.doesNotMatch(fsck.stderr, /ENXIO/);
    assert.equal(quarantined(root).length, 2);
    assert.equal(lstatSync(objectPath(root, 'CCCC'), { throwIfNoEntry: false }), undefined);
  } finally {
    cleanup();
  }
});

test('a folder under an object name is never moved: checkout writes the rest (exit 4), fsck reports it with what to do (exit 4)', { timeout: 120_000 }, async () => {
  const { root, cleanup } = await addedAndRemoved();
  try {
    const folder = objectPath(root, 'BBBB');
    replaceEntry(folder, (p) => writeTree(p, { 'thesis.tex': 'years of work', 'sub/data.csv': '1,2,3' }));
    const before = snapshot(folder);
    const r = await tdvc(root, ['checkout']);
    assertIntegrityFailure(r, /data\/b\.txt: expected [0-9a-f]{64}.*folder.*left in place/);
    assert.equal(readFileSync(join(root, 'data', 'c.txt'), 'utf8'), 'CCCC', 'the rest is checked out');
    assert.equal(existsSync(join(root, 'data', 'b.txt')), false);
    assert.deepEqual(snapshot(folder), before, 'the folder stays where it is, as it is');
    assert.deepEqual(quarantined(root), []);

    const fsck = await tdvc(root, ['fsck']);
    assertIntegrityFailure(fsck, new RegExp(`error: .*left in place.*${folder}`), /hint: .*move it out of the cache yourself/);
    assert.deepEqual(snapshot(folder), before);
    const json = await tdvc(root, ['fsck', '--json']);
    assert.equal(json.code, 4);
    const report = JSON.parse(json.stdout) as { ok: boolean; skipped: string[] };
    assert.deepEqual([report.ok, report.skipped], [false, [folder]]);

    // once the user moved it away, pull restores the object and fsck is clean
    rmSync(folder, { recursive: true });
    assert.equal((await tdvc(root, ['pull'])).code, 0);
    assert.equal(readFileSync(join(root, 'data', 'b.txt'), 'utf8'), 'BBBB');
    const clean = await tdvc(root, ['fsck']);
    assert.equal(clean.code, 0, clean.stderr);
  } finally {
    cleanup();
  }
});

test('a folder remote: a FIFO, link or folder under an object name is not the object; push reports it (EBADOBJECT) and leaves it, status -r and fsck -r tell', { timeout: 120_000 }, async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  const remote = tempDir('tdvc-remote-');
  try {
    writeTree(root, { 'data/a.txt': 'AAAA', 'data/sub/s.txt': 'SSSS', 'data/sub/t.txt': 'TTTT' });
    for (const args of [['add', 'data'], ['remote', 'add', '-d', 'r', remote.path]]) assert.equal((await tdvc(root, args)).code, 0);
    const rootOid = /hash: blake3:([0-9a-f]{64})/.exec(readFileSync(join(root, 'data.tdvc'), 'utf8'))![1]!;
    // the tree root (a node on the remote means its whole subtree is there), a file, and a file
    const planted = [
      [join(remote.path, 'b3v1', rootOid.slice(0, 2), rootOid.slice(2)), 'named pipe', mkfifo],
      [remoteObjectPath(remote.path, 'AAAA'), 'symbolic link', (p: string) => symlinkSync(join(out.dir, 'id_rsa'), p)],
      [remoteObjectPath(remote.path, 'SSSS'), 'folder', (p: string) => writeTree(p, { 'keep.txt': 'mine' })],
    ] as const;
    for (const [p, , make] of planted) {
      mkdirSync(join(p, '..'), { recursive: true });
      make(p);
    }
    const snap = (): string => planted.map(([p]) => `${p}: ${lstatSync(p).mode}`).join('\n') + JSON.stringify([...snapshot(join(planted[2][0]))]);
    const before = snap();

    const status = await tdvc(root, ['status', '-r']);
    assert.doesNotMatch(status.stdout, /in sync/, status.stdout);
    const push = await tdvc(root, ['push', '--json']);
    assert.equal(push.code, 5, push.stderr + push.stdout);
    const { failed } = JSON.parse(push.stdout) as { failed: Array<{ oid: string; code: string; message: string }> };
    for (const [p, kind] of planted.slice(1)) {
      assert.ok(failed.some((f) => f.code === 'EBADOBJECT' && f.message.includes(p) && f.message.includes(kind)), `push names ${p}: ${JSON.stringify(failed)}`);
    }
    assert.equal(readFileSync(remoteObjectPath(remote.path, 'TTTT'), 'utf8'), 'TTTT', 'the subtree under the FIFO root was pushed');
    assert.equal(snap(), before, 'nothing planted is replaced, written through or removed');
    assert.doesNotMatch((await tdvc(root, ['status', '-r'])).stdout, /in sync/);

    // with the files there, the root node itself is what fails
    rmSync(planted[1][0]);
    rmSync(planted[2][0], { recursive: true });
    const again = await tdvc(root, ['push']);
    assert.equal(again.code, 5, again.stderr);
    assert.match(again.stderr, new RegExp(`EBADOBJECT .*${planted[0][0]}.*named pipe`));
    assert.equal(lstatSync(planted[0][0]).isFIFO(), true);
    const status2 = await tdvc(root, ['status', '-r']);
    assert.match(status2.stdout, /folder manifest is not on r/);
    assert.doesNotMatch(status2.stdout, /in sync/);

    const fsck = await tdvc(root, ['fsck', '-r', 'r']);
    assert.equal(fsck.code, 4, fsck.stderr + fsck.stdout);
    assert.match(fsck.stderr, new RegExp(`not an object, left in place: ${planted[0][0]} \\(it is a named pipe`));
    assert.match(fsck.stderr, /hint: .*remove it from the remote yourself/);
    assert.equal(lstatSync(planted[0][0]).isFIFO(), true);

    rmSync(planted[0][0]);
    assert.equal((await tdvc(root, ['push'])).code, 0);
    assert.match((await tdvc(root, ['status', '-r'])).stdout, /in sync/);
    assert.equal((await tdvc(root, ['fsck', '-r', 'r'])).code, 0);
    out.assertUntouched();
  } finally {
    cleanup();
    remote.cleanup();
    out.cleanup();
  }
});

test('get-url refuses a folder-remote entry that is a FIFO, a link (to /proc/self/environ) or a folder', { timeout: 120_000 }, async () => {
  const { root, remote, cleanup } = await addedAndRemoved();
  try {
    assert.match((await tdvc(root, ['get-url', 'data/a.txt'])).stdout, /^file:\/\//, 'a regular file gets its URL');
    const makers: Array<[string, string, (p: string) => void]> = [
      ['AAAA', 'named pipe', mkfifo],
      ['BBBB', 'symbolic link', (p) => symlinkSync('/proc/self/environ', p)],
      ['CCCC', 'folder', (p) => mkdirSync(p)],
    ];
    for (const [content, kind, make] of makers) {
      const p = remoteObjectPath(remote, content);
      replaceEntry(p, make);
      const file = `data/${content[0]!.toLowerCase()}.txt`;
      for (const target of [file, 'data']) {
        const r = await tdvc(root, ['get-url', target]);
        assert.notEqual(r.code, 0, `${target} with a ${kind}: ${r.stdout}`);
        assert.equal(r.stdout, '', 'no URL is printed');
        assert.match(r.stderr, new RegExp(`${p} is not usable as object .*${kind}`));
      }
      const json = await tdvc(root, ['get-url', file, '--json']);
      assert.equal((JSON.parse(json.stdout) as { error: { code: string } }).error.code, 'EBADOBJECT');
      rmSync(p, { recursive: true });
      writeFileSync(p, content);
    }
  } finally {
    cleanup();
  }
});

// ---- 6. data that reaches the workspace is the data that was recorded -----------------------------

test('a corrupt or resized cache object never reaches the workspace: expected/found reported, quarantined, pull restores it', { timeout: 120_000 }, async () => {
  const { root, cleanup } = await addedAndRemoved();
  try {
    // same size, other bytes: only hashing can tell (cache.verify; off by default on a private cache)
    assert.equal((await tdvc(root, ['config', 'cache.verify', 'true'])).code, 0);
    replaceEntry(objectPath(root, 'AAAA'), (p) => writeFileSync(p, 'EVIL', { mode: 0o444 }));
    const r = await tdvc(root, ['checkout']);
    assertIntegrityFailure(r, new RegExp(`data/a\\.txt: expected ${hashBytes(Buffer.from('AAAA'))}, found ${hashBytes(Buffer.from('EVIL'))}`));
    assert.equal(existsSync(join(root, 'data', 'a.txt')), false, 'no file with the corrupt bytes');
    assert.equal(quarantined(root).length, 1);
    assert.equal((await tdvc(root, ['pull'])).code, 0);
    assert.equal(readFileSync(join(root, 'data', 'a.txt'), 'utf8'), 'AAAA');

    // another size: caught even with cache.verify false
    assert.equal((await tdvc(root, ['config', 'cache.verify', 'false'])).code, 0);
    rmSync(join(root, 'data'), { recursive: true });
    replaceEntry(objectPath(root, 'BBBB'), (p) => writeFileSync(p, 'BBBBBBBB', { mode: 0o444 }));
    assertIntegrityFailure(await tdvc(root, ['checkout']), /data\/b\.txt: expected [0-9a-f]{64}, found [0-9a-f]{64}/);
    assert.equal(existsSync(join(root, 'data', 'b.txt')), false);

    // on a shared cache every object is hashed, whatever cache.verify says
    assert.equal((await tdvc(root, ['config', 'cache.shared', 'group'])).code, 0);
    replaceEntry(objectPath(root, 'CCCC'), (p) => writeFileSync(p, 'XXXX', { mode: 0o444 }));
    rmSync(join(root, 'data'), { recursive: true });
    assertIntegrityFailure(await tdvc(root, ['checkout']), /data\/c\.txt: expected/);
    assert.equal(existsSync(join(root, 'data', 'c.txt')), false);
  } finally {
    cleanup();
  }
});

test('a corrupt large object (streamed copy) leaves no workspace file; a manifest that lies about a size quarantines nothing', { timeout: 120_000 }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const big = Buffer.alloc(9 << 20, 7);
    writeTree(root, { 'model.bin': big });
    assert.equal((await tdvc(root, ['config', 'cache.verify', 'true'])).code, 0);
    assert.equal((await tdvc(root, ['add', 'model.bin'])).code, 0);
    rmSync(join(root, 'model.bin'));
    const p = join(root, '.tdvc', 'cache', 'b3v1', hashBytes(big).slice(0, 2), hashBytes(big).slice(2));
    const evil = Buffer.from(big);
    evil[evil.length - 1] = 8;
    replaceEntry(p, (q) => writeFileSync(q, evil, { mode: 0o444 }));
    assertIntegrityFailure(await tdvc(root, ['checkout']), /model\.bin: expected/);
    assert.equal(existsSync(join(root, 'model.bin')), false);

    // an intact object under a manifest that records another size: refused, but the object stays
    const text = await handWrittenDataset(join(root, '.tdvc', 'cache'), 'data', { 'f.txt': 'ffff' });
    const odb = new ObjectStore(join(root, '.tdvc', 'cache'));
    const m = serializeManifest([{ path: 'f.txt', oid: hashBytes(Buffer.from('ffff')), size: 5, exec: false }]);
    const put = await odb.putBytes(Buffer.from(m));
    writeFileSync(join(root, 'data.tdvc'), text.replace(/hash: blake3:[0-9a-f]+/, `hash: blake3:${put.oid}`));
    const before = quarantined(root).length;
    const r = await tdvc(root, ['checkout']);
    assertIntegrityFailure(r, /data\/f\.txt: expected [0-9a-f]{64} \(the manifest records 5 bytes/);
    assert.equal(quarantined(root).length, before, 'the intact object is not quarantined');
    assert.ok(existsSync(objectPath(root, 'ffff')));
  } finally {
    cleanup();
  }
});

test('tdvc merge of a branch that turns data into a link: the data checkout refuses, nothing outside changes', async () => {
  const out = outsideFolder();
  const a = await attackerWithData({ 'a.txt': 'attacker a' });
  try {
    commitAll(a.root, 'v1');
    git(a.root, 'checkout', '-qb', 'evil');
    rmSync(join(a.root, 'data'), { recursive: true });
    symlinkSync(out.dir, join(a.root, 'data'));
    commitAll(a.root, 'data is a link', 'data');
    git(a.root, 'checkout', '-q', 'main');
    git(a.root, 'commit', '-q', '--allow-empty', '-m', 'diverge');
    // (Git itself would refuse to replace an untracked folder by the branch's link)
    rmSync(join(a.root, 'data'), { recursive: true, force: true });
    const r = await tdvc(a.root, ['merge', 'evil'], { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com' });
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /data.*symbolic link|symbolic link.*data/);
    out.assertUntouched();
  } finally {
    a.cleanup();
    out.cleanup();
  }
});

test('a shared cache whose fan-out folder a group member replaced by a link: add writes no object over there', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'AAAA' });
    const oid = hashBytes(Buffer.from('AAAA'));
    mkdirSync(join(root, '.tdvc', 'cache', 'b3v1'), { recursive: true });
    symlinkSync(out.dir, join(root, '.tdvc', 'cache', 'b3v1', oid.slice(0, 2)));
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, new RegExp(`b3v1/${oid.slice(0, 2)}`), /symbolic link/);
    out.assertUntouched();
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('checkout --theirs/--ours after a merge that brings a link to a folder inside the dataset: refuses before writing the pointer file or dropping the merge state', async () => {
  const out = outsideFolder();
  const { root, cleanup } = await makeRepo();
  const save = tempDir('tdvc-save-');
  try {
    assert.equal((await tdvc(root, ['install'])).code, 0);
    writeTree(root, { 'data/a.txt': 'a', 'data/sub/s.txt': 's' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    commitAll(root, 'v1');
    // the other branch changes data/sub/s.txt, then force-adds data/sub as a link to a folder outside
    git(root, 'checkout', '-qb', 'evil');
    writeTree(root, { 'data/sub/s.txt': 'THEIRS' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    renameSync(join(root, 'data', 'sub'), join(save.path, 'sub'));
    symlinkSync(out.dir, join(root, 'data', 'sub'));
    commitAll(root, 'evil', 'data/sub');
    git(root, 'checkout', '-q', 'main');
    rmSync(join(root, 'data', 'sub'), { recursive: true, force: true });
    assert.equal((await tdvc(root, ['checkout', '--force'])).code, 0);
    writeTree(root, { 'data/sub/s.txt': 'OURS' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    commitAll(root, 'ours');

    const m = spawnSync('git', ['merge', '--no-edit', 'evil'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
    });
    assert.notEqual(m.status, 0, 'the merge stops on the conflict in data.tdvc');
    assert.ok(lstatSync(join(root, 'data', 'sub')).isSymbolicLink(), 'git put the link in place');
    const pointer = readFileSync(join(root, 'data.tdvc'));
    assert.match(pointer.toString(), /merge conflict/);
    const mergeDir = join(root, '.tdvc', 'tmp', 'merge');
    const state = snapshot(mergeDir);
    assert.equal(state.size, 1, 'the merge driver left its state');

    for (const side of ['--theirs', '--ours']) {
      const r = await tdvc(root, ['checkout', side, '--', 'data/sub/s.txt']);
      assertOneClearError(r, /data\/sub/, /symlink|symbolic link/);
      assert.deepEqual(readFileSync(join(root, 'data.tdvc')), pointer, `${side}: data.tdvc is byte for byte as the merge left it`);
      assert.deepEqual(snapshot(mergeDir), state, `${side}: the merge state is still there`);
      assert.ok(lstatSync(join(root, 'data', 'sub')).isSymbolicLink());
      out.assertUntouched();
    }

    // the link gone, the conflict can still be resolved
    unlinkSync(join(root, 'data', 'sub'));
    const ours = await tdvc(root, ['checkout', '--ours', '--', 'data/sub/s.txt']);
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(readFileSync(join(root, 'data', 'sub', 's.txt'), 'utf8'), 'OURS');
    assert.doesNotMatch(readFileSync(join(root, 'data.tdvc'), 'utf8'), /merge conflict/);
    assert.deepEqual(readdirSync(mergeDir), []);
    out.assertUntouched();
  } finally {
    save.cleanup();
    cleanup();
    out.cleanup();
  }
});

/** tdvc, killed after `ms`: a command that would hang (and grow) must not outlive the test */
function tdvcWithin(cwd: string, args: string[], ms: number): RunResult & { timedOut: boolean } {
  const r = spawnSync(process.execPath, [TDVC_BIN, ...args], { cwd, encoding: 'utf8', timeout: ms, killSignal: 'SIGKILL' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, timedOut: r.error !== undefined || r.signal !== null };
}

test('a committed core.jobs of 100000000 or abc, or a remote jobs of 0: push, fetch, pull and status -r stop at once with ECONFIG naming the file and key', { timeout: 300_000 }, async () => {
  const out = outsideFolder();
  const a = await attackerWithData({ 'a.txt': 'a', 'b.txt': 'b' });
  const v = { root: '', cleanup: () => {} };
  try {
    for (const [key, value] of [['core.jobs', '100000000'], ['core.jobs', 'abc'], ['remote.r.jobs', '0']] as const) {
      const evil = spawnSync('git', ['config', '-f', '.tdvc/config', key, value], { cwd: a.root });
      assert.equal(evil.status, 0, String(evil.stderr));
      commitAll(a.root, `${key} ${value}`);
      v.cleanup();
      Object.assign(v, cloneOf(a.root));
      const before = snapshot(v.root);
      for (const args of [['push'], ['fetch'], ['pull'], ['status', '-r'], ['push', '-j', '4']]) {
        const what = `${key} ${value}: tdvc ${args.join(' ')}`;
        const r = tdvcWithin(v.root, args, 30_000);
        assert.equal(r.timedOut, false, `${what}: finished`);
        assert.equal(r.code, 2, `${what}: exit ${r.code}, ${r.stderr}`);
        assertOneClearError(r, new RegExp(`${key.replace(/\./g, '\\.')} in .*\\.tdvc/config\\b`), /must be a whole number from 1 to 1024/);
        assert.deepEqual(snapshot(v.root), before, `${what}: nothing written`);
      }
      const json = tdvcWithin(v.root, ['push', '--json'], 30_000);
      const err = (JSON.parse(json.stdout) as { error: { code: string; path: string } }).error;
      assert.equal(err.code, 'ECONFIG');
      assert.equal(err.path, join(v.root, '.tdvc', 'config'));
      // a local setting overrides the committed one, as README says
      assert.equal((await tdvc(v.root, ['config', '--local', key, '4'])).code, 0);
      const pulled = tdvcWithin(v.root, ['pull'], 60_000);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.equal(readFileSync(join(v.root, 'data', 'a.txt'), 'utf8'), 'a');
      git(a.root, 'config', '-f', '.tdvc/config', '--unset', key);
      commitAll(a.root, `no ${key}`);
      out.assertUntouched();
    }
  } finally {
    v.cleanup();
    a.cleanup();
    out.cleanup();
  }
});
