// S3 remote benchmark: `pnpm bench s3` (or `pnpm build && node bench/s3.mjs`).
//
// Starts a throwaway Ceph RGW (packages/remote-s3/dist/test/rgw.js), generates N small files and one
// large file, and times, each into its own bucket and at the same concurrency:
//   tdvc push / no-op push / pull of the small files into a fresh clone, push and pull of the large one   (the real CLI)
//   /usr/bin/aws s3 sync (small files) and aws s3 cp (large file), up and down
//   a bare SDK loop: PutObject/GetObject for the small files, lib-storage Upload + GetObject for the large one
// and prints objects/s, MB/s and tdvc's ratio to each peer. RGW runs on memstore (RAM), on this
// machine's cores, so figures compare clients, not storage.
//
// The large file goes up and down in several rounds, the tools taking turns, and medians are
// compared: a single 2 GiB transfer varied up to 2x between runs here with the state of the page
// cache (writing into memory the VM must first reclaim). The small-file downloads of tdvc and the
// SDK loop take turns the same way. Before each large transfer the page cache
// is written back and, when the benchmark may (root), dropped, so every tool starts from the same
// state. Each tool's copy of the large file is deleted and RGW's garbage collector run once that tool
// is done with it: memstore holds about twice the stored bytes in RAM.
//
// Environment:
//   BENCH_S3_FILES=100000  BENCH_S3_FILE_KB=4  BENCH_S3_LARGE_MB=2048  BENCH_S3_JOBS=32  (the size)
//   BENCH_S3_ROUNDS=3   rounds of the large-file transfers and of the small-file downloads
//   BENCH_S3_KEEP=0|1   keep the work folder (printed) after the run
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, statSync, writeSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');
const S3PKG = join(ROOT, 'packages', 'remote-s3');
const AWS = '/usr/bin/aws';
const env = (k, d) => (process.env[k] ? process.env[k] : d);
const FILES = Number(env('BENCH_S3_FILES', 100000));
const FILE_KB = Number(env('BENCH_S3_FILE_KB', 4));
const LARGE_MB = Number(env('BENCH_S3_LARGE_MB', 2048));
const JOBS = Number(env('BENCH_S3_JOBS', 32));
const KEEP = env('BENCH_S3_KEEP', '0') === '1';
const ROUNDS = Number(env('BENCH_S3_ROUNDS', 3));
const MiB = 1024 * 1024;
const PART = 16 * MiB;

// the SDK's notice that it will soon need a newer Node, on every run, says nothing about the benchmark
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const require = createRequire(join(S3PKG, 'package.json'));
const sdk = require('@aws-sdk/client-s3');
const { Upload } = require('@aws-sdk/lib-storage');
const { startRgw } = await import(pathToFileURL(join(S3PKG, 'dist', 'test', 'rgw.js')).href);
const { rgwChildEnv } = await import('./lib/aws-env.mjs');

