import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statfsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { addFile, FileChangedError, hashBytes, hashFile, LAYOUT, ObjectStore, parsePointer, serializeManifest, serializePointer } from '@tdvc/core';
import { assertOneClearError, git, makeRepo, snapshot, TDVC_BIN, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

// ---- helpers -------------------------------------------------------------------------------

/** Files in the cache: final-named objects (checked against their names) and anything else. */
async function checkCache(cacheDir: string): Promise<{ objects: string[]; others: string[] }> {
  const base = join(cacheDir, LAYOUT);
  const objects: string[] = [];
  const others: string[] = [];
  if (!existsSync(base)) return { objects, others };
  for (const fan of readdirSync(base)) {
    for (const name of readdirSync(join(base, fan))) {
      if (fan.length === 2 && /^[0-9a-f]{62}$/.test(name)) {
        const { oid } = await hashFile(join(base, fan, name));
        assert.equal(oid, fan + name, `object ${fan}/${name} holds exactly the bytes its name says`);
        objects.push(fan + name);
      } else others.push(`${fan}/${name}`);
    }
  }
  return { objects, others };
}

function random(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (size * 2654435761) >>> 0 || 7;
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (let i = size - (size % 4); i < size; i++) b[i] = i & 0xff;
  return b;
}

const cacheOf = (root: string): string => join(root, '.tdvc', 'cache');
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// ---- paths outside the repository ---------------------------------------------------------------

test('add refuses a path outside the repository (../x and an absolute path), changing nothing', async () => {
  const { root, cleanup } = await makeRepo();
  const outside = tempDir('tdvc-outside-');
  try {
    writeTree(root, { 'data/a.txt': 'a' });
    writeFileSync(join(outside.path, 'x.bin'), 'outside');
    const before = snapshot(root);
    const beforeOutside = snapshot(outside.path);
    const rel = join('..', outside.path.split('/').pop()!, 'x.bin');
    for (const arg of [rel, join(outside.path, 'x.bin'), '../x']) {
      const r = await tdvc(root, ['add', arg]);
      assertOneClearError(r, new RegExp(escapeRe(arg)), /outside the repository/);
      assert.equal(r.code, 2, 'usage error');
    }
    // also when combined with a valid path: nothing at all is added
    const mixed = await tdvc(root, ['add', 'data', join(outside.path, 'x.bin')]);
    assertOneClearError(mixed, /x\.bin/, /outside the repository/);
    assert.deepEqual(snapshot(root), before, 'workspace and cache unchanged');
    assert.deepEqual(snapshot(outside.path), beforeOutside);
  } finally {
    cleanup();
    outside.cleanup();
  }
});

// ---- malformed and tampered pointer files -------------------------------------------------------

test('checkout and status refuse a garbage pointer file, naming it, changing nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data.tdvc': 'this is not a pointer\n\u0000\u0001binary' });
    const before = snapshot(root);
    for (const cmd of [['checkout'], ['status'], ['checkout', 'data']]) {
      const r = await tdvc(root, cmd);
      assertOneClearError(r, /data\.tdvc/, /malformed/);
    }
    assert.deepEqual(snapshot(root), before);
    assert.equal(existsSync(join(root, 'data')), false);
  } finally {
    cleanup();
  }
});

test('checkout refuses pointers with a bad hash (uppercase, short, wrong algorithm), changing nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'alpha' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    const good = readFileSync(join(root, 'data.tdvc'), 'utf8');
    const oid = parsePointer(good, 'data.tdvc').oid;
    rmSync(join(root, 'data'), { recursive: true });
    for (const bad of [`blake3:${oid.toUpperCase()}`, `blake3:${oid.slice(1)}`, `sha256:${oid}`, oid]) {
      writeFileSync(join(root, 'data.tdvc'), good.replace(`blake3:${oid}`, bad));
      const before = snapshot(root);
      const r = await tdvc(root, ['checkout']);
      assertOneClearError(r, /data\.tdvc/, /hash/);
      assert.deepEqual(snapshot(root), before, `nothing written for ${bad}`);
      assert.equal(existsSync(join(root, 'data')), false);
    }
  } finally {
    cleanup();
  }
});

