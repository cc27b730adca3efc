// tdvc at scale: `pnpm bench scale` (pnpm builds first), or `node bench/scale.mjs` after `pnpm build`.
//
// Synthetic datasets (no file data, only what the commands below read): for each size N a Git
// repository under bench/.work/scale/N whose tag v1 records a folder dataset of N files in
// N/100 folders (at most 10,000), written straight into the cache as tdvc's tree manifest (the
// objects of the files themselves are not made: no command below reads them). v2 changes
// BENCH_CHANGED files of v1 (about half modified, a quarter added, a quarter deleted); `other`
// changes as many other files of v1 (the other side of the merge). For N up to BENCH_V1_MAX the
// same versions are also written in the flat format of pointer version 1 (in a repository of
// their own, bench/.work/scale/N-flat) for comparison.
// Then, each command BENCH_REPEAT times (alternating formats), wall time and peak RSS:
//   diff v1 v2            target ≤ 0.5 s, flat in N
//   merge (the driver)    Git's merge driver call for v2 and `other` over v1: target ≤ 0.5 s, flat in N
//   ls --rev v2           every file listed (streamed to `wc -l`)
//   gc --all-commits      what gc reads to decide (a dry run; the cache holds only tree nodes)
//   push (no-op)          to a folder remote that holds v1 and v2 already, and to a throwaway Ceph RGW
//                         (BENCH_RGW=1, the default when Ceph is installed) whose bucket holds the
//                         tree nodes (uploaded with the SDK before): target ≤ 1 s
// Peak RSS target: ≤ 1 GB for every command at 10M entries.
//
// Real files (bench/lib/scale-real.mjs, after the synthetic part; its header has the details):
// 100,000 and 1,000,000 files of 1-8 KiB (in 1,000 and 10,000 folders) and 200,000 in one folder,
// generated once under bench/.work/scale-real/; in a fresh repository each, cold add, no-op status,
// no-op add, add after one file changed (and the tree nodes it writes) and checkout of the deleted
// data, each run next to its reference tool (b3sum on 2 processes + cp -r, find -printf, cp -r):
//   targets add ≤ 1.5×, status / no-op add / one-file add ≤ 4×, one-file change ≤ 64 KiB of tree
//   nodes, checkout ≤ 1.2× (≤ 1.3× at 1M), peak RSS ≤ 400 MB at 1M. Table in
//   bench/.work/scale/results-real.json.
//
// Environment: BENCH_SCALE_SIZES=100000,1000000,10000000 (0: skip the synthetic part) BENCH_CHANGED=10
//              BENCH_REPEAT=3 BENCH_V1_MAX=1000000 BENCH_REBUILD=0|1 (regenerate the repositories)
//              BENCH_RGW=1|0 BENCH_REAL_SIZES=100000,1000000 (0: none) BENCH_REAL_FLAT=200000 (0: none)
// Only the real files at 100k: BENCH_SCALE_SIZES=0 BENCH_REAL_SIZES=100000 BENCH_REAL_FLAT=0 pnpm bench scale
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readdirSync } from 'node:fs';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeMachine } from './lib/machine.mjs';
import { median, TIME_BIN } from './lib/measure.mjs';
import { REAL_FLAT, REAL_SIZES, realFilesUnavailable, runRealFiles } from './lib/scale-real.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work', 'scale');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');
const CORE = pathToFileURL(join(ROOT, 'packages', 'core', 'dist', 'src', 'index.js')).href;

const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const SIZES = env('BENCH_SCALE_SIZES', '100000,1000000,10000000').split(',').map(Number).filter((n) => n > 0);
const CHANGED = Number(env('BENCH_CHANGED', 10));
const REPEAT = Math.max(1, Number(env('BENCH_REPEAT', 3)));
const V1_MAX = Number(env('BENCH_V1_MAX', 1000000));
const REBUILD = env('BENCH_REBUILD', '0') === '1';
const RGW = env('BENCH_RGW', '1') === '1';
const S3PKG = join(ROOT, 'packages', 'remote-s3');
const GIT_ENV = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.com', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.com' };
const log = (...a) => console.log(...a);

