// Reflink (copy-on-write) links on a real XFS filesystem with reflink=1, made in a sparse image
// file on a loop device. Needs root (loop devices and mount); skipped, with the reason, otherwise.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { git, tdvc, tempDir, writeTree } from './helpers.js';

const IMAGE_MB = 300;

function run(cmd: string, args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error.message) : '') };
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.err}`);
  return r.out;
}

function missingTool(): string | undefined {
  for (const t of ['mkfs.xfs', 'losetup', 'mount', 'umount', 'filefrag']) {
    if (run('sh', ['-c', `command -v ${t}`]).code !== 0) return t;
  }
  return undefined;
}

/** Physical extents of a file from `filefrag -v`: start block, length and whether it is shared. */
function extents(path: string): Array<{ physical: number; length: number; shared: boolean }> {
  const out = must('filefrag', ['-v', path]);
  const list: Array<{ physical: number; length: number; shared: boolean }> = [];
  for (const line of out.split('\n')) {
    // "   0:        0..      15:         24..        39:     16:             last,shared,eof"
    const m = /^\s*\d+:\s*\d+\.\.\s*\d+:\s*(\d+)\.\.\s*\d+:\s*(\d+):\s*(\S*)/.exec(line);
    if (m) list.push({ physical: Number(m[1]), length: Number(m[2]), shared: /\bshared\b/.test(line) });
  }
  return list;
}

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The cache object holding exactly the bytes of `workspaceFile` (found by content, not by layout). */
function cacheObjectFor(cacheDir: string, workspaceFile: string): string {
  const size = statSync(workspaceFile).size;
  const digest = sha256(workspaceFile);
  const hit = filesUnder(cacheDir).find((p) => statSync(p).size === size && sha256(p) === digest);
  assert.ok(hit, `no cache object holds the bytes of ${workspaceFile}`);
  return hit;
}

/** Asserts that `a` and `b` are reflinks of each other: same physical extents, all flagged shared. */
function assertReflinked(a: string, b: string): void {
  const ea = extents(a);
  const eb = extents(b);
  assert.ok(ea.length > 0, `${a} has no extents`);
  assert.ok(ea.every((e) => e.shared), `${a} has unshared extents: ${JSON.stringify(ea)}`);
  assert.deepEqual(
    ea.map((e) => [e.physical, e.length]),
    eb.map((e) => [e.physical, e.length]),
    `${a} and ${b} do not share their blocks`,
  );
}

function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  try {
    const chunk = 4 << 20;
    for (let left = bytes; left > 0; left -= chunk) writeSync(fd, randomBytes(Math.min(chunk, left)));
  } finally {
    closeSync(fd);
  }
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Makes, mounts and hands over an XFS (reflink=1) filesystem; returns undefined plus a reason to skip. */
function mountXfs(t: TestContext, base: string): { mnt: string; unmount: () => void } | undefined {
  if (process.platform !== 'linux') {
    t.skip('reflink test needs Linux (XFS on a loop device)');
    return undefined;
  }
  if (process.getuid?.() !== 0) {
    t.skip('not running as root: loop devices and mount need root');
    return undefined;
  }
  const tool = missingTool();
  if (tool) {
    t.skip(`${tool} is not installed (xfsprogs, util-linux and e2fsprogs provide them)`);
    return undefined;
  }
  const img = join(base, 'xfs.img');
  const mnt = join(base, 'mnt');
  writeFileSync(img, '');
  truncateSync(img, IMAGE_MB * 1024 * 1024); // sparse
  must('mkfs.xfs', ['-q', '-f', '-m', 'reflink=1', img]);
  const lo = run('losetup', ['--find', '--show', img]);
  if (lo.code !== 0) {
    t.skip(`loop devices are not available here: ${lo.err.trim()}`);
    return undefined;
  }
  const loop = lo.out.trim();
  mkdirSync(mnt);
  const m = run('mount', [loop, mnt]);
  if (m.code !== 0) {
    run('losetup', ['-d', loop]);
    t.skip(`cannot mount ${loop}: ${m.err.trim()}`);
    return undefined;
  }
  return {
    mnt,
    unmount: () => {
      const u = run('umount', [mnt]);
      const d = run('losetup', ['-d', loop]);
      if (u.code !== 0 || d.code !== 0) throw new Error(`cleanup failed: umount: ${u.err} losetup -d: ${d.err}`);
    },
  };
}

test('cache.type reflink on XFS: workspace files are copy-on-write clones of the cache objects', { timeout: 120_000 }, async (t) => {
  const base = tempDir('tdvc-reflink-');
  try {
    const fs = mountXfs(t, base.path);
    if (!fs) return;
    try {
      const root = join(fs.mnt, 'repo');
      mkdirSync(root);
      git(root, 'init', '-q', '-b', 'main');
      assert.equal((await tdvc(root, ['init'])).code, 0);
      const cfg = await tdvc(root, ['config', 'cache.type', 'reflink,copy']);
      assert.equal(cfg.code, 0, cfg.stderr);

      // a folder of small and medium files (the store reads small ones whole, larger ones by chunks) and one large file
      const tree: Record<string, Buffer> = {};
      for (let i = 0; i < 40; i++) tree[`data/part-${i % 4}/f${i}.bin`] = randomBytes(1024 + ((i * 7919) % (64 * 1024)));
      tree['data/medium.bin'] = randomBytes(9 << 20);
      writeTree(root, tree);
      const bigMB = 96;
      writeRandomFile(join(root, 'big.bin'), bigMB << 20);
      const originals = new Map<string, string>();
      for (const f of [...filesUnder(join(root, 'data')), join(root, 'big.bin')]) originals.set(f, sha256(f));

      const added = await tdvc(root, ['add', 'data', 'big.bin']);
      assert.equal(added.code, 0, added.stderr);
      const cacheDir = join(root, '.tdvc', 'cache');

      // every workspace file now shares its blocks with its cache object
      for (const [f, digest] of originals) {
        assert.equal(sha256(f), digest, `${f} changed content`);
        assertReflinked(f, cacheObjectFor(cacheDir, f));
      }
      const st0 = await tdvc(root, ['status', '--json']);
      assert.equal(st0.code, 0, st0.stderr);
      assert.equal((JSON.parse(st0.stdout) as { clean: boolean }).clean, true, st0.stdout);

      // writing into a clone copies the written block (CoW): the cache object keeps its bytes
      const edited = join(root, 'data', 'part-1', 'f1.bin');
      const editedObject = cacheObjectFor(cacheDir, edited);
      const objectDigest = sha256(editedObject);
      const fd = openSync(edited, 'r+');
      try {
        writeSync(fd, Buffer.from('changed in place'), 0, 16, 0);
        fsyncSync(fd); // XFS remaps the copy-on-write block at writeback
      } finally {
        closeSync(fd);
      }
      assert.notEqual(sha256(edited), originals.get(edited));
      assert.equal(sha256(editedObject), objectDigest, 'the cache object changed when its clone was edited');
      assert.ok(!extents(edited)[0]!.shared, 'the edited block should no longer be shared');
      const st1 = await tdvc(root, ['status', '--json']);
      const report = JSON.parse(st1.stdout) as { clean: boolean; datasets: Array<{ modified: string[] }> };
      assert.equal(report.clean, false);
      assert.ok(report.datasets.some((d) => d.modified.includes('data/part-1/f1.bin')), st1.stdout);

      // delete everything and check out again: the files come back as clones with the original bytes
      rmSync(join(root, 'data'), { recursive: true });
      rmSync(join(root, 'big.bin'));
      const co = await tdvc(root, ['checkout']);
      assert.equal(co.code, 0, co.stderr);
      for (const [f, digest] of originals) {
        assert.equal(sha256(f), digest, `${f} was not restored`);
        assertReflinked(f, cacheObjectFor(cacheDir, f));
      }
      assert.equal(sha256(editedObject), objectDigest);

      // checking out the large file again takes (almost) no space: it is a clone, not a copy
      rmSync(join(root, 'big.bin'));
      must('sync', []);
      const before = freeBytes(root);
      const co2 = await tdvc(root, ['checkout', 'big.bin']);
      assert.equal(co2.code, 0, co2.stderr);
      must('sync', []);
      const used = before - freeBytes(root);
      assert.equal(sha256(join(root, 'big.bin')), originals.get(join(root, 'big.bin')));
      assert.ok(used < (bigMB << 20) / 20, `checkout of a ${bigMB} MiB file used ${used} bytes of free space; a clone should use almost none`);
      const finalCheck = await tdvc(root, ['status', '--json']);
      assert.equal((JSON.parse(finalCheck.stdout) as { clean: boolean }).clean, true, finalCheck.stdout);
    } finally {
      fs.unmount();
    }
  } finally {
    base.cleanup();
  }
});
