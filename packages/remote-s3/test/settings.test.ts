import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TdvcError } from '@tdvc/core';
import { parseSettings, parseS3Url, parseSize, partLength, partSizeFor } from '../src/settings.js';
import { predecessor } from '../src/s3-remote.js';
import { retryKind, toTdvcError } from '../src/errors.js';
import { withRetry } from '../src/retry.js';
import { parseListPage } from '../src/list-page.js';

const base = { name: 's3r', url: 's3://my-bucket/some/prefix/', stateDir: '/tmp/x' };
const ctx = { remote: 's3r', url: 's3://my-bucket/p', endpoint: 'http://127.0.0.1:9' };

function configError(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof TdvcError && err.code === 'ECONFIG' && re.test(err.message) && typeof err.hint === 'string');
}

test('S3 URLs: bucket and prefix, trailing slashes dropped, junk refused', () => {
  assert.deepEqual(parseS3Url('r', 's3://b-1/a/b/'), { bucket: 'b-1', prefix: 'a/b' });
  assert.deepEqual(parseS3Url('r', 's3://bkt'), { bucket: 'bkt', prefix: '' });
  configError(() => parseS3Url('r', 'https://bkt/x'), /not an S3 URL/);
  configError(() => parseS3Url('r', 's3://bkt/a/../b'), /bad key prefix/);
});

test('defaults: AWS S3 gets when_supported checksums, any custom endpoint when_required', () => {
  const aws = parseSettings({ ...base, options: {} }, {});
  assert.equal(aws.bucket, 'my-bucket');
  assert.equal(aws.prefix, 'some/prefix');
  assert.equal(aws.requestChecksumCalculation, 'when_supported');
  assert.equal(aws.multipartThreshold, 64 * 1024 * 1024);
  assert.equal(aws.multipartChunksize, 16 * 1024 * 1024);
  assert.equal(aws.jobs, 32);
  const custom = parseSettings({ ...base, options: { endpoint_url: 'http://127.0.0.1:7480' } }, {});
  assert.equal(custom.requestChecksumCalculation, 'when_required');
  const viaEnv = parseSettings({ ...base, options: {} }, { AWS_ENDPOINT_URL_S3: 'http://minio:9000' });
  assert.equal(viaEnv.endpointUrl, 'http://minio:9000');
  assert.equal(viaEnv.requestChecksumCalculation, 'when_required');
  const forced = parseSettings({ ...base, options: { endpoint_url: 'http://h:1', request_checksum_calculation: 'WHEN_SUPPORTED' } }, {});
  assert.equal(forced.requestChecksumCalculation, 'when_supported');
});

test('every setting is validated with a message naming the remote and setting', () => {
  const p = (options: Record<string, string>): unknown => parseSettings({ ...base, options }, {});
  configError(() => p({ endpoint_url: 'ftp://x' }), /remote s3r: bad endpoint_url/);
  configError(() => p({ addressing_style: 'dns' }), /addressing_style.*auto, path, virtual/);
  configError(() => p({ sse: 'aes' }), /sse.*AES256, aws:kms/);
  configError(() => p({ sse: 'AES256', sse_kms_key_id: 'k' }), /only used with sse aws:kms/);
  configError(() => p({ storage_class: 'COLDEST' }), /storage_class/);
  configError(() => p({ multipart_threshold: '1MB' }), /between 5 MiB and 5 GiB/);
  configError(() => p({ multipart_chunksize: 'lots' }), /not a size/);
  configError(() => p({ jobs: '0' }), /jobs/);
  configError(() => p({ request_checksum_calculation: 'always' }), /request_checksum_calculation/);
  for (const bad of ['1000:1000', 'a:b:0644', '1000:1000:0999', '1000:1000:17777', '-1:0:0644', '1000:1000:0644:x'])
    configError(() => p({ fsx_posix: bad }), /remote s3r: bad fsx_posix.*UID:GID:MODE/);
  assert.deepEqual(p({ fsx_posix: '1000:2000:0640' }) && (p({ fsx_posix: '1000:2000:0640' }) as { posix: unknown }).posix, { uid: 1000, gid: 2000, mode: 0o640 });
  configError(() => p({ endpoint: 'http://x' }), /unknown S3 setting "endpoint"/);
  configError(() => p({ secret_access_key: 'x' }), /credentials are not read from tdvc settings/);
  const ok = parseSettings({ ...base, jobs: 4, options: { sse: 'aws:kms', sse_kms_key_id: 'k1', storage_class: 'standard_ia', multipart_threshold: '8MB', multipart_chunksize: '5MiB', addressing_style: 'virtual' } }, {});
  assert.equal(ok.sse, 'aws:kms');
  assert.equal(ok.storageClass, 'STANDARD_IA');
  assert.equal(ok.multipartThreshold, 8 * 1024 * 1024);
  assert.equal(ok.multipartChunksize, 5 * 1024 * 1024);
  assert.equal(ok.jobs, 4);
});

