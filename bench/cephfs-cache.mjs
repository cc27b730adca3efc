// Team cache on CephFS: `node bench/cephfs-cache.mjs` after `pnpm build` (the second half of `pnpm bench efs`).
//
// Starts the tests' throwaway single-node CephFS (packages/cli/test/cephfs.ts: one mon, a memstore
// OSD, one MDS, the file system mounted twice with ceph-fuse, "machine" A and "machine" B; the
// section is skipped, with the reason, without root, FUSE or Ceph) and compares two workspaces on
// local disk that hold the same generated dataset, with the cache
//   local   private, on local disk (.tdvc/cache);                          cache.type copy, cache.verify true
//   cephfs  on mount A (`tdvc cache dir <mountA>/cache`, cache.shared group); cache.type copy
// (a shared cache always verifies on checkout, so the local one does too: only the cache's place
// differs). Each adds the dataset once (info), then, alternating local, cephfs, local, …: `tdvc
// checkout` of the dataset folder after it was moved away, and no-op `tdvc status`. Prints medians,
// runs and the ratio cephfs/local. Info rows: a smaller dataset added through mount A and checked
// out through mount B (the other machine) and, for scale, through mount A. The one-node test
// cluster serves a file another client just created at ~50 files/s (its MDS, not tdvc:
// ../shared/CEPHFS-TEST-FS.md). Warm page cache; results go to bench/.work/cephfs-cache-results.json.
//
// Environment: CEPHFS_FILES=5000 (1-8 KiB each)  CEPHFS_DIRS=50  CEPHFS_REPEAT=5
//              CEPHFS_B_FILES=500 (the mount-B sample; 0 skips it)
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generateSmall } from './lib/gen.mjs';
import { median, runNode, sh } from './lib/measure.mjs';
import { describeMachine } from './lib/machine.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work');
const HERE = join(WORK, 'cephfs-cache');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');
const CORE = join(ROOT, 'packages', 'core', 'dist', 'src', 'index.js');
const HARNESS = join(ROOT, 'packages', 'cli', 'dist', 'test', 'cephfs.js');
const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const FILES = Number(env('CEPHFS_FILES', 5000));
const DIRS = Number(env('CEPHFS_DIRS', 50));
const REPEAT = Math.max(1, Number(env('CEPHFS_REPEAT', 5)));
const B_FILES = Number(env('CEPHFS_B_FILES', 500));
const TEAM_GID = 100; // any group will do (root may chown to it); 100 is `users` on Debian

const log = (...a) => console.log(...a);
const q = (p) => JSON.stringify(p);
const fmtS = (s) => `${s.toFixed(s < 1 ? 3 : 2)} s`;
const runsStr = (xs) => xs.map((x) => x.toFixed(2)).join(' ');
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
for (const p of [TDVC, CORE, HARNESS]) {
  if (!existsSync(p)) {
    console.error(`missing ${p}: run \`pnpm build\` first`);
    process.exit(2);
  }
}
Object.assign(process.env, { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@localhost', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@localhost' });

log('== team cache on CephFS (bench/cephfs-cache.mjs)');
mkdirSync(WORK, { recursive: true });
const machine = await describeMachine(WORK, pathToFileURL(CORE).href, ROOT);
log(`  ${machine.nproc} cores, ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, kernel ${machine.kernel}; ${WORK} on ${machine.fsType}; node ${machine.node}`);
log(`  code: commit ${machine.commit} + ${machine.uncommittedFiles} uncommitted file(s) under packages/ (as built)`);

// a signal would end the process without its 'exit' event, where the harness unmounts and kills its daemons
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));
const { startCephFs } = await import(pathToFileURL(HARNESS).href);
const memBytes = Math.max(1 << 30, (FILES + B_FILES) * 8 * 1024 * 4);
// startCephFs already tries twice; under load both can fail (an OSD exits with "wrong fsid", and
// each failed try waits out its timeout), so the benchmark asks once more before giving up
const start = () => startCephFs({ memBytes, timeoutMs: 60_000 });
const fs = await start().catch((err) => {
  log(`  CephFS did not start (${String(err.message).split('\n')[0]}); trying again`);
  return start();
});
if ('skipped' in fs) {
  log(`== CephFS section skipped: ${fs.skipped}`);
  process.exit(0);
}
log(`  CephFS up in ${(fs.startupMs / 1000).toFixed(1)} s: mount A ${fs.mountA}, mount B ${fs.mountB}`);

