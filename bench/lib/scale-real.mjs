// The real-files part of `pnpm bench scale` (bench/scale.mjs calls runRealFiles): tdvc on files
// that exist, each command next to the reference tool it is compared with, ratios printed.
//
// Datasets (generated once under bench/.work/scale-real/src-N and src-flat-N, reused by later runs):
//   for each N of BENCH_REAL_SIZES: N files of 1-8 KiB in N/100 folders (generateSmall);
//   BENCH_REAL_FLAT: that many files of 1-8 KiB in ONE folder (generateFlat, the same contents).
// For each: a fresh Git repository, `tdvc init`, the data copied in with `cp -r`; then BENCH_REPEAT
// runs of each command, every tdvc run between two runs of its reference (the reference figure is
// the median of those adjacent runs), warm page cache:
//   add (cold)            empty cache, no stat index (.tdvc made again with `tdvc init` before each run)
//                         vs b3sum over all files on 2 processes + cp -r     target ≤ 1.5×
//   status (no-op)        vs find -printf '%s %T@ %i\n'                      target ≤ 4×
//   add (no-op)           vs find -printf                                     target ≤ 4×
//   add (1 file changed)  one file rewritten with new bytes, vs find -printf  target ≤ 4×, and the
//                         tree manifest nodes it writes (new cache objects starting `tdvc-tree 2`) ≤ 64 KiB
//   checkout (data gone)  vs cp -r of the data                               target ≤ 1.2× (≤ 1.3× from 1M files)
//                         (before each checkout, untimed, the cache's objects are read once, so that
//                         both read from the page cache: cp -r copies what the last checkout wrote)
//   peak RSS              every tdvc command above (GNU time %M)             target ≤ 400 MB from 1M files
// The root of / here is ext4 without a journal, where creating files right after deleting many is
// several times slower (see bench/run.mjs): trees that must go (data before a checkout, the cache
// before a cold add, the copies of cp -r) are renamed into a trash folder, which is emptied only when
// the disk runs short, and then no timed command starts until 61 s after (the kernel's window).
//
// Environment: BENCH_REAL_SIZES=100000,1000000 (0 or empty: none) BENCH_REAL_FLAT=200000 (0: none)
//              BENCH_REPEAT=3 BENCH_SEED=1 BENCH_KEEP=0|1 (keep the repositories)
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { flatFileName, generateFlat, generateSmall, keystream, smallDirName, smallFileName } from './gen.mjs';
import { median, runNode, sh, timeShell } from './measure.mjs';

const env = (k, d) => (process.env[k] === undefined ? d : process.env[k]);
const list = (s) => String(s).split(',').map((x) => Number(x.trim())).filter((n) => n > 0);
export const REAL_SIZES = list(env('BENCH_REAL_SIZES', '100000,1000000'));
export const REAL_FLAT = list(env('BENCH_REAL_FLAT', '200000'))[0] ?? 0;
const REPEAT = Math.max(1, Number(env('BENCH_REPEAT', '') || 3));
const SEED = Number(env('BENCH_SEED', '') || 1);
const KEEP = env('BENCH_KEEP', '0') === '1';

