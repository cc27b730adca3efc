// A team cache on a real distributed file system: CephFS mounted twice with ceph-fuse stands for
// EFS seen from two machines (see cephfs.ts). Workspaces live on local disk; the cache is one
// folder on CephFS, reached through mount A by some workspaces and through mount B, at another
// path, by others. What one machine adds, the other checks out; concurrent adds through both
// mounts all succeed; fsck through either mount finds nothing wrong. Needs root, FUSE and Ceph;
// skipped with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCephFs } from './cephfs.js';
import { git, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

/** the team's group: any gid will do, as root may chown to it; 100 is `users` on Debian */
const TEAM_GID = 100;

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} in ${cwd} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/** `n` files of a few KiB under `prefix/`, `shared` of them identical in every dataset made with the same seed. */
function dataset(prefix: string, n: number, shared = 0): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < n; i++) {
    const body = i < shared ? Buffer.from(`common file ${i}\n`.repeat(64 + i)) : randomBytes(1024 + ((i * 37) % 4096));
    files[`${prefix}/${String(i % 8)}/f${i}.bin`] = body;
  }
  return files;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Every file under `root/prefix` has the expected bytes, and there are no others. */
function assertFiles(root: string, files: Record<string, Buffer>, prefix: string): void {
  const found = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(root, rel))) {
      const r = `${rel}/${n}`;
      if (lstatSync(join(root, r)).isDirectory()) walk(r);
      else found.set(r, sha(readFileSync(join(root, r))));
    }
  };
  walk(prefix);
  const want = new Map(Object.entries(files).map(([k, v]) => [k, sha(v)]));
  assert.deepEqual([...found].sort(), [...want].sort(), `files of ${prefix} in ${root}`);
}

async function assertStatusClean(root: string): Promise<void> {
  const st = await ok(root, ['status', '--json']);
  const rep = JSON.parse(st.stdout) as { clean: boolean; datasets: Array<{ notInCache: string[] }> };
  assert.equal(rep.clean, true, `status in ${root}: ${st.stdout}`);
  assert.deepEqual(rep.datasets.flatMap((d) => d.notInCache), []);
}

/** Folders 2775 in the team group, objects 0444, nothing world-writable: as seen through `cache`. */
function assertSharedModes(cache: string): number {
  const bad: string[] = [];
  let objects = 0;
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(cache, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(cache, r));
      const mode = st.mode & 0o7777;
      const desc = `${r} ${mode.toString(8)} gid ${st.gid}`;
      if (mode & 0o002) bad.push(`world-writable: ${desc}`);
      if (st.gid !== TEAM_GID) bad.push(`not the team group: ${desc}`);
      if (st.isDirectory()) {
        if (mode !== 0o2775) bad.push(`folder not 2775: ${desc}`);
        walk(r);
      } else if (/^b3v1\/[0-9a-f]{2}\/[0-9a-f]{62}$/.test(r)) {
        objects++;
        if (mode !== 0o444) bad.push(`object not 0444: ${desc}`);
      } else if (n.startsWith('.tmp-')) bad.push(`temp file left: ${desc}`);
    }
  };
  walk('');
  assert.deepEqual(bad, [], `shared cache ${cache}`);
  return objects;
}