test('sizes and part sizes', () => {
  assert.equal(parseSize('1048576'), 1048576);
  assert.equal(parseSize('8MB'), 8 << 20);
  assert.equal(parseSize('1.5 GiB'), 1.5 * 1024 * 1024 * 1024);
  assert.equal(parseSize('x'), undefined);
  assert.equal(partSizeFor(100 << 20, 16 << 20), 16 << 20);
  // 1 TiB in 16 MiB parts would be 65,536 parts: grown to stay under 10,000
  const big = partSizeFor(1024 * 1024 * 1024 * 1024, 16 << 20);
  assert.ok(Math.ceil((1024 * 1024 * 1024 * 1024) / big) <= 10_000);
  // 23 MiB in 5 MiB parts: four whole parts and a short fifth
  assert.deepEqual([1, 2, 3, 4, 5].map((n) => partLength(23 << 20, 5 << 20, n) / (1 << 20)), [5, 5, 5, 5, 3]);
});

test('predecessor gives the fixed-length hex string just below', () => {
  assert.equal(predecessor('a0'), '9f');
  assert.equal(predecessor('10'), '0f');
  assert.equal(predecessor('1'), '0');
  assert.equal(predecessor('00'), '');
});

test('errors: throttling and resets are retried, client errors are not; final errors are clear', async () => {
  const s3err = (name: string, status: number): Error => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  assert.equal(retryKind(s3err('SlowDown', 503)), 'throttled');
  assert.equal(retryKind(s3err('InternalError', 500)), 'transient');
  assert.equal(retryKind(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })), 'network');
  assert.equal(retryKind(s3err('NoSuchKey', 404)), 'no');
  assert.equal(retryKind(s3err('AccessDenied', 403)), 'no');

  let calls = 0;
  const v = await withRetry(
    async () => {
      if (++calls < 3) throw s3err('SlowDown', 503);
      return 'ok';
    },
    { attempts: 5, baseMs: 1, maxMs: 5 },
  );
  assert.equal(v, 'ok');
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(withRetry(async () => { calls++; throw s3err('AccessDenied', 403); }, { attempts: 5, baseMs: 1, maxMs: 5 }));
  assert.equal(calls, 1);

  const cases: Array<[unknown, string, RegExp]> = [
    [s3err('NoSuchBucket', 404), 'ENOBUCKET', /bucket "my-bucket" does not exist/],
    [s3err('InvalidAccessKeyId', 403), 'ES3CREDENTIALS', /rejected the credentials/],
    [s3err('SignatureDoesNotMatch', 403), 'ES3CREDENTIALS', /rejected the credentials/],
    [s3err('AccessDenied', 403), 'ES3DENIED', /access denied/],
    [Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'EUNREACHABLE', /cannot reach the S3 endpoint/],
    [s3err('SlowDown', 503), 'ES3THROTTLED', /throttling/],
  ];
  for (const [err, code, re] of cases) {
    const t = toTdvcError(err, ctx);
    assert.equal(t.code, code);
    assert.match(t.message, re);
    assert.match(t.message, /remote s3r \(s3:\/\/my-bucket\/p at http:\/\/127\.0\.0\.1:9\)/);
    assert.ok(t.hint);
  }
});

test('listing pages are parsed without the SDK: keys, sizes, dates, truncation, escaped text', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><MaxKeys>1000</MaxKeys>
<IsTruncated>true</IsTruncated>
<Contents><Key>p/b3v1/ab/cdef</Key><LastModified>2026-11-26T04:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>4096</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>p/odd &amp; &lt;key&gt;</Key><Size>0</Size></Contents>
<NextContinuationToken>tok&amp;en</NextContinuationToken><KeyCount>2</KeyCount></ListBucketResult>`;
  const page = parseListPage(xml);
  assert.deepEqual(page.objects.map((o) => [o.key, o.size]), [['p/b3v1/ab/cdef', 4096], ['p/odd & <key>', 0]]);
  assert.equal(page.objects[0]!.lastModified?.toISOString(), '2026-11-26T04:00:00.000Z');
  assert.equal(page.objects[1]!.lastModified, undefined);
  assert.equal(page.isTruncated, true);
  assert.equal(page.nextToken, 'tok&en');
  const last = parseListPage('<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>');
  assert.deepEqual(last, { objects: [], isTruncated: false });
});
