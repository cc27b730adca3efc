// tdvc import-dvc benchmark: `pnpm bench import-dvc` (builds first) or `node bench/import-dvc.mjs`.
//
// Builds, without DVC (it is not installed here: no PyPI access), a DVC 3 repository in DVC's
// documented formats under bench/.work/import-dvc/: a folder `data/` of BENCH_DVC_FILES files
// (1–8 KiB each, deterministic) tracked by `data.dvc` (`md5: ….dir`, `nfiles`, `hash: md5`), its
// objects and `.dir` list in `.dvc/cache/files/md5/`, committed in three DVC versions (v2 changes
// 10% of the files, v3 another 10%; the cache keeps every version's objects, as DVC's does). Then
// times `tdvc import-dvc` of the current version (every file read once from the DVC cache, md5
// checked and BLAKE3-hashed, stored in the tdvc cache, the tree written) against `cp -r` of the
// same folder as the machine's reference, and a no-op `tdvc status` after it. `dvc checkout` of the
// same data would be the natural comparison: it is printed when a `dvc` command is on PATH.
//
// Environment: BENCH_DVC_FILES=10000  BENCH_REPEAT=3  BENCH_KEEP=0|1
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work', 'import-dvc');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');
const env = (k, d) => (process.env[k] ? process.env[k] : d);
const FILES = Number(env('BENCH_DVC_FILES', 10000));
const REPEAT = Number(env('BENCH_REPEAT', 3));

