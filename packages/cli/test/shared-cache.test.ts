// A cache folder shared by a team (as on EFS), exercised by two real Unix users in one group, each
// running tdvc with a restrictive umask (077): folders must come out setgid + group-writable (2775),
// objects read-only for everyone (0444), nothing world-writable; concurrent writers of overlapping
// data must all succeed; writers killed with SIGKILL must leave nothing that fsck cannot clean.
// Needs root (to create the users); skipped otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashFile } from '@tdvc/core';
import { readTreeSync, tempDir, writeTree } from './helpers.js';
import { createTeam, makeSharedFolder, makeUserRepo as makeRepoAt, okAs, runAs, sh, teamSkipReason, tdvcAs, type Team, type User } from './team.js';

const skip = teamSkipReason;

let gid = -1;
let users: User[] = [];
let team: Team | undefined;
let work = { path: '', cleanup: () => {} };

/** A shared cache folder as an admin would set it up: group-owned by the team, setgid, 2775. */
function makeSharedCache(name: string): string {
  return makeSharedFolder(join(work.path, name), gid);
}

/** A repository of `user` named `name` in their home, using `cache` as a group-shared cache. */
function makeUserRepo(user: User, name: string, cache: string, files: Record<string, string | Buffer>): Promise<string> {
  return makeRepoAt(user, join(user.home, name), cache, files);
}

interface Entry {
  rel: string;
  mode: number;
  gid: number;
  dir: boolean;
}

function walk(dir: string, rel = ''): Entry[] {
  const out: Entry[] = [];
  for (const n of readdirSync(join(dir, rel))) {
    const r = rel ? `${rel}/${n}` : n;
    const st = lstatSync(join(dir, r));
    out.push({ rel: r, mode: st.mode & 0o7777, gid: st.gid, dir: st.isDirectory() });
    if (st.isDirectory()) out.push(...walk(dir, r));
  }
  return out;
}

/** Every folder 2775 + team group, every object 0444, nothing world-writable. Returns the object paths. */
function assertSharedModes(cache: string): string[] {
  const bad: string[] = [];
  const objects: string[] = [];
  const top = statSync(cache);
  if ((top.mode & 0o7777) !== 0o2775 || top.gid !== gid) bad.push(`. ${(top.mode & 0o7777).toString(8)} gid ${top.gid}`);
  for (const e of walk(cache)) {
    const desc = `${e.rel} ${e.mode.toString(8)} gid ${e.gid}`;
    if (e.mode & 0o002) bad.push(`world-writable: ${desc}`);
    if (e.gid !== gid) bad.push(`not the team group: ${desc}`);
    if (e.dir) {
      if (e.mode !== 0o2775) bad.push(`folder not 2775: ${desc}`);
    } else if (/^b3v1\/[0-9a-f]{2}\/[0-9a-f]{62}$/.test(e.rel)) {
      objects.push(e.rel);
      if (e.mode !== 0o444) bad.push(`object not 0444: ${desc}`);
    } else if (e.rel.startsWith('projects/') || /^workspaces\/[0-9a-f]{16}\.json$/.test(e.rel)) {
      if (e.mode !== 0o664) bad.push(`registration or workspace record not 0664: ${desc}`);
    } else {
      bad.push(`unexpected file: ${desc}`);
    }
  }
  assert.deepEqual(bad, [], `shared cache ${cache}`);
  return objects;
}

/** Every object's name is the BLAKE3 hash of its bytes. */
async function assertObjectsIntact(cache: string, objects: string[]): Promise<void> {
  const wrong: string[] = [];
  for (const rel of objects) {
    const { oid } = await hashFile(join(cache, rel));
    if (rel !== `b3v1/${oid.slice(0, 2)}/${oid.slice(2)}`) wrong.push(`${rel} hashes to ${oid}`);
  }
  assert.deepEqual(wrong, []);
}