function run(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${err.slice(-2000)}`))));
  });
}

async function timed(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Writes back dirty pages and, where allowed (root), empties the page cache. */
function settlePageCache() {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function mapLimit(items, limit, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

if (spawnSync('sh', ['-c', `command -v radosgw && test -x ${AWS}`], { stdio: 'ignore' }).status !== 0) {
  console.error('needs Ceph RGW and awscli: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd awscli');
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), 'tdvc-bench-s3-'));
// memstore's cap on stored bytes (one large copy at a time, every small copy, room for GC lag)
const memBytes = Math.max(4096 * MiB, (LARGE_MB * 2 + (FILES * FILE_KB * 4) / 1024 + 1024) * MiB);
console.log(`# S3 benchmark: ${FILES} × ${FILE_KB} KiB files + 1 × ${LARGE_MB} MiB, ${JOBS} concurrent requests, work folder ${work}`);
const rgw = await startRgw({ memBytes });
const results = [];
try {
  // the AWS CLI at the same concurrency and multipart sizes as tdvc's defaults
  const childEnv = rgwChildEnv(rgw, work, [`max_concurrent_requests = ${JOBS}`, 'multipart_threshold = 64MB', 'multipart_chunksize = 16MB']);
  const client = new sdk.S3Client({
    endpoint: rgw.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: JOBS } },
  });
  const mkBucket = async (name) => client.send(new sdk.CreateBucketCommand({ Bucket: name }));
  for (const b of ['warmup', 'tdvc', 'awscli', 'sdk']) await mkBucket(b);
  await client.send(new sdk.PutObjectCommand({ Bucket: 'warmup', Key: 'x', Body: Buffer.from('x') }));

  // data
  const repo = join(work, 'repo');
  const data = join(repo, 'data');
  const names = [];
  for (let i = 0; i < FILES; i++) {
    const dir = join(data, String(i % 100).padStart(2, '0'));
    if (i < 100) mkdirSync(dir, { recursive: true });
    const p = join(dir, `f${i}.bin`);
    writeFileSync(p, randomBytes(FILE_KB * 1024));
    names.push(p);
  }
  const large = join(repo, 'large.bin');
  {
    // plain synchronous writes: a WriteStream fed without waiting for 'drain' hands Node one writev
    // of everything queued, and past 2 GiB of queue that wrote a file far larger than asked (3+ GB
    // for 2 GiB here, and once a full disk)
    const fd = openSync(large, 'w');
    try {
      for (let left = LARGE_MB; left > 0; left -= 16) writeSync(fd, randomBytes(Math.min(16, left) * MiB));
    } finally {
      closeSync(fd);
    }
    if (statSync(large).size !== LARGE_MB * MiB) throw new Error(`large.bin is ${statSync(large).size} bytes, expected ${LARGE_MB * MiB}`);
  }
  const smallMB = (FILES * FILE_KB) / 1024;
  const record = (tool, op, seconds, objects, mb, note = '') => {
    results.push({ tool, op, seconds, objects, mb });
    console.log(`${tool.padEnd(6)} ${op.padEnd(26)} ${seconds.toFixed(2).padStart(8)} s ${(objects / seconds).toFixed(0).padStart(8)} obj/s ${(mb / seconds).toFixed(1).padStart(8)} MB/s${note}`);
  };
  /** per tool and operation, the samples of every round; recorded as their median at the end */
  const samples = new Map();
  const sample = (tool, op, seconds, objects = 1, mb = LARGE_MB) => {
    const key = `${tool}\0${op}`;
    const prev = samples.get(key);
    samples.set(key, { xs: [...(prev?.xs ?? []), seconds], objects, mb });
    console.log(`${tool.padEnd(6)} ${op.padEnd(26)} ${seconds.toFixed(2).padStart(8)} s ${(objects / seconds).toFixed(0).padStart(8)} obj/s ${(mb / seconds).toFixed(1).padStart(8)} MB/s`);
  };

  // tdvc
  // every tdvc command runs under GNU time so its peak RSS is known (target: ≤ 400 MB)
  const peakRss = [];
  const haveTime = existsSync('/usr/bin/time');
  const tdvc = async (cwd, ...args) => {
    if (!haveTime) return run(process.execPath, [TDVC, ...args], { cwd, env: childEnv });
    const rssFile = join(work, 'rss.txt');
    const out = await run('/usr/bin/time', ['-f', '%M', '-o', rssFile, process.execPath, TDVC, ...args], { cwd, env: childEnv });
    const kb = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    peakRss.push({ command: args.slice(0, 2).join(' '), mb: Math.round((kb * 1024) / 1e6) });
    return out;
  };
  /** deletes one tool's copy of the large file and frees its RAM in RGW before the next tool starts */
  const dropLarge = async (bucket, key) => {
    await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await rgw.reclaim();
  };
  spawnSync('git', ['init', '-q', '-b', 'main'], { cwd: repo });
  await tdvc(repo, 'init');
  const addS = await timed(() => tdvc(repo, 'add', 'data', 'large.bin'));
  console.log(`(tdvc add of the data set: ${addS.toFixed(1)} s, not part of the comparison)`);
  const largeOid = /hash: blake3:([0-9a-f]{64})/.exec(readFileSync(join(repo, 'large.bin.tdvc'), 'utf8'))[1];
  await tdvc(repo, 'remote', 'add', '-d', 's3r', 's3://tdvc/bench');
  await tdvc(repo, 'remote', 'modify', 's3r', 'endpoint_url', rgw.endpoint);
  record('tdvc', 'push small', await timed(() => tdvc(repo, 'push', '-j', String(JOBS), 'data')), FILES, smallMB);
  // the large file is pushed once before the no-op push (which must find everything there); its
  // timed transfers are the rounds below
  await tdvc(repo, 'push', '-j', String(JOBS), 'large.bin');
  record('tdvc', 'no-op push (all)', await timed(() => tdvc(repo, 'push', '-j', String(JOBS))), FILES + 2, 0);
  spawnSync('git', ['add', '.'], { cwd: repo });
  spawnSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'bench'], { cwd: repo });
  const largeKey = `bench/b3v1/${largeOid.slice(0, 2)}/${largeOid.slice(2)}`;
  await dropLarge('tdvc', largeKey);

  // AWS CLI
  const aws = (...args) => run(AWS, ['--endpoint-url', rgw.endpoint, '--no-progress', ...args], { env: childEnv });
  record('awscli', 'sync up small', await timed(() => aws('s3', 'sync', '--only-show-errors', data, 's3://awscli/data')), FILES, smallMB);
  record('awscli', 'no-op sync (small)', await timed(() => aws('s3', 'sync', '--only-show-errors', data, 's3://awscli/data')), FILES, 0);
  const down = join(work, 'aws-down');
  record('awscli', 'sync down small', await timed(() => aws('s3', 'sync', '--only-show-errors', 's3://awscli/data', join(down, 'data'))), FILES, smallMB);

  // bare SDK at the same concurrency
  const keys = names.map((p, i) => ({ p, key: `data/${i}` }));
  record('sdk', 'PutObject small', await timed(() => mapLimit(keys, JOBS, async ({ p, key }) => {
    await client.send(new sdk.PutObjectCommand({ Bucket: 'sdk', Key: key, Body: readFileSync(p) }));
  })), FILES, smallMB);
  const sdkDown = join(work, 'sdk-down');
  mkdirSync(sdkDown);

  // small-file downloads, tdvc pull and the SDK loop taking turns (the closest of the ratios; one
  // run of each varied by 15 % with the order): pull = fetch into the cache + checkout into the
  // workspace of a fresh clone, as aws s3 sync and the loop write the files
  const smallDropped = settlePageCache();
  console.log(`\n# small-file downloads: ${ROUNDS} rounds; page cache ${smallDropped ? 'written back and dropped' : 'written back'} before each`);
  let clone;
  const smallTurns = {
    tdvc: async (r) => {
      const into = join(work, `clone-small-${r}`);
      spawnSync('git', ['clone', '-q', repo, into]);
      settlePageCache();
      sample('tdvc', 'pull small', await timed(() => tdvc(into, 'pull', '-j', String(JOBS), 'data')), FILES, smallMB);
      if (clone) rmSync(clone, { recursive: true, force: true });
      clone = into;
    },
    sdk: async (r) => {
      const into = join(work, `sdk-down-small-${r}`);
      mkdirSync(into);
      settlePageCache();
      sample('sdk', 'GetObject small', await timed(() => mapLimit(keys, JOBS, async ({ key }) => {
        const res = await client.send(new sdk.GetObjectCommand({ Bucket: 'sdk', Key: key }));
        writeFileSync(join(into, key.replace('/', '_')), await res.Body.transformToByteArray());
      })), FILES, smallMB);
      rmSync(into, { recursive: true, force: true });
    },
  };
  for (let r = 0; r < ROUNDS; r++) {
    for (const tool of r % 2 ? ['sdk', 'tdvc'] : ['tdvc', 'sdk']) await smallTurns[tool](r);
  }

  // the large file: each tool up, down, its copy deleted; the order of the tools turns every round
  const dropped = settlePageCache();
  console.log(`\n# large file: ${ROUNDS} rounds; page cache ${dropped ? 'written back and dropped' : 'written back (not dropped: needs root)'} before every transfer`);
  let lastPull;
  const largeTurns = {
    tdvc: async (r) => {
      settlePageCache();
      sample('tdvc', 'push large', await timed(() => tdvc(repo, 'push', '-j', String(JOBS), 'large.bin')));
      // pull into a fresh clone: fetch (GET, BLAKE3, into the cache) + checkout (on ext4, where only
      // a copy could place it, the downloaded object is moved into the workspace: README, pull.move_large_files)
      const into = join(work, `clone-large-${r}`);
      spawnSync('git', ['clone', '-q', repo, into]);
      settlePageCache();
      sample('tdvc', 'pull large', await timed(() => tdvc(into, 'pull', '-j', String(JOBS), 'large.bin')));
      if (lastPull) rmSync(lastPull, { recursive: true, force: true });
      lastPull = into;
      // the transfer alone, for the record
      const fetchInto = join(work, `fetch-large-${r}`);
      spawnSync('git', ['clone', '-q', repo, fetchInto]);
      settlePageCache();
      sample('tdvc', 'fetch large (no checkout)', await timed(() => tdvc(fetchInto, 'fetch', '-j', String(JOBS), 'large.bin')));
      rmSync(fetchInto, { recursive: true, force: true });
      await dropLarge('tdvc', largeKey);
    },
    awscli: async () => {
      settlePageCache();
      sample('awscli', 'cp up large', await timed(() => aws('s3', 'cp', '--only-show-errors', large, 's3://awscli/large.bin')));
      settlePageCache();
      sample('awscli', 'cp down large', await timed(() => aws('s3', 'cp', '--only-show-errors', 's3://awscli/large.bin', join(down, 'large.bin'))));
      rmSync(join(down, 'large.bin'), { force: true });
      await dropLarge('awscli', 'large.bin');
    },
    sdk: async () => {
      settlePageCache();
      sample('sdk', 'Upload large', await timed(async () => {
        await new Upload({ client, params: { Bucket: 'sdk', Key: 'large.bin', Body: createReadStream(large) }, partSize: PART, queueSize: Math.min(JOBS, 16) }).done();
      }));
      settlePageCache();
      sample('sdk', 'GetObject large', await timed(async () => {
        const res = await client.send(new sdk.GetObjectCommand({ Bucket: 'sdk', Key: 'large.bin' }));
        await pipeline(res.Body, createWriteStream(join(sdkDown, 'large.bin')));
      }));
      rmSync(join(sdkDown, 'large.bin'), { force: true });
      await dropLarge('sdk', 'large.bin');
    },
  };
  const order = Object.keys(largeTurns);
  for (let r = 0; r < ROUNDS; r++) {
    console.log(`# round ${r + 1}`);
    for (let i = 0; i < order.length; i++) await largeTurns[order[(i + r) % order.length]](r);
  }
  console.log('# medians of the rounds');
  for (const [key, { xs, objects, mb }] of samples) {
    const [tool, op] = key.split('\0');
    record(tool, op, median(xs), objects, mb, `   (rounds: ${xs.map((x) => x.toFixed(2)).join(', ')})`);
  }
  client.destroy();

  // ratios: > 1 means tdvc is faster
  const get = (tool, op) => results.find((r) => r.tool === tool && r.op === op);
  const ratio = (a, b) => (a && b ? (b.seconds / a.seconds).toFixed(2) : 'n/a');
  console.log('\n# tdvc speed relative to peers (peer time / tdvc time; > 1 = tdvc faster)');
  // [operation, tdvc, aws, sdk, target vs aws, target vs SDK] (the targets)
  const rows = [
    ['upload small', get('tdvc', 'push small'), get('awscli', 'sync up small'), get('sdk', 'PutObject small'), 1.2, 0.8],
    ['upload large', get('tdvc', 'push large'), get('awscli', 'cp up large'), get('sdk', 'Upload large'), 0.9, undefined],
    ['no-op upload', get('tdvc', 'no-op push (all)'), get('awscli', 'no-op sync (small)'), undefined, undefined, undefined],
    ['download small', get('tdvc', 'pull small'), get('awscli', 'sync down small'), get('sdk', 'GetObject small'), 1.2, 0.8],
    ['download large', get('tdvc', 'pull large'), get('awscli', 'cp down large'), get('sdk', 'GetObject large'), 0.9, undefined],
    ['  fetch only', get('tdvc', 'fetch large (no checkout)'), get('awscli', 'cp down large'), get('sdk', 'GetObject large'), undefined, undefined],
  ];
  const verdict = (t, p, target) => (target === undefined || !t || !p ? '' : p.seconds / t.seconds >= target ? ` (≥ ${target} PASS)` : ` (≥ ${target} FAIL)`);
  console.log(`${'operation'.padEnd(16)} ${'vs aws cli'.padStart(18)} ${'vs bare SDK'.padStart(18)}`);
  for (const [op, t, a, sd, ta, ts] of rows) {
    console.log(`${op.padEnd(16)} ${(ratio(t, a) + verdict(t, a, ta)).padStart(18)} ${(ratio(t, sd) + verdict(t, sd, ts)).padStart(18)}`);
  }
  const worst = peakRss.reduce((m, r) => (r.mb > m.mb ? r : m), { command: '-', mb: 0 });
  console.log(`\n# peak RSS of tdvc commands: highest ${worst.mb} MB (${worst.command}); target ≤ 400 MB: ${worst.mb <= 400 ? 'PASS' : 'FAIL'}`);
  for (const r of peakRss) console.log(`#   ${r.command.padEnd(22)} ${r.mb} MB`);
  const noop = get('tdvc', 'no-op push (all)');
  if (noop) console.log(`# no-op push of ${FILES + 2} objects: ${noop.seconds.toFixed(2)} s; target ≤ 3 s: ${noop.seconds <= 3 ? 'PASS' : 'FAIL'}`);
  // a sanity check that the round trip is whole
  const h = async (p) => {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(p, { highWaterMark: 16 * MiB })) hash.update(chunk);
    return hash.digest('hex');
  };
  if ((await h(join(lastPull, 'large.bin'))) !== (await h(large))) throw new Error('large.bin differs after the round trip');
  if (readdirSync(join(clone, 'data')).length !== Math.min(100, FILES)) throw new Error('data/ incomplete after the round trip');
} finally {
  await rgw.stop();
  if (!KEEP) rmSync(work, { recursive: true, force: true });
}