const MiB = 1024 * 1024;
const MB = 1e6;
const RESERVE_BYTES = 5 * 2 ** 30; // free space (and 500k inodes) left to everyone else
const RESERVE_INODES = 500_000;
const SETTLE_MS = 61_000;
const q = (p) => `'${String(p).replace(/'/g, `'\\''`)}'`;
const fmtS = (s) => (Number.isNaN(s) ? '—' : `${s.toFixed(s < 1 ? 3 : 2)} s`);
const mb = (rssMiB) => (rssMiB * MiB) / MB;

/** Why the real-files part cannot run here, or undefined. */
export function realFilesUnavailable() {
  for (const tool of ['b3sum', 'find', 'xargs', 'cp', 'git']) if (sh(`command -v ${tool}`, { allowFail: true }).code !== 0) return `missing ${tool}`;
  return undefined;
}

/**
 * Measures every dataset; prints the table and writes `resultsPath`.
 * `work` is bench/.work/scale-real, `tdvc` the CLI's bin script, `machine` from describeMachine.
 */
export async function runRealFiles({ work, tdvc, machine, resultsPath, log = console.log }) {
  const datasets = [
    ...REAL_SIZES.map((n) => ({ key: `${n}`, label: n.toLocaleString('en'), n, dirs: Math.max(1, Math.round(n / 100)) })),
    ...(REAL_FLAT ? [{ key: `flat-${REAL_FLAT}`, label: `${REAL_FLAT.toLocaleString('en')} flat`, n: REAL_FLAT, dirs: 0 }] : []),
  ];
  if (datasets.length === 0) return;
  mkdirSync(work, { recursive: true });
  const trash = join(work, 'trash');
  const scratch = join(work, 'scratch');
  let trashN = 0;
  let lastPurge = 0;

  const discard = (p) => {
    if (!existsSync(p)) return;
    mkdirSync(trash, { recursive: true });
    renameSync(p, join(trash, `${trashN++}`));
  };
  const purge = () => {
    if (!existsSync(trash)) return;
    log('  (emptying the trash)');
    rmSync(trash, { recursive: true, force: true });
    sh('sync');
    lastPurge = Date.now();
  };
  /** Empties the trash first when fewer than `bytes` (and `inodes`) would be left above the reserve. */
  const ensureRoom = (bytes, inodes) => {
    const fs = statfsSync(work);
    if (fs.bavail * fs.bsize - bytes < RESERVE_BYTES || fs.ffree - inodes < RESERVE_INODES) purge();
  };
  /** No timed command within SETTLE_MS of emptying the trash. */
  const settle = async () => {
    const wait = lastPurge + SETTLE_MS - Date.now();
    if (wait > 0) {
      log(`  (waiting ${(wait / 1000).toFixed(0)} s: files were deleted)`);
      await sleep(wait);
    }
  };

  // leftovers of an interrupted run
  for (const name of readdirSync(work)) if (name === 'scratch' || name.startsWith('repo-')) discard(join(work, name));
  purge();

  const results = { startedAt: new Date().toISOString(), params: { sizes: REAL_SIZES, flat: REAL_FLAT, repeat: REPEAT, seed: SEED }, cache: 'warm (page cache never dropped)', datasets: [], rows: [] };
  const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  log(`\n== real files: ${datasets.map((d) => d.label).join(', ')} files of 1-8 KiB; ${REPEAT} runs each, every tdvc run between two reference runs; load average ${loadavg()}`);

  for (const ds of datasets) {
    const src = ensureSource(ds);
    const disk = src.diskBytes + ds.n * 4096; // the files and, generously, their folders and inodes
    const inodes = ds.n + ds.dirs + 1000;
    log(`-- ${ds.label}: ${src.files.toLocaleString('en')} files, ${(src.bytes / MiB).toFixed(0)} MiB${ds.dirs ? ` in ${ds.dirs.toLocaleString('en')} folders` : ' in one folder'}${src.reused ? ' (reused)' : ` (generated in ${src.seconds.toFixed(0)} s)`}; load average ${loadavg()}`);
    sh(`find data -type f -print0 | xargs -0 -P2 -n 2000 cat > /dev/null`, { cwd: src.dir }); // warm the page cache

    const REFS = {
      b3sum2: { label: 'b3sum ×2 procs', cmd: 'find data -type f -print0 | xargs -0 -P2 -n 2000 b3sum > /dev/null' },
      cpR: { label: 'cp -r', cmd: `cp -r data ${q(join(scratch, 'cp'))}`, room: true, after: () => discard(join(scratch, 'cp')) },
      find: { label: 'find -printf', cmd: `find data -printf '%s %T@ %i\\n' > /dev/null` },
    };
    const refRun = async (k) => {
      const r = REFS[k];
      if (r.room) ensureRoom(disk, inodes);
      mkdirSync(scratch, { recursive: true });
      await settle();
      sh('sync');
      const s = timeShell(r.cmd, { cwd: src.dir });
      if (r.after) r.after();
      return s;
    };
    const repo = join(work, `repo-${ds.key}`);
    const tdvcRun = async (args) => {
      await settle();
      sh('sync');
      const r = await runNode([tdvc, ...args], { cwd: repo });
      if (r.code !== 0) throw new Error(`tdvc ${args.join(' ')} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
      return r;
    };
    /** REPEAT runs of `tdvc args`, each between runs of the references `refs` (their medians add up). */
    const alternate = async (args, refs, { setup, after } = {}) => {
      const out = { runs: [], rssMB: 0, refRuns: Object.fromEntries(refs.map((k) => [k, []])) };
      for (let i = 0; ; i++) {
        for (const k of refs) out.refRuns[k].push(await refRun(k));
        if (i === REPEAT) break;
        if (setup) await setup(i);
        const r = await tdvcRun(args);
        out.runs.push(r.seconds);
        out.rssMB = Math.max(out.rssMB, r.rssMB);
        out.last = r;
        if (after) await after(i, r);
      }
      out.median = median(out.runs);
      out.reference = refs.reduce((s, k) => s + median(out.refRuns[k]), 0);
      out.refLabel = refs.map((k) => REFS[k].label).join(' + ');
      return out;
    };

    // the repository
    ensureRoom(2 * disk, 2 * inodes);
    mkdirSync(repo, { recursive: true });
    sh('git init -q -b main', { cwd: repo });
    const init = () => sh(`${q(process.execPath)} ${q(tdvc)} init -q`, { cwd: repo });
    init();
    sh(`cp -r ${q(join(src.dir, 'data'))} data && sync`, { cwd: repo });
    const m = { dataset: ds.label, n: ds.n, dirs: ds.dirs, files: src.files, bytes: src.bytes, loadavg: loadavg() };
    const rows = [];
    const row = (command, r, target, extra = {}) => {
      const ratio = r.reference ? r.median / r.reference : null;
      rows.push({ dataset: ds.label, n: ds.n, command, runs: r.runs, median: r.median, rssMB: mb(r.rssMB), reference: r.refLabel, referenceMedian: r.reference, referenceRuns: r.refRuns, ratio, target: `≤ ${target}×`, result: ratio <= target ? 'PASS' : 'FAIL', ...extra });
    };
    const big = ds.n >= 1_000_000;

    // add, cold: a fresh .tdvc (no cache, no stat index) before every run but the first
    const addCold = await alternate(['add', 'data', '--json'], ['b3sum2', 'cpR'], {
      setup: (i) => {
        ensureRoom(disk, inodes);
        if (i === 0) return;
        discard(join(repo, '.tdvc'));
        rmSync(join(repo, 'data.tdvc'));
        init();
      },
    });
    const added = JSON.parse(addCold.last.stdout).added[0];
    if (added.files !== src.files || added.hashed !== src.files) throw new Error(`cold add saw ${added.files} files, hashed ${added.hashed} (expected ${src.files})`);
    row('add (cold)', addCold, 1.5);

    const status = await alternate(['status', '--json'], ['find']);
    if (!JSON.parse(status.last.stdout).clean) throw new Error(`no-op status is not clean: ${status.last.stdout.slice(0, 500)}`);
    row('status (no-op)', status, 4);

    const addNoop = await alternate(['add', 'data', '--json'], ['find']);
    row('add (no-op)', addNoop, 4);

    // add after one file changed: the file in the middle, new bytes each run; new manifest objects measured
    const changed = ds.dirs ? join('data', smallDirName(Math.floor(ds.dirs / 2)), smallFileName(0)) : join('data', flatFileName(Math.floor(ds.n / 2), ds.n));
    const objects = join(repo, '.tdvc', 'cache', 'b3v1');
    let before;
    const manifest = [];
    const addOne = await alternate(['add', 'data', '--json'], ['find'], {
      setup: (i) => {
        before = listObjects(objects);
        writeFileSync(join(repo, changed), keystream(SEED, `changed-${i}`)(statSync(join(repo, changed)).size));
      },
      after: () => manifest.push(newManifestBytes(objects, before)),
    });
    const hashed = JSON.parse(addOne.last.stdout).added[0].hashed;
    const manifestMax = Math.max(...manifest.map((x) => x.bytes));
    row('add (1 file changed)', addOne, 4, { manifest });
    rows.push({ dataset: ds.label, n: ds.n, command: '  tree nodes it wrote (largest)', value: manifestMax, unit: 'KiB', manifest, target: '≤ 64 KiB', result: manifestMax <= 64 * 1024 ? 'PASS' : 'FAIL' });

    // checkout of the whole dataset after data/ went away (renamed into the trash)
    const checkout = await alternate(['checkout'], ['cpR'], {
      setup: () => {
        ensureRoom(disk, inodes);
        discard(join(repo, 'data'));
        // the reference copies the data the last checkout has just written (in the page cache):
        // the cache's objects are read once (untimed) so that the checkout reads them from there too
        sh(`find .tdvc/cache/b3v1 -type f -print0 | xargs -0 cat > /dev/null`, { cwd: repo });
      },
    });
    const count = Number(sh('find data -type f | wc -l', { cwd: repo }).trim());
    if (count !== src.files) throw new Error(`checkout left ${count} files (expected ${src.files})`);
    row('checkout (data deleted)', checkout, big ? 1.3 : 1.2);

    const peak = mb(Math.max(addCold.rssMB, status.rssMB, addNoop.rssMB, addOne.rssMB, checkout.rssMB));
    rows.push({ dataset: ds.label, n: ds.n, command: 'peak RSS, all of the above', value: peak, unit: 'MB', target: big ? '≤ 400 MB' : '', result: big ? (peak <= 400 ? 'PASS' : 'FAIL') : 'info' });

    m.seen = {
      addCold: `${added.hashed} hashed, ${added.stored} stored (${added.linkType})`,
      addNoop: `${JSON.parse(addNoop.last.stdout).added[0].hashed} hashed`,
      addOne: `${hashed} hashed; new objects per run: ${manifest.map((x) => `${x.nodes} tree nodes (${(x.bytes / 1024).toFixed(1)} KiB) + ${x.others} other`).join(', ')}`,
    };
    results.datasets.push(m);
    results.rows.push(...rows);
    printTable(rows, log);
    log(`  add (cold): ${m.seen.addCold}; add (no-op): ${m.seen.addNoop}; add (1 file changed): ${m.seen.addOne}`);
    if (!KEEP) discard(repo);
  }

  log(`\n== real files: results (${machine.nproc} cores, ${machine.fsType}; warm cache; tdvc: median of ${REPEAT} runs; reference: median of the runs right before and after each tdvc run)`);
  printTable(results.rows, log);
  results.finishedAt = new Date().toISOString();
  results.loadavgEnd = loadavg();
  writeFileSync(resultsPath, JSON.stringify({ machine, ...results }, null, 2));
  log(`results written to ${resultsPath}`);
  discard(scratch);
  purge();

  /** The dataset's source tree (generated once; a stamp records the parameters). */
  function ensureSource(ds) {
    const dir = join(work, `src-${ds.key}`);
    const stampPath = join(dir, 'STAMP.json');
    const params = { files: ds.n, dirs: ds.dirs, seed: SEED, scheme: 1 };
    if (existsSync(stampPath)) {
      const stamp = JSON.parse(readFileSync(stampPath, 'utf8'));
      if (JSON.stringify(stamp.params) === JSON.stringify(params)) return { dir, ...stamp.result, reused: true };
      discard(dir);
    }
    const t0 = Date.now();
    ensureRoom(2 * ds.n * 8192, ds.n);
    const result = ds.dirs ? generateSmall(join(dir, 'data'), params) : generateFlat(join(dir, 'data'), params);
    writeFileSync(stampPath, JSON.stringify({ params, result }, null, 2));
    sh('sync');
    return { dir, ...result, reused: false, seconds: (Date.now() - t0) / 1000 };
  }
}

