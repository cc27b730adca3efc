// EFS-style metadata latency benchmark for the filesystem remote: `node bench/efs.mjs` after `pnpm build`.
//
// On EFS every metadata call (stat, readdir, rename, …) is a network round trip of ~1-3 ms, so a
// design that costs one stat per object spends minutes on 100,000 objects. This script injects that
// latency into the real code: every node:fs/promises call the FsRemote makes on the remote folder
// (readdir, stat, copyFile, rename, mkdir, chmod, rm, …) first waits EFS_DELAY_MS, then runs for real
// on a local folder. It then compares, for N objects that are all on the remote:
//   - existence check through FsRemote.has (concurrent fan-out listing: 256 readdirs, jobs at once)
//   - a serial stat-per-object loop (measured on a sample, extrapolated to N; also N × delay)
//   - a concurrent stat-per-object loop (jobs at once; measured on a sample, extrapolated)
//   - a no-op `pushObjects` of the N objects from @tdvc/core (all present: nothing is uploaded)
// and prints a table with ratios; results go to bench/.work/efs-results.json.
//
// Environment: EFS_OBJECTS=100000  EFS_DELAYS=0,2 (ms per metadata call; one column per delay)
//              EFS_REPEAT=3 (listing and no-op push: the median of this many runs)
//              EFS_SAMPLE=1000 (objects in the serial sample)  EFS_JOBS=16 (remote.jobs)
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, 'bench', '.work');
const REMOTE = join(WORK, `efs-remote-${Number(process.env['EFS_OBJECTS'] || 100000)}`);
const CACHE = join(WORK, 'efs-cache');
const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : process.env[k]);
const N = Number(env('EFS_OBJECTS', 100000));
const DELAYS = env('EFS_DELAYS', '0,2').split(',').map(Number);
const SAMPLE = Math.min(N, Number(env('EFS_SAMPLE', 1000)));
const JOBS = Number(env('EFS_JOBS', 16));
const REPEAT = Math.max(1, Number(env('EFS_REPEAT', 3)));

// --- latency injection: wrap node:fs/promises before the remote code uses it -------------------
const require = createRequire(import.meta.url);
const fsp = require('node:fs/promises');
const injected = { delayMs: 0, counts: {} };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (const name of ['readdir', 'stat', 'lstat', 'copyFile', 'rename', 'mkdir', 'chmod', 'rm', 'open', 'readFile', 'unlink']) {
  const real = fsp[name];
  fsp[name] = async function (p, ...rest) {
    const path = typeof p === 'string' ? p : p instanceof URL ? fileURLToPath(p) : '';
    if (path.startsWith(REMOTE)) {
      injected.counts[name] = (injected.counts[name] ?? 0) + 1;
      if (injected.delayMs > 0) await sleep(injected.delayMs);
    }
    return real.call(this, p, ...rest);
  };
}
syncBuiltinESMExports();
{
  const esm = await import('node:fs/promises');
  if (esm.readdir !== fsp.readdir || esm.stat !== fsp.stat) throw new Error('could not inject latency into node:fs/promises');
}

const core = await import(pathToFileURL(join(ROOT, 'packages', 'core', 'dist', 'src', 'index.js')).href);
const { FsRemote } = await import(pathToFileURL(join(ROOT, 'packages', 'remote-efs', 'dist', 'src', 'index.js')).href);
const { hashBytes, ObjectStore, pushObjects, forEachLimit } = core;

// --- data: N small objects on the remote, in the real layout -----------------------------------
function objects() {
  const out = [];
  for (let i = 0; i < N; i++) {
    const data = Buffer.from(`efs bench object ${i}\n`);
    out.push({ oid: hashBytes(data), data });
  }
  return out;
}

function countRemote() {
  const base = join(REMOTE, 'b3v1');
  if (!existsSync(base)) return 0;
  let n = 0;
  for (const fan of readdirSync(base)) n += readdirSync(join(base, fan)).filter((x) => !x.startsWith('.')).length;
  return n;
}

const t0 = performance.now();
const objs = objects();
if (countRemote() !== N) {
  process.stdout.write(`writing ${N} objects to ${REMOTE} …\n`);
  const { rmSync } = await import('node:fs');
  rmSync(REMOTE, { recursive: true, force: true });
  for (const { oid, data } of objs) {
    const dir = join(REMOTE, 'b3v1', oid.slice(0, 2));
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, oid.slice(2)), data, { mode: 0o444 });
  }
}
mkdirSync(CACHE, { recursive: true });
process.stdout.write(`data ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (${N} objects, ${readdirSync(join(REMOTE, 'b3v1')).length} fan-out folders)\n`);

const oids = objs.map((o) => o.oid);
const settings = { name: 'efs', url: REMOTE, options: {}, stateDir: join(WORK, 'efs-state'), jobs: JOBS };

async function timed(fn, repeat = 1) {
  const runs = [];
  for (let i = 0; i < repeat; i++) {
    injected.counts = {};
    const start = performance.now();
    const value = await fn();
    runs.push({ ms: performance.now() - start, value, ops: { ...injected.counts } });
  }
  runs.sort((x, y) => x.ms - y.ms);
  return { ...runs[Math.floor(runs.length / 2)], allMs: runs.map((r) => r.ms) }; // the median run
}