test('a team cache on CephFS, seen through two ceph-fuse mounts', { timeout: 180_000 }, async (t) => {
  const fs = await startCephFs();
  if ('skipped' in fs) {
    console.log(`# skipped: ${fs.skipped}`);
    t.skip(fs.skipped);
    return;
  }
  const work = tempDir('tdvc-cephfs-ws-');
  try {
    console.log(`# CephFS start-up (mon, memstore OSD, MDS up:active, two ceph-fuse mounts): ${(fs.startupMs / 1000).toFixed(1)} s`);
    const cacheA = join(fs.mountA, 'cache');
    const cacheB = join(fs.mountB, 'cache');
    // as an admin would set it up (README, "A team cache on EFS"), through one machine
    mkdirSync(cacheA);
    chownSync(cacheA, 0, TEAM_GID);
    chmodSync(cacheA, 0o2775);
    assert.equal(lstatSync(cacheB).mode & 0o7777, 0o2775, 'mount B sees the folder mount A made');

    // workspace 1, machine A
    const ws1 = join(work.path, 'ws1');
    mkdirSync(ws1);
    git(ws1, 'init', '-q', '-b', 'main');
    await ok(ws1, ['init']);
    await ok(ws1, ['cache', 'dir', cacheA]);
    await ok(ws1, ['config', 'cache.shared', 'group']);
    await ok(ws1, ['config', 'cache.type', 'copy']);
    const data = dataset('data', 200);
    writeTree(ws1, data);
    await ok(ws1, ['add', 'data']);
    git(ws1, 'add', '-A');
    git(ws1, 'commit', '-q', '-m', 'data v1');

    // workspace 2, machine B: a clone whose cache is the same folder through the other mount
    const ws2 = join(work.path, 'ws2');
    git(work.path, 'clone', '-q', ws1, ws2);
    await ok(ws2, ['cache', 'dir', cacheB, '--local']);
    const t1 = Date.now();
    await ok(ws2, ['checkout']);
    const checkoutMs = Date.now() - t1;
    console.log(`# checkout through mount B: ${Object.keys(data).length} files in ${(checkoutMs / 1000).toFixed(2)} s`);
    assertFiles(ws2, data, 'data');
    await assertStatusClean(ws2);

    // workspace 3, machine A again (the committed cache dir); then three adds at once, two through
    // mount A and one through mount B, with 20 identical files in each so that writers race for the
    // same objects across both mounts
    const ws3 = join(work.path, 'ws3');
    git(work.path, 'clone', '-q', ws1, ws3);
    const sets = {
      x1: { ws: ws1, files: dataset('x1/data', 60, 20) },
      x2: { ws: ws2, files: dataset('x2/data', 60, 20) },
      x3: { ws: ws3, files: dataset('x3/data', 60, 20) },
    };
    for (const s of Object.values(sets)) writeTree(s.ws, s.files);
    const t2 = Date.now();
    const adds = await Promise.all(Object.entries(sets).map(([name, s]) => tdvc(s.ws, ['add', `${name}/data`])));
    console.log(`# three concurrent adds (2 through mount A, 1 through mount B): ${((Date.now() - t2) / 1000).toFixed(2)} s`);
    for (const [i, r] of adds.entries()) assert.equal(r.code, 0, `add x${i + 1}/data failed (${r.code}): ${r.stderr}${r.stdout}`);
    for (const [name, s] of Object.entries(sets)) {
      git(s.ws, 'add', '-A');
      git(s.ws, 'commit', '-q', '-m', `${name}`);
    }
    // bring everyone's pointer files together in ws1, then to the others
    for (const from of [ws3, ws2]) {
      git(ws1, 'fetch', '-q', from, 'main');
      git(ws1, 'merge', '-q', '--no-edit', 'FETCH_HEAD');
    }
    for (const to of [ws2, ws3]) git(to, 'pull', '-q', '--no-rebase', '--no-edit', ws1, 'main');

    // each dataset checked out through the mount it was not added through
    await ok(ws2, ['checkout']); // x1 and x3 (added through A), through B
    await ok(ws1, ['checkout']); // x2 (added through B), through A
    await ok(ws3, ['checkout']); // x1 and x2, through A
    for (const ws of [ws1, ws2, ws3]) {
      for (const [name, s] of Object.entries(sets)) assertFiles(ws, s.files, `${name}/data`);
      assertFiles(ws, data, 'data');
      await assertStatusClean(ws);
    }

    // nothing corrupt and nothing left behind, through either mount
    const objects = assertSharedModes(cacheB);
    for (const ws of [ws1, ws2]) {
      const r = await ok(ws, ['fsck', '--json']);
      const rep = JSON.parse(r.stdout) as { checked: number; corrupt: unknown[]; removedTemps: string[] };
      assert.deepEqual(rep.corrupt, [], `fsck in ${ws}`);
      assert.deepEqual(rep.removedTemps, [], `fsck in ${ws}`);
      assert.equal(rep.checked, objects, `fsck in ${ws} checks every object`);
    }
  } finally {
    work.cleanup();
    await fs.stop();
  }
});
