import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { fanKey, fanOf, forEachLimit, LAYOUT_KEY, objectKey, objectName, oidOfEntry, oidOfTail, TdvcError, type Oid, type Remote, type RemoteSettings } from '@tdvc/core';
import { createS3Client } from './client.js';
import { isNotFound, retryKind, toTdvcError } from './errors.js';
import { Limiter } from './limit.js';
import { MultipartStateStore } from './multipart-state.js';
import { BufferPool } from './buffer-pool.js';
import { MAX_UPLOAD_AGE_MS, MultipartUploader, type ObjectParams } from './multipart.js';
import { networkBound, StreamPace, worthSplitting, type PaceSample } from './download-pace.js';
import { downloadInParts, wrongSize, type RangedStart } from './ranged-download.js';
import { listPage } from './list-page.js';
import { bodyRetryPause, withRetry, type RetryPolicy, DEFAULT_RETRY } from './retry.js';
import { parseSettings, partSizeFor, type S3Settings } from './settings.js';

/**
 * Bodies up to this size are sent from memory: replayable, and signed with their SHA-256, which the
 * server checks (XAmzContentSHA256Mismatch), so damage in transit is caught even on plain HTTP.
 * Larger ones stream from the file; in when_required mode they are hashed first and signed the same
 * way, in when_supported mode the SDK sends them aws-chunked with a CRC32 trailer.
 */
const BUFFERED_PUT = 8 * 1024 * 1024;
/** Below this many objects, HeadObject each; above, list the fan-out folders. */
const HEAD_BELOW = 16;
const LIST_PAGE = 1000;
const SINK_CHUNK = 1 << 20;
/**
 * Part buffers of all transfers of one remote together stay under this. Measured on RGW: 128 MiB
 * (8 parts of 16 MiB in flight) uploads a 512 MiB file as fast as 256 MiB did, with 320 MB peak RSS
 * instead of 520 MB.
 */
const PART_BUFFER_BUDGET = 128 * 1024 * 1024;

export interface S3RemoteOptions {
  retry?: RetryPolicy;
  /** whether a large download's stream (once a split could pay) goes on as parallel ranges; default: when network-bound */
  splitDownloadWhen?: (sample: PaceSample) => boolean;
  /** age after which fsck --remote aborts an unfinished multipart upload; default MAX_UPLOAD_AGE_MS (7 days) */
  staleUploadMs?: number;
}

/**
 * A remote in an S3 bucket (or an S3-compatible store): objects at `<prefix>/b3v1/<ab>/<cdef…>`.
 * Every request goes through one limiter (at most `jobs` in flight) and our own retry loop.
 */
export class S3Remote implements Remote {
  readonly name: string;
  readonly url: string;
  readonly settings: S3Settings;
  readonly client: S3Client;
  readonly endpoint: string;
  private readonly limiter: Limiter;
  private readonly retry: RetryPolicy;
  private readonly multipart: MultipartUploader;
  private readonly buffers: BufferPool;
  private readonly splitWhen: (sample: PaceSample) => boolean;
  private readonly staleUploadMs: number;
  /** requests sent, by operation: lets tests and benchmarks check that `has` stays cheap */
  readonly requestCounts = new Map<string, number>();

  constructor(settings: S3Settings, client: S3Client, options: S3RemoteOptions = {}) {
    this.settings = settings;
    this.name = settings.name;
    this.url = settings.url;
    this.client = client;
    this.endpoint = settings.endpointUrl ?? 'AWS S3';
    this.limiter = new Limiter(settings.jobs);
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.splitWhen = options.splitDownloadWhen ?? networkBound;
    this.staleUploadMs = options.staleUploadMs ?? MAX_UPLOAD_AGE_MS;
    this.buffers = new BufferPool(Math.max(2, Math.floor(PART_BUFFER_BUDGET / settings.multipartChunksize)));
    this.multipart = new MultipartUploader({
      client,
      settings,
      buffers: this.buffers,
      store: new MultipartStateStore(settings.stateDir),
      send: (doing, fn) => this.send(doing, fn),
      objectParams: () => this.objectParams(),
    });
  }

