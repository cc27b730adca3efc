import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand, UploadPartCommand, type S3Client } from '@aws-sdk/client-s3';
import { hashBytes, TdvcError, type Oid, type RemoteSettings } from '@tdvc/core';
import { openS3Remote, type S3Remote } from '../src/s3-remote.js';
import type { PaceSample } from '../src/download-pace.js';
import type { MultipartState } from '../src/multipart-state.js';
import { adminClient, isolateAwsEnv, newBucket, tempDir, warmUp } from './helpers.js';
import { rgwSkipReason, startRgw, type Rgw } from './rgw.js';
import { startFaultProxy } from './fault-proxy.js';
import { remoteContract } from '@tdvc/test-utils';

const skip = rgwSkipReason();
if (skip) console.log(`# skipping the S3 remote tests: ${skip}`);
const MiB = 1024 * 1024;
const FAST_RETRY = { attempts: 4, baseMs: 20, maxMs: 200 };

describe('S3 remote against a real Ceph RGW', { skip: skip ?? false }, () => {
  let rgw: Rgw;
  let admin: S3Client;
  let work: { path: string; cleanup: () => void };
  let seq = 0;

  before(async () => {
    rgw = await startRgw();
    isolateAwsEnv(rgw);
    admin = adminClient(rgw);
    await warmUp(admin);
    work = tempDir();
  }, { timeout: 180_000 });

  after(async () => {
    admin?.destroy();
    work?.cleanup();
    await rgw?.stop();
  });

  function settings(bucket: string, options: Record<string, string> = {}, extra: Partial<RemoteSettings> = {}): RemoteSettings {
    return {
      name: 's3r',
      url: `s3://${bucket}/team/data`,
      options: { endpoint_url: rgw.endpoint, ...options },
      stateDir: join(work.path, 'state', bucket),
      ...extra,
    };
  }

  /** A cache-like file: content-addressed by its BLAKE3 digest. */
  function object(bytes: Buffer): { oid: Oid; path: string; size: number } {
    const oid = hashBytes(bytes);
    const path = join(work.path, `obj-${++seq}`);
    writeFileSync(path, bytes);
    return { oid, path, size: bytes.length };
  }

  async function readSized(remote: S3Remote, oid: Oid, size: number): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await remote.download(oid, async (c) => void chunks.push(Buffer.from(c)), undefined, size);
    return Buffer.concat(chunks);
  }

  async function read(remote: S3Remote, oid: Oid): Promise<Buffer> {
    const chunks: Buffer[] = [];
    await remote.download(oid, async (c) => {
      chunks.push(Buffer.from(c));
    });
    return Buffer.concat(chunks);
  }

  // what every remote does, on a fresh bucket per test (the planted keys go under the remote's prefix)
  remoteContract(
    'S3 remote on Ceph RGW',
    async () => {
      const bucket = await newBucket(admin);
      const remote = await openS3Remote(settings(bucket));
      return {
        remote,
        plant: async (key, bytes) => void (await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `team/data/${key}`, Body: bytes }))),
        close: () => remote.close(),
      };
    },
    { listingFrom: 16 },
  );

  test('small objects: upload, has, download; a missing object is ENOTONREMOTE', async () => {
    const bucket = await newBucket(admin);
    const remote = await openS3Remote(settings(bucket));
    try {
      const a = object(Buffer.from('hello s3'));
      const empty = object(Buffer.alloc(0));
      await remote.upload(a.oid, a.path, a.size);
      await remote.upload(empty.oid, empty.path, empty.size);
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `team/data/b3v1/${a.oid.slice(0, 2)}/${a.oid.slice(2)}` }));
      assert.equal(head.ContentLength, a.size);
      const missing = hashBytes(Buffer.from('never uploaded'));
      assert.deepEqual([...(await remote.has([a.oid, missing, empty.oid]))].sort(), [a.oid, empty.oid].sort());
      // above the HeadObject cut-off, a small remote is answered by one listing
      const many = [a.oid, empty.oid, ...Array.from({ length: 40 }, (_, i) => hashBytes(Buffer.from(`nope ${i}`)))];
      remote.requestCounts.clear();
      assert.deepEqual([...(await remote.has(many))].sort(), [a.oid, empty.oid].sort());
      assert.deepEqual([...remote.requestCounts.entries()], [['listing', 1]]);
      assert.equal((await read(remote, a.oid)).toString(), 'hello s3');
      assert.equal((await read(remote, empty.oid)).length, 0);
      await assert.rejects(read(remote, missing), (err: unknown) => err instanceof TdvcError && err.code === 'ENOTONREMOTE' && err.message.includes(missing));
    } finally {
      await remote.close();
    }
  });

  test('has() on 4,000 objects lists fan-out folders: far fewer requests than objects', async () => {
    const bucket = await newBucket(admin);
    const remote = await openS3Remote(settings(bucket));
    try {
      const present: Oid[] = [];
      const absent: Oid[] = [];
      // objects are written straight through the SDK: only the cost of has() is measured here
      const keys = Array.from({ length: 2000 }, (_, i) => hashBytes(Buffer.from(`present ${i}`)));
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next < keys.length) {
            const oid = keys[next++]!;
            await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `team/data/${`b3v1/${oid.slice(0, 2)}/${oid.slice(2)}`}`, Body: Buffer.from('x') }));
            present.push(oid);
          }
        }),
      );
      for (let i = 0; i < 2000; i++) absent.push(hashBytes(Buffer.from(`absent ${i}`)));
      remote.requestCounts.clear();
      const found = await remote.has([...present, ...absent]);
      assert.equal(found.size, present.length);
      for (const oid of present) assert.ok(found.has(oid));
      const requests = [...remote.requestCounts.values()].reduce((a, b) => a + b, 0);
      assert.equal(remote.requestCounts.get('checking') ?? 0, 0, 'no HeadObject per object');
      assert.ok(requests <= 1 + 256 + 16, `has() of 4,000 objects took ${requests} requests`);
      // a sparse batch against the same remote: bounded by the objects asked about, not the remote's size
      remote.requestCounts.clear();
      const sparse = [...present.slice(0, 10), ...absent.slice(0, 10)];
      assert.equal((await remote.has(sparse)).size, 10);
      const sparseRequests = [...remote.requestCounts.values()].reduce((a, b) => a + b, 0);
      assert.ok(sparseRequests <= 1 + 20, `has() of 20 objects took ${sparseRequests} requests`);
    } finally {
      await remote.close();
    }
  });

  test('multipart: 20 MiB in 5 MiB parts with SSE-KMS and a storage class, checked with HeadObject', async () => {
    const bucket = await newBucket(admin);
    const remote = await openS3Remote(
      settings(bucket, { multipart_threshold: '5MB', multipart_chunksize: '5MB', sse: 'aws:kms', sse_kms_key_id: rgw.kmsKeyId, storage_class: 'STANDARD_IA' }),
    );
    try {
      const big = object(randomBytes(20 * MiB + 12345));
      let reported = 0;
      await remote.upload(big.oid, big.path, big.size, (n) => (reported += n));
      assert.equal(reported, big.size);
      assert.equal(remote.requestCounts.get('uploading'), 5, '5 parts');
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: remote.keyOf(big.oid) }));
      assert.equal(head.ContentLength, big.size);
      assert.match(head.ETag ?? '', /-5"$/, 'a multipart ETag');
      assert.equal(head.StorageClass, 'STANDARD_IA');
      assert.equal(head.ServerSideEncryption, 'aws:kms');
      assert.equal(head.SSEKMSKeyId, rgw.kmsKeyId);
      const back = await read(remote, big.oid);
      assert.equal(hashBytes(back), big.oid);
      assert.deepEqual(readdirSync(join(work.path, 'state', bucket, 'multipart')).filter((n) => n.endsWith('.json')), [], 'state removed after completion');
    } finally {
      await remote.close();
    }
  });

  test('SSE AES256 and storage class on a single PUT', async () => {
    const bucket = await newBucket(admin);
    const remote = await openS3Remote(settings(bucket, { sse: 'AES256', storage_class: 'STANDARD_IA' }));
    try {
      const o = object(Buffer.from('encrypted please'));
      await remote.upload(o.oid, o.path, o.size);
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: remote.keyOf(o.oid) }));
      assert.equal(head.StorageClass, 'STANDARD_IA');
      // RGW 16.2 accepts x-amz-server-side-encryption: AES256 (without TLS only with rgw_crypt_require_ssl=false)
      // but has no SSE-S3 and does not report it back; AWS S3 answers 'AES256' here
      assert.ok(head.ServerSideEncryption === undefined || head.ServerSideEncryption === 'AES256');
      assert.equal((await read(remote, o.oid)).toString(), 'encrypted please');
    } finally {
      await remote.close();
    }
  });

  test('fsx_posix: every upload (single PUT and multipart) carries the POSIX metadata FSx for Lustre reads', async () => {
    const bucket = await newBucket(admin);
    const remote = await openS3Remote(settings(bucket, { fsx_posix: '1000:2000:0640', multipart_threshold: '5MB', multipart_chunksize: '5MB' }));
    try {
      for (const o of [object(Buffer.from('small, one PUT')), object(randomBytes(11 * MiB))]) {
        await remote.upload(o.oid, o.path, o.size);
        const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: remote.keyOf(o.oid) }));
        assert.deepEqual(head.Metadata, { 'file-permissions': '0100640', 'file-owner': '1000', 'file-group': '2000' }, `${o.size} bytes`);
      }
    } finally {
      await remote.close();
    }
  });

  test('resume: a multipart upload killed after 2 of 5 parts continues with the same upload id and reuses them', async () => {
    const bucket = await newBucket(admin);
    const opts = { multipart_threshold: '5MB', multipart_chunksize: '5MB' };
    const big = object(randomBytes(25 * MiB));
    const first = await openS3Remote(settings(bucket, opts, { jobs: 1 }), { retry: FAST_RETRY });
    let parts = 0;
    const realSend = first.client.send.bind(first.client) as (c: unknown) => Promise<unknown>;
    // a "kill": the process stops sending after two parts, leaving the upload open on the server
    (first.client as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
      if (c instanceof UploadPartCommand && ++parts > 2) throw Object.assign(new Error('killed'), { name: 'Killed' });
      return realSend(c);
    };
    await assert.rejects(first.upload(big.oid, big.path, big.size));
    await first.close();

    const statePath = join(work.path, 'state', bucket, 'multipart', `${big.oid}.json`);
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as MultipartState;
    assert.deepEqual(Object.keys(state.parts).sort(), ['1', '2']);
    const listed = await admin.send(new ListPartsCommand({ Bucket: bucket, Key: state.key, UploadId: state.uploadId }));
    assert.equal(listed.Parts?.length, 2);

    const second = await openS3Remote(settings(bucket, opts), { retry: FAST_RETRY });
    try {
      await second.upload(big.oid, big.path, big.size);
      assert.equal(second.requestCounts.get('listing'), 1, 'asked the server which parts it has');
      assert.equal(second.requestCounts.get('uploading'), 3, 'only the 3 missing parts were sent');
      assert.equal(second.requestCounts.get('starting') ?? 0, 0, 'no new upload was started');
      assert.equal(existsSync(statePath), false);
      const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: state.key }));
      assert.equal(head.ContentLength, big.size);
      assert.equal(hashBytes(await read(second, big.oid)), big.oid);
    } finally {
      await second.close();
    }
  });

  test('a saved upload that no longer matches (other part size) or is older than 7 days is aborted, not resumed', async () => {
    const bucket = await newBucket(admin);
    const big = object(randomBytes(12 * MiB));
    const other = object(randomBytes(11 * MiB));
    const first = await openS3Remote(settings(bucket, { multipart_threshold: '5MB', multipart_chunksize: '5MB' }, { jobs: 1 }), { retry: FAST_RETRY });
    const realSend = first.client.send.bind(first.client) as (c: unknown) => Promise<unknown>;
    (first.client as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
      if (c instanceof UploadPartCommand && (c.input.PartNumber ?? 0) > 1) throw Object.assign(new Error('killed'), { name: 'Killed' });
      return realSend(c);
    };
    await assert.rejects(first.upload(big.oid, big.path, big.size));
    await assert.rejects(first.upload(other.oid, other.path, other.size));
    await first.close();
    const stateDir = join(work.path, 'state', bucket, 'multipart');
    const oldBig = JSON.parse(readFileSync(join(stateDir, `${big.oid}.json`), 'utf8')) as MultipartState;
    const oldOther = JSON.parse(readFileSync(join(stateDir, `${other.oid}.json`), 'utf8')) as MultipartState;
    writeFileSync(join(stateDir, `${other.oid}.json`), JSON.stringify({ ...oldOther, createdAt: Date.now() - 8 * 24 * 3600 * 1000 }));
    const open = async (): Promise<string[]> => ((await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => u.UploadId!);
    assert.deepEqual((await open()).sort(), [oldBig.uploadId, oldOther.uploadId].sort());

    const second = await openS3Remote(settings(bucket, { multipart_threshold: '5MB', multipart_chunksize: '6MB' }), { retry: FAST_RETRY });
    try {
      await second.upload(big.oid, big.path, big.size);
      assert.equal(second.requestCounts.get('starting'), 1, 'a new upload for the new part size');
      assert.equal(hashBytes(await read(second, big.oid)), big.oid);
      assert.deepEqual(await open(), [], 'the mismatching and the stale upload were aborted');
      assert.equal(existsSync(join(stateDir, `${other.oid}.json`)), false);
    } finally {
      await second.close();
    }
  });

  test('a saved upload the server no longer knows (aborted by a lifecycle rule) is started afresh', async () => {
    const bucket = await newBucket(admin);
    const opts = { multipart_threshold: '5MB', multipart_chunksize: '5MB' };
    const big = object(randomBytes(11 * MiB));
    const first = await openS3Remote(settings(bucket, opts, { jobs: 1 }), { retry: FAST_RETRY });
    const realSend = first.client.send.bind(first.client) as (c: unknown) => Promise<unknown>;
    (first.client as { send: (c: unknown) => Promise<unknown> }).send = async (c: unknown) => {
      if (c instanceof UploadPartCommand && (c.input.PartNumber ?? 0) > 1) throw Object.assign(new Error('killed'), { name: 'Killed' });
      return realSend(c);
    };
    await assert.rejects(first.upload(big.oid, big.path, big.size));
    await first.close();
    const state = JSON.parse(readFileSync(join(work.path, 'state', bucket, 'multipart', `${big.oid}.json`), 'utf8')) as MultipartState;
    await admin.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: state.key, UploadId: state.uploadId }));

    const second = await openS3Remote(settings(bucket, opts), { retry: FAST_RETRY });
    try {
      await second.upload(big.oid, big.path, big.size);
      assert.equal(second.requestCounts.get('starting'), 1, 'a new upload');
      assert.equal(second.requestCounts.get('uploading'), 3, 'all parts sent again');
      assert.equal(hashBytes(await read(second, big.oid)), big.oid);
    } finally {
      await second.close();
    }
  });

  test('a missing bucket and an unreachable endpoint fail at open with clear errors', async () => {
    await assert.rejects(openS3Remote(settings('no-such-bucket-here')), (err: unknown) => {
      assert.ok(err instanceof TdvcError);
      assert.equal(err.code, 'ENOBUCKET');
      assert.match(err.message, /remote s3r \(s3:\/\/no-such-bucket-here\/team\/data at http:\/\/127\.0\.0\.1:\d+\): bucket "no-such-bucket-here" does not exist/);
      assert.ok(err.hint);
      return true;
    });
    const t0 = Date.now();
    await assert.rejects(openS3Remote({ ...settings('any-bucket'), options: { endpoint_url: 'http://127.0.0.1:9' } }, { retry: FAST_RETRY }), (err: unknown) => {
      assert.ok(err instanceof TdvcError);
      assert.equal(err.code, 'EUNREACHABLE');
      assert.match(err.message, /cannot reach the S3 endpoint \(ECONNREFUSED\)/);
      assert.match(err.hint ?? '', /endpoint_url/);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000, 'a refused connection fails fast');
  });

  test('a large download split into parallel ranges pinned to the first ETag; a reset mid-part resumes; a wrong size is refused', async () => {
    const bucket = await newBucket(admin);
    const opts = { multipart_threshold: '5MB', multipart_chunksize: '5MB' };
    const direct = await openS3Remote(settings(bucket, opts));
    const o = object(randomBytes(23 * MiB));
    await direct.upload(o.oid, o.path, o.size);
    const proxy = await startFaultProxy(rgw.port);
    try {
      // split as soon as the rule may: after one part's worth (5 MiB) arrived on the first stream
      const splits: PaceSample[] = [];
      const always = (s: PaceSample): boolean => (splits.push(s), true);
      // the first connection (the probe's, then the GET's) is cut 2 MiB into its responses
      proxy.cutResponses(1, 2 * MiB);
      const remote = await openS3Remote({ ...settings(bucket, opts), options: { endpoint_url: proxy.endpoint, ...opts } }, { retry: FAST_RETRY, splitDownloadWhen: always });
      try {
        const chunks: Buffer[] = [];
        let progressed = 0;
        await remote.download(o.oid, async (c) => void chunks.push(Buffer.from(c)), (n) => (progressed += n), o.size);
        const back = Buffer.concat(chunks);
        assert.equal(back.length, o.size);
        assert.equal(hashBytes(back), o.oid, 'stream and ranges reached the sink whole and in order');
        assert.equal(progressed, o.size, 'progress counts every byte once');
        assert.equal(splits.length, 1, 'asked once, after the first part');
        const at = splits[0]!.received;
        assert.ok(at >= 5 * MiB && at < 7 * MiB, `split after one part: ${at}`);
        assert.equal(splits[0]!.remaining, o.size - at);
        const gets = proxy.requests.filter((r) => r.startsWith('GET') && r.includes('/team/data/b3v1/'));
        // one GET, its continuation after the reset, then 5 MiB ranges over the rest
        assert.equal(gets.length, 2 + Math.ceil((o.size - at) / (5 * MiB)), gets.join(', '));
      } finally {
        await remote.close();
      }
      // a range reset mid-part is continued where it broke
      const later: PaceSample[] = [];
      const ranged = await openS3Remote({ ...settings(bucket, opts), options: { endpoint_url: proxy.endpoint, ...opts } }, { retry: FAST_RETRY, splitDownloadWhen: (s) => (later.push(s), true) });
      try {
        const before = proxy.requests.length;
        // the stream reuses the probe's connection; the next new one is a range's: cut it mid-part
        proxy.cutResponses(1, 3 * MiB);
        const back = await readSized(ranged, o.oid, o.size);
        assert.equal(hashBytes(back), o.oid);
        const gets = proxy.requests.slice(before).filter((r) => r.startsWith('GET') && r.includes('/team/data/b3v1/'));
        assert.equal(gets.length, 1 + Math.ceil((o.size - later[0]!.received) / (5 * MiB)) + 1, `the stream, the ranges and one resumed range: ${gets.join(', ')}`);
      } finally {
        await ranged.close();
      }
      // the stream's own first response already shows a wrong size
      await assert.rejects(direct.download(o.oid, async () => {}, undefined, o.size + 1), (err: unknown) => {
        assert.ok(err instanceof TdvcError);
        assert.equal(err.code, 'ECORRUPT');
        assert.match(err.message, new RegExp(`is ${o.size} bytes, expected ${o.size + 1}`));
        return true;
      });
      await assert.rejects(direct.download(hashBytes(Buffer.from('absent')), async () => {}, undefined, 9 * MiB), (err: unknown) => {
        assert.ok(err instanceof TdvcError);
        assert.equal(err.code, 'ENOTONREMOTE');
        return true;
      });
    } finally {
      await direct.close();
      await proxy.close();
    }
  });

  test('fsck --remote aborts unfinished uploads under the remote prefix once they are older than 7 days, and nothing else', async () => {
    const bucket = await newBucket(admin);
    const start = async (Key: string): Promise<string> => (await admin.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }))).UploadId!;
    const ours = [await start(`team/data/b3v1/ab/${'c'.repeat(62)}`), await start(`team/data/b3v1/cd/${'e'.repeat(62)}`)];
    const foreign = await start('someone-else/big.tar');
    const open = async (): Promise<string[]> => ((await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => u.UploadId!).sort();
    const fresh = await openS3Remote(settings(bucket));
    try {
      assert.deepEqual(await fresh.removeStaleTemps(), [], 'uploads started just now may be running: left alone');
    } finally {
      await fresh.close();
    }
    assert.deepEqual(await open(), [...ours, foreign].sort());
    // the same uploads as if a week had passed
    const aged = await openS3Remote(settings(bucket), { staleUploadMs: 0 });
    try {
      const removed = await aged.removeStaleTemps();
      assert.equal(removed.length, 2, removed.join(', '));
      for (const id of ours) assert.ok(removed.some((r) => r.includes(id)), `${id} aborted`);
    } finally {
      await aged.close();
    }
    assert.deepEqual(await open(), [foreign], 'an upload outside the remote prefix is not ours to abort');
  });

  test('damage in transit: a body altered on the way is refused by the server (signed SHA-256) and sent again', async () => {
    const bucket = await newBucket(admin);
    const proxy = await startFaultProxy(rgw.port);
    // one request at a time over one keep-alive connection, so the damaged byte lands in a known body
    const viaProxy = (threshold = '5MB'): Promise<S3Remote> =>
      openS3Remote({ ...settings(bucket, {}, { jobs: 1 }), options: { endpoint_url: proxy.endpoint, multipart_threshold: threshold, multipart_chunksize: '5MB' } }, { retry: FAST_RETRY });
    try {
      const small = object(randomBytes(1 * MiB));
      const large = object(randomBytes(11 * MiB));
      const streamed = object(randomBytes(9 * MiB)); // above the 8 MiB kept in memory, below the threshold
      // the connection opens with the probe (a small GET); its byte 512 KiB is inside the PUT's body
      proxy.corruptRequests(1, 512 * 1024);
      const first = await viaProxy();
      try {
        await first.upload(small.oid, small.path, small.size);
        assert.equal(proxy.damaged, 1);
        assert.equal(first.requestCounts.get('uploading'), 2, 'the damaged PUT was refused and sent again');
      } finally {
        await first.close();
      }
      // the next connection that carries 2 MiB: a part's body
      proxy.corruptRequests(1, 2 * MiB);
      const second = await viaProxy();
      try {
        await second.upload(large.oid, large.path, large.size);
      } finally {
        await second.close();
      }
      assert.equal(proxy.damaged, 2);
      // a streamed PUT: hashed beforehand so its signature covers the body too
      proxy.corruptRequests(1, 4 * MiB);
      const third = await viaProxy('64MB');
      try {
        await third.upload(streamed.oid, streamed.path, streamed.size);
        assert.equal(proxy.damaged, 3);
        assert.equal(third.requestCounts.get('uploading'), 2, 'the damaged streamed PUT was refused and sent again');
      } finally {
        await third.close();
      }
      const parts = proxy.requests.filter((r) => r.startsWith('PUT') && r.includes('partNumber='));
      assert.equal(parts.length, 4, `three parts, the damaged one twice: ${parts.join(', ')}`);
      const direct = await openS3Remote(settings(bucket));
      try {
        assert.equal(hashBytes(await read(direct, small.oid)), small.oid);
        assert.equal(hashBytes(await read(direct, large.oid)), large.oid);
        assert.equal(hashBytes(await read(direct, streamed.oid)), streamed.oid);
      } finally {
        await direct.close();
      }
    } finally {
      await proxy.close();
    }
  });

  test('throttling: 503 SlowDown answers are retried with backoff; endless throttling ends in a clear error', async () => {
    const proxy = await startFaultProxy(rgw.port);
    try {
      const bucket = await newBucket(admin);
      proxy.slowDown(3);
      const remote = await openS3Remote({ ...settings(bucket), options: { endpoint_url: proxy.endpoint } }, { retry: FAST_RETRY });
      try {
        assert.equal(remote.requestCounts.get('checking'), 4, 'three 503s, then success');
        const o = object(Buffer.from('after the storm'));
        await remote.upload(o.oid, o.path, o.size);
        assert.equal((await read(remote, o.oid)).toString(), 'after the storm');
      } finally {
        await remote.close();
      }
      proxy.slowDown(1000);
      await assert.rejects(openS3Remote({ ...settings(bucket), options: { endpoint_url: proxy.endpoint } }, { retry: FAST_RETRY }), (err: unknown) => {
        assert.ok(err instanceof TdvcError);
        assert.equal(err.code, 'ES3THROTTLED');
        assert.match(err.message, /kept throttling requests \(SlowDown\)/);
        return true;
      });
    } finally {
      await proxy.close();
    }
  });

  test('a connection reset mid-download is resumed with a Range request: the sink gets every byte once, in order', async () => {
    const bucket = await newBucket(admin);
    const direct = await openS3Remote(settings(bucket));
    const o = object(randomBytes(6 * MiB));
    await direct.upload(o.oid, o.path, o.size);
    await direct.close();
    const proxy = await startFaultProxy(rgw.port);
    try {
      // the probe and the GET share one keep-alive connection, which is reset 1 MiB into the body
      proxy.cutResponses(1, 1 * MiB);
      const remote = await openS3Remote({ ...settings(bucket), options: { endpoint_url: proxy.endpoint } }, { retry: FAST_RETRY });
      try {
        const back = await read(remote, o.oid);
        assert.equal(back.length, o.size);
        assert.equal(hashBytes(back), o.oid);
        assert.equal(remote.requestCounts.get('downloading'), 2, 'one GET, one ranged GET after the reset');
        assert.ok(proxy.connections >= 2);
      } finally {
        await remote.close();
      }
    } finally {
      await proxy.close();
    }
  });
});