if (!existsSync(TDVC) || !TIME_BIN) {
  console.error(!TIME_BIN ? 'needs GNU time (/usr/bin/time) for peak RSS' : 'tdvc is not built: run `pnpm build` first');
  process.exit(2);
}
const REAL = REAL_SIZES.length > 0 || REAL_FLAT > 0;
if (REAL && realFilesUnavailable()) {
  console.error(`the real-files part ${realFilesUnavailable()} (BENCH_REAL_SIZES=0 BENCH_REAL_FLAT=0 skips it)`);
  process.exit(2);
}
const core = await import(CORE);

function git(cwd, ...args) {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Runs a shell command line whose first word is the timed program; returns seconds and peak RSS of that program. */
function timed(cwd, argv, { pipeTo } = {}) {
  const out = join(WORK, `.time-${process.pid}`);
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  const cmd = `${TIME_BIN} -f %M -o ${q(out)} ${argv.map(q).join(' ')}${pipeTo ? ` | ${pipeTo}` : ''}`;
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { cwd, encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...GIT_ENV } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const kb = Number(readFileSync(out, 'utf8').trim().split('\n').pop());
  rmSync(out, { force: true });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(0, 2000)}`);
  return { seconds, rssMB: kb / 1024, stdout: r.stdout };
}

const hex16 = (n) => n.toString(16).padStart(16, '0');
/** A valid, distinct object id per file number and version (no object behind it). */
const oidOf = (n, v) => `${hex16(n)}${hex16(v)}${hex16(n ^ 0x5bd1e995)}${hex16(n * 7 + v)}`;
const pad = (n, w) => String(n).padStart(w, '0');

/** The files of the synthetic dataset in canonical order, with `edits` (path -> entry | null) applied. */
function* files(n, edits) {
  const folders = Math.min(10000, Math.max(1, Math.floor(n / 100)));
  const per = Math.ceil(n / folders);
  const w = String(per).length + 1;
  const pending = [...edits.keys()].sort(core.compareUtf8);
  let e = 0;
  for (let d = 0; d < folders; d++) {
    for (let i = 0; i < per && d * per + i < n; i++) {
      const path = `d${pad(d, 5)}/f${pad(i, w)}.bin`;
      while (e < pending.length && core.compareUtf8(pending[e], path) < 0) {
        const x = edits.get(pending[e++]);
        if (x) yield x;
      }
      if (e < pending.length && pending[e] === path) {
        const x = edits.get(pending[e++]);
        if (x) yield x;
        continue;
      }
      yield { path, oid: oidOf(d * per + i, 0), size: 1024 + ((d * per + i) % 7168), exec: false };
    }
  }
  while (e < pending.length) {
    const x = edits.get(pending[e++]);
    if (x) yield x;
  }
}

/** CHANGED edits spread over the dataset: half modified, a quarter added, a quarter deleted. */
function editsOf(n, salt) {
  const folders = Math.min(10000, Math.max(1, Math.floor(n / 100)));
  const per = Math.ceil(n / folders);
  const w = String(per).length + 1;
  const edits = new Map();
  for (let k = 0; k < CHANGED; k++) {
    const num = Math.floor(((k + salt / 7) * n) / CHANGED) % n;
    const d = Math.floor(num / per);
    const path = `d${pad(d, 5)}/f${pad(num % per, w)}.bin`;
    if (k % 4 === 0 || k % 4 === 1) edits.set(path, { path, oid: oidOf(num, 1 + salt), size: 99, exec: false });
    else if (k % 4 === 2) edits.set(`d${pad(d, 5)}/new-${salt}-${k}.bin`, { path: `d${pad(d, 5)}/new-${salt}-${k}.bin`, oid: oidOf(num, 100 + salt), size: 5, exec: false });
    else edits.set(path, null);
  }
  return edits;
}

async function writeVersion(odb, list, flat) {
  let files = 0;
  let bytes = 0;
  if (flat) {
    const entries = [...list];
    for (const e of entries) bytes += e.size;
    const m = await odb.putBytes(Buffer.from(core.serializeManifest(entries)));
    return { oid: m.oid, files: entries.length, bytes };
  }
  const b = new core.TreeBuilder(core.storePut(odb));
  for (const e of list) {
    await b.add(e);
    files++;
  }
  return b.finish();
}

function pointerText(v, flat) {
  return core.serializePointer({ version: flat ? 1 : 2, path: 'data', type: 'dir', oid: v.oid, size: v.bytes, files: v.files });
}

/** The repository for size n in one format (made once; BENCH_REBUILD=1 makes it again). */
async function setUp(n, flat) {
  const name = `${n}-${flat ? 'flat' : 'tree'}`;
  const repo = join(WORK, name);
  const remote = join(WORK, `${name}-remote`);
  const done = join(repo, '.tdvc', 'bench-ready');
  if (!REBUILD && existsSync(done)) return repo;
  rmSync(repo, { recursive: true, force: true });
  rmSync(remote, { recursive: true, force: true });
  mkdirSync(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  spawnSync(process.execPath, [TDVC, 'init', '-q'], { cwd: repo });
  const odb = new core.ObjectStore(join(repo, '.tdvc', 'cache'));
  const t0 = Date.now();
  const v1 = await writeVersion(odb, files(n, new Map()), flat);
  const v2 = await writeVersion(odb, files(n, editsOf(n, 1)), flat);
  const other = await writeVersion(odb, files(n, editsOf(n, 2)), flat);
  for (const [tag, v] of [['v1', v1], ['v2', v2], ['other', other]]) {
    writeFileSync(join(repo, `${tag}.tdvc-text`), pointerText(v, flat));
    if (tag === 'other') continue;
    writeFileSync(join(repo, 'data.tdvc'), pointerText(v, flat));
    git(repo, 'add', 'data.tdvc');
    git(repo, 'commit', '-qm', tag);
    git(repo, 'tag', tag);
  }
  // the remote of the no-op push holds everything the versions name (here: their manifests)
  mkdirSync(remote, { recursive: true });
  spawnSync('cp', ['-r', join(repo, '.tdvc', 'cache', 'b3v1'), join(remote, 'b3v1')]);
  spawnSync(process.execPath, [TDVC, 'remote', 'add', '-d', 'r', remote], { cwd: repo });
  writeFileSync(done, `${Date.now() - t0} ms\n`);
  log(`  made the ${n.toLocaleString('en')}-file repository (${flat ? 'flat v1' : 'tree v2'}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return repo;
}

/** A throwaway RGW and an SDK client, or why there is none. */
async function startS3() {
  if (!RGW) return { why: 'BENCH_RGW=0' };
  try {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const sdk = createRequire(join(S3PKG, 'package.json'))('@aws-sdk/client-s3');
    const { startRgw } = await import(pathToFileURL(join(S3PKG, 'dist', 'test', 'rgw.js')).href);
    const rgw = await startRgw({ memBytes: 4096 * 1024 * 1024 });
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: rgw.accessKey, AWS_SECRET_ACCESS_KEY: rgw.secretKey, AWS_EC2_METADATA_DISABLED: 'true' });
    delete process.env.AWS_PROFILE;
    const client = new sdk.S3Client({
      endpoint: rgw.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
      requestHandler: { httpAgent: { keepAlive: true, maxSockets: 32 } },
    });
    await client.send(new sdk.CreateBucketCommand({ Bucket: 'tdvc' }));
    return { rgw, client, sdk };
  } catch (err) {
    return { why: `no RGW here (${String(err.message).split('\n')[0]})` };
  }
}

