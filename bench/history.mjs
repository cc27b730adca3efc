// tdvc history benchmark: `node bench/history.mjs` after `pnpm build`.
//
// In a fresh Git repository under bench/.work/history (git-ignored) it generates a dataset of many
// small files (1–8 KiB in folders), `tdvc add` + commit + tag v1, changes a few files, `tdvc add` +
// commit + tag v2, then times:
//   tdvc diff v1 v2        (manifests only)            target ≤ 1 s
//   tdvc ls --rev v1       (manifests only)            target ≤ 1 s
//   tdvc checkout v1       (switch, data follows)      target: work proportional to the changes:
//                          files written + removed = the files changed, and the extra time over a
//                          dataset 10× smaller stays small (the only O(n) part is the stat scan,
//                          shown by a no-op `tdvc status` for reference)
// Each timing is repeated (BENCH_REPEAT, default 3); the table shows best and median. Results also
// go to bench/.work/history-results.json. Page cache is never dropped (warm-cache figures).
//
// Environment: BENCH_FILES=100000 BENCH_DIRS=1000 BENCH_CHANGED=10 BENCH_REPEAT=3 BENCH_SEED=1
//              BENCH_SMALL_FACTOR=10 (the comparison dataset has BENCH_FILES / factor files)
//              BENCH_KEEP=0|1 (keep the repositories afterwards)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSmall, keystream, smallDirName, smallFileName } from './lib/gen.mjs';
import { median, runNode } from './lib/measure.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const FILES = Number(env('BENCH_FILES', 100000));
const DIRS = Math.max(1, Math.min(FILES, Number(env('BENCH_DIRS', Math.max(1, Math.round(FILES / 100))))));
const CHANGED = Number(env('BENCH_CHANGED', 10));
const REPEAT = Math.max(1, Number(env('BENCH_REPEAT', 3)));
const SEED = Number(env('BENCH_SEED', 1));
const FACTOR = Math.max(2, Number(env('BENCH_SMALL_FACTOR', 10)));
const KEEP = env('BENCH_KEEP', '0') === '1';

const GIT_ENV = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.com' };
const log = (...a) => console.log(...a);
const fmtS = (s) => `${s.toFixed(s < 1 ? 3 : 2)} s`;

if (!existsSync(TDVC) || !existsSync(join(ROOT, 'packages', 'core', 'dist', 'src', 'index.js'))) {
  console.error('tdvc is not built: run `pnpm build` first');
  process.exit(2);
}