/** How many entries the fan-out folders hold (objects and temp files): grows as soon as a writer writes. */
function cacheEntryCount(cache: string): number {
  const base = join(cache, 'b3v1');
  if (!existsSync(base)) return 0;
  let n = 0;
  for (const fan of readdirSync(base)) n += fan.length === 2 ? readdirSync(join(base, fan)).length : 1;
  return n;
}

/** Temp files and folders of writers anywhere in the cache. */
function tempFilesIn(cache: string): string[] {
  return walk(cache)
    .filter((e) => e.rel.split('/').pop()!.startsWith('.tmp-'))
    .map((e) => e.rel);
}

interface FsckJson {
  checked: number;
  corrupt: unknown[];
  removedTemps: string[];
}

async function statusClean(user: User, root: string): Promise<void> {
  const st = await okAs(user, root, ['status', '--json']);
  const rep = JSON.parse(st.stdout) as { clean: boolean; datasets: Array<{ notInCache: string[] }> };
  assert.equal(rep.clean, true, `status in ${root}: ${st.stdout}`);
  assert.deepEqual(
    rep.datasets.flatMap((d) => d.notInCache),
    [],
  );
}

function pointerOid(root: string, dataset: string): string {
  return /^hash: blake3:([0-9a-f]{64})$/m.exec(readFileSync(join(root, `${dataset}.tdvc`), 'utf8'))![1]!;
}

/** Checks that everything `root`'s pointer files reference is in `cache`. */
function assertReferencedPresent(root: string, cache: string, dataset: string): void {
  const oid = pointerOid(root, dataset);
  const at = (o: string): string => join(cache, 'b3v1', o.slice(0, 2), o.slice(2));
  assert.ok(existsSync(at(oid)), `manifest of ${root}/${dataset}`);
  const tree = readTreeSync(cache, oid);
  assert.deepEqual(tree.missingNodes, [], `tree nodes of ${root}/${dataset}`);
  const missing = tree.entries
    .filter((e) => !existsSync(at(e.oid)))
    .map((e) => e.path);
  assert.deepEqual(missing, [], `files of ${root}/${dataset} missing from the cache`);
}