const md5 = (b) => createHash('md5').update(b).digest('hex');
function sh(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
function timed(fn) {
  const t = process.hrtime.bigint();
  const out = fn();
  return { s: Number(process.hrtime.bigint() - t) / 1e9, out };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Deterministic content of file i at version v: 1–8 KiB. */
function content(i, v) {
  const size = 1024 + ((i * 2654435761) % 7168);
  const seed = createHash('sha256').update(`${i}:${v}`).digest();
  const out = Buffer.allocUnsafe(size);
  for (let k = 0; k < size; k += 32) seed.copy(out, k, 0, Math.min(32, size - k));
  out.writeUInt32LE(i, 0);
  return out;
}

function putObject(cache, id, bytes) {
  const p = join(cache, 'files', 'md5', id.slice(0, 2), id.slice(2));
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, bytes);
}

function build() {
  rmSync(WORK, { recursive: true, force: true });
  const repo = join(WORK, 'repo');
  const cache = join(repo, '.dvc', 'cache');
  mkdirSync(join(repo, 'data'), { recursive: true });
  mkdirSync(join(repo, '.dvc'), { recursive: true });
  sh('git', ['init', '-q', '-b', 'main'], repo);
  writeFileSync(join(repo, '.dvc', '.gitignore'), '/config.local\n/tmp\n/cache\n', { flag: 'w' });
  writeFileSync(join(repo, '.dvc', 'config'), '');
  writeFileSync(join(repo, '.gitignore'), '/data\n');
  const version = new Array(FILES).fill(1);
  for (let v = 1; v <= 3; v++) {
    if (v > 1) for (let i = (v - 2) * Math.floor(FILES / 10); i < (v - 1) * Math.floor(FILES / 10); i++) version[i] = v;
    const entries = [];
    let bytes = 0;
    for (let i = 0; i < FILES; i++) {
      const relpath = `d${String(i % 100).padStart(3, '0')}/f${String(i).padStart(6, '0')}.bin`;
      const c = content(i, version[i]);
      const id = md5(c);
      if (v === 1 || version[i] === v) {
        mkdirSync(join(repo, 'data', dirname(relpath)), { recursive: true });
        writeFileSync(join(repo, 'data', relpath), c);
        putObject(cache, id, c);
      }
      entries.push({ md5: id, relpath });
      bytes += c.length;
    }
    entries.sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
    const listing = '[' + entries.map((e) => `{"md5": "${e.md5}", "relpath": "${e.relpath}"}`).join(', ') + ']';
    const dirId = md5(listing);
    putObject(cache, `${dirId}.dir`, listing);
    writeFileSync(join(repo, 'data.dvc'), `outs:\n- md5: ${dirId}.dir\n  size: ${bytes}\n  nfiles: ${FILES}\n  hash: md5\n  path: data\n`);
    sh('git', ['add', '.'], repo);
    sh('git', ['commit', '-qm', `data v${v}`], repo);
  }
  return repo;
}

const tBuild = timed(build);
const repo = join(WORK, 'repo');
console.log(`DVC repository: ${FILES} files in data/, 3 DVC versions (3.x layout), built in ${tBuild.s.toFixed(1)} s`);

const imports = [];
const cps = [];
let last;
for (let k = 0; k < REPEAT; k++) {
  rmSync(join(repo, '.tdvc'), { recursive: true, force: true });
  rmSync(join(repo, 'data.tdvc'), { force: true });
  rmSync(join(repo, '.git', 'tdvc'), { recursive: true, force: true });
  const r = timed(() => sh(process.execPath, [TDVC, 'import-dvc', '--json'], repo));
  imports.push(r.s);
  last = JSON.parse(r.out);
  rmSync(join(WORK, 'cp'), { recursive: true, force: true });
  cps.push(timed(() => sh('cp', ['-r', join(repo, 'data'), join(WORK, 'cp')], repo)).s);
}
const status = timed(() => sh(process.execPath, [TDVC, 'status'], repo)).s;
const status2 = timed(() => sh(process.execPath, [TDVC, 'status'], repo)).s;
const imp = median(imports);
const cp = median(cps);
console.log(`converted: ${last.files} files, ${(last.bytes / 1048576).toFixed(1)} MiB, ${last.objectsStored} objects stored (last run)`);
console.log(`tdvc import-dvc   ${imp.toFixed(2)} s   ${Math.round(last.files / imp)} files/s   (median of ${REPEAT}: ${imports.map((s) => s.toFixed(2)).join(', ')})`);
console.log(`cp -r data        ${cp.toFixed(2)} s   ${Math.round(last.files / cp)} files/s   -> import-dvc is ${(imp / cp).toFixed(1)}x cp -r`);
console.log(`tdvc status after ${status.toFixed(2)} s (first: hashes the workspace once), then ${status2.toFixed(2)} s`);
// --history: all three versions into the cache; then import-dvc at v1 from the md5 map alone
rmSync(join(repo, '.tdvc'), { recursive: true, force: true });
rmSync(join(repo, 'data.tdvc'), { force: true });
rmSync(join(repo, '.git', 'tdvc'), { recursive: true, force: true });
const hist = timed(() => JSON.parse(sh(process.execPath, [TDVC, 'import-dvc', '--history', '--json'], repo)));
console.log(`tdvc import-dvc --history   ${hist.s.toFixed(2)} s   (${hist.out.history.commits} commits, ${hist.out.history.outputs} output versions, ${hist.out.objectsStored + hist.out.history.objectsStored} objects stored)`);
rmSync(join(repo, 'data.tdvc'), { force: true });
sh('git', ['checkout', '-q', 'HEAD~2', '--', 'data.dvc'], repo);
const atV1 = timed(() => JSON.parse(sh(process.execPath, [TDVC, 'import-dvc', '--json'], repo)));
console.log(`tdvc import-dvc at v1 after --history   ${atV1.s.toFixed(2)} s   (${atV1.out.files} files, ${atV1.out.objectsStored} objects read and stored: the md5 map answers)`);
sh('git', ['checkout', '-q', 'HEAD', '--', 'data.dvc'], repo);
const dvc = spawnSync('dvc', ['version'], { encoding: 'utf8' });
if (dvc.status === 0) {
  rmSync(join(repo, 'data'), { recursive: true, force: true });
  const t = timed(() => sh('dvc', ['checkout'], repo));
  console.log(`dvc checkout      ${t.s.toFixed(2)} s   ${Math.round(FILES / t.s)} files/s`);
} else {
  console.log('dvc checkout      not measured: DVC is not installed on this machine (no PyPI access)');
}
if (env('BENCH_KEEP', '0') !== '1') rmSync(WORK, { recursive: true, force: true });
