// A team cache on a real distributed file system: CephFS mounted twice with ceph-fuse stands for
// EFS seen from two machines (see cephfs.ts). Workspaces live on local disk; the cache is one
// folder on CephFS, reached through mount A by some workspaces and through mount B, at another
// path, by others. What one machine adds, the other checks out; concurrent adds through both
// mounts all succeed; fsck through either mount finds nothing wrong. Needs root, FUSE and Ceph;
// skipped with the reason otherwise.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { hashBytes, parsePointer, type CacheStatus } from '@tdvc/core';
import { join } from 'node:path';
import { startCephFs, type CephFs } from './cephfs.js';
import { git, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';
import { createTeam, gitAs, makeSharedFolder, makeUserRepo, okAs, runAs, sh, tdvcAs, teamSkipReason, type RunAsOptions, type User } from './team.js';

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
function assertSharedModes(cache: string, gid = TEAM_GID): number {
  const bad: string[] = [];
  let objects = 0;
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(cache, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(cache, r));
      const mode = st.mode & 0o7777;
      const desc = `${r} ${mode.toString(8)} gid ${st.gid}`;
      if (mode & 0o002) bad.push(`world-writable: ${desc}`);
      if (st.gid !== gid) bad.push(`not the team group: ${desc}`);
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

let fs: CephFs | { skipped: string } = { skipped: 'not started' };

before(async () => {
  fs = await startCephFs();
  if ('skipped' in fs) console.log(`# skipped: ${fs.skipped}`);
  else console.log(`# CephFS start-up (mon, memstore OSD, MDS up:active, two ceph-fuse mounts): ${(fs.startupMs / 1000).toFixed(1)} s`);
});

after(async () => {
  if (!('skipped' in fs)) await fs.stop();
});

/** The running CephFS, or undefined after marking the test skipped (with the printed reason). */
function cephfsOrSkip(t: TestContext, also: string | false = false): CephFs | undefined {
  const why = 'skipped' in fs ? fs.skipped : also;
  if (why) {
    console.log(`# skipped: ${why}`);
    t.skip(why);
    return undefined;
  }
  return fs as CephFs;
}

test('a team cache on CephFS, seen through two ceph-fuse mounts', { timeout: 180_000 }, async (t) => {
  const fs = cephfsOrSkip(t);
  if (!fs) return;
  const work = tempDir('tdvc-cephfs-ws-');
  try {
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
  }
});

/** Files and their sizes as `tdvc fsck --json` and `gc --json` report them. */
interface FsckJson {
  checked: number;
  corrupt: unknown[];
  removedTemps: string[];
}

function objectsIn(cache: string): Set<string> {
  const out = new Set<string>();
  const base = join(cache, 'b3v1');
  for (const fan of readdirSync(base)) for (const n of readdirSync(join(base, fan))) if (/^[0-9a-f]{62}$/.test(n)) out.add(fan + n);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(
  'the team scenario on CephFS: two users on two machines (umask 077), six adds and two gc --grace 0 at once, checked-out-only clones, reused objects, kill -9 of writers and gc, fsck from both mounts',
  { timeout: 400_000 },
  async (t) => {
    const fs = cephfsOrSkip(t, teamSkipReason);
    if (!fs) return;
    const work = tempDir('tdvc-cephfs-team-');
    chmodSync(work.path, 0o755); // the users must be able to traverse it
    const team = createTeam(work.path);
    try {
      const [u1, u2] = [team.users[0]!, team.users[1]!];
      // machine A: this host, the cache through mount A; machine B: another host name, the same
      // cache through mount B at another path. Workspaces are on each machine's local disk.
      const A: RunAsOptions = {};
      const B: RunAsOptions = { host: 'tdvc-machine-b' };
      const cacheA = makeSharedFolder(join(fs.mountA, 'team'), team.gid);
      const cacheB = join(fs.mountB, 'team');
      const home = (u: User, name: string): string => join(u.home, name);

      // u1 on A: data v1, committed
      const v1 = dataset('data', 40);
      const ws1 = await makeUserRepo(u1, home(u1, 'ws1'), cacheA, v1, A);
      await okAs(u1, ws1, ['add', 'data'], A);
      gitAs(u1, ws1, 'add', '-A');
      gitAs(u1, ws1, 'commit', '-qm', 'data v1');

      // u2 on B: a clone that only ever checks out (it writes no data of its own) and stays at v1
      const ws2 = home(u2, 'ws2');
      gitAs(u2, u2.home, 'clone', '-q', ws1, ws2);
      await okAs(u2, ws2, ['cache', 'dir', cacheB, '--local'], B);
      await okAs(u2, ws2, ['checkout'], B);
      assertFiles(ws2, v1, 'data');

      // u1 moves on to v2 (a quarter of the files changed): v1's own files are now needed only by ws2,
      // which gc can neither open (B's disk, u2's private .tdvc) nor find by path
      const v2 = { ...v1 };
      for (const k of Object.keys(v2).slice(0, 10)) v2[k] = randomBytes(2000);
      writeTree(ws1, v2);
      await okAs(u1, ws1, ['add', 'data'], A);
      gitAs(u1, ws1, 'commit', '-qam', 'data v2');
      // scratch data u1 adds and drops: garbage, which another user will add again (reuse)
      const scratch = dataset('scratch', 15);
      const junk = { 'junk.bin': randomBytes(3000) };
      writeTree(ws1, { ...scratch, ...junk });
      await okAs(u1, ws1, ['add', 'scratch', 'junk.bin'], A);
      const junkOid = parsePointer(readFileSync(join(ws1, 'junk.bin.tdvc'), 'utf8'), 'junk.bin.tdvc').oid;
      for (const p of ['scratch.tdvc', 'junk.bin.tdvc', 'scratch', 'junk.bin']) rmSync(join(ws1, p), { recursive: true });
      await okAs(u1, ws1, ['add', 'data'], A); // a no-op add refreshes ws1's record: scratch and junk no longer in it

      // u2 on B: uncommitted work (never committed, never pushed)
      const wip = dataset('wip', 30);
      const ws3 = await makeUserRepo(u2, home(u2, 'ws3'), cacheB, wip, B);
      await okAs(u2, ws3, ['add', 'wip'], B);
      // more workspaces, one per machine
      const ws4 = await makeUserRepo(u1, home(u1, 'ws4'), cacheA, {}, A);
      const ws5 = await makeUserRepo(u2, home(u2, 'ws5'), cacheB, {}, B);

      // six adds at once, three per machine, two users, and a gc --grace 0 from each machine
      // meanwhile; the re-add of scratch reuses objects gc may be deleting right then
      const sets = [
        { u: u1, ws: ws1, m: A, path: 'c1', files: dataset('c1', 25, 8) },
        { u: u1, ws: ws1, m: A, path: 'c2', files: dataset('c2', 25, 8) },
        { u: u1, ws: ws4, m: A, path: 'c3', files: dataset('c3', 25, 8) },
        { u: u2, ws: ws3, m: B, path: 'scratch', files: scratch },
        { u: u2, ws: ws3, m: B, path: 'c5', files: dataset('c5', 25, 8) },
        { u: u2, ws: ws5, m: B, path: 'c6', files: dataset('c6', 25, 8) },
      ];
      for (const s of sets) {
        writeTree(s.ws, s.files);
        sh('chown', '-R', `${s.u.uid}:${s.u.gid}`, join(s.ws, s.path));
      }
      const t0 = Date.now();
      const adds = sets.map((s) => runAs(s.u, s.ws, ['add', s.path], s.m));
      await sleep(300);
      const gcs = [runAs(u1, ws1, ['gc', '--workspace', '--force', '--grace', '0', '--json'], A), runAs(u2, ws3, ['gc', '--workspace', '--force', '--grace', '0', '--json'], B)];
      const [addResults, gcResults] = [await Promise.all(adds), await Promise.all(gcs)];
      console.log(`# six adds and two gc --grace 0 across both mounts: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      for (const [i, r] of addResults.entries()) assert.equal(r.code, 0, `add ${sets[i]!.path} failed (${r.code}): ${r.stderr}${r.stdout}`);
      for (const r of gcResults) assert.equal(r.code, 0, `gc failed (${r.code}): ${r.stderr}${r.stdout}`);
      const objects = objectsIn(cacheA);
      assert.ok(!objects.has(junkOid), 'the dropped file was collected (by one of the two gc)');

      // every workspace gets all its data back from the cache, through its own machine's mount:
      // the checked-out-only clone (v1), the uncommitted work, the reused objects, the concurrent adds
      const restore = async (u: User, ws: string, m: RunAsOptions, files: Record<string, Buffer>, prefix: string): Promise<void> => {
        rmSync(join(ws, prefix), { recursive: true });
        await okAs(u, ws, ['checkout', prefix], m);
        assertFiles(ws, files, prefix);
      };
      await restore(u2, ws2, B, v1, 'data');
      await restore(u2, ws3, B, wip, 'wip');
      await restore(u2, ws3, B, scratch, 'scratch');
      await restore(u1, ws1, A, v2, 'data');
      for (const s of sets) await restore(s.u, s.ws, s.m, s.files, s.path);

      // cache status, from either machine, lists all five workspaces with their hosts
      const st = JSON.parse((await okAs(u2, ws2, ['cache', 'status', '--json', '--grace', '0'], B)).stdout) as CacheStatus;
      assert.deepEqual(
        st.workspaces.map((w) => `${w.host} ${w.root}`).sort(),
        [`${hostname()} ${ws1}`, `${hostname()} ${ws4}`, `${B.host} ${ws2}`, `${B.host} ${ws3}`, `${B.host} ${ws5}`].sort(),
      );
      assert.equal(st.gcWouldFree?.objects, 0, 'two gc ran: nothing left to free');

      // u2 collects garbage u1 wrote (group-writable folders): a file u1 adds and drops on A
      const junk2 = { 'junk2.bin': randomBytes(3000) };
      writeTree(ws1, junk2);
      sh('chown', `${u1.uid}:${u1.gid}`, join(ws1, 'junk2.bin'));
      await okAs(u1, ws1, ['add', 'junk2.bin'], A);
      const junk2Oid = parsePointer(readFileSync(join(ws1, 'junk2.bin.tdvc'), 'utf8'), 'junk2.bin.tdvc').oid;
      rmSync(join(ws1, 'junk2.bin.tdvc'));
      await okAs(u1, ws1, ['add', 'data'], A);
      await okAs(u2, ws3, ['gc', '--workspace', '--force', '--grace', '0'], B);
      assert.ok(!existsSync(join(cacheB, 'b3v1', junk2Oid.slice(0, 2), junk2Oid.slice(2))), "u2's gc removed u1's garbage");

      // kill -9 of writers on both machines, mid-add
      const k1 = { ...dataset('k1', 60), 'k1/big.bin': randomBytes(8 << 20) };
      const k2 = { ...dataset('k2', 60), 'k2/big.bin': randomBytes(8 << 20) };
      writeTree(ws1, k1);
      writeTree(ws3, k2);
      sh('chown', '-R', `${u1.uid}:${u1.gid}`, join(ws1, 'k1'));
      sh('chown', '-R', `${u2.uid}:${u2.gid}`, join(ws3, 'k2'));
      const writers = [tdvcAs(u1, ws1, ['add', 'k1'], A), tdvcAs(u2, ws3, ['add', 'k2'], B)];
      // each killed once it holds its writer lock and has begun writing objects
      const lockOf = (host: string, pid: number): boolean =>
        readdirSync(join(cacheA, 'locks')).some((n) => n.startsWith(`w-${host}-${pid}-`));
      const deadline = Date.now() + 60_000;
      while (!(lockOf(hostname(), writers[0]!.pid) && lockOf(B.host!, writers[1]!.pid)) && Date.now() < deadline) await sleep(20);
      await sleep(300);
      for (const w of writers) assert.equal(w.exited(), false, 'the writers are still at work when killed');
      for (const w of writers) w.kill();
      for (const w of writers) assert.equal((await w.done).code, -9);
      // machine A cannot tell whether B's writer is alive (another host; its heartbeat is fresh):
      // gc from A waits, then refuses, deleting nothing
      const before = objectsIn(cacheA);
      const refused = await runAs(u1, ws1, ['gc', '--workspace', '--force', '--grace', '0', '--json'], { ...A, env: { TDVC_GC_LOCK_WAIT_MS: '2000' } });
      assert.notEqual(refused.code, 0, `gc from A went ahead despite B's writer lock: ${refused.stdout}`);
      assert.equal((JSON.parse(refused.stdout) as { error: { code: string } }).error.code, 'ELOCKED');
      assert.match(refused.stdout, /tdvc-machine-b/, 'the refusal names the machine whose writer it waits for');
      assert.deepEqual(objectsIn(cacheA), before, 'a refused gc deletes nothing');
      assert.ok(!lockOf(hostname(), writers[0]!.pid), "A's own dead writer's lock was cleared by A's gc");
      // fsck on each machine clears its own dead writers' locks and temp files, and finds nothing corrupt
      // (exit 4 when it removed what a killed writer left: it found something, and says what)
      for (const [u, ws, m] of [[u2, ws3, B], [u1, ws1, A]] as const) {
        const r = await runAs(u, ws, ['fsck', '--json'], m);
        const rep = JSON.parse(r.stdout) as FsckJson;
        assert.deepEqual(rep.corrupt, [], `fsck on ${m.host ?? 'A'}`);
        assert.equal(r.code, rep.removedTemps.length > 0 ? 4 : 0, `fsck on ${m.host ?? 'A'}: ${r.stderr}`);
      }
      assert.deepEqual(readdirSync(join(cacheA, 'locks')).filter((n) => n.startsWith('w-')), [], 'no writer lock left');
      // the killed adds, run again, complete; gc from A now runs
      await okAs(u1, ws1, ['add', 'k1'], A);
      await okAs(u2, ws3, ['add', 'k2'], B);
      await okAs(u1, ws1, ['gc', '--workspace', '--force', '--grace', '0'], A);
      await restore(u1, ws1, A, k1, 'k1');
      await restore(u2, ws3, B, k2, 'k2');

      // kill -9 of gc mid-sweep: 200 garbage objects, gc killed while it deletes them
      const trash = dataset('trash', 1500);
      writeTree(ws4, trash);
      sh('chown', '-R', `${u1.uid}:${u1.gid}`, join(ws4, 'trash'));
      await okAs(u1, ws4, ['add', 'trash'], A);
      rmSync(join(ws4, 'trash.tdvc'));
      await okAs(u1, ws4, ['add', 'c3'], A);
      const full = objectsIn(cacheA).size;
      // a few of the doomed objects, watched cheaply: gc is killed as soon as one of them is gone
      const watched = Object.values(trash)
        .slice(0, 16)
        .map((b) => hashBytes(b))
        .map((oid) => join(cacheA, 'b3v1', oid.slice(0, 2), oid.slice(2)));
      const g = tdvcAs(u1, ws4, ['gc', '--workspace', '--force', '--grace', '0'], A);
      const sweepDeadline = Date.now() + 60_000;
      while (watched.every((w) => existsSync(w)) && !g.exited() && Date.now() < sweepDeadline) await sleep(2);
      g.kill();
      assert.equal((await g.done).code, -9, 'gc was still at work when killed');
      console.log(`# gc killed after deleting ${full - objectsIn(cacheA).size} of ${Object.keys(trash).length + 1} garbage objects`);
      assert.ok(existsSync(join(cacheA, 'gc.lock')), 'the killed gc left its lock');
      // the next writer on A takes over the dead gc's lock at once (same host: the pid is gone)
      const c7 = dataset('c7', 10);
      writeTree(ws4, c7);
      sh('chown', '-R', `${u1.uid}:${u1.gid}`, join(ws4, 'c7'));
      await okAs(u1, ws4, ['add', 'c7'], A);
      await okAs(u1, ws4, ['gc', '--workspace', '--force', '--grace', '0'], A);

      // in the end: nothing corrupt, nothing left behind, through either mount; modes as the team needs
      const total = assertSharedModes(cacheB, team.gid);
      for (const [u, ws, m] of [[u1, ws1, A], [u2, ws2, B]] as const) {
        const rep = JSON.parse((await okAs(u, ws, ['fsck', '--json'], m)).stdout) as FsckJson;
        assert.deepEqual(rep.corrupt, [], `fsck on ${m.host ?? 'A'}`);
        assert.equal(rep.checked, total, `fsck on ${m.host ?? 'A'} checks every object`);
      }
      for (const [u, ws, m, files, prefix] of [
        [u2, ws2, B, v1, 'data'],
        [u2, ws3, B, wip, 'wip'],
        [u1, ws1, A, v2, 'data'],
        [u1, ws4, A, c7, 'c7'],
      ] as const) await restore(u, ws, m, files, prefix);
    } finally {
      team.remove();
      work.cleanup();
    }
  },
);