  /** `<prefix>/` (empty without a prefix): what every key of this remote starts with. */
  private get keyBase(): string {
    return this.settings.prefix ? `${this.settings.prefix}/` : '';
  }

  keyOf(oid: Oid): string {
    return this.keyBase + objectKey(oid);
  }

  private fanPrefix(fan: string): string {
    return this.keyBase + fanKey(fan);
  }

  /** The key prefix of the layout folder (`<prefix>/b3v1/`), under which every object lies. */
  private layoutPrefix(): string {
    return this.keyBase + LAYOUT_KEY;
  }

  /** One request: limited, retried, and on final failure turned into a clear TdvcError. */
  async send<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    const op = doing.split(' ')[0]!;
    try {
      return await withRetry(
        () =>
          this.limiter.run(() => {
            this.requestCounts.set(op, (this.requestCounts.get(op) ?? 0) + 1);
            return fn();
          }),
        this.retry,
      );
    } catch (err) {
      throw this.error(err, doing);
    }
  }

  error(err: unknown, doing?: string): TdvcError {
    return toTdvcError(err, { remote: this.name, url: this.url, endpoint: this.endpoint, ...(doing ? { doing } : {}) });
  }

  private objectParams(): ObjectParams {
    const s = this.settings;
    return {
      ...(s.sse ? { ServerSideEncryption: s.sse } : {}),
      ...(s.sseKmsKeyId ? { SSEKMSKeyId: s.sseKmsKeyId } : {}),
      ...(s.storageClass ? { StorageClass: s.storageClass as ObjectParams['StorageClass'] } : {}),
      ...(s.posix ? { Metadata: fsxMetadata(s.posix) } : {}),
    };
  }

  /** Fails early, with one clear error, when the bucket, credentials or endpoint are wrong. */
  async probe(): Promise<void> {
    await this.send('checking the bucket', () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.layoutPrefix(), MaxKeys: 1 })),
    );
  }

  async has(oids: readonly Oid[]): Promise<Set<Oid>> {
    const wanted = [...new Set(oids)].sort();
    const present = new Set<Oid>();
    if (wanted.length < HEAD_BELOW) {
      await forEachLimit(wanted, this.settings.jobs, async (oid) => {
        if (await this.exists(oid)) present.add(oid);
      });
      return present;
    }
    // one flat page first: a remote of up to 1,000 objects is answered by a single request
    const layout = this.layoutPrefix();
    const first = await this.send(`listing ${layout}`, () => listPage(this.client, { Bucket: this.settings.bucket, Prefix: layout, MaxKeys: LIST_PAGE }));
    const wantedSet = new Set(wanted);
    let lastOid = '';
    for (const o of first.objects) {
      const oid = oidOfTail(o.key.slice(layout.length));
      if (oid === undefined) continue;
      if (wantedSet.has(oid)) present.add(oid);
      if (oid > lastOid) lastOid = oid;
    }
    if (!first.isTruncated) return present;
    const byFan = new Map<string, Oid[]>();
    for (const oid of wanted) {
      if (oid <= lastOid) continue;
      const fan = fanOf(oid);
      const list = byFan.get(fan);
      if (list) list.push(oid);
      else byFan.set(fan, [oid]);
    }
    await forEachLimit([...byFan.values()], this.settings.jobs, (fanOids) => this.listFan(fanOids, present));
    return present;
  }

  /**
   * Lists one fan-out folder, but only the stretches that matter: each page starts just before the
   * next wanted object (StartAfter), so a sparse batch against a huge remote costs at most one
   * request per wanted object, and a dense one about one request per 1,000 objects.
   */
  private async listFan(fanOids: Oid[], present: Set<Oid>): Promise<void> {
    const fan = fanOf(fanOids[0]!);
    const prefix = this.fanPrefix(fan);
    const want = new Set(fanOids);
    let i = 0;
    while (i < fanOids.length) {
      const startAfter = prefix + predecessor(objectName(fanOids[i]!));
      const res = await this.send(`listing ${prefix}`, () => listPage(this.client, { Bucket: this.settings.bucket, Prefix: prefix, StartAfter: startAfter, MaxKeys: LIST_PAGE }));
      let last = '';
      for (const o of res.objects) {
        last = o.key;
        const oid = oidOfEntry(fan, o.key.slice(prefix.length));
        if (oid && want.has(oid)) present.add(oid);
      }
      if (!res.isTruncated || last === '') return;
      // where the listing got to, in id order (fan-out folder + name, junk keys included)
      const lastOid = fan + last.slice(prefix.length);
      // everything up to the last listed key is settled; continue from the first wanted object after it
      while (i < fanOids.length && fanOids[i]! <= lastOid) i++;
    }
  }

  private async exists(oid: Oid): Promise<boolean> {
    const key = this.keyOf(oid);
    try {
      await this.send(`checking ${key}`, () => this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: key })));
      return true;
    } catch (err) {
      if (err instanceof TdvcError && isNotFound(err.cause)) return false;
      throw err;
    }
  }

  async upload(oid: Oid, path: string, size: number, progress?: (bytes: number) => void): Promise<void> {
    const key = this.keyOf(oid);
    if (size >= this.settings.multipartThreshold) {
      await this.multipart.upload(oid, key, path, size, progress);
      return;
    }
    let body: Buffer | undefined;
    let streamSha256: string | undefined;
    if (size <= BUFFERED_PUT) {
      body = await readFile(path);
      if (body.length !== size) throw new TdvcError('ECHANGED', `${path} is ${body.length} bytes, expected ${size}`, { path });
    } else if (this.settings.requestChecksumCalculation === 'when_required') {
      // one extra read (page cache, ~2 GB/s) so the streamed body is signed and checked like a buffer
      streamSha256 = await sha256OfFile(path);
    }
    await this.send(`uploading ${key}`, () => {
      const put = new PutObjectCommand({
        Bucket: this.settings.bucket,
        Key: key,
        // a stream is made per attempt: a half-read one cannot be sent again
        Body: body ?? createReadStream(path, { highWaterMark: 1 << 20 }),
        ContentLength: size,
        ...this.objectParams(),
      });
      if (streamSha256) signBodyAs(put, streamSha256);
      return this.client.send(put);
    });
    progress?.(size);
  }

  /**
   * Streams the object into `sink`. A connection that breaks mid-body is resumed with a Range request
   * pinned to the first response's ETag, so bytes already handed to `sink` are never sent twice.
   * An object of at least `multipart_threshold` (size known from `sizeHint`) starts the same way;
   * once the stream shows it is held back by the network (download-pace.ts), the rest is fetched as
   * parallel ranges.
   */
  async download(oid: Oid, sink: (chunk: Uint8Array) => Promise<void>, progress?: (bytes: number) => void, sizeHint?: number): Promise<void> {
    const key = this.keyOf(oid);
    const partSize = sizeHint !== undefined && sizeHint >= this.settings.multipartThreshold ? partSizeFor(sizeHint, this.settings.multipartChunksize) : 0;
    const pace = new StreamPace();
    let offset = 0;
    let etag: string | undefined;
    let total: number | undefined;
    let splitAt: number | undefined;
    const guarded = guardSink(sink);
    // sockets deliver 16-64 KiB pieces; the sink (hash + write) is far cheaper per call on 1 MiB
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      await guarded(chunk);
      progress?.(n);
    };
    const shouldSplit = (): boolean => {
      if (partSize === 0) return false;
      const sample = { received: offset, remaining: sizeHint! - offset, waitingMs: pace.waitingMs, busyMs: pace.busyMs, partSize };
      return worthSplitting(sample) && this.splitWhen(sample);
    };
    for (let attempt = 1; splitAt === undefined; attempt++) {
      try {
        const res = await this.send(`downloading ${key}`, () =>
          this.client.send(
            new GetObjectCommand({
              Bucket: this.settings.bucket,
              Key: key,
              ...(offset > 0 ? { Range: `bytes=${offset}-`, ...(etag ? { IfMatch: etag } : {}) } : {}),
            }),
          ),
        );
        const body = res.Body as Readable | undefined;
        if (offset === 0) {
          etag = res.ETag;
          total = res.ContentLength;
          if (sizeHint !== undefined && total !== undefined && total !== sizeHint) {
            body?.destroy();
            throw wrongSize(key, total, sizeHint);
          }
        }
        if (body) {
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            pace.arrived();
            pending.push(chunk);
            pendingBytes += chunk.byteLength;
            offset += chunk.byteLength;
            if (pendingBytes >= SINK_CHUNK) {
              await flush();
              // leaving the loop destroys the body: its connection is not worth draining
              if (shouldSplit()) {
                splitAt = offset;
                break;
              }
            }
            pace.handled();
          }
        }
        await flush();
        if (splitAt !== undefined) break;
        if (total !== undefined && offset < total) throw Object.assign(new Error(`body ended after ${offset} of ${total} bytes`), { code: 'ECONNRESET' });
        return;
      } catch (err) {
        // the cache writer's own failures (disk full, ...) are not the network's
        if (err instanceof SinkError || err instanceof TdvcError) throw this.downloadError(err, oid, key);
        // failures while reading the body: what arrived is good and in order; continue from there
        await flush().catch((e: unknown) => {
          throw e instanceof SinkError ? e.cause : e;
        });
        if (retryKind(err) === 'no' || attempt >= this.retry.attempts) throw this.downloadError(err, oid, key);
        await bodyRetryPause(this.retry, attempt);
      }
    }
    if (process.env['TDVC_DEBUG']) {
      process.stderr.write(`tdvc: ${key}: network-bound after ${offset} bytes (waited ${Math.round(pace.waitingMs)} ms, busy ${Math.round(pace.busyMs)} ms): the rest as parallel ranges\n`);
    }
    await this.downloadRest(oid, key, sizeHint!, partSize, { offset: splitAt, etag }, sink, progress);
  }

  private notOnRemote(oid: Oid, key: string): TdvcError {
    return new TdvcError('ENOTONREMOTE', `object ${oid} is not on remote ${this.name} (${this.url}, key ${key})`, {
      path: key,
      hint: 'push it from a clone that has it, or check that the remote URL is right',
    });
  }

  /** The rest of a download as parallel ranged GETs (see ranged-download.ts), with the same error mapping as a single GET. */
  private async downloadRest(
    oid: Oid,
    key: string,
    size: number,
    partSize: number,
    from: RangedStart,
    sink: (chunk: Uint8Array) => Promise<void>,
    progress?: (bytes: number) => void,
  ): Promise<void> {
    const deps = { client: this.client, bucket: this.settings.bucket, partSize, jobs: this.settings.jobs, buffers: this.buffers, retry: this.retry, send: this.send.bind(this) };
    try {
      await downloadInParts(deps, key, size, from, guardSink(sink), progress);
    } catch (err) {
      throw this.downloadError(err, oid, key);
    }
  }

  /** What a download finally fails with: the sink's own error, ENOTONREMOTE, or the mapped S3 error. */
  private downloadError(err: unknown, oid: Oid, key: string): unknown {
    if (err instanceof SinkError) return err.cause;
    if (err instanceof TdvcError) return isNotFound(err.cause) ? this.notOnRemote(oid, key) : err;
    return this.error(err, `downloading ${key}`);
  }

  /** `s3://bucket/key`, or with `presignSeconds` an https URL anyone can GET until it expires. */
  async urlFor(oid: Oid, opts: { presignSeconds?: number } = {}): Promise<string> {
    const key = this.keyOf(oid);
    if (opts.presignSeconds === undefined) return `s3://${this.settings.bucket}/${key}`;
    if (opts.presignSeconds > 7 * 24 * 3600) {
      throw new TdvcError('EUSAGE', `presigned URLs last at most 7 days (604800 s), not ${opts.presignSeconds} s`, { hint: 'use a shorter --presign' });
    }
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.settings.bucket, Key: key }), { expiresIn: opts.presignSeconds });
  }

  /** Every object under the prefix's layout folder, page by page. */
  async *list(): AsyncIterable<{ oid: Oid; size: number; mtimeMs?: number }> {
    const layout = this.layoutPrefix();
    let token: string | undefined;
    do {
      const res = await this.send(`listing ${layout}`, () =>
        listPage(this.client, { Bucket: this.settings.bucket, Prefix: layout, MaxKeys: LIST_PAGE, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of res.objects) {
        const oid = oidOfTail(o.key.slice(layout.length));
        if (oid) yield { oid, size: o.size, ...(o.lastModified ? { mtimeMs: o.lastModified.getTime() } : {}) };
      }
      token = res.isTruncated ? res.nextToken : undefined;
    } while (token);
  }

  /**
   * Aborts multipart uploads under the layout folder started more than `staleUploadMs` ago (7 days,
   * as resumable uploads saved in a workspace): killed pushes from workspaces that are gone, whose
   * parts would otherwise be billed until a lifecycle rule removes them. Returns "key (upload id)".
   */
  async removeStaleTemps(): Promise<string[]> {
    const layout = this.layoutPrefix();
    const removed: string[] = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const res = await this.send(`listing unfinished uploads under ${layout}`, () =>
        this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.settings.bucket, Prefix: layout, ...(keyMarker ? { KeyMarker: keyMarker, UploadIdMarker: idMarker } : {}) }),
        ),
      );
      for (const u of res.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || Date.now() - u.Initiated.getTime() < this.staleUploadMs) continue;
        const { Key, UploadId } = u;
        await this.send(`aborting the abandoned upload of ${Key}`, () => this.client.send(new AbortMultipartUploadCommand({ Bucket: this.settings.bucket, Key, UploadId })));
        removed.push(`${Key} (upload ${UploadId})`);
      }
      keyMarker = res.IsTruncated ? res.NextKeyMarker : undefined;
      idMarker = res.NextUploadIdMarker;
    } while (keyMarker);
    return removed;
  }

  /**
   * One DeleteObject per object, concurrently: DeleteObjects needs a body checksum that several
   * S3-compatible stores reject.
   */
  async remove(oids: readonly Oid[]): Promise<void> {
    await forEachLimit([...oids], this.settings.jobs, async (oid) => {
      const key = this.keyOf(oid);
      await this.send(`deleting ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key })));
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/** SHA-256 of a file, hex. */
async function sha256OfFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Gives SigV4 the body's SHA-256, which it signs instead of UNSIGNED-PAYLOAD (it only hashes
 * in-memory bodies itself); the server then refuses a body that does not match.
 */
function signBodyAs(command: PutObjectCommand, sha256Hex: string): void {
  command.middlewareStack.add(
    (next) => async (args) => {
      const req = args.request as { headers?: Record<string, string> };
      if (req.headers) req.headers['x-amz-content-sha256'] = sha256Hex;
      return next(args);
    },
    { step: 'build', name: 'tdvcSignedStreamBody' },
  );
}

class SinkError extends Error {
  constructor(override readonly cause: unknown) {
    super('sink failed');
  }
}

/** The sink with its failures marked as its own (SinkError), so they are never retried as network errors. */
function guardSink(sink: (chunk: Uint8Array) => Promise<void>): (chunk: Uint8Array) => Promise<void> {
  return async (chunk) => {
    try {
      await sink(chunk);
    } catch (err) {
      throw new SinkError(err);
    }
  };
}

/** The largest fixed-length hex string below `hex`, so listing StartAfter it begins at `hex` itself. */
export function predecessor(hex: string): string {
  const digits = hex.split('');
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i] === '0') {
      digits[i] = 'f';
      continue;
    }
    digits[i] = (parseInt(digits[i]!, 16) - 1).toString(16);
    return digits.join('');
  }
  // "000…0": nothing lower with the same length; the empty suffix sorts before it
  return '';
}

export async function openS3Remote(rs: RemoteSettings, options: S3RemoteOptions = {}): Promise<S3Remote> {
  const settings = parseSettings(rs);
  const client = await createS3Client(settings);
  const remote = new S3Remote(settings, client, options);
  try {
    await remote.probe();
  } catch (err) {
    client.destroy();
    throw err;
  }
  return remote;
}



/**
 * The user metadata FSx for Lustre reads as an object's POSIX attributes when the file system is
 * linked to the bucket: a regular file (0100000) with this mode, owner and group.
 */
export function fsxMetadata(p: { uid: number; gid: number; mode: number }): Record<string, string> {
  return { 'file-permissions': `0${(0o100000 | p.mode).toString(8)}`, 'file-owner': String(p.uid), 'file-group': String(p.gid) };
}
