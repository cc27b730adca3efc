// tdvc benchmark: `pnpm bench` (builds first) or `node bench/run.mjs` (uses the existing build).
//
// Generates a deterministic data set under bench/.work/, measures this machine's limits on it
// (b3sum, cp -r, cp -al, find -printf, single-threaded b3sum) and then tdvc itself (add, no-op
// status, checkout of a deleted folder, 2 GiB hashing, peak RSS), and prints a table against the
// targets. Page cache is never dropped: every figure is a warm-cache figure. The checkout of the
// deleted folder and of the 2 GiB file is also timed with `cache.verify false` and `true`, the two
// settings alternating run by run (the cost of hashing objects as they are placed).
//
// Environment (defaults = the full-size run):
//   BENCH_FILES=100000  BENCH_DIRS=1000  BENCH_BIG_MB=2048  BENCH_SEED=1  BENCH_REPEAT=3
//   BENCH_ADD_REPEAT=1  cold `tdvc add` runs (each in a fresh repository; the table uses the median)
//   BENCH_REFLINK=auto|0|1   XFS reflink section (needs root + loop devices; auto = when possible)
//   BENCH_REFLINK_FILES=20000 BENCH_REFLINK_BIG_MB=256
//   BENCH_HARDLINK=1     also time checkout with cache.type hardlink (info row, vs cp -al)
//   BENCH_PROFILE=0|1    also run add/status/checkout under node --cpu-prof and print hot spots
//   BENCH_RMRF=1|0      at the end, time checkout and cp -r right after a real rm -rf (info rows)
//   BENCH_KEEP=0|1       keep the tdvc repositories under bench/.work/ after the run
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureData } from './lib/gen.mjs';
import { median, repeatShell, runNode, sh, timeShell, TIME_BIN } from './lib/measure.mjs';
import { describeMachine } from './lib/machine.mjs';
import { formatSummary, summariseProfile } from './lib/profile.mjs';
import { freeBytes, isFullyShared, mountXfs, xfsUnavailableReason } from './lib/xfs.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work');
const SRC = join(WORK, 'src');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');
const CORE = join(ROOT, 'packages', 'core', 'dist', 'src', 'index.js');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const P = {
  files: Number(env('BENCH_FILES', 100000)),
  dirs: Number(env('BENCH_DIRS', 1000)),
  bigMB: Number(env('BENCH_BIG_MB', 2048)),
  seed: Number(env('BENCH_SEED', 1)),
};
const REPEAT = Math.max(1, Number(env('BENCH_REPEAT', 3)));
const ADD_REPEAT = Math.max(1, Number(env('BENCH_ADD_REPEAT', 1)));
const REFLINK = env('BENCH_REFLINK', 'auto');
const REFLINK_FILES = Number(env('BENCH_REFLINK_FILES', 20000));
const REFLINK_BIG_MB = Number(env('BENCH_REFLINK_BIG_MB', 256));
const HARDLINK = env('BENCH_HARDLINK', '1') !== '0';
const PROFILE = env('BENCH_PROFILE', '0') === '1';
const KEEP = env('BENCH_KEEP', '0') === '1';
const RMRF = env('BENCH_RMRF', '1') !== '0';

const log = (...a) => console.log(...a);
const q = (p) => JSON.stringify(p);
const fmtS = (s) => `${s.toFixed(s < 1 ? 3 : 2)} s`;
const MiB = 1024 * 1024;
const MB = 1e6;

if (!existsSync(TDVC) || !existsSync(CORE)) {
  console.error('tdvc is not built: run `pnpm bench` (which builds) or `pnpm build` first');
  process.exit(2);
}
for (const tool of ['b3sum', 'git', 'find', 'xargs', 'cp']) {
  if (sh(`command -v ${tool}`, { allowFail: true }).code !== 0) {
    console.error(`missing required tool: ${tool}`);
    process.exit(2);
  }
}

mkdirSync(WORK, { recursive: true });