for (const kind of ['dot-dot', 'absolute'] as const) {
  test(`checkout refuses a tampered manifest (${kind} path) stored under its right hash, writing nothing`, async () => {
    const { root, cleanup } = await makeRepo();
    const outside = tempDir('tdvc-victim-');
    try {
      const store = new ObjectStore(cacheOf(root));
      const payload = Buffer.from('attacker controlled\n');
      const obj = await store.putBytes(payload);
      const legit = await store.putBytes(Buffer.from('legit\n'));
      const evil = kind === 'dot-dot' ? '../escape.txt' : `${outside.path.slice(1)}/pwned.txt`;
      // craft the text by hand: serializeManifest does not validate, and the sorted order is right
      const text = kind === 'dot-dot'
        ? `tdvc-manifest 1\n${obj.oid} ${obj.size} - ${evil}\n${legit.oid} 6 - ok.txt\n`
        : `tdvc-manifest 1\n${obj.oid} ${obj.size} - /${evil}\n${legit.oid} 6 - ok.txt\n`;
      assert.equal(text, kind === 'dot-dot' ? serializeManifest([{ path: 'ok.txt', oid: legit.oid, size: 6, exec: false }, { path: evil, oid: obj.oid, size: obj.size, exec: false }]) : text);
      const manifest = await store.putBytes(Buffer.from(text));
      assert.equal(manifest.oid, hashBytes(Buffer.from(text)), 'the manifest is stored under its true BLAKE3 name');
      writeFileSync(join(root, 'data.tdvc'), serializePointer({ version: 1, path: 'data', type: 'dir', oid: manifest.oid, size: 26, files: 2 }));
      const before = snapshot(root);
      const r = await tdvc(root, ['checkout']);
      assertOneClearError(r, /data\.tdvc/, kind === 'dot-dot' ? /\.\./ : /absolute/);
      assert.equal(r.code, 1);
      assert.deepEqual(snapshot(root), before, 'nothing written anywhere in the repository');
      assert.equal(existsSync(join(root, 'escape.txt')), false);
      assert.equal(existsSync(join(root, '..', 'escape.txt')), false);
      assert.equal(existsSync(join(outside.path, 'pwned.txt')), false);
      assert.equal(existsSync(join(root, 'data')), false, 'not even the dataset folder was created');
      // forcing does not help either
      const forced = await tdvc(root, ['checkout', '--force']);
      assertOneClearError(forced, /data\.tdvc/);
      assert.deepEqual(snapshot(root), before);
    } finally {
      cleanup();
      outside.cleanup();
    }
  });
}

// ---- symlink loops -----------------------------------------------------------------------------

test('add refuses a symlink loop inside a dataset, naming it, changing nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'a', 'data/sub/b.txt': 'b' });
    symlinkSync('loop', join(root, 'data/sub/loop'));
    symlinkSync('pong', join(root, 'data/ping'));
    symlinkSync('ping', join(root, 'data/pong'));
    const before = snapshot(root);
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, /data\/(sub\/loop|ping|pong)/, /symlink loop/);
    assert.deepEqual(snapshot(root), before, 'no pointer, no cache objects, no .gitignore change');
    assert.equal((await checkCache(cacheOf(root))).objects.length, 0);
  } finally {
    cleanup();
  }
});

test('add refuses a symlink loop given as the argument, and a directory symlink cycle inside a dataset', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    symlinkSync('self', join(root, 'self'));
    writeTree(root, { 'tree/x/file': 'f' });
    symlinkSync('..', join(root, 'tree/x/up')); // tree/x/up/x/up/... forever if followed
    const before = snapshot(root);
    const r = await tdvc(root, ['add', 'self']);
    assertOneClearError(r, /self/, /symbolic link/);
    const r2 = await tdvc(root, ['add', 'tree']);
    assertOneClearError(r2, /tree\/x\/up/);
    assert.deepEqual(snapshot(root), before);
  } finally {
    cleanup();
  }
});

