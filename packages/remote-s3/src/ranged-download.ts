import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ExitCode, forEachLimit, TdvcError } from '@tdvc/core';
import type { BufferPool } from './buffer-pool.js';
import { retryKind } from './errors.js';
import { bodyRetryPause, type RetryPolicy } from './retry.js';

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

/** Where the ranged part of a download begins: after what one stream already delivered. */
export interface RangedStart {
  offset: number;
  /** the ETag of the response that delivered the first bytes, which every range is pinned to */
  etag: string | undefined;
}

/**
 * Downloads bytes `from.offset` to `size` of an object as parallel ranged GETs of `partSize` (as
 * `aws s3 cp` does), each into a pooled buffer, and hands them to `sink` strictly in order: the sink
 * (hash and write) sees exactly the byte stream a single GET would give. The part whose turn it is
 * goes to the sink while it arrives; parts ahead fill their buffers meanwhile. Every range is pinned
 * to `from.etag`, so bytes of two versions of the key are never mixed. A body that breaks mid-part is
 * continued from where it stopped.
 */
export async function downloadInParts(
  d: RangedDownloadDeps,
  key: string,
  size: number,
  from: RangedStart,
  sink: (chunk: Uint8Array) => Promise<void>,
  progress?: (bytes: number) => void,
): Promise<void> {
  const count = Math.ceil((size - from.offset) / d.partSize);
  // delivered[i] settles once part i went to the sink, and rejects when it or one before it failed
  const turns: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  const delivered = Array.from({ length: count }, () => {
    const p = new Promise<void>((resolve, reject) => turns.push({ resolve, reject }));
    p.catch(() => {});
    return p;
  });
  const part = async (i: number): Promise<void> => {
    const start = from.offset + i * d.partSize;
    try {
      await d.buffers.with(Math.min(d.partSize, size - start), async (buf) => {
        const filled = new FillLevel();
        const fetching = fetchRange(d, key, start, size, buf, from.etag, progress, (n) => filled.raise(n)).then(
          () => filled.raise(buf.byteLength),
          (err: unknown) => {
            filled.fail(err);
            throw err;
          },
        );
        const handOver = async (): Promise<void> => {
          if (i > 0) await Promise.race([delivered[i - 1], filled.failure]);
          for (let at = 0; at < buf.byteLength; ) {
            const end = Math.min(buf.byteLength, at + SINK_SLICE);
            await filled.reach(end);
            await sink(buf.subarray(at, end));
            at = end;
          }
        };
        // the buffer goes back to the pool only when neither the network nor the sink still uses it
        const [got, gave] = await Promise.allSettled([fetching, handOver()]);
        if (got.status === 'rejected') throw got.reason;
        if (gave.status === 'rejected') throw gave.reason;
      });
      turns[i]!.resolve();
    } catch (err) {
      turns[i]!.reject(err);
      throw err;
    }
  };
  await forEachLimit(Array.from({ length: count }, (_, i) => i), d.jobs, part);
}

async function fetchRange(
  d: RangedDownloadDeps,
  key: string,
  start: number,
  size: number,
  buf: Buffer,
  etag: string | undefined,
  progress: ((bytes: number) => void) | undefined,
  onFill: (filledTo: number) => void,
): Promise<void> {
  let got = 0;
  for (let attempt = 1; ; attempt++) {
    const from = start + got;
    const to = start + buf.byteLength - 1;
    const res = await d.send(`downloading ${key} (bytes ${from}-${to})`, () =>
      d.client.send(new GetObjectCommand({ Bucket: d.bucket, Key: key, Range: `bytes=${from}-${to}`, ...(etag ? { IfMatch: etag } : {}) })),
    );
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.ContentRange ?? '');
    if (range && range[3] !== '*' && Number(range[3]) !== size) {
      (res.Body as Readable | undefined)?.destroy?.();
      throw wrongSize(key, Number(range[3]), size);
    }
    if (!range || Number(range[1]) !== from || Number(range[2]) !== to) {
      (res.Body as Readable | undefined)?.destroy?.();
      throw new TdvcError('ES3', `the server answered bytes ${res.ContentRange ?? '(no Content-Range)'} of ${key} when asked for ${from}-${to}`, {
        hint: 'the store does not honour Range requests: raise multipart_threshold above your largest object',
      });
    }
    try {
      got = await readInto(res.Body as Readable, buf, got, key, progress, onFill);
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
function readInto(
  body: Readable,
  buf: Buffer,
  offset: number,
  key: string,
  progress: ((bytes: number) => void) | undefined,
  onFill: (filledTo: number) => void,
): Promise<number> {
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
      onFill(got);
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

/** How far a part's buffer is filled, for a reader that follows the writer. */
class FillLevel {
  private level = 0;
  private error: { reason: unknown } | undefined;
  private waiter: { need: number; resolve: () => void; reject: (err: unknown) => void } | undefined;
  private failed!: (err: unknown) => void;
  /** rejects when filling fails for good; never resolves */
  readonly failure = new Promise<never>((_, reject) => (this.failed = reject));

  constructor() {
    this.failure.catch(() => {});
  }

  raise(to: number): void {
    if (to <= this.level) return;
    this.level = to;
    if (this.waiter && this.level >= this.waiter.need) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve();
    }
  }

  fail(reason: unknown): void {
    this.error = { reason };
    this.failed(reason);
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(reason);
  }

  /** resolves once `need` bytes are in; one waiter at a time */
  reach(need: number): Promise<void> {
    if (this.level >= need) return Promise.resolve();
    if (this.error) return Promise.reject(this.error.reason);
    return new Promise<void>((resolve, reject) => (this.waiter = { need, resolve, reject }));
  }
}

/** The object on the remote is not the size its pointer or manifest records. */
export function wrongSize(key: string, actual: number, expected: number): TdvcError {
  return new TdvcError('ECORRUPT', `${key} on the remote is ${actual} bytes, expected ${expected}`, {
    exitCode: ExitCode.integrity,
    hint: 'the remote copy is damaged or was replaced: push it again from a clone that has it',
  });
}