const opsTotal = (ops) => Object.values(ops).reduce((s, n) => s + n, 0);
const results = { objects: N, sample: SAMPLE, jobs: JOBS, node: process.version, runs: [] };

for (const delay of DELAYS) {
  injected.delayMs = delay;
  const remote = new FsRemote(settings);
  const sample = oids.slice(0, SAMPLE);

  const listing = await timed(() => remote.has(oids), REPEAT);
  if (listing.value.size !== N) throw new Error(`has() found ${listing.value.size} of ${N}`);

  const serial = await timed(async () => {
    let found = 0;
    for (const oid of sample) {
      await fsp.stat(remote.pathOf(oid));
      found++;
    }
    return found;
  });
  const serialFull = (serial.ms * N) / SAMPLE;

  const concSample = Math.min(N, SAMPLE * JOBS);
  const concurrent = await timed(async () => {
    let found = 0;
    await forEachLimit(oids.slice(0, concSample), JOBS, async (oid) => {
      await fsp.stat(remote.pathOf(oid));
      found++;
    });
    return found;
  });
  const concurrentFull = (concurrent.ms * N) / concSample;

  const odb = new ObjectStore(CACHE);
  const items = objs.map((o) => ({ oid: o.oid, size: o.data.byteLength, isManifest: false }));
  const push = await timed(() => pushObjects(odb, remote, items, { jobs: 32 }), REPEAT);
  if (push.value.transferred !== 0 || push.value.skipped !== N || push.value.failed.length !== 0) {
    throw new Error(`no-op push did something: ${JSON.stringify({ ...push.value, failed: push.value.failed.length })}`);
  }

  results.runs.push({
    delayMs: delay,
    hasListing: { ms: listing.ms, allMs: listing.allMs, metadataOps: listing.ops, injectedWaitMs: opsTotal(listing.ops) * delay },
    serialStat: { sampleObjects: SAMPLE, sampleMs: serial.ms, extrapolatedMs: serialFull, computedMs: N * delay },
    concurrentStat: { sampleObjects: concSample, sampleMs: concurrent.ms, extrapolatedMs: concurrentFull, jobs: JOBS },
    noopPush: { ms: push.ms, allMs: push.allMs, metadataOps: push.ops, skipped: push.value.skipped },
  });
}

// --- report: one row per method, one column per injected delay, ratios against the listing ----
const fmt = (ms) => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const methods = [
  ['has(): fan-out listing, concurrent (median)', (r) => r.hasListing.ms, (r) => opsTotal(r.hasListing.metadataOps)],
  [`stat per object, serial (measured ${SAMPLE}, ×${(N / SAMPLE).toFixed(0)})`, (r) => r.serialStat.extrapolatedMs, () => N],
  [`stat per object, serial (computed N × delay)`, (r) => r.serialStat.computedMs, () => N],
  [`stat per object, ${JOBS} at once (measured ${Math.min(N, SAMPLE * JOBS)}, extrapolated)`, (r) => r.concurrentStat.extrapolatedMs, () => N],
  [`no-op pushObjects of all objects (median)`, (r) => r.noopPush.ms, (r) => opsTotal(r.noopPush.metadataOps)],
];
const head = ['existence check of all objects', 'metadata calls', ...results.runs.flatMap((r) => [`${r.delayMs} ms/call`, 'vs listing'])];
const rows = methods.map(([label, time, ops]) => [
  label,
  String(ops(results.runs[0])),
  ...results.runs.flatMap((r) => [r.delayMs === 0 && label.includes('computed') ? '-' : fmt(time(r)), r.delayMs === 0 && label.includes('computed') ? '' : `${(time(r) / r.hasListing.ms).toFixed(time(r) / r.hasListing.ms < 10 ? 1 : 0)}×`]),
]);
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
const line = (r) => r.map((c, i) => (i >= 1 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ');
process.stdout.write(`\nFsRemote on a local folder, every node:fs/promises call on the remote delayed by the given latency; ${N} objects, remote.jobs=${JOBS}\n`);
process.stdout.write(line(head) + '\n' + widths.map((w) => '-'.repeat(w)).join('  ') + '\n');
for (const r of rows) process.stdout.write(line(r) + '\n');
for (const r of results.runs.filter((x) => x.delayMs > 0)) {
  const zero = results.runs.find((x) => x.delayMs === 0);
  const added = zero ? r.hasListing.ms - zero.hasListing.ms : undefined;
  process.stdout.write(
    `at ${r.delayMs} ms/call the listing makes ${opsTotal(r.hasListing.metadataOps)} calls (${fmt(r.hasListing.injectedWaitMs)} of waiting if serial)` +
      (added === undefined ? '' : `; latency added to it: ${fmt(Math.max(0, added))} vs ${fmt(r.serialStat.extrapolatedMs - (zero?.serialStat.extrapolatedMs ?? 0))} for the serial stat loop`) +
      '\n',
  );
}
mkdirSync(WORK, { recursive: true });
writeFileSync(join(WORK, 'efs-results.json'), JSON.stringify(results, null, 2));
process.stdout.write(`\nresults: ${join(WORK, 'efs-results.json')}\n`);