function git(cwd, ...args) {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

async function tdvc(cwd, args) {
  const r = await runNode([TDVC, ...args], { cwd });
  if (r.code !== 0) throw new Error(`tdvc ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
  return r;
}

/** A fresh repository with v1 (files generated) and v2 (CHANGED files rewritten), both tagged. */
async function setUp(name, files, dirs) {
  const repo = join(WORK, name);
  rmSync(repo, { recursive: true, force: true });
  mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  await tdvc(repo, ['init', '-q']);
  const t0 = process.hrtime.bigint();
  const gen = generateSmall(join(repo, 'data'), { files, dirs, seed: SEED });
  const genS = Number(process.hrtime.bigint() - t0) / 1e9;
  const add1 = await tdvc(repo, ['add', '-q', 'data']);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'v1');
  git(repo, 'tag', 'v1');
  // rewrite CHANGED files spread over the folders (new content and size)
  const stream = keystream(SEED, 'history-change');
  const perDir = Math.ceil(files / dirs);
  const changed = [];
  for (let i = 0; i < CHANGED; i++) {
    const n = Math.floor((i * files) / CHANGED);
    const rel = `data/${smallDirName(Math.floor(n / perDir))}/${smallFileName(n % perDir)}`;
    writeFileSync(join(repo, rel), stream(1024 + ((i * 613) % 7168)));
    changed.push(rel);
  }
  const add2 = await tdvc(repo, ['add', '-q', 'data']);
  git(repo, 'commit', '-qam', 'v2');
  git(repo, 'tag', 'v2');
  return { repo, files: gen.files, bytes: gen.bytes, changed, genS, addV1S: add1.seconds, addV2S: add2.seconds };
}

/** Runs `fn` REPEAT times; returns { best, median, runs, last }. */
async function repeat(fn) {
  const runs = [];
  let last;
  for (let i = 0; i < REPEAT; i++) {
    last = await fn();
    runs.push(last.seconds);
  }
  return { best: Math.min(...runs), median: median(runs), runs, last };
}

/** Times diff, ls and the switch to v1 (and back) in a repository made by setUp. */
async function measure(s) {
  const { repo, changed } = s;
  const diff = await repeat(() => tdvc(repo, ['diff', 'v1', 'v2', '--json']));
  const d = JSON.parse(diff.last.stdout);
  const diffCount = d.datasets.reduce((n, x) => n + x.added.length + x.deleted.length + x.modified.length, 0);
  const ls = await repeat(() => tdvc(repo, ['ls', '--rev', 'v1']));
  const lsCount = ls.last.stdout.split('\n').filter(Boolean).length;
  const status = await repeat(() => tdvc(repo, ['status', '--json']));
  const counts = [];
  const back = [];
  const co = await repeat(async () => {
    const r = await tdvc(repo, ['checkout', 'v1', '--json', '-q']);
    const j = JSON.parse(r.stdout);
    counts.push(j.datasets.reduce((n, x) => n + x.written + x.removed, 0));
    // back to main (timed separately: the same switch in the other direction)
    const b = await tdvc(repo, ['checkout', 'main', '--json', '-q']);
    const jb = JSON.parse(b.stdout);
    back.push({ seconds: b.seconds, changed: jb.datasets.reduce((n, x) => n + x.written + x.removed, 0) });
    return r;
  });
  const head = git(repo, 'symbolic-ref', '--short', 'HEAD').trim();
  if (head !== 'main') throw new Error(`expected to be back on main, on ${head}`);
  return {
    files: s.files,
    bytes: s.bytes,
    changedFiles: changed.length,
    setup: { generateS: s.genS, addV1S: s.addV1S, addV2S: s.addV2S },
    diff: { best: diff.best, median: diff.median, runs: diff.runs, filesReported: diffCount, rssMB: diff.last.rssMB },
    ls: { best: ls.best, median: ls.median, runs: ls.runs, filesListed: lsCount, rssMB: ls.last.rssMB },
    statusNoop: { best: status.best, median: status.median, runs: status.runs },
    checkoutV1: { best: co.best, median: co.median, runs: co.runs, filesWrittenOrRemoved: counts, rssMB: co.last.rssMB },
    checkoutBack: {
      best: Math.min(...back.map((b) => b.seconds)),
      median: median(back.map((b) => b.seconds)),
      runs: back.map((b) => b.seconds),
      filesWrittenOrRemoved: back.map((b) => b.changed),
    },
  };
}

const small = Math.max(CHANGED, Math.round(FILES / FACTOR));
log(`tdvc history benchmark: ${FILES} files in ${DIRS} folders (and ${small} for comparison), ${CHANGED} changed, ${REPEAT} runs each`);
mkdirSync(WORK, { recursive: true });

log(`setting up ${FILES}-file repository …`);
const bigSetup = await setUp('history', FILES, DIRS);
log(`  generated in ${fmtS(bigSetup.genS)}; tdvc add v1 ${fmtS(bigSetup.addV1S)}, v2 ${fmtS(bigSetup.addV2S)}`);
const big = await measure(bigSetup);
log(`setting up ${small}-file repository …`);
const smallSetup = await setUp('history-small', small, Math.max(1, Math.round(DIRS / FACTOR)));
const little = await measure(smallSetup);

const exact = (m) => m.checkoutV1.filesWrittenOrRemoved.every((n) => n === CHANGED) && m.checkoutBack.filesWrittenOrRemoved.every((n) => n === CHANGED);
// proportional: same number of files touched at both sizes, and the switch costs at most the
// no-op scan (stat of every file) plus a small constant more than that scan
const extraBig = big.checkoutV1.best - big.statusNoop.best;
const extraSmall = little.checkoutV1.best - little.statusNoop.best;
const rows = [
  ['tdvc diff v1 v2', FILES, big.diff, '≤ 1 s', big.diff.best <= 1 && big.diff.filesReported === CHANGED],
  ['tdvc ls --rev v1', FILES, big.ls, '≤ 1 s', big.ls.best <= 1 && big.ls.filesListed === FILES],
  ['tdvc status (no-op, the stat scan)', FILES, big.statusNoop, 'info', undefined],
  ['tdvc checkout v1 (10 files change)', FILES, big.checkoutV1, `writes ${CHANGED}`, exact(big)],
  ['tdvc checkout main (back)', FILES, big.checkoutBack, `writes ${CHANGED}`, exact(big)],
  ['tdvc diff v1 v2', small, little.diff, 'info', undefined],
  ['tdvc ls --rev v1', small, little.ls, 'info', undefined],
  ['tdvc status (no-op)', small, little.statusNoop, 'info', undefined],
  ['tdvc checkout v1 (10 files change)', small, little.checkoutV1, `writes ${CHANGED}`, exact(little)],
];
const proportional = exact(big) && exact(little) && extraBig <= Math.max(1, 2 * extraSmall + 0.5);

log('');
log('| operation | files | best | median | target | result |');
log('|---|---:|---:|---:|---|---|');
for (const [name, n, m, target, pass] of rows) {
  log(`| ${name} | ${n.toLocaleString('en-US')} | ${fmtS(m.best)} | ${fmtS(m.median)} | ${target} | ${pass === undefined ? '' : pass ? 'PASS' : 'FAIL'} |`);
}
log('');
log(`checkout v1 at ${FILES} files: ${fmtS(big.checkoutV1.best)} best = no-op scan ${fmtS(big.statusNoop.best)} + ${fmtS(extraBig)};`);
log(`at ${small} files: ${fmtS(little.checkoutV1.best)} = ${fmtS(little.statusNoop.best)} + ${fmtS(extraSmall)}; files written+removed per switch: ${big.checkoutV1.filesWrittenOrRemoved.join(', ')} / ${little.checkoutV1.filesWrittenOrRemoved.join(', ')}`);
log(`checkout REV proportional to changes (same files touched, extra over the scan ≤ max(1 s, 2 × small + 0.5 s)): ${proportional ? 'PASS' : 'FAIL'}`);

const results = {
  date: new Date().toISOString(),
  params: { files: FILES, dirs: DIRS, changed: CHANGED, repeat: REPEAT, seed: SEED, smallFiles: small },
  targets: { diffS: 1, lsS: 1, checkout: 'files written + removed = files changed; time beyond the stat scan independent of dataset size' },
  large: big,
  small: little,
  checks: {
    diff: big.diff.best <= 1,
    ls: big.ls.best <= 1,
    checkoutExactFiles: exact(big) && exact(little),
    checkoutExtraOverScanS: { large: extraBig, small: extraSmall },
    checkoutProportional: proportional,
  },
};
writeFileSync(join(WORK, 'history-results.json'), JSON.stringify(results, null, 2) + '\n');
log(`results: ${join(WORK, 'history-results.json')}`);
if (!KEEP) {
  rmSync(bigSetup.repo, { recursive: true, force: true });
  rmSync(smallSetup.repo, { recursive: true, force: true });
}
const allPass = results.checks.diff && results.checks.ls && proportional;
process.exitCode = allPass ? 0 : 1;
