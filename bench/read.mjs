// Reading a dataset version anywhere: `pnpm bench read` (or `pnpm build && node bench/read.mjs`).
//
// A data registry (a Git repository served over smart HTTP by `git http-backend`, its data on a
// throwaway Ceph RGW) holds, at tag v1, N small files and one 1 MiB file. Each measurement runs in a
// fresh Node process, the tools taking turns, ROUNDS times; medians and ratios are printed:
//   one file:  RevisionView.open(URL, v1) + read the 1 MiB file  vs  DVC-style `git clone --depth 1
//              --branch v1 URL` + `tdvc pull big.bin` (what `dvc get`/`dvc.api.open` do: a clone per call)
//   N files:   RevisionView.readMany of the whole dataset, 8 at a time, bytes verified and dropped
//              vs `aws s3 cp --recursive` of the same objects (the remote's b3v1/ prefix) into a temp folder
// and the reader's peak RSS.
//
// Environment: BENCH_READ_FILES=2000  BENCH_READ_FILE_KB=64  BENCH_READ_ROUNDS=3  BENCH_READ_KEEP=0|1
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TDVC = join(ROOT, 'packages', 'cli', 'bin', 'tdvc.js');
const S3PKG = join(ROOT, 'packages', 'remote-s3');
// the AWS CLI on PATH (a pyenv shim here, /usr/bin/aws elsewhere)
const AWS = spawnSync('sh', ['-c', 'command -v aws'], { encoding: 'utf8' }).stdout.trim() || '/usr/bin/aws';
const env = (k, d) => (process.env[k] ? process.env[k] : d);
const FILES = Number(env('BENCH_READ_FILES', 2000));
const FILE_KB = Number(env('BENCH_READ_FILE_KB', 64));
const ROUNDS = Number(env('BENCH_READ_ROUNDS', 3));
const KEEP = env('BENCH_READ_KEEP', '0') === '1';
const MiB = 1024 * 1024;

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
const require = createRequire(join(S3PKG, 'package.json'));
const sdk = require('@aws-sdk/client-s3');
const { startRgw } = await import(pathToFileURL(join(S3PKG, 'dist', 'test', 'rgw.js')).href);
const { rgwChildEnv } = await import('./lib/aws-env.mjs');
const { startGitHttp } = await import(pathToFileURL(join(ROOT, 'packages', 'test-utils', 'dist', 'src', 'index.js')).href);