// Nothing is deleted between measurements (journal-less ext4 slows file creation after deletions,
// see run.mjs): folders that must go are renamed into the trash, removed at the end.
const TRASH = join(HERE, 'trash');
let trashN = 0;
const discard = (p) => {
  mkdirSync(TRASH, { recursive: true });
  renameSync(p, join(TRASH, `${trashN++}-${basename(p)}`));
};
async function tdvc(cwd, ...args) {
  await new Promise((r) => setImmediate(r)); // runNode waits synchronously: let a pending signal's handler run
  const r = await runNode([TDVC, ...args], { cwd });
  if (r.code !== 0) throw new Error(`tdvc ${args.join(' ')} in ${cwd} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}
async function workspace(name, ...config) {
  const dir = join(HERE, name);
  mkdirSync(dir, { recursive: true });
  sh('git init -q -b main', { cwd: dir });
  await tdvc(dir, 'init');
  for (const args of config) await tdvc(dir, ...args);
  return dir;
}
const sameTree = (a, b) => sh(`diff -rq ${q(a)} ${q(b)}`, { allowFail: true }).code === 0;

const results = { files: FILES, dirs: DIRS, repeat: REPEAT, bFiles: B_FILES, machine, startupMs: fs.startupMs, loadavgStart: loadavg(), startedAt: new Date().toISOString() };
try {
  if (existsSync(HERE)) rmSync(HERE, { recursive: true, force: true }); // an earlier run's leftovers, before any file is created
  const SRC = join(HERE, 'src');
  const data = generateSmall(join(SRC, 'data'), { files: FILES, dirs: DIRS, seed: 1 });
  log(`  data: ${data.files} files of 1-8 KiB (${(data.bytes / 1048576).toFixed(1)} MiB) in ${DIRS} folders`);

  const cache = join(fs.mountA, 'cache');
  mkdirSync(cache);
  chownSync(cache, 0, TEAM_GID);
  chmodSync(cache, 0o2775);
  const shared = [['cache', 'dir', cache], ['config', 'cache.shared', 'group'], ['config', 'cache.type', 'copy']];
  const ws = {
    local: await workspace('ws-local', ['config', 'cache.type', 'copy'], ['config', 'cache.verify', 'true']),
    cephfs: await workspace('ws-cephfs', ...shared),
  };
  const kinds = Object.keys(ws);
  const t = { add: {}, checkout: {}, status: {}, cacheStatus: {} };
  for (const k of kinds) {
    sh(`cp -r ${q(join(SRC, 'data'))} data && sync`, { cwd: ws[k] });
    t.add[k] = (await tdvc(ws[k], 'add', 'data')).seconds;
  }
  log(`  tdvc add data (cold, once, info): local ${fmtS(t.add.local)}, cephfs ${fmtS(t.add.cephfs)}`);

  // alternating runs: local, cephfs, local, cephfs, …
  async function rounds(what, args, setup) {
    for (const k of kinds) t[what][k] = [];
    for (let i = 0; i < REPEAT; i++) {
      for (const k of kinds) {
        if (setup) setup(ws[k]);
        sh('sync');
        t[what][k].push((await tdvc(ws[k], ...args)).seconds);
      }
    }
  }
  results.loadavgCheckout = loadavg();
  await rounds('checkout', ['checkout'], (dir) => discard(join(dir, 'data')));
  for (const k of kinds) if (!sameTree(join(SRC, 'data'), join(ws[k], 'data'))) throw new Error(`checkout in ${ws[k]} differs from the source`);
  for (const k of kinds) await tdvc(ws[k], 'status'); // the first status after a checkout is not timed
  results.loadavgStatus = loadavg();
  await rounds('status', ['status']);
  for (const k of kinds) {
    const st = JSON.parse((await tdvc(ws[k], 'status', '--json')).stdout);
    if (!st.clean) throw new Error(`status in ${ws[k]} is not clean: ${JSON.stringify(st)}`);
  }
  // the workspace records: what publishing one costs (in-process, the call every writing command
  // makes) next to the no-op add it is part of, and `tdvc cache status`
  const core = await import(pathToFileURL(CORE).href);
  t.publish = {};
  t.noopAdd = {};
  for (const k of kinds) {
    t.publish[k] = [];
    t.noopAdd[k] = [];
  }
  for (let i = 0; i < REPEAT; i++) {
    for (const k of kinds) {
      const repo = await core.Repo.open(ws[k]);
      const t0 = process.hrtime.bigint();
      await core.publishWorkspaceRecord(repo);
      t.publish[k].push(Number(process.hrtime.bigint() - t0) / 1e9);
      t.noopAdd[k].push((await tdvc(ws[k], 'add', 'data')).seconds);
    }
  }
  await rounds('cacheStatus', ['cache', 'status']);
  results.times = t;

  // the other machine: a smaller dataset added through mount A, checked out through mount B
  if (B_FILES > 0) {
    generateSmall(join(SRC, 'sample'), { files: B_FILES, dirs: Math.max(1, Math.round((B_FILES * DIRS) / FILES)), seed: 2 });
    const wsA = await workspace('ws-a-sample', ...shared);
    sh(`cp -r ${q(join(SRC, 'sample'))} sample && sync`, { cwd: wsA });
    await tdvc(wsA, 'add', 'sample');
    sh('git add -A && git commit -q -m sample', { cwd: wsA });
    const wsB = join(HERE, 'ws-b-sample');
    sh(`git clone -q ${q(wsA)} ${q(wsB)}`);
    await tdvc(wsB, 'cache', 'dir', join(fs.mountB, 'cache'), '--local');
    const b = { files: B_FILES };
    sh('sync');
    b.first = (await tdvc(wsB, 'checkout')).seconds;
    if (!sameTree(join(SRC, 'sample'), join(wsB, 'sample'))) throw new Error('checkout through mount B differs from the source');
    discard(join(wsB, 'sample'));
    sh('sync');
    b.again = (await tdvc(wsB, 'checkout')).seconds;
    discard(join(wsA, 'sample'));
    sh('sync');
    b.mountA = (await tdvc(wsA, 'checkout')).seconds;
    results.mountB = b;
  }
} finally {
  await fs.stop();
  log(`  CephFS stopped; removing ${HERE} …`);
  rmSync(HERE, { recursive: true, force: true });
}

// --- report ------------------------------------------------------------------------------------
const t = results.times;
const rows = [];
for (const [what, label] of [['checkout', `tdvc checkout (${FILES} files, folder moved away)`], ['status', 'tdvc status (no-op)']]) {
  const l = median(t[what].local);
  const c = median(t[what].cephfs);
  const pairs = t[what].cephfs.map((x, i) => x / t[what].local[i]);
  rows.push([label, `${fmtS(l)} (runs ${runsStr(t[what].local)})`, `${fmtS(c)} (runs ${runsStr(t[what].cephfs)})`, `${(c / l).toFixed(2)}× (pairs ${pairs.map((x) => x.toFixed(2)).join(' ')})`]);
  results[what] = { localMedian: l, cephfsMedian: c, ratio: c / l, pairRatios: pairs };
}
rows.push([`tdvc add data (cold, one run, info)`, fmtS(t.add.local), fmtS(t.add.cephfs), `${(t.add.cephfs / t.add.local).toFixed(2)}×`]);
{
  const ms = (xs) => `${(median(xs) * 1000).toFixed(1)} ms (runs ${xs.map((x) => (x * 1000).toFixed(1)).join(' ')})`;
  rows.push(['publishing the workspace record (in-process)', ms(t.publish.local), ms(t.publish.cephfs), `${(median(t.publish.cephfs) / median(t.publish.local)).toFixed(2)}×`]);
  rows.push(['tdvc add data (no-op, which publishes it)', `${fmtS(median(t.noopAdd.local))} (runs ${runsStr(t.noopAdd.local)})`, `${fmtS(median(t.noopAdd.cephfs))} (runs ${runsStr(t.noopAdd.cephfs)})`, `${(median(t.noopAdd.cephfs) / median(t.noopAdd.local)).toFixed(2)}×`]);
  const share = (k) => `${((100 * median(t.publish[k])) / median(t.noopAdd[k])).toFixed(1)} %`;
  rows.push(['record share of the no-op add', share('local'), share('cephfs'), '']);
  results.publish = { localMedian: median(t.publish.local), cephfsMedian: median(t.publish.cephfs), noopAddLocal: median(t.noopAdd.local), noopAddCephfs: median(t.noopAdd.cephfs) };
  const l = median(t.cacheStatus.local);
  const c = median(t.cacheStatus.cephfs);
  rows.push([`tdvc cache status`, `${fmtS(l)} (runs ${runsStr(t.cacheStatus.local)})`, `${fmtS(c)} (runs ${runsStr(t.cacheStatus.cephfs)})`, `${(c / l).toFixed(2)}×`]);
  results.cacheStatus = { localMedian: l, cephfsMedian: c, ratio: c / l };
}
const b = results.mountB;
if (b) {
  const rate = (s) => `${(b.files / s).toFixed(0)} files/s`;
  rows.push([`info: checkout of ${b.files} files added through A, via mount B (first)`, '', `${fmtS(b.first)} = ${rate(b.first)}`, '']);
  rows.push([`info: the same via mount B again`, '', `${fmtS(b.again)} = ${rate(b.again)}`, '']);
  rows.push([`info: the same via mount A (the writer)`, '', `${fmtS(b.mountA)} = ${rate(b.mountA)}`, '']);
}
const head = ['operation', 'local cache', 'cache on CephFS (mount A)', 'CephFS / local'];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (c) => '| ' + c.map((x, i) => x.padEnd(widths[i])).join(' | ') + ' |';
log('');
log(`== results: workspaces on local disk, cache.type copy, verify on; median of ${REPEAT} alternating runs; load average ${results.loadavgStart} at start, ${loadavg()} at end`);
log(line(head));
log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const r of rows) log(line(r));
if (b) log('caveat: this one-node test cluster serves a file another client just created at ~50 files/s (its MDS; ../shared/CEPHFS-TEST-FS.md): the mount-B rows measure the test cluster, not EFS or tdvc.');
log('not measured here: the 1-3 ms per metadata call of real EFS (CephFS on 127.0.0.1 answers far faster); bench/efs.mjs injects that latency into the remote code instead.');
results.finishedAt = new Date().toISOString();
writeFileSync(join(WORK, 'cephfs-cache-results.json'), JSON.stringify(results, null, 2));
log(`results: ${join(WORK, 'cephfs-cache-results.json')}`);