// ---- files that change or vanish while they are added -------------------------------------------

/** A child process appending one byte to `file` every millisecond; resolves once it has begun. */
async function startAppender(file: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `const fs=require('fs');setInterval(()=>fs.appendFileSync(${JSON.stringify(file)},'x'),1)`], { stdio: 'ignore' });
  const size0 = lstatSync(file).size;
  for (let i = 0; i < 500 && lstatSync(file).size === size0; i++) await new Promise((r) => setTimeout(r, 5));
  assert.notEqual(lstatSync(file).size, size0, 'the appender started');
  return child;
}
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

for (const size of [64 << 20, 1 << 20]) {
  test(`addFile refuses a ${size >> 20} MiB file that grows while it is read (FileChangedError)`, async () => {
    const dir = tempDir();
    try {
      const store = new ObjectStore(join(dir.path, 'cache'));
      const file = join(dir.path, 'growing.bin');
      writeFileSync(file, random(size));
      let refused: unknown;
      for (let attempt = 0; attempt < 5 && refused === undefined; attempt++) {
        const child = await startAppender(file);
        try {
          await addFile(store, file);
        } catch (err) {
          refused = err;
        } finally {
          await stop(child);
        }
      }
      assert.ok(refused instanceof FileChangedError, `expected FileChangedError, got ${String(refused)}`);
      assert.equal(refused.path, file);
      const { others } = await checkCache(store.root);
      assert.deepEqual(others, [], 'no temp files left in the cache');
    } finally {
      dir.cleanup();
    }
  });
}

test('tdvc add of a file that grows while it is read fails clearly and writes no pointer', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const file = join(root, 'log.bin');
    writeFileSync(file, random(48 << 20));
    let r: RunResult | undefined;
    for (let attempt = 0; attempt < 5 && (r === undefined || r.code === 0); attempt++) {
      rmSync(join(root, 'log.bin.tdvc'), { force: true });
      const child = await startAppender(file);
      try {
        r = await tdvc(root, ['add', 'log.bin']);
      } finally {
        await stop(child);
      }
    }
    assertOneClearError(r!, /log\.bin/, /changed while it was being added/);
    assert.equal(existsSync(join(root, 'log.bin.tdvc')), false, 'no pointer file');
    await checkCache(cacheOf(root)); // whatever is there is intact
  } finally {
    cleanup();
  }
});

// ---- a full disk --------------------------------------------------------------------------------

function mountTmpfs(dir: string, size: string): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `cannot mount a tmpfs here: ${r.stderr.trim()}`;
}
function umount(dir: string): void {
  spawnSync('umount', [dir]);
}

test('full disk: adding more data than fits fails with a clear ENOSPC message and leaves the cache consistent', async (t) => {
  const mnt = tempDir('tdvc-tmpfs-');
  const skip = mountTmpfs(mnt.path, '2m');
  if (skip) {
    mnt.cleanup();
    t.skip(skip);
    return;
  }
  try {
    const root = mnt.path;
    git(root, 'init', '-q', '-b', 'main');
    assert.equal((await tdvc(root, ['init'])).code, 0);
    const files = { 'data/a.bin': random(600_000), 'data/b.bin': random(600_001), 'data/c.bin': random(300_000) };
    writeTree(root, files);
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, new RegExp(`${escapeRe(root)}/\\S+: no space left on device`), /no space left on device/i);
    assert.match(r.stderr, /hint: free some space/);
    const cache = await checkCache(cacheOf(root)); // every object under its final name is intact
    assert.deepEqual(cache.others, [], 'temp files of failed writes are removed');
    assert.equal(existsSync(join(root, 'data.tdvc')), false, 'no pointer file, not even a partial one');
    assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('.tmp')), [], 'no temp pointer file');
    for (const [rel, content] of Object.entries(files)) assert.ok(readFileSync(join(root, rel)).equals(content), `${rel} untouched`);

    // with room again, the same command finishes the job
    assert.equal(spawnSync('mount', ['-o', 'remount,size=8m', root]).status, 0);
    const again = await tdvc(root, ['add', 'data']);
    assert.equal(again.code, 0, again.stderr);
    const st = await tdvc(root, ['status', '--json']);
    assert.equal((JSON.parse(st.stdout) as { clean: boolean }).clean, true, st.stdout);
    assert.equal((await checkCache(cacheOf(root))).objects.length, 4, '3 files and a manifest');
  } finally {
    umount(mnt.path);
    mnt.cleanup();
  }
});