// This machine's / is ext4 *without a journal*; there, inode allocation skips (by scanning) every
// inode freed in the last 60 s (360 s while its inode-table block is dirty), so creating many files
// right after deleting many is several times slower (perf: recently_deleted / find_inode_bit in
// __ext4_new_inode). Nothing is deleted between measurements: trees that must disappear are renamed
// into bench/.work/trash/ and removed only after the last measurement.
const TRASH = join(WORK, 'trash');
let trashN = 0;
function discard(p) {
  if (!existsSync(p)) return;
  mkdirSync(TRASH, { recursive: true });
  renameSync(p, join(TRASH, `${trashN++}-${basename(p)}`));
}
// Leftovers of an earlier run are not deleted now (that would slow every file creation below):
// they go to the trash too, and are removed with it at the end.
const leftovers = [TRASH, join(WORK, 'repo'), join(WORK, 'scratch'), join(WORK, 'prof-repo'), join(WORK, 'prof')].filter((p) => existsSync(p));
if (leftovers.length) {
  log(`== moving leftovers of an earlier run into the trash: ${leftovers.map((p) => basename(p)).join(', ')}`);
  const old = join(WORK, `trash-old-${Date.now()}`);
  if (existsSync(TRASH)) renameSync(TRASH, old);
  for (const p of leftovers) if (p !== TRASH) discard(p);
  if (existsSync(old)) {
    mkdirSync(TRASH, { recursive: true });
    renameSync(old, join(TRASH, basename(old)));
  }
}

