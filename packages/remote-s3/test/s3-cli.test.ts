import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { hashBytes } from '@tdvc/core';
import { startFaultProxy } from './fault-proxy.js';
import { adminClient, git, TDVC_BIN, isolateAwsEnv, makeRepo, newBucket, tdvc, tempDir, warmUp, writeTree } from './helpers.js';
import { rgwSkipReason, s3fsSkipReason, startRgw, type Rgw } from './rgw.js';
import { runCommand, until } from '@tdvc/test-utils';

const skip = rgwSkipReason();
const s3fsSkip = s3fsSkipReason();
if (skip) console.log(`# skipping the S3 CLI tests: ${skip}`);
const MiB = 1024 * 1024;

interface PushJson {
  transferred: number;
  skipped: number;
  failed: Array<{ oid: string; code: string; message: string }>;
}

describe('tdvc CLI with an s3:// remote on a real Ceph RGW', { skip: skip ?? false }, () => {
  let rgw: Rgw;
  let admin: S3Client;
  let env: Record<string, string>;
  const cleanups: Array<() => void> = [];

  before(async () => {
    rgw = await startRgw();
    env = isolateAwsEnv(rgw);
    admin = adminClient(rgw);
    await warmUp(admin);
  }, { timeout: 180_000 });

  after(async () => {
    for (const c of cleanups) c();
    admin?.destroy();
    await rgw?.stop();
  });

  async function repoWithRemote(bucket: string, options: Record<string, string> = {}): Promise<string> {
    const { root, cleanup } = await makeRepo();
    cleanups.push(cleanup);
    const add = await tdvc(root, ['remote', 'add', '-d', 's3r', `s3://${bucket}/prefix`], env);
    assert.equal(add.code, 0, add.stderr);
    for (const [k, v] of Object.entries({ endpoint_url: rgw.endpoint, ...options })) {
      const r = await tdvc(root, ['remote', 'modify', 's3r', k, v], env);
      assert.equal(r.code, 0, r.stderr);
    }
    return root;
  }

  function cloneOf(root: string): string {
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'data');
    const dir = tempDir('tdvc-s3-clone-');
    cleanups.push(dir.cleanup);
    git(dir.path, 'clone', '-q', root, 'c');
    return join(dir.path, 'c');
  }

  test('push, no-op push, then a fresh git clone pulls everything back', async () => {
    const bucket = await newBucket(admin);
    const root = await repoWithRemote(bucket);
    const files: Record<string, Buffer> = { 'model.bin': randomBytes(300_000) };
    for (let i = 0; i < 40; i++) files[`data/part-${i % 4}/f${i}.txt`] = Buffer.from(`file ${i}\n`.repeat(i + 1));
    writeTree(root, files);
    assert.equal((await tdvc(root, ['add', 'data', 'model.bin'], env)).code, 0);

    const pushed = await tdvc(root, ['push', '--json'], env);
    assert.equal(pushed.code, 0, pushed.stderr);
    const p = JSON.parse(pushed.stdout) as PushJson;
    assert.equal(p.transferred, 42, 'model, 40 files, 1 manifest');
    const listed = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'prefix/b3v1/' }));
    assert.equal(listed.KeyCount, 42);
    const modelOid = hashBytes(files['model.bin']!);
    assert.ok(listed.Contents?.some((o) => o.Key === `prefix/b3v1/${modelOid.slice(0, 2)}/${modelOid.slice(2)}`));

    const again = JSON.parse((await tdvc(root, ['push', '--json'], env)).stdout) as PushJson;
    assert.equal(again.transferred, 0);
    assert.equal(again.skipped, 42);

    const c = cloneOf(root);
    const pulled = await tdvc(c, ['pull'], env);
    assert.equal(pulled.code, 0, pulled.stderr);
    for (const [rel, content] of Object.entries(files)) assert.deepEqual(readFileSync(join(c, rel)), content, rel);
  });

  test('FSx-style POSIX view: the bucket mounted as a file system (s3fs, read-only) serves as a folder remote for pull', { skip: s3fsSkip ?? false }, async () => {
    // FSx for Lustre itself is not available here; s3fs shows the same bucket as folders and files,
    // which is what a data repository linked to the bucket gives a machine: the folder remote must
    // read the S3 layout through it as it is.
    const bucket = await newBucket(admin);
    const root = await repoWithRemote(bucket, { fsx_posix: '1000:1000:0640' });
    const files: Record<string, Buffer> = { 'weights.bin': randomBytes(70_000) };
    for (let i = 0; i < 12; i++) files[`data/s${i % 3}/f${i}.bin`] = randomBytes(1000 + i);
    writeTree(root, files);
    assert.equal((await tdvc(root, ['add', 'data', 'weights.bin'], env)).code, 0);
    const pushed = await tdvc(root, ['push'], env);
    assert.equal(pushed.code, 0, pushed.stderr);

    const dir = tempDir('tdvc-s3fs-');
    cleanups.push(dir.cleanup);
    const mnt = join(dir.path, 'mnt');
    const passwd = join(dir.path, 'passwd');
    mkdirSync(mnt);
    writeFileSync(passwd, `${rgw.accessKey}:${rgw.secretKey}\n`, { mode: 0o600 });
    await runCommand('s3fs', [bucket, mnt, '-o', `url=${rgw.endpoint}`, '-o', 'use_path_request_style', '-o', `passwd_file=${passwd}`, '-o', 'ro']);
    try {
      await until('the s3fs mount shows the bucket', Date.now() + 20_000, async () => (existsSync(join(mnt, 'prefix', 'b3v1')) ? true : undefined));
      const c = cloneOf(root);
      assert.equal((await tdvc(c, ['remote', 'add', '-d', 'lustre', join(mnt, 'prefix')], env)).code, 0);
      const pulled = await tdvc(c, ['pull', '--json'], env);
      assert.equal(pulled.code, 0, pulled.stderr);
      for (const [rel, content] of Object.entries(files)) assert.deepEqual(readFileSync(join(c, rel)), content, rel);
      const status = await tdvc(c, ['status', '-r'], env);
      assert.equal(status.code, 0, status.stderr);
    } finally {
      await runCommand('umount', [mnt]).catch(() => runCommand('umount', ['-l', mnt]));
    }
  });

  test('a 20 MiB file goes up as a multipart upload when threshold and chunk size are set with remote modify', async () => {
    const bucket = await newBucket(admin);
    const root = await repoWithRemote(bucket, { multipart_threshold: '8MB', multipart_chunksize: '5MB', storage_class: 'STANDARD_IA' });
    const big = randomBytes(20 * MiB);
    writeTree(root, { 'big.bin': big });
    assert.equal((await tdvc(root, ['add', 'big.bin'], env)).code, 0);
    const pushed = await tdvc(root, ['push', '--json'], env);
    assert.equal(pushed.code, 0, pushed.stderr);
    const oid = hashBytes(big);
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `prefix/b3v1/${oid.slice(0, 2)}/${oid.slice(2)}` }));
    assert.equal(head.ContentLength, big.length);
    assert.match(head.ETag ?? '', /-4"$/, 'four 5 MiB parts');
    assert.equal(head.StorageClass, 'STANDARD_IA');
    const c = cloneOf(root);
    const pulled = await tdvc(c, ['pull'], env);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.ok(readFileSync(join(c, 'big.bin')).equals(big));
  });

  test('an object corrupted on the server: pull fails naming it, and nothing corrupt enters the cache', async () => {
    const bucket = await newBucket(admin);
    const root = await repoWithRemote(bucket);
    const good = Buffer.from('the real content\n'.repeat(100));
    writeTree(root, { 'data/good.txt': good, 'data/other.txt': 'fine' });
    assert.equal((await tdvc(root, ['add', 'data'], env)).code, 0);
    assert.equal((await tdvc(root, ['push'], env)).code, 0);
    const oid = hashBytes(good);
    const key = `prefix/b3v1/${oid.slice(0, 2)}/${oid.slice(2)}`;
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from('the real c0ntent\n'.repeat(100)) }));

    const c = cloneOf(root);
    const pulled = await tdvc(c, ['pull', '--json'], env);
    assert.notEqual(pulled.code, 0);
    assert.ok(pulled.stdout.includes(oid) || pulled.stderr.includes(oid), `the failure names ${oid}: ${pulled.stdout}${pulled.stderr}`);
    assert.equal(existsSync(join(c, '.tdvc', 'cache', 'b3v1', oid.slice(0, 2), oid.slice(2))), false, 'no corrupt object in the cache');
    assert.equal(readFileSync(join(c, 'data/other.txt'), 'utf8'), 'fine', 'the intact file still arrived');
  });

  test('missing bucket, wrong credentials and an unreachable endpoint each give one clear error', async () => {
    const bucket = await newBucket(admin);
    const root = await repoWithRemote(bucket);
    writeTree(root, { 'x.txt': 'x' });
    assert.equal((await tdvc(root, ['add', 'x.txt'], env)).code, 0);

    const expectError = async (args: string[], extraEnv: Record<string, string>, re: RegExp, hint: RegExp, where = /remote s3r \(s3:\/\//): Promise<void> => {
      const r = await tdvc(root, args, { ...env, ...extraEnv });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, re);
      assert.match(r.stderr, where);
      assert.match(r.stderr, hint);
      assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/, 'no stack trace');
    };
    await expectError(['push'], { AWS_SECRET_ACCESS_KEY: 'wrong-secret' }, /rejected the credentials \(SignatureDoesNotMatch\)/, /hint: check AWS_ACCESS_KEY_ID/);
    await expectError(['push'], { AWS_ACCESS_KEY_ID: 'NOSUCHKEY' }, /rejected the credentials \(InvalidAccessKeyId\)/, /hint: check AWS_ACCESS_KEY_ID/);

    assert.equal((await tdvc(root, ['remote', 'modify', 's3r', 'url', 's3://no-such-bucket-tdvc/prefix'], env)).code, 0);
    await expectError(['push'], {}, /bucket "no-such-bucket-tdvc" does not exist/, /hint: create it/);
    assert.equal((await tdvc(root, ['remote', 'modify', 's3r', 'endpoint_url', 'http://127.0.0.1:9'], env)).code, 0);
    await expectError(['pull'], {}, /cannot reach the S3 endpoint \(ECONNREFUSED\)/, /hint: check the network and endpoint_url/);
    assert.equal((await tdvc(root, ['remote', 'modify', 's3r', 'endpoint', 'http://x'], env)).code, 0);
    await expectError(['push'], {}, /unknown S3 setting "endpoint"/, /hint: known settings/, /remote s3r:/);
  });

  test('a push killed (SIGKILL) in the middle of a multipart upload resumes it: only the missing parts are sent again', async () => {
    const bucket = await newBucket(admin);
    const proxy = await startFaultProxy(rgw.port);
    try {
      const root = await repoWithRemote(bucket, { endpoint_url: proxy.endpoint, multipart_threshold: '5MB', multipart_chunksize: '5MB', jobs: '1' });
      const big = randomBytes(60 * MiB);
      writeTree(root, { 'big.bin': big });
      assert.equal((await tdvc(root, ['add', 'big.bin'], env)).code, 0);
      const oid = hashBytes(big);
      const statePath = join(root, '.tdvc', 'tmp', 'remotes', 's3r', 'multipart', `${oid}.json`);

      const child = spawn(process.execPath, [TDVC_BIN, 'push'], { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      let partsBefore = 0;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        try {
          partsBefore = Object.keys((JSON.parse(readFileSync(statePath, 'utf8')) as { parts: object }).parts).length;
        } catch {
          /* not written yet */
        }
        if (partsBefore >= 3) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      await exited;
      assert.ok(partsBefore >= 3 && partsBefore < 12, `killed after ${partsBefore} of 12 parts`);
      const uploads = (await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      assert.equal(uploads.length, 1, 'the killed upload is still open on the server');
      const onServer = (await admin.send(new ListPartsCommand({ Bucket: bucket, Key: uploads[0]!.Key!, UploadId: uploads[0]!.UploadId! }))).Parts?.length ?? 0;
      assert.ok(onServer >= partsBefore);

      proxy.requests.length = 0;
      const again = await tdvc(root, ['push', '--json'], env);
      assert.equal(again.code, 0, again.stderr);
      const partPuts = proxy.requests.filter((r) => r.startsWith('PUT ') && r.includes('partNumber='));
      assert.equal(partPuts.length, 12 - onServer, `resent only the missing parts (${onServer} were on the server)`);
      assert.equal(proxy.requests.filter((r) => r.startsWith('POST ') && r.includes('?uploads')).length, 0, 'no new upload started');
      assert.equal(existsSync(statePath), false);
      assert.equal(readdirSync(join(root, '.tdvc', 'tmp', 'remotes', 's3r', 'multipart')).filter((n) => n.endsWith('.json')).length, 0);
      assert.deepEqual((await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [], []);
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `prefix/b3v1/${oid.slice(0, 2)}/${oid.slice(2)}` }));
      assert.equal(head.ContentLength, big.length);
      const c = cloneOf(root);
      const pulled = await tdvc(c, ['pull'], env);
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.ok(readFileSync(join(c, 'big.bin')).equals(big));
    } finally {
      await proxy.close();
    }
  });

  test('get-url gives s3:// and presigned URLs that serve the exact bytes; status --remote and gc --remote work on S3', async () => {
    const bucket = await newBucket(admin);
    const root = await repoWithRemote(bucket);
    const model = randomBytes(50_000);
    writeTree(root, { 'model.bin': model, 'data/a.txt': 'a', 'data/b.txt': 'b' });
    assert.equal((await tdvc(root, ['add', 'model.bin', 'data'], env)).code, 0);
    const before = JSON.parse((await tdvc(root, ['status', '--remote', '--json'], env)).stdout) as { datasets: Array<{ path: string; notPushed: string[] }> };
    assert.deepEqual(before.datasets.find((d) => d.path === 'data')!.notPushed, ['data/a.txt', 'data/b.txt']);
    assert.equal((await tdvc(root, ['push'], env)).code, 0);
    const synced = JSON.parse((await tdvc(root, ['status', '--remote', '--json'], env)).stdout) as { datasets: Array<{ notPushed: string[] }> };
    assert.ok(synced.datasets.every((d) => d.notPushed.length === 0));

    const plain = await tdvc(root, ['get-url', 'model.bin'], env);
    assert.equal(plain.code, 0, plain.stderr);
    const oid = hashBytes(model);
    assert.equal(plain.stdout.trim(), `s3://${bucket}/prefix/b3v1/${oid.slice(0, 2)}/${oid.slice(2)}`);
    const signed = await tdvc(root, ['get-url', 'model.bin', '--presign', '300'], env);
    assert.equal(signed.code, 0, signed.stderr);
    const res = await fetch(signed.stdout.trim());
    assert.equal(res.status, 200);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), model, 'the presigned URL serves the tracked bytes without credentials');

    // b.txt is replaced: its old object is only referenced by the workspace's previous version
    writeTree(root, { 'data/b.txt': 'B2' });
    assert.equal((await tdvc(root, ['add', 'data'], env)).code, 0);
    assert.equal((await tdvc(root, ['push'], env)).code, 0);
    const oldB = hashBytes(Buffer.from('b'));
    const graced = JSON.parse((await tdvc(root, ['gc', '--workspace', '--remote', 's3r', '--json'], env)).stdout) as { removed: unknown[]; keptRecent: number };
    assert.deepEqual(graced.removed, [], 'objects pushed within the grace period are kept (a teammate may have just pushed them)');
    assert.ok(graced.keptRecent >= 1);
    const dry = await tdvc(root, ['gc', '--workspace', '--remote', 's3r', '--grace', '0', '--json'], env);
    assert.equal(dry.code, 0, dry.stderr);
    const plan = JSON.parse(dry.stdout) as { dryRun: boolean; removed: Array<{ oid: string }> };
    assert.equal(plan.dryRun, true);
    assert.ok(plan.removed.some((r) => r.oid === oldB), 'the replaced file is listed');
    assert.ok(!plan.removed.some((r) => r.oid === oid), 'the model is referenced and kept');
    const done = await tdvc(root, ['gc', '--workspace', '--remote', 's3r', '--grace', '0', '--force', '--json'], env);
    assert.equal(done.code, 0, done.stderr);
    const after = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'prefix/b3v1/' }));
    const keys = new Set((after.Contents ?? []).map((o) => o.Key));
    assert.ok(!keys.has(`prefix/b3v1/${oldB.slice(0, 2)}/${oldB.slice(2)}`));
    assert.ok(keys.has(`prefix/b3v1/${oid.slice(0, 2)}/${oid.slice(2)}`));
    const fsck = await tdvc(root, ['fsck', '--remote', 's3r', '--json'], env);
    assert.equal(fsck.code, 0, fsck.stderr);
    assert.equal((JSON.parse(fsck.stdout) as { checked: number }).checked, keys.size);
  });
});