describe('shared cache used by two users of one group', { skip }, () => {
  before(() => {
    work = tempDir('tdvc-shared-');
    chmodSync(work.path, 0o755); // mkdtemp makes it 0700: the users must be able to traverse it
    team = createTeam(work.path);
    gid = team.gid;
    users = team.users;
  });

  after(() => {
    try {
      team?.remove();
    } finally {
      work.cleanup();
    }
  });

  test('two users, umask 077: modes, overlapping adds, checkout and gc across users', async () => {
    const [u1, u2] = [users[0]!, users[1]!];
    const cache = makeSharedCache('cache');
    const common = { 'data/common/a.txt': 'common a', 'data/common/b.bin': randomBytes(100_000) };
    const r1 = await makeUserRepo(u1, 'repo', cache, {
      ...common,
      'data/u1.txt': 'only user 1',
      'data/old.txt': 'user 1, soon replaced',
      'private/ds/secret.txt': 'in a folder only user 1 can read',
    });
    chmodSync(join(r1, 'private'), 0o700);
    const r2 = await makeUserRepo(u2, 'repo', cache, { ...common, 'data/u2.txt': 'only user 2' });

    await okAs(u1, r1, ['add', 'data']);
    const afterU1 = assertSharedModes(cache);
    assert.equal(afterU1.length, 5, 'four files and a manifest');
    assert.equal(readdirSync(join(cache, 'projects')).length, 1);

    const add2 = JSON.parse((await okAs(u2, r2, ['add', 'data', '--json'])).stdout) as { added: Array<{ stored: number; hashed: number }> };
    assert.equal(add2.added[0]!.stored, 1, "user 2 stores only its own file; user 1's objects are reused");
    const afterU2 = assertSharedModes(cache);
    assert.equal(afterU2.length, 7, afterU2.join('\n'));
    await assertObjectsIntact(cache, afterU2);

    // user 2 checks out from objects user 1 wrote
    rmSync(join(r2, 'data'), { recursive: true, force: true });
    await okAs(u2, r2, ['checkout']);
    assert.equal(readFileSync(join(r2, 'data/common/a.txt'), 'utf8'), 'common a');
    assert.deepEqual(readFileSync(join(r2, 'data/common/b.bin')), common['data/common/b.bin']);
    assert.equal(readFileSync(join(r2, 'data/u2.txt'), 'utf8'), 'only user 2');
    await statusClean(u2, r2);

    // both users leave an unreferenced object behind
    rmSync(join(r1, 'data/old.txt'));
    await okAs(u1, r1, ['add', 'data']);
    writeFileSync(join(r2, 'data/u2.txt'), 'user 2, second version');
    chownSync(join(r2, 'data/u2.txt'), u2.uid, u2.gid);
    await okAs(u2, r2, ['add', 'data']);
    // a dataset in a folder of user 1 that user 2 cannot list
    await okAs(u1, r1, ['add', 'private/ds']);
    assert.equal(assertSharedModes(cache).length, 12);

    // user 1 made .tdvc/ under umask 077: user 2 cannot open user 1's project, but user 1's
    // published workspace record says what it needs (private/ds included), so gc plans from it
    assert.equal(statSync(join(r1, '.tdvc')).mode & 0o777, 0o700);
    const before = walk(cache).map((e) => e.rel);
    const planned = await okAs(u2, r2, ['gc', '--workspace', '--grace', '0', '--json']);
    const plan = JSON.parse(planned.stdout) as { removed: Array<{ oid: string }>; workspaces: Array<{ root: string }> };
    assert.ok(plan.workspaces.some((w) => w.root === r1), `user 1's record is used: ${planned.stdout}`);
    assert.equal(plan.removed.length, 4, `old.txt, u2.txt v1 and the two old manifests, nothing user 1 references: ${planned.stdout}`);
    assert.deepEqual(
      walk(cache).map((e) => e.rel),
      before,
      'a dry run deletes nothing',
    );

    // user 1 opens .tdvc/ to the team, but user 2 still cannot see the pointer file in private/:
    // gc must refuse rather than delete the data it references
    spawnSync('chmod', ['-R', 'go+rX', join(r1, '.tdvc')]);
    const blind = await runAs(u2, r2, ['gc', '--workspace', '--force', '--grace', '0', '--json']);
    assert.notEqual(blind.code, 0, `gc must not skip a folder it cannot read: ${blind.stdout}`);
    const blindErr = (JSON.parse(blind.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(blindErr.code, 'EUNREADABLE');
    assert.match(blindErr.message, /^ {2}private$/m);
    assert.ok(blindErr.message.includes(r1));
    assert.deepEqual(
      walk(cache).map((e) => e.rel),
      before,
      'a refused gc deletes nothing',
    );

    // user 1 opens private/ too: gc by user 2 now removes both users' garbage only
    chmodSync(join(r1, 'private'), 0o755);
    const gc = await okAs(u2, r2, ['gc', '--workspace', '--force', '--grace', '0', '--json']);
    const res = JSON.parse(gc.stdout) as { removed: Array<{ oid: string }>; projects: string[] };
    assert.deepEqual([...res.projects].sort(), [r1, r2].sort());
    assert.equal(res.removed.length, 4, `old.txt, u2.txt v1 and the two old manifests: ${gc.stdout}`);
    const left = assertSharedModes(cache);
    assert.equal(left.length, 8, 'common a + b, u1.txt, u2.txt v2, two current manifests, private/ds file + manifest');
    await assertObjectsIntact(cache, left);
    assertReferencedPresent(r1, cache, 'data');
    assertReferencedPresent(r2, cache, 'data');
    assertReferencedPresent(r1, cache, 'private/ds');
    assert.equal(existsSync(join(cache, 'gc.lock')), false);
    rmSync(join(r1, 'data'), { recursive: true, force: true });
    await okAs(u1, r1, ['checkout']);
    await statusClean(u1, r1);
    await statusClean(u2, r2);

    // and fsck by either user finds nothing wrong
    const fsck = await okAs(u1, r1, ['fsck', '--json']);
    const rep = JSON.parse(fsck.stdout) as FsckJson;
    assert.equal(rep.checked, 8);
    assert.deepEqual(rep.corrupt, []);

    // a team remote folder on the same file system (setgid group folder): both users push into it
    const remote = makeSharedCache('remote');
    for (const [u, r] of [
      [u1, r1],
      [u2, r2],
    ] as const) {
      await okAs(u, r, ['remote', 'add', '-d', 'team', remote]);
      await okAs(u, r, ['push']);
    }
    const onRemote = assertSharedModes(remote);
    assert.equal(onRemote.length, 8, 'everything both projects reference');
    await assertObjectsIntact(remote, onRemote);
  });

  test('six concurrent adds of overlapping data (three per user) into a fresh shared cache', async () => {
    const cache = makeSharedCache('cache-concurrent');
    const common: Record<string, string | Buffer> = {};
    for (let i = 0; i < 200; i++) common[`data/common/f${i}.txt`] = `common file ${i}\n`;
    common['data/common/big.bin'] = randomBytes(3 << 20);
    const repos: Array<{ user: User; root: string }> = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const user = users[i % 2]!;
        const own: Record<string, string> = {};
        for (let j = 0; j < 30; j++) own[`data/own/f${j}.txt`] = `repo ${i} file ${j}\n`;
        // pairs of repos share a further subset, so several writers race for the same new objects
        for (let j = 0; j < 30; j++) own[`data/pair/f${j}.txt`] = `pair ${i >> 1} file ${j}\n`;
        const root = await makeUserRepo(user, `concurrent-${i}`, cache, { ...common, ...own });
        repos.push({ user, root });
      }),
    );
    const results = await Promise.all(repos.map((r) => runAs(r.user, r.root, ['add', 'data'])));
    for (const [i, r] of results.entries()) assert.equal(r.code, 0, `add #${i} as ${repos[i]!.user.name}: ${r.stderr}`);

    const objects = assertSharedModes(cache);
    // 201 common + 6×30 own + 3×30 pair files + the tree nodes of the six versions (the
    // versions share the nodes of their common files)
    const nodes = new Set(repos.flatMap((r) => readTreeSync(cache, pointerOid(r.root, 'data')).nodes));
    assert.ok(nodes.size > 6 && nodes.size < 6 * 6, `${nodes.size} tree nodes`);
    assert.equal(objects.length, 201 + 180 + 90 + nodes.size);
    await assertObjectsIntact(cache, objects);
    assert.deepEqual(tempFilesIn(cache), []);
    const fsck = await runAs(repos[0]!.user, repos[0]!.root, ['fsck', '--json']);
    assert.equal(fsck.code, 0, fsck.stderr);
    const rep = JSON.parse(fsck.stdout) as FsckJson;
    assert.equal(rep.checked, objects.length);
    assert.deepEqual(rep.corrupt, []);
    assert.deepEqual(rep.removedTemps, []);
    for (const r of repos) assertReferencedPresent(r.root, cache, 'data');
    await Promise.all(repos.map((r) => statusClean(r.user, r.root)));
  });

  test('writers killed with SIGKILL at several moments: fsck cleans up, nothing corrupt, re-adding loses nothing', async (t) => {
    const cache = makeSharedCache('cache-killed');
    const base: Record<string, string | Buffer> = {};
    for (let i = 0; i < 200; i++) base[`data/small/f${i}.txt`] = `small file ${i}\n${'x'.repeat(i % 113)}`;
    // both users add the same data (maximum overlap) plus a file of their own
    const repos = await Promise.all(
      users.map(async (user, i) => ({ user, root: await makeUserRepo(user, 'killed', cache, { ...base, [`data/mine-${i}.txt`]: `user ${i}` }) })),
    );
    const expected = new Map<string, Buffer>(Object.entries(base).map(([k, v]) => [k, Buffer.from(v)]));

    let killed = 0;
    const tempsPerRound: number[] = [];
    // after the writers have started publishing objects, wait this long, then SIGKILL them
    const delays = [0, 40, 150, 400];
    for (const [round, delay] of delays.entries()) {
      // new content every round, so the writers always have objects to write when they are killed
      const fresh: Record<string, Buffer> = { [`data/big/b.bin`]: randomBytes(24 << 20) };
      for (let i = 0; i < 100; i++) fresh[`data/round${round}/f${i}.txt`] = Buffer.from(`round ${round} file ${i}\n`);
      for (const r of repos) {
        writeTree(r.root, fresh);
        sh('chown', '-R', `${r.user.uid}:${r.user.gid}`, join(r.root, 'data'));
      }
      for (const [k, v] of Object.entries(fresh)) expected.set(k, v);

      const baseline = cacheEntryCount(cache);
      const runs = repos.map((r) => tdvcAs(r.user, r.root, ['add', 'data']));
      const started = Date.now();
      while (cacheEntryCount(cache) === baseline && runs.some((r) => !r.exited()) && Date.now() - started < 30_000) {
        await new Promise((res) => setTimeout(res, 5));
      }
      await new Promise((res) => setTimeout(res, delay + Math.floor(Math.random() * 20)));
      for (const run of runs) {
        if (!run.exited()) killed++;
        run.kill();
      }
      const results = await Promise.all(runs.map((r) => r.done));
      for (const r of results) assert.ok(r.code === -9 || r.code === 0, `killed or finished, not failed: ${r.code} ${r.stderr}`);
      const temps = tempFilesIn(cache);
      tempsPerRound.push(temps.length);
      // fsck, by each user in turn: removes both dead writers' temp files, finds nothing corrupt
      const checker = repos[round % 2]!;
      const fsck = await runAs(checker.user, checker.root, ['fsck', '--json']);
      const rep = JSON.parse(fsck.stdout) as FsckJson;
      assert.deepEqual(rep.corrupt, [], `after a kill ${delay} ms into writing`);
      assert.equal(fsck.code, rep.removedTemps.length > 0 ? 4 : 0, 'exit 4 exactly when something had to be cleaned');
      assert.equal(rep.removedTemps.length, tempsPerRound[round], `fsck removed every temp file there was: ${JSON.stringify({ temps, removed: rep.removedTemps })}`);
      assert.deepEqual(tempFilesIn(cache), [], `temp files left after fsck (kill ${delay} ms into writing)`);
      await assertObjectsIntact(cache, assertSharedModes(cache));
    }
    t.diagnostic(`${killed} writer(s) killed mid-run; temp files left by the killed writers per round: ${tempsPerRound.join(', ')}`);
    assert.ok(killed >= 6, `the writers must really be killed before they finish (killed ${killed} of 8)`);
    assert.ok(
      tempsPerRound.some((n) => n > 0),
      'at least one kill must land in the middle of writing an object, or this test proves nothing',
    );

    // a second run finishes the job for both users; nothing is lost
    for (const r of repos) await okAs(r.user, r.root, ['add', 'data']);
    const objects = assertSharedModes(cache);
    await assertObjectsIntact(cache, objects);
    for (const [i, r] of repos.entries()) {
      assertReferencedPresent(r.root, cache, 'data');
      await statusClean(r.user, r.root);
      // the workspace comes back byte for byte from the cache
      rmSync(join(r.root, 'data'), { recursive: true, force: true });
      await okAs(r.user, r.root, ['checkout']);
      for (const [rel, content] of expected) assert.ok(readFileSync(join(r.root, rel)).equals(content), `${rel} in repo ${i}`);
      assert.equal(readFileSync(join(r.root, `data/mine-${i}.txt`), 'utf8'), `user ${i}`);
    }
    const fsck = await okAs(repos[1]!.user, repos[1]!.root, ['fsck', '--json']);
    assert.deepEqual((JSON.parse(fsck.stdout) as FsckJson).corrupt, []);
  });
});