/** The names of the objects under b3v1/, fan by fan. */
function listObjects(b3v1) {
  const out = new Map();
  for (const fan of readdirSync(b3v1)) out.set(fan, new Set(readdirSync(join(b3v1, fan)).filter((n) => !n.startsWith('.'))));
  return out;
}

/** The objects that are not in `before` and are tree manifest nodes: how many, and their bytes. */
function newManifestBytes(b3v1, before) {
  const head = Buffer.alloc(11);
  let nodes = 0;
  let bytes = 0;
  let others = 0;
  for (const [fan, names] of listObjects(b3v1)) {
    const had = before.get(fan);
    for (const name of names) {
      if (had?.has(name)) continue;
      const p = join(b3v1, fan, name);
      const fd = openSync(p, 'r');
      const n = readSync(fd, head, 0, head.length, 0);
      closeSync(fd);
      if (head.subarray(0, n).toString('latin1') === 'tdvc-tree 2') {
        nodes++;
        bytes += statSync(p).size;
      } else others++;
    }
  }
  return { nodes, bytes, others };
}

function printTable(rows, log) {
  const head = ['N', 'command', 'runs', 'median', 'peak RSS', 'reference (median)', 'ratio', 'target', 'result'];
  const cells = rows.map((r) =>
    r.unit
      ? [r.dataset, r.command, r.manifest ? r.manifest.map((x) => (x.bytes / 1024).toFixed(1)).join(' ') : '', r.unit === 'KiB' ? `${(r.value / 1024).toFixed(1)} KiB` : '', r.unit === 'MB' ? `${r.value.toFixed(0)} MB` : '', '', '', r.target, r.result]
      : [r.dataset, r.command, r.runs.map((x) => x.toFixed(2)).join(' '), fmtS(r.median), `${r.rssMB.toFixed(0)} MB`, `${r.reference} ${fmtS(r.referenceMedian)}`, `${r.ratio.toFixed(2)}×`, r.target, r.result],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => '| ' + c.map((x, i) => x.padEnd(widths[i])).join(' | ') + ' |';
  log(line(head));
  log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const c of cells) log(line(c));
}