test('full disk while writing the pointer file: the message names the file, no partial pointer is left', async (t) => {
  const mnt = tempDir('tdvc-tmpfs-');
  const skip = mountTmpfs(mnt.path, '2m');
  if (skip) {
    mnt.cleanup();
    t.skip(skip);
    return;
  }
  try {
    const root = mnt.path;
    git(root, 'init', '-q', '-b', 'main');
    assert.equal((await tdvc(root, ['init'])).code, 0);
    writeTree(root, { 'data/a.txt': 'alpha', 'data/b.txt': 'beta' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    const pointer = readFileSync(join(root, 'data.tdvc'), 'utf8');
    rmSync(join(root, 'data.tdvc'));
    // fill the filesystem completely: every object is cached already, only the pointer must be written
    spawnSync('sh', ['-c', `cat /dev/zero > ${JSON.stringify(join(root, 'filler'))} 2>/dev/null`]);
    const before = snapshot(root);
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, new RegExp(`${escapeRe(root)}/\\S+`), /no space left on device/i);
    assert.equal(existsSync(join(root, 'data.tdvc')), false, 'no partial pointer file');
    assert.deepEqual(snapshot(root), before, 'no temp files left behind');

    rmSync(join(root, 'filler'));
    const again = await tdvc(root, ['add', 'data']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(join(root, 'data.tdvc'), 'utf8'), pointer);
  } finally {
    umount(mnt.path);
    mnt.cleanup();
  }
});

/** Fills the filesystem at `dir` so that exactly `free` bytes remain available. */
function leaveFree(dir: string, free: number): void {
  const st = statfsSync(dir);
  const avail = st.bavail * st.bsize;
  assert.ok(avail > free, `${avail} bytes available, need more than ${free}`);
  writeFileSync(join(dir, 'filler'), Buffer.alloc(avail - free));
  const now = statfsSync(dir);
  assert.equal(now.bavail * now.bsize, free);
}

test('full disk: a short write on the last chunk of a large file never publishes a truncated object', async (t) => {
  // 9 MiB + 5000 B is streamed in 1 MiB chunks; with a few pages more than 9 MiB free, the last
  // write(2) is short (it writes what fits, without an error) rather than failing.
  const size = 9 * 1024 * 1024 + 5000;
  const content = random(size);
  for (const extraPages of [1, 2, 3]) {
    const mnt = tempDir('tdvc-tmpfs-');
    const skip = mountTmpfs(mnt.path, '24m');
    if (skip) {
      mnt.cleanup();
      t.skip(skip);
      return;
    }
    try {
      const root = mnt.path;
      git(root, 'init', '-q', '-b', 'main');
      assert.equal((await tdvc(root, ['init'])).code, 0);
      writeFileSync(join(root, 'big.bin'), content);
      leaveFree(root, 9 * 1024 * 1024 + extraPages * 4096);
      const r = await tdvc(root, ['add', 'big.bin']);
      const cache = await checkCache(cacheOf(root)); // the bug: a 9 MiB + 4 KiB object named for the whole file
      if (r.code === 0) {
        assert.deepEqual(cache.objects, [hashBytes(content)]);
      } else {
        assertOneClearError(r, /\//, /no space left on device/i);
        assert.equal(existsSync(join(root, 'big.bin.tdvc')), false);
      }
    } finally {
      umount(mnt.path);
      mnt.cleanup();
    }
  }
});

test('full disk: ObjectWriter (downloads) never publishes a short-written object', async (t) => {
  const chunks = [random(1 << 20), random((1 << 20) + 1), random(5000)];
  const whole = Buffer.concat(chunks);
  const oid = hashBytes(whole);
  for (const extraPages of [1, 2]) {
    const mnt = tempDir('tdvc-tmpfs-');
    const skip = mountTmpfs(mnt.path, '8m');
    if (skip) {
      mnt.cleanup();
      t.skip(skip);
      return;
    }
    try {
      const store = new ObjectStore(join(mnt.path, 'cache'));
      await store.putBytes(Buffer.from('make the fan-out and layout folders exist'));
      leaveFree(mnt.path, 2 * (1 << 20) + extraPages * 4096);
      let failed: unknown;
      const w = await store.openWriter(oid, 'remote:test');
      try {
        for (const c of chunks) await w.write(c);
        await w.commit();
      } catch (err) {
        failed = err;
        await w.abort();
      }
      const cache = await checkCache(store.root);
      if (failed === undefined) assert.ok(cache.objects.includes(oid));
      else assert.equal(cache.objects.includes(oid), false);
      assert.deepEqual(cache.others, [], 'no temp file left');
    } finally {
      umount(mnt.path);
      mnt.cleanup();
    }
  }
});

// ---- other refusals -----------------------------------------------------------------------------

test('init outside a Git repository fails with a clear message and creates nothing', async () => {
  const { path, cleanup } = tempDir();
  try {
    if (spawnSync('git', ['rev-parse', '--git-dir'], { cwd: path }).status === 0) return; // the temp folder is inside a Git checkout
    const r = await tdvc(path, ['init']);
    assertOneClearError(r, new RegExp(escapeRe(path)), /not inside a Git repository/);
    assert.match(r.stderr, /hint: .*git init/);
    assert.deepEqual(readdirSync(path), [], 'no .tdvc folder');
    const ok = await tdvc(path, ['init', '--no-git']);
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    cleanup();
  }
});

test('checkout with changes that are not in the cache exits 3, lists them, and touches nothing', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a.txt': 'alpha', 'data/sub/b.txt': 'beta', 'data/c.txt': 'gamma', 'model.bin': 'weights' });
    assert.equal((await tdvc(root, ['add', 'data', 'model.bin'])).code, 0);
    writeTree(root, { 'data/a.txt': 'ALPHA', 'data/sub/new.txt': 'new', 'model.bin': 'tuned weights' });
    rmSync(join(root, 'data/c.txt')); // a deletion loses nothing: it is restored from the cache
    const before = snapshot(root);
    const r = await tdvc(root, ['checkout']);
    assert.equal(r.code, 3, r.stderr);
    assertOneClearError(r, /would discard changes/);
    const listed = r.stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim()).sort();
    assert.deepEqual(listed, ['data/a.txt', 'data/sub/new.txt', 'model.bin']);
    assert.deepEqual(snapshot(root), before, 'nothing touched, not even the deleted file restored');
    const json = await tdvc(root, ['checkout', '--json']);
    assert.equal(json.code, 3);
    const err = JSON.parse(json.stdout) as { error: { code: string; data: { paths: string[] } } };
    assert.equal(err.error.code, 'EWOULDLOSE');
    assert.deepEqual([...err.error.data.paths].sort(), ['data/a.txt', 'data/sub/new.txt', 'model.bin']);
  } finally {
    cleanup();
  }
});

test('a closed output pipe (tdvc add … | head -0) does not stop the command midway', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`data/f${i}`, `file ${i}`])));
    const child = spawn(process.execPath, [TDVC_BIN, 'add', 'data', 'data'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first line
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    assert.doesNotMatch(stderr, /EPIPE|at /);
    assert.ok(existsSync(join(root, 'data.tdvc')), 'the pointer file was written');
    const st = await tdvc(root, ['status', '--json']);
    assert.equal((JSON.parse(st.stdout) as { clean: boolean }).clean, true);
  } finally {
    cleanup();
  }
});