/** Uploads every object of the repository's cache under `prefix` (what earlier pushes would have put there). */
async function fillBucket(s3, repo, prefix) {
  const base = join(repo, '.tdvc', 'cache', 'b3v1');
  const keys = [];
  for (const fan of readdirSync(base)) for (const name of readdirSync(join(base, fan))) if (!name.startsWith('.')) keys.push([fan, name]);
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < keys.length) {
        const [fan, name] = keys[next++];
        await s3.client.send(new s3.sdk.PutObjectCommand({ Bucket: 'tdvc', Key: `${prefix}/b3v1/${fan}/${name}`, Body: readFileSync(join(base, fan, name)) }));
      }
    }),
  );
  return keys.length;
}

function commandsFor(repo) {
  const mergeInputs = () => {
    // Git hands the driver three temp files and keeps the result in the second
    for (const [name, from] of [['base', 'v1'], ['ours', 'v2'], ['theirs', 'other']]) writeFileSync(join(repo, `.merge-${name}`), readFileSync(join(repo, `${from}.tdvc-text`)));
  };
  return [
    { name: 'diff v1 v2', target: 0.5, run: () => timed(repo, [process.execPath, TDVC, 'diff', 'v1', 'v2', '--json']), check: (r) => JSON.parse(r.stdout).datasets[0].added.length + JSON.parse(r.stdout).datasets[0].modified.length + JSON.parse(r.stdout).datasets[0].deleted.length },
    {
      name: 'merge (driver)',
      target: 0.5,
      run: () => {
        mergeInputs();
        return timed(repo, [process.execPath, TDVC, 'merge-driver', '.merge-base', '.merge-ours', '.merge-theirs', 'data.tdvc']);
      },
      check: () => /^files: (\d+)$/m.exec(readFileSync(join(repo, '.merge-ours'), 'utf8'))[1],
    },
    { name: 'ls --rev v2', run: () => timed(repo, [process.execPath, TDVC, 'ls', '--rev', 'v2'], { pipeTo: 'wc -l' }), check: (r) => r.stdout.trim() },
    { name: 'gc --all-commits (dry run)', run: () => timed(repo, [process.execPath, TDVC, 'gc', '--all-commits', '--json']), check: (r) => JSON.parse(r.stdout).referenced },
    {
      name: 'push (no-op, folder remote)',
      target: 1,
      run: () => {
        writeFileSync(join(repo, 'data.tdvc'), readFileSync(join(repo, 'v2.tdvc-text')));
        return timed(repo, [process.execPath, TDVC, 'push', '--json']);
      },
      check: (r) => `${JSON.parse(r.stdout).transferred} moved`,
    },
    ...(s3.client
      ? [
          {
            name: 'push (no-op, RGW)',
            target: 1,
            run: () => timed(repo, [process.execPath, TDVC, 'push', '-r', 's3r', '--json']),
            check: (r) => `${JSON.parse(r.stdout).transferred} moved`,
          },
        ]
      : []),
  ];
}