function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res({ ms: performance.now() - t0, out }) : rej(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${err}`))));
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'tdvc-bench-read-'));
console.log(`# read benchmark: ${FILES} × ${FILE_KB} KiB + 1 × 1 MiB at tag v1, ${ROUNDS} rounds, work folder ${work}`);
const rgw = await startRgw({ memBytes: 4096 * MiB });
const server = await startGitHttp(join(work, 'served'));
try {
  const childEnv = rgwChildEnv(rgw, work, ['max_concurrent_requests = 8']);
  const client = new sdk.S3Client({ endpoint: rgw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: rgw.accessKey, secretAccessKey: rgw.secretKey } });
  await client.send(new sdk.CreateBucketCommand({ Bucket: 'registry' }));
  const tdvc = (cwd, ...args) => run(process.execPath, [TDVC, ...args], { cwd, env: childEnv });
  const git = (cwd, ...args) => run('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd, env: childEnv });

  // the registry
  const reg = join(work, 'registry');
  for (let i = 0; i < FILES; i++) {
    const dir = join(reg, 'data', String(i % 20).padStart(2, '0'));
    if (i < 20) mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.bin`), randomBytes(FILE_KB * 1024));
  }
  writeFileSync(join(reg, 'big.bin'), randomBytes(MiB));
  await git(reg, 'init', '-q', '-b', 'main');
  await tdvc(reg, 'init', '-q');
  await tdvc(reg, 'add', '-q', 'data', 'big.bin');
  await tdvc(reg, 'remote', 'add', '-d', 's3r', 's3://registry/data');
  await tdvc(reg, 'remote', 'modify', 's3r', 'endpoint_url', rgw.endpoint);
  await tdvc(reg, 'push', '-q');
  await git(reg, 'add', '.');
  await git(reg, 'commit', '-qm', 'v1');
  await git(reg, 'tag', 'v1');
  mkdirSync(join(work, 'served'));
  await git(join(work, 'served'), 'clone', '-q', '--bare', reg, 'registry.git');
  const url = `${server.url}/registry.git`;

  const reader = join(work, 'reader.mjs');
  writeFileSync(
    reader,
    `const t0 = performance.now();
const { RevisionView } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'packages', 'core', 'dist', 'src', 'index.js')).href)});
const { openRemoteByUrl } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'packages', 'cli', 'dist', 'src', 'index.js')).href)});
const [mode, url, tmp] = process.argv.slice(2);
const view = await RevisionView.open(url, { rev: 'v1', opener: openRemoteByUrl, tmpDir: tmp, concurrency: 8 });
let bytes = 0;
if (mode === 'one') { for await (const c of await view.open('big.bin')) bytes += c.length; }
else await view.readMany(view.files('data'), async (f, s) => { for await (const c of s) bytes += c.length; });
await view.close();
process.stdout.write(JSON.stringify({ bytes, ms: performance.now() - t0, rssMB: process.resourceUsage().maxRSS / 1024 }));
`,
  );
  const rows = { viewOne: [], cloneOne: [], viewMany: [], aws: [] };
  let rss = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const tmp = mkdtempSync(join(work, 'round-'));
    const one = await run(process.execPath, [reader, 'one', url, tmp], { env: childEnv });
    const oneOut = JSON.parse(one.out);
    if (oneOut.bytes !== MiB) throw new Error(`read ${oneOut.bytes} bytes of big.bin`);
    rows.viewOne.push(one.ms);
    const clone = join(tmp, 'clone');
    const c0 = performance.now();
    await git(tmp, 'clone', '-q', '--depth', '1', '--branch', 'v1', url, 'clone');
    await tdvc(clone, 'pull', '-q', 'big.bin');
    rows.cloneOne.push(performance.now() - c0);
    const many = await run(process.execPath, [reader, 'many', url, tmp], { env: childEnv });
    const manyOut = JSON.parse(many.out);
    if (manyOut.bytes !== FILES * FILE_KB * 1024) throw new Error(`read ${manyOut.bytes} bytes of data`);
    rows.viewMany.push(many.ms);
    rss = Math.max(rss, manyOut.rssMB, oneOut.rssMB);
    const a = await run(AWS, ['--endpoint-url', rgw.endpoint, '--no-progress', 's3', 'cp', '--recursive', '--quiet', 's3://registry/data/b3v1', join(tmp, 'aws')], { env: childEnv });
    rows.aws.push(a.ms);
    rmSync(tmp, { recursive: true, force: true });
  }
  const fmt = (xs) => xs.map((x) => (x / 1000).toFixed(2)).join(' / ');
  console.log(`| measurement | runs (s) | median | reference | runs (s) | median | ratio |`);
  console.log(`|---|---|---|---|---|---|---|`);
  console.log(`| open URL at v1, read 1 MiB (fresh process) | ${fmt(rows.viewOne)} | ${(median(rows.viewOne) / 1000).toFixed(2)} s | git clone --depth 1 + tdvc pull | ${fmt(rows.cloneOne)} | ${(median(rows.cloneOne) / 1000).toFixed(2)} s | ${(median(rows.cloneOne) / median(rows.viewOne)).toFixed(2)}× faster |`);
  console.log(`| stream ${FILES} files, 8 at a time (fresh process) | ${fmt(rows.viewMany)} | ${(median(rows.viewMany) / 1000).toFixed(2)} s | aws s3 cp --recursive | ${fmt(rows.aws)} | ${(median(rows.aws) / 1000).toFixed(2)} s | ${(median(rows.aws) / median(rows.viewMany)).toFixed(2)}× faster (target ≥ 1.5×) |`);
  console.log(`peak RSS of the reader: ${rss.toFixed(0)} MB`);
} finally {
  await server.close();
  await rgw.stop();
  if (!KEEP) rmSync(work, { recursive: true, force: true });
}
