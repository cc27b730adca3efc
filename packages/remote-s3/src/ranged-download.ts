import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExitCode, TdvcError } from '@tdvc/core';
import type { BufferPool } from './buffer-pool.js';
import { retryKind } from './errors.js';
import { mapLimit } from './limit.js';
import { bodyRetryPause, type RetryPolicy } from './retry.js';
import { partLength } from './settings.js';

const SINK_SLICE = 1 << 20;

export interface RangedDownloadDeps {
  client: S3Client;
  bucket: string;
  partSize: number;
  jobs: number;
  buffers: BufferPool;
  retry: RetryPolicy;
  /** runs one S3 request with the remote's concurrency limit and retries, mapping final errors */
  send: <T>(doing: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * Downloads an object of known size as parallel ranged GETs of `partSize` (as `aws s3 cp` does),
 * each into a pooled buffer, and hands the parts to `sink` strictly in order: the sink (hash and
 * write) sees exactly the byte stream a single GET would give. Every range after the first is pinned
 * to the first one's ETag, so parts of two different versions can never be mixed. A body that breaks
 * mid-part is continued from where it stopped.
 */
export async function downloadInParts(
  d: RangedDownloadDeps,
  key: string,
  size: number,
  sink: (chunk: Uint8Array) => Promise<void>,
  progress?: (bytes: number) => void,
): Promise<void> {
  const count = Math.ceil(size / d.partSize);
  // the first response's ETag, which every other range is pinned to (undefined if the server sends none)
  let etag: string | undefined;
  let etagKnown!: () => void;
  let firstFailed!: (err: unknown) => void;
  const pinned = new Promise<void>((resolve, reject) => ((etagKnown = resolve), (firstFailed = reject)));
  pinned.catch(() => {});
  // delivered[i] settles once part i went to the sink, and rejects when it or one before it failed
  const turns: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  const delivered = Array.from({ length: count }, () => {
    const p = new Promise<void>((resolve, reject) => turns.push({ resolve, reject }));
    p.catch(() => {});
    return p;
  });
  const part = async (i: number): Promise<void> => {
    const start = i * d.partSize;
    try {
      await d.buffers.with(partLength(size, d.partSize, i + 1), async (buf) => {
        if (i > 0) await pinned;
        const onEtag = i === 0 ? (tag: string | undefined) => ((etag = tag), etagKnown()) : undefined;
        await fetchRange(d, key, start, size, buf, onEtag, () => etag, progress);
        if (i > 0) await delivered[i - 1];
        // in 1 MiB slices: the sink hashes a slice and writes it while it is still in the CPU cache
        for (let at = 0; at < buf.byteLength; at += SINK_SLICE) await sink(buf.subarray(at, Math.min(buf.byteLength, at + SINK_SLICE)));
      });
      turns[i]!.resolve();
    } catch (err) {
      if (i === 0) firstFailed(err);
      turns[i]!.reject(err);
      throw err;
    }
  };
  await mapLimit(Array.from({ length: count }, (_, i) => i), d.jobs, part);
}

async function fetchRange(
  d: RangedDownloadDeps,
  key: string,
  start: number,
  size: number,
  buf: Buffer,
  onEtag: ((etag: string | undefined) => void) | undefined,
  pinnedEtag: () => string | undefined,
  progress?: (bytes: number) => void,
): Promise<void> {
  let got = 0;
  for (let attempt = 1; ; attempt++) {
    const from = start + got;
    const to = start + buf.byteLength - 1;
    const ifMatch = pinnedEtag();
    const res = await d.send(`downloading ${key} (bytes ${from}-${to})`, () =>
      d.client.send(new GetObjectCommand({ Bucket: d.bucket, Key: key, Range: `bytes=${from}-${to}`, ...(ifMatch ? { IfMatch: ifMatch } : {}) })),
    );
    if (onEtag && got === 0) onEtag(res.ETag);
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.ContentRange ?? '');
    if (range && range[3] !== '*' && Number(range[3]) !== size) {
      (res.Body as Readable | undefined)?.destroy?.();
      throw new TdvcError('ECORRUPT', `${key} on the remote is ${range[3]} bytes, expected ${size}`, {
        exitCode: ExitCode.integrity,
        hint: 'the remote copy is damaged or was replaced: push it again from a clone that has it',
      });
    }
    if (!range || Number(range[1]) !== from || Number(range[2]) !== to) {
      (res.Body as Readable | undefined)?.destroy?.();
      throw new TdvcError('ES3', `the server answered bytes ${res.ContentRange ?? '(no Content-Range)'} of ${key} when asked for ${from}-${to}`, {
        hint: 'the store does not honour Range requests: raise multipart_threshold above your largest object',
      });
    }
    try {
      got = await readInto(res.Body as Readable, buf, got, key, progress);
      if (got === buf.byteLength) return;
      throw Object.assign(new Error(`body ended after ${got} of ${buf.byteLength} bytes`), { code: 'ECONNRESET' });
    } catch (err) {
      // what arrived before the break is good and in place: the next request continues after it
      const reached = (err as { bytesRead?: unknown }).bytesRead;
      if (typeof reached === 'number') got = reached;
      if (err instanceof TdvcError || retryKind(err) === 'no' || attempt >= d.retry.attempts) throw err;
      await bodyRetryPause(d.retry, attempt);
    }
  }
}

/**
 * Copies a response body into `buf` from `offset` with plain 'data' events (an async iterator per
 * body tripled the garbage collector's share of a 2 GiB download); resolves with the new offset
 * when the body ends, rejects (with the offset reached in `bytesRead`) when it breaks.
 */
function readInto(body: Readable, buf: Buffer, offset: number, key: string, progress?: (bytes: number) => void): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let got = offset;
    const fail = (err: unknown): void => {
      body.off('data', onData);
      reject(err);
    };
    const onData = (chunk: Buffer): void => {
      if (got + chunk.byteLength > buf.byteLength) {
        body.destroy();
        fail(new TdvcError('ES3', `the server sent more than the ${buf.byteLength} bytes asked for of ${key}`));
        return;
      }
      chunk.copy(buf, got);
      got += chunk.byteLength;
      progress?.(chunk.byteLength);
    };
    body.on('data', onData);
    body.once('end', () => resolve(got));
    body.once('error', (err) => fail(Object.assign(err, { bytesRead: got })));
    body.once('close', () => {
      // closed without 'end': the connection went away mid-body
      if (!body.readableEnded) fail(Object.assign(new Error(`body ended after ${got - offset} bytes`), { code: 'ECONNRESET', bytesRead: got }));
    });
  });
}