mkdirSync(WORK, { recursive: true });
const machine = await describeMachine(WORK, CORE, ROOT);
log(`machine: ${machine.nproc} cores, ${machine.cpuModel}, ${machine.ramGiB} GiB RAM, kernel ${machine.kernel}`);
log(`         ${WORK} on ${machine.fsType} (${machine.device}); node ${machine.node}; commit ${machine.commit} + ${machine.uncommittedFiles} uncommitted file(s) under packages/`);
if (SIZES.length) log(`sizes ${SIZES.join(', ')}; ${CHANGED} files changed per version; ${REPEAT} runs each, formats alternating; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
const s3 = SIZES.length ? await startS3() : { why: 'no synthetic sizes' };
if (SIZES.length && !s3.client) log(`no-op push to RGW not measured: ${s3.why}`);
const results = [];
for (const n of SIZES) {
  const formats = n <= V1_MAX ? [['tree (v2)', false], ['flat (v1)', true]] : [['tree (v2)', false]];
  const byFormat = new Map();
  for (const [f, flat] of formats) {
    const repo = await setUp(n, flat);
    if (s3.client) {
      const prefix = `scale-${n}-${flat ? 'flat' : 'tree'}`;
      const t0 = Date.now();
      const count = await fillBucket(s3, repo, prefix);
      spawnSync(process.execPath, [TDVC, 'remote', 'remove', 's3r'], { cwd: repo });
      spawnSync(process.execPath, [TDVC, 'remote', 'add', 's3r', `s3://tdvc/${prefix}`], { cwd: repo });
      spawnSync(process.execPath, [TDVC, 'remote', 'modify', 's3r', 'endpoint_url', s3.rgw.endpoint], { cwd: repo });
      log(`  put the ${count.toLocaleString('en')} manifest objects of the ${n.toLocaleString('en')}-file ${f} repository into the RGW bucket in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    byFormat.set(f, commandsFor(repo));
  }
  {
    // what a one-file change writes: the nodes on the file's way to the root (in-process, the cache's own store)
    const repo = join(WORK, `${n}-tree`);
    const root = /^hash: blake3:([0-9a-f]{64})$/m.exec(readFileSync(join(repo, 'v1.tdvc-text'), 'utf8'))[1];
    const odb = new core.ObjectStore(join(repo, '.tdvc', 'cache'));
    const src = core.storeSource(odb, 'bench');
    let target;
    let k = 0;
    for (const e of files(n, new Map())) if (k++ === Math.floor(n / 2)) {
      target = e;
      break;
    }
    const t0 = process.hrtime.bigint();
    const edit = await core.editTree(src, core.storePut(odb), root, [{ path: target.path, entry: { ...target, oid: oidOf(n, 7) } }]);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const row = { n, format: 'tree (v2)', command: 'one-file change (in-process editTree)', nodesWritten: edit.nodesWritten, manifestBytes: edit.textBytesWritten, ms };
    results.push(row);
    log(`${n.toLocaleString('en').padStart(11)}  tree (v2)  one-file change: ${edit.nodesWritten} nodes, ${(edit.textBytesWritten / 1024).toFixed(1)} KiB of manifest written (${ms.toFixed(0)} ms)${edit.textBytesWritten <= 64 * 1024 ? '  ≤ 64 KiB PASS' : '  ≤ 64 KiB FAIL'}`);
  }
  const cmds = byFormat.get('tree (v2)');
  for (let c = 0; c < cmds.length; c++) {
    for (const [format] of formats) {
      const cmd = byFormat.get(format)[c];
      const runs = [];
      let rss = 0;
      let seen;
      for (let i = 0; i < REPEAT; i++) {
        let r;
        try {
          r = cmd.run();
        } catch (err) {
          runs.push(NaN);
          seen = `failed: ${String(err.message).split('\n').find((l) => /error|message/i.test(l)) ?? String(err.message).slice(0, 120)}`;
          break;
        }
        runs.push(r.seconds);
        rss = Math.max(rss, r.rssMB);
        seen = cmd.check(r);
      }
      const med = median(runs.filter((x) => !Number.isNaN(x)));
      const row = { n, format, command: cmd.name, runs, median: med, rssMB: Math.round(rss), result: seen, target: cmd.target };
      results.push(row);
      const verdict = cmd.target === undefined || format !== 'tree (v2)' ? '' : med <= cmd.target ? `  ≤ ${cmd.target} s PASS` : `  ≤ ${cmd.target} s FAIL`;
      const rssVerdict = format === 'tree (v2)' && n >= 10_000_000 ? (rss <= 1024 ? ' (≤ 1 GB PASS)' : ' (≤ 1 GB FAIL)') : '';
      log(`${n.toLocaleString('en').padStart(11)}  ${format.padEnd(9)}  ${cmd.name.padEnd(28)} ${runs.map((x) => x.toFixed(2)).join(' / ').padEnd(22)} median ${Number.isNaN(med) ? '—' : med.toFixed(2)} s  peak ${Math.round(rss)} MB${rssVerdict}  [${seen}]${verdict}`);
    }
  }
}
if (SIZES.length) {
  // ratios flat/tree where both ran
  log('\nflat (v1) / tree (v2), medians:');
  for (const r of results.filter((x) => x.format === 'tree (v2)')) {
    const f = results.find((x) => x.n === r.n && x.command === r.command && x.format === 'flat (v1)');
    if (f && f.median > 0) log(`${r.n.toLocaleString('en').padStart(11)}  ${r.command.padEnd(28)} time ${(f.median / r.median).toFixed(1)}×   peak RSS ${(f.rssMB / r.rssMB).toFixed(1)}×`);
  }
  writeFileSync(join(WORK, 'results.json'), JSON.stringify({ machine, results }, null, 2));
}
if (s3.rgw) await s3.rgw.stop();
if (REAL) await runRealFiles({ work: join(ROOT, 'bench', '.work', 'scale-real'), tdvc: TDVC, machine, resultsPath: join(WORK, 'results-real.json'), log });