const results = { loadavgStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '), startedAt: new Date().toISOString(), params: { ...P, repeat: REPEAT }, cache: 'warm (page cache never dropped)' };

// ---------------------------------------------------------------------------------------------
log('== machine');
const machine = await describeMachine(WORK, pathToFileURL(CORE).href, ROOT);
results.machine = machine;
log(`  ${machine.nproc} cores, ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, kernel ${machine.kernel}`);
log(`  ${WORK} on ${machine.fsType} (${machine.device}); node ${machine.node}; hash backend ${machine.hashBackend}; ${machine.b3sum}`);
log(`  peak RSS via ${TIME_BIN ? 'GNU time %M' : 'VmHWM polling'}; warm page cache (nothing is dropped)`);
log(`  code: commit ${machine.commit} + ${machine.uncommittedFiles} uncommitted file(s) under packages/ (as built for this run)`);

log('== data');
const data = ensureData(SRC, P, (m) => log(`  ${m}`), discard);
results.data = data;
log(`  ${data.smallFiles} small files (${(data.smallBytes / MiB).toFixed(1)} MiB) in ${P.dirs} folders; big.bin ${(data.bigBytes / MiB).toFixed(0)} MiB`);
sh('sync');

// ---------------------------------------------------------------------------------------------
// Reference commands. Each is sampled in a block first ("machine limits"), and again right next to
// the tdvc command it is compared with, so that a ratio compares runs made under the same load
// (other processes may share this machine). The table uses the adjacent samples.
const SCRATCH = join(WORK, 'scratch');
rmSync(SCRATCH, { recursive: true, force: true });
mkdirSync(SCRATCH, { recursive: true });
const REFS = {
  b3sum2: { label: 'b3sum, 2 processes, all small files', cmd: `find data -type f -print0 | xargs -0 -P2 -n 1000 b3sum > /dev/null` },
  cpR: { label: 'cp -r', cmd: `cp -r data ${q(join(SCRATCH, 'cp'))}`, after: () => discard(join(SCRATCH, 'cp')) },
  cpAl: { label: 'cp -al', cmd: `cp -al data ${q(join(SCRATCH, 'cpal'))}`, after: () => discard(join(SCRATCH, 'cpal')) },
  findStat: { label: 'find -printf (stat of every file)', cmd: `find data -printf '%s %T@ %i\\n' > /dev/null` },
  b3sum1Big: { label: 'b3sum --num-threads 1 big.bin', cmd: `b3sum --num-threads 1 big.bin > /dev/null` },
  // one file: removing it costs no inode reuse, and 2 GiB copies in the trash would fill the disk
  cpBig: { label: 'cp big.bin (same filesystem)', cmd: `cp big.bin ${q(join(SCRATCH, 'big.copy'))}`, after: () => rmSync(join(SCRATCH, 'big.copy'), { force: true }) },
};
const ref = {};
for (const k of Object.keys(REFS)) ref[k] = { cmd: REFS[k].cmd, block: [], adjacent: [] };
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
function refRun(k, where) {
  const r = REFS[k];
  sh('sync');
  const s = timeShell(r.cmd, { cwd: SRC });
  if (r.after) r.after();
  (ref[k][where] ??= []).push(s);
  return s;
}
const adj = (k) => median(ref[k].adjacent);

log(`== reference tools (median of ${REPEAT}, warm cache; load average ${loadavg()})`);
// warm-up pass: read every file once so the first timed run is not a cold one
sh(`find data -type f -print0 | xargs -0 -P2 -n 1000 cat > /dev/null; cat big.bin > /dev/null`, { cwd: SRC });
for (const k of ['b3sum2', 'findStat', 'b3sum1Big', 'cpR', 'cpAl', 'cpBig']) {
  for (let i = 0; i < REPEAT; i++) refRun(k, 'block');
  ref[k].median = median(ref[k].block);
  log(`  ${REFS[k].label}: ${fmtS(ref[k].median)}  [${REFS[k].cmd}]  runs ${ref[k].block.map((x) => x.toFixed(3)).join(' ')}`);
}
ref.b3sum1Big.mibPerS = data.bigBytes / MiB / ref.b3sum1Big.median;
log(`  single-threaded b3sum throughput: ${ref.b3sum1Big.mibPerS.toFixed(0)} MiB/s`);
results.reference = ref;

// ---------------------------------------------------------------------------------------------
log('== tdvc (fresh git repository, default cache.type)');
const REPO = join(WORK, 'repo');
const td = { loadavg: {} };
async function tdvc(args, cwd = REPO, extraEnv = {}) {
  const r = await runNode([TDVC, ...args], { cwd, env: extraEnv });
  if (r.code !== 0) throw new Error(`tdvc ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}
function freshRepo(dir) {
  discard(dir);
  mkdirSync(dir, { recursive: true });
  sh('git init -q -b main', { cwd: dir });
}
const mb = (rssMiB) => (rssMiB * MiB) / MB;
const runsStr = (xs) => xs.map((x) => x.toFixed(2)).join(' ');

// process start-up and module loading alone, for scale
{
  const runs = [];
  for (let i = 0; i < REPEAT; i++) runs.push((await tdvc(['--version'], ROOT)).seconds);
  td.startup = { seconds: median(runs), runs };
  log(`  tdvc --version (start-up only): ${fmtS(td.startup.seconds)}`);
}

// add (cold) — ADD_REPEAT fresh repositories, each with an empty cache and no stat index
let cacheType = '';
td.add = { runs: [], rssMB: 0 };
for (let i = 0; i < ADD_REPEAT; i++) {
  freshRepo(REPO);
  await tdvc(['init']);
  if (i === 0) {
    const cfgR = await runNode([TDVC, 'config', 'cache.type'], { cwd: REPO });
    cacheType = cfgR.code === 0 ? cfgR.stdout.trim() : '';
    td.cacheType = cacheType || '(default: reflink,copy)';
    log(`  repo ${REPO}; cache.type = ${td.cacheType}`);
  }
  sh(`cp -r ${q(join(SRC, 'data'))} data && sync`, { cwd: REPO });
  refRun('b3sum2', 'adjacent');
  refRun('cpR', 'adjacent');
  td.loadavg.add = loadavg();
  sh('sync');
  const r = await tdvc(['add', 'data']);
  td.add.runs.push(r.seconds);
  td.add.rssMB = Math.max(td.add.rssMB, r.rssMB);
  sh('sync');
}
refRun('b3sum2', 'adjacent');
refRun('cpR', 'adjacent');
td.add.seconds = median(td.add.runs);
td.add.reference = adj('b3sum2') + adj('cpR');
log(`  tdvc add data (cold: empty cache, no stat index): ${fmtS(td.add.seconds)} (runs ${runsStr(td.add.runs)}), peak RSS ${mb(td.add.rssMB).toFixed(0)} MB; adjacent b3sum2 ${fmtS(adj('b3sum2'))} + cp -r ${fmtS(adj('cpR'))}`);

async function repeatTdvc(n, args, { setup, refKey } = {}) {
  const runs = [];
  let rss = 0;
  let last;
  for (let i = 0; i < n; i++) {
    if (refKey) refRun(refKey, 'adjacent');
    if (setup) setup();
    sh('sync');
    last = await tdvc(args);
    runs.push(last.seconds);
    rss = Math.max(rss, last.rssMB);
  }
  if (refKey) refRun(refKey, 'adjacent');
  return { seconds: median(runs), runs, rssMB: rss, stdout: last.stdout, reference: refKey ? adj(refKey) : undefined };
}

td.loadavg.status = loadavg();
const st = await repeatTdvc(REPEAT, ['status'], { refKey: 'findStat' });
td.status = { ...st, output: st.stdout.trim().split('\n').slice(0, 3).join(' | ') };
delete td.status.stdout;
log(`  tdvc status (no-op): ${fmtS(st.seconds)} (runs ${runsStr(st.runs)}), peak RSS ${mb(st.rssMB).toFixed(0)} MB  [${td.status.output}]; adjacent find ${fmtS(st.reference)}`);

const readd = await tdvc(['add', 'data']);
td.readd = { seconds: readd.seconds, rssMB: readd.rssMB };
log(`  tdvc add data again (nothing changed, stat index warm): ${fmtS(readd.seconds)}, peak RSS ${mb(readd.rssMB).toFixed(0)} MB`);

td.loadavg.checkout = loadavg();
const co = await repeatTdvc(REPEAT, ['checkout'], { setup: () => discard(join(REPO, 'data')), refKey: 'cpR' });
td.checkout = { ...co };
delete td.checkout.stdout;
log(`  data/ gone (moved away); tdvc checkout: ${fmtS(co.seconds)} (runs ${runsStr(co.runs)}), peak RSS ${mb(co.rssMB).toFixed(0)} MB; adjacent cp -r ${fmtS(co.reference)}`);
const diff = sh(`diff -rq ${q(join(SRC, 'data'))} data`, { cwd: REPO, allowFail: true });
td.checkoutVerified = diff.code === 0;
log(`  checked-out tree identical to the source: ${td.checkoutVerified ? 'yes' : 'NO\n' + diff.stdout.slice(0, 2000)}`);

const st2 = await tdvc(['status']);
td.statusAfterCheckout = { seconds: st2.seconds, rssMB: st2.rssMB };
log(`  tdvc status right after checkout: ${fmtS(st2.seconds)}`);

if (HARDLINK) {
  await tdvc(['config', 'cache.type', 'hardlink']);
  const hl = await repeatTdvc(REPEAT, ['checkout'], { setup: () => discard(join(REPO, 'data')), refKey: 'cpAl' });
  td.checkoutHardlink = { seconds: hl.seconds, runs: hl.runs, rssMB: hl.rssMB, reference: hl.reference };
  log(`  data/ gone; tdvc checkout with cache.type hardlink: ${fmtS(hl.seconds)} (runs ${runsStr(hl.runs)}); adjacent cp -al ${fmtS(hl.reference)}`);
  if (cacheType) await tdvc(['config', 'cache.type', cacheType]);
  else await tdvc(['config', '--unset', 'cache.type']);
  discard(join(REPO, 'data'));
  await tdvc(['checkout']);
}

// cache.verify cost: the same checkout with `cache.verify false` and `true` (set in the repository
// before each run), alternating A B A B ..., REPEAT runs each; every run sits between two runs of
// its reference (as in repeatTdvc), and a setting's reference is the median of the reference runs
// right before and after its own runs. The checkout row above keeps the default (setting unset).
async function verifyAB(args, { setup, refKey }) {
  const out = { false: { runs: [], refs: [], rssMB: 0 }, true: { runs: [], refs: [], rssMB: 0 } };
  let before = refRun(refKey, 'verifyAB');
  for (let i = 0; i < REPEAT; i++) {
    for (const v of ['false', 'true']) {
      await tdvc(['config', 'cache.verify', v]);
      setup();
      sh('sync');
      const r = await tdvc(args);
      const after = refRun(refKey, 'verifyAB');
      const o = out[v];
      o.runs.push(r.seconds);
      o.refs.push(before, after);
      o.rssMB = Math.max(o.rssMB, r.rssMB);
      before = after;
    }
  }
  await tdvc(['config', '--unset', 'cache.verify']);
  for (const v of ['false', 'true']) Object.assign(out[v], { seconds: median(out[v].runs), reference: median(out[v].refs) });
  out.ratio = out.true.seconds / out.false.seconds;
  out.pairRatios = out.true.runs.map((t, i) => t / out.false.runs[i]);
  return out;
}
const logAB = (what, refName, ab) =>
  log(`  ${what}: cache.verify false ${fmtS(ab.false.seconds)} (runs ${runsStr(ab.false.runs)}; adjacent ${refName} ${fmtS(ab.false.reference)}, ${(ab.false.seconds / ab.false.reference).toFixed(2)}×; peak RSS ${mb(ab.false.rssMB).toFixed(0)} MB), ` +
    `true ${fmtS(ab.true.seconds)} (runs ${runsStr(ab.true.runs)}; adjacent ${refName} ${fmtS(ab.true.reference)}, ${(ab.true.seconds / ab.true.reference).toFixed(2)}×; peak RSS ${mb(ab.true.rssMB).toFixed(0)} MB); ` +
    `verify/no-verify ${ab.ratio.toFixed(2)}× (run pairs ${ab.pairRatios.map((x) => x.toFixed(2)).join(' ')})`);
td.loadavg.checkoutVerify = loadavg();
td.checkoutVerify = await verifyAB(['checkout'], { setup: () => discard(join(REPO, 'data')), refKey: 'cpR' });
logAB('data/ gone; tdvc checkout', 'cp -r', td.checkoutVerify);
td.checkoutVerify.filesAfter = Number(sh('find data -type f | wc -l', { cwd: REPO }).trim());
log(`  files in data/ after the last of them: ${td.checkoutVerify.filesAfter} (expected ${data.smallFiles})`);

// big-file hashing: `tdvc add big.bin` end to end, and @tdvc/core's hashFile in-process
sh(`cp ${q(join(SRC, 'big.bin'))} big.bin && sync`, { cwd: REPO });
refRun('b3sum1Big', 'adjacent');
refRun('cpBig', 'adjacent');
td.loadavg.addBig = loadavg();
sh('sync');
const addBig = await tdvc(['add', 'big.bin']);
sh('sync');
refRun('b3sum1Big', 'adjacent');
refRun('cpBig', 'adjacent');
const hashScript = `import { hashFile, selectBackend } from ${q(pathToFileURL(CORE).href)};
const b = selectBackend(); const t0 = performance.now(); const r = await hashFile(${q(join(SRC, 'big.bin'))});
console.log(JSON.stringify({ backend: b, ms: performance.now() - t0, size: r.size }));`;
const rawRuns = [];
for (let i = 0; i < REPEAT; i++) {
  const r = await runNode(['--input-type=module', '-e', hashScript], { cwd: ROOT });
  if (r.code !== 0) throw new Error(`hashFile failed: ${r.stderr}`);
  rawRuns.push(JSON.parse(r.stdout.trim()));
  refRun('b3sum1Big', 'adjacent');
}
const b3adjMiBs = data.bigBytes / MiB / adj('b3sum1Big');
td.addBig = { seconds: addBig.seconds, rssMB: addBig.rssMB, mibPerS: data.bigBytes / MiB / addBig.seconds, referenceMiBs: b3adjMiBs };
log(`  tdvc add big.bin: ${fmtS(addBig.seconds)} = ${td.addBig.mibPerS.toFixed(0)} MiB/s, peak RSS ${mb(addBig.rssMB).toFixed(0)} MB; adjacent b3sum -1 ${b3adjMiBs.toFixed(0)} MiB/s`);
const rawMs = median(rawRuns.map((r) => r.ms));
td.hashFile = { seconds: rawMs / 1000, runs: rawRuns.map((r) => r.ms / 1000), mibPerS: data.bigBytes / MiB / (rawMs / 1000), backend: rawRuns[0].backend, referenceMiBs: b3adjMiBs };
log(`  @tdvc/core hashFile(big.bin) in-process: ${fmtS(rawMs / 1000)} = ${td.hashFile.mibPerS.toFixed(0)} MiB/s (${td.hashFile.backend})`);
td.loadavg.checkoutBigVerify = loadavg();
td.checkoutBigVerify = await verifyAB(['checkout', 'big.bin'], { setup: () => rmSync(join(REPO, 'big.bin')), refKey: 'cpBig' });
logAB('big.bin gone; tdvc checkout big.bin', 'cp big.bin', td.checkoutBigVerify);
discard(SCRATCH);
results.tdvc = td;

// ---------------------------------------------------------------------------------------------
let reflink;
const xfsWhy = xfsUnavailableReason();
if (REFLINK === '0') reflink = { skipped: 'BENCH_REFLINK=0' };
else if (xfsWhy) {
  if (REFLINK === '1') throw new Error(`BENCH_REFLINK=1 but ${xfsWhy}`);
  reflink = { skipped: xfsWhy };
} else {
  reflink = await reflinkSection();
}
results.reflink = reflink;
if (reflink.skipped) log(`== reflink section skipped: ${reflink.skipped}`);

async function reflinkSection() {
  const nDirs = Math.ceil(REFLINK_FILES / Math.ceil(P.files / P.dirs));
  const bigMB = Math.min(REFLINK_BIG_MB, P.bigMB);
  const sizeMB = Math.max(1024, Math.ceil((REFLINK_FILES * 8 * 1024 * 6) / MiB + bigMB * 3));
  log(`== reflink: XFS (reflink=1) on a ${sizeMB} MiB sparse image, ${REFLINK_FILES} files + ${bigMB} MiB file`);
  const mnt = join(WORK, 'xfs');
  const { unmount } = mountXfs(join(WORK, 'xfs.img'), mnt, sizeMB);
  try {
    const out = { files: REFLINK_FILES, bigMB };
    const src = join(mnt, 'src');
    mkdirSync(join(src, 'data'), { recursive: true });
    const dirs = readdirSync(join(SRC, 'data')).sort().slice(0, nDirs);
    sh(`cp -r ${dirs.map((d) => q(join(SRC, 'data', d))).join(' ')} ${q(join(src, 'data'))}`);
    // trim to exactly REFLINK_FILES files
    const extra = sh(`find data -type f | sort | tail -n +${REFLINK_FILES + 1}`, { cwd: src }).trim();
    if (extra) for (const f of extra.split('\n')) rmSync(join(src, f));
    out.files = Number(sh(`find data -type f | wc -l`, { cwd: src }).trim());
    sh(`head -c ${bigMB * MiB} ${q(join(SRC, 'big.bin'))} > big.bin && sync`, { cwd: src });

    out.cpReflink = repeatShell(REPEAT, `cp -r --reflink=always data ${q(join(mnt, 'cpref'))}`, { cwd: src, teardown: `rm -rf ${q(join(mnt, 'cpref'))} && sync` });
    out.cpPlain = repeatShell(REPEAT, `cp -r data ${q(join(mnt, 'cpplain'))}`, { cwd: src, teardown: `rm -rf ${q(join(mnt, 'cpplain'))} && sync` });
    log(`  cp -r --reflink=always: ${fmtS(out.cpReflink.median)}; plain cp -r: ${fmtS(out.cpPlain.median)}`);

    const repo = join(mnt, 'repo');
    freshRepo(repo);
    await tdvc(['init'], repo);
    await tdvc(['config', 'cache.type', 'reflink,copy'], repo);
    sh(`cp -r ${q(join(src, 'data'))} data && sync`, { cwd: repo });
    const a = await tdvc(['add', 'data'], repo);
    out.add = { seconds: a.seconds, rssMB: a.rssMB };
    const sample = sh('find data -type f | sort | head -1', { cwd: repo }).trim();
    out.addSharedSample = isFullyShared(join(repo, sample));
    log(`  tdvc add data: ${fmtS(a.seconds)}; workspace file reflinked to the cache: ${out.addSharedSample}`);
    const runs = [];
    for (let i = 0; i < REPEAT; i++) {
      sh('rm -rf data && sync', { cwd: repo });
      runs.push((await tdvc(['checkout'], repo)).seconds);
    }
    out.checkout = { seconds: median(runs), runs };
    out.checkoutSharedSample = isFullyShared(join(repo, sample));
    log(`  rm -rf data; tdvc checkout: ${fmtS(out.checkout.seconds)}; checked-out file reflinked: ${out.checkoutSharedSample}`);

    sh(`cp ${q(join(src, 'big.bin'))} big.bin && sync`, { cwd: repo });
    const ab = await tdvc(['add', 'big.bin'], repo);
    out.addBig = { seconds: ab.seconds, mibPerS: bigMB / ab.seconds };
    sh('rm -f big.bin && sync', { cwd: repo });
    const before = freeBytes(repo);
    const cb = await tdvc(['checkout', 'big.bin'], repo);
    sh('sync');
    const after = freeBytes(repo);
    out.checkoutBig = { seconds: cb.seconds, freeSpaceDeltaMB: (before - after) / MB, fileMB: (bigMB * MiB) / MB, shared: isFullyShared(join(repo, 'big.bin')) };
    log(`  tdvc add big.bin (${bigMB} MiB): ${fmtS(ab.seconds)}; checkout: ${fmtS(cb.seconds)}, free space used ${out.checkoutBig.freeSpaceDeltaMB.toFixed(2)} MB (file ${out.checkoutBig.fileMB.toFixed(0)} MB), shared: ${out.checkoutBig.shared}`);
    return out;
  } finally {
    unmount();
  }
}

// ---------------------------------------------------------------------------------------------
if (PROFILE) {
  log('== profile (node --cpu-prof; separate repository, not part of the timed figures)');
  const PREPO = join(WORK, 'prof-repo');
  const PDIR = join(WORK, 'prof');
  discard(PDIR);
  freshRepo(PREPO);
  await tdvc(['init'], PREPO);
  sh(`cp -r ${q(join(SRC, 'data'))} data && cp ${q(join(SRC, 'big.bin'))} big.bin && sync`, { cwd: PREPO });
  results.profile = {};
  const steps = [
    ['add', ['add', 'data']],
    ['status', ['status']],
    ['checkout', ['checkout'], () => discard(join(PREPO, 'data'))],
    ['add-big', ['add', 'big.bin']],
  ];
  for (const [label, args, setup] of steps) {
    if (setup) setup();
    sh('sync');
    const dir = join(PDIR, label);
    const r = await runNode(['--cpu-prof', '--cpu-prof-dir', dir, TDVC, ...args], { cwd: PREPO });
    if (r.code !== 0) throw new Error(`profiled tdvc ${args.join(' ')} failed: ${r.stderr}`);
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
    const s = summariseProfile(files, { root: ROOT, top: 15 });
    results.profile[label] = { seconds: r.seconds, profiles: files, threads: files.length, ...s };
    log(formatSummary(`tdvc ${args.join(' ')} (${fmtS(r.seconds)} with profiler; ${files.length} thread profile(s), summed)`, s));
  }
  if (!KEEP) discard(PREPO);
}

// ---------------------------------------------------------------------------------------------
// Last (it spoils file creation for the next minutes): the same checkout, and cp -r, each right
// after a real `rm -rf` of 100k files, to show the journal-less ext4 penalty described above.
if (RMRF) {
  log('== checkout and cp -r right after a real rm -rf (info)');
  sh('rm -rf data && sync', { cwd: REPO });
  const r = await tdvc(['checkout']);
  td.checkoutAfterRmrf = { seconds: r.seconds, rssMB: r.rssMB };
  log(`  rm -rf data; sync; tdvc checkout: ${fmtS(r.seconds)}`);
  const victim = readdirSync(TRASH).find((n) => n.endsWith('-cp'));
  if (victim) {
    sh(`rm -rf ${q(join(TRASH, victim))} && sync`);
    mkdirSync(SCRATCH, { recursive: true });
    const c = timeShell(REFS.cpR.cmd, { cwd: SRC });
    REFS.cpR.after();
    discard(SCRATCH);
    ref.cpR.afterRmrf = c;
    log(`  rm -rf (a copy of data); sync; cp -r: ${fmtS(c)}`);
  }
}

// ---------------------------------------------------------------------------------------------
const rows = [];
const ratio = (a, b) => a / b;
function row(metric, value, unit, refLabel, refValue, targetLabel, pass) {
  rows.push({ metric, value, unit, reference: refLabel, referenceValue: refValue, ratio: refValue ? ratio(value, refValue) : null, target: targetLabel, result: pass === undefined ? 'info' : pass ? 'PASS' : 'FAIL' });
}
const addRef = td.add.reference;
row(`tdvc add (${data.smallFiles} files, cold)`, td.add.seconds, 's', 'b3sum 2 cores + cp -r', addRef, '≤ 2.5×', td.add.seconds <= 2.5 * addRef);
row('tdvc status (no-op)', td.status.seconds, 's', 'find -printf stat', td.status.reference, '≤ 8×', td.status.seconds <= 8 * td.status.reference);
row('tdvc checkout (whole deleted dir)', td.checkout.seconds, 's', 'cp -r', td.checkout.reference, '≤ 2×', td.checkout.seconds <= 2 * td.checkout.reference);
row(`tdvc add ${(data.bigBytes / MiB).toFixed(0)} MiB file`, td.addBig.mibPerS, 'MiB/s', 'b3sum --num-threads 1', td.addBig.referenceMiBs, '≥ 0.70×', td.addBig.mibPerS >= 0.7 * td.addBig.referenceMiBs);
row(`tdvc add ${(data.bigBytes / MiB).toFixed(0)} MiB file (time)`, td.addBig.seconds, 's', 'cp of the file', adj('cpBig'), '≤ 1.3× (issue 14)', td.addBig.seconds <= 1.3 * adj('cpBig'));
row('core hashFile (in-process)', td.hashFile.mibPerS, 'MiB/s', 'b3sum --num-threads 1', td.hashFile.referenceMiBs, '≥ 0.9× (issue 14)', td.hashFile.mibPerS >= 0.9 * td.hashFile.referenceMiBs);
const peakMB = (Math.max(td.add.rssMB, td.status.rssMB, td.checkout.rssMB) * MiB) / MB;
row('peak RSS, add/status/checkout', peakMB, 'MB', '', null, '≤ 300 MB', peakMB <= 300);
row('  peak RSS tdvc add', (td.add.rssMB * MiB) / MB, 'MB', '', null, '≤ 300 MB', (td.add.rssMB * MiB) / MB <= 300);
row('  peak RSS tdvc status', (td.status.rssMB * MiB) / MB, 'MB', '', null, '≤ 300 MB', (td.status.rssMB * MiB) / MB <= 300);
row('  peak RSS tdvc checkout', (td.checkout.rssMB * MiB) / MB, 'MB', '', null, '≤ 300 MB', (td.checkout.rssMB * MiB) / MB <= 300);
row('tdvc --version (start-up only)', td.startup.seconds, 's', '', null, '');
row('tdvc add again (unchanged)', td.readd.seconds, 's', 'find -printf stat', td.status.reference, '');
row('tdvc status right after checkout', td.statusAfterCheckout.seconds, 's', 'find -printf stat', td.status.reference, '');
for (const v of ['false', 'true']) {
  const c = td.checkoutVerify[v];
  row(`tdvc checkout (whole deleted dir), cache.verify ${v}`, c.seconds, 's', 'cp -r', c.reference, '≤ 1.3×', c.seconds <= 1.3 * c.reference);
}
row('  checkout, cache.verify true / false', td.checkoutVerify.true.seconds, 's', 'cache.verify false', td.checkoutVerify.false.seconds, '');
for (const v of ['false', 'true']) {
  const c = td.checkoutBigVerify[v];
  row(`tdvc checkout ${(data.bigBytes / MiB).toFixed(0)} MiB file, cache.verify ${v}`, c.seconds, 's', 'cp of the file', c.reference, '');
}
row('  checkout big file, cache.verify true / false', td.checkoutBigVerify.true.seconds, 's', 'cache.verify false', td.checkoutBigVerify.false.seconds, '');
if (td.checkoutHardlink) row('tdvc checkout, cache.type hardlink', td.checkoutHardlink.seconds, 's', 'cp -al', td.checkoutHardlink.reference, '');
if (td.checkoutAfterRmrf) row('tdvc checkout right after a real rm -rf', td.checkoutAfterRmrf.seconds, 's', 'cp -r right after rm -rf', ref.cpR.afterRmrf ?? null, '');
row(`peak RSS tdvc add big file`, (td.addBig.rssMB * MiB) / MB, 'MB', '', null, '');
if (reflink && !reflink.skipped) {
  row(`XFS: tdvc add (${reflink.files} files)`, reflink.add.seconds, 's', 'cp -r --reflink=always', reflink.cpReflink.median, '');
  row(`XFS: tdvc checkout (${reflink.files} files)`, reflink.checkout.seconds, 's', 'cp -r --reflink=always', reflink.cpReflink.median, '');
  row(`XFS: free space used by checkout of ${reflink.bigMB} MiB file`, reflink.checkoutBig.freeSpaceDeltaMB, 'MB', 'file size', reflink.checkoutBig.fileMB, '≈ 0 (CoW)', reflink.checkoutBig.freeSpaceDeltaMB < 0.05 * reflink.checkoutBig.fileMB);
}
results.table = rows;

const fmtV = (v, u) => (u === 's' ? fmtS(v) : `${v.toFixed(u === 'MB' ? 0 : 0)} ${u}`);
const cells = rows.map((r) => [
  r.metric,
  fmtV(r.value, r.unit),
  r.referenceValue != null ? `${r.reference} = ${fmtV(r.referenceValue, r.unit)}` : r.reference,
  r.ratio != null ? `${r.ratio.toFixed(2)}×` : '',
  r.target,
  r.result,
]);
const head = ['metric', 'tdvc', 'reference', 'ratio', 'target', 'result'];
const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c) => '| ' + c.map((x, i) => x.padEnd(widths[i])).join(' | ') + ' |';
log('');
log('== results');
log(`   load average at start ${results.loadavgStart}, at end ${loadavg()} (1, 5, 15 min)`);
log(`   (${data.smallFiles} files of 1-8 KiB, ${(data.bigBytes / MiB).toFixed(0)} MiB file; ${machine.nproc} cores, ${machine.fsType}; warm cache; tdvc: median of ${REPEAT} runs (cold add: ${ADD_REPEAT}); reference: median of the runs made right before/after each tdvc run)`);
log(line(head));
log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
for (const c of cells) log(line(c));
log('');
log('DVC 3.64 on the same kind of data set (from PEERS.md, not measured in this run): add 22.4 s, no-op status 4.0 s, checkout 13.7 s, 250-360 MB RSS.');

results.finishedAt = new Date().toISOString();
writeFileSync(join(WORK, 'results.json'), JSON.stringify(results, null, 2));
log(`results written to ${join(WORK, 'results.json')}`);
if (!KEEP) {
  discard(REPO);
  log('removing bench/.work/trash ...');
  rmSync(TRASH, { recursive: true, force: true });
}
