import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { remoteObjectKey, TdvcError, type Oid, type Remote, type RemoteSettings } from '@tdvc/core';
import { createS3Client } from './client.js';
import { isNotFound, retryKind, toTdvcError } from './errors.js';
import { Limiter, mapLimit } from './limit.js';
import { MultipartStateStore } from './multipart-state.js';
import { MultipartUploader } from './multipart.js';
import { withRetry, type RetryPolicy, DEFAULT_RETRY } from './retry.js';
import { parseSettings, type S3Settings } from './settings.js';

/**
 * Bodies up to this size are sent from memory: replayable, and signed with their SHA-256, which the
 * server checks (XAmzContentSHA256Mismatch), so damage in transit is caught even on plain HTTP.
 * Larger ones stream from the file, unsigned (UNSIGNED-PAYLOAD) unless flexible checksums are on.
 */
const BUFFERED_PUT = 8 * 1024 * 1024;
/** Below this many objects, HeadObject each; above, list the fan-out folders. */
const HEAD_BELOW = 16;
const LIST_PAGE = 1000;
const SINK_CHUNK = 1 << 20;

export interface S3RemoteOptions {
  retry?: RetryPolicy;
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
    this.multipart = new MultipartUploader({
      client,
      settings,
      store: new MultipartStateStore(settings.stateDir),
      send: (doing, fn) => this.send(doing, fn),
      objectParams: () => this.objectParams(),
    });
  }

  keyOf(oid: Oid): string {
    return this.settings.prefix ? `${this.settings.prefix}/${remoteObjectKey(oid)}` : remoteObjectKey(oid);
  }

  private fanPrefix(fan: string): string {
    return this.keyOf(fan.padEnd(64, '0')).slice(0, -62);
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

  private objectParams(): Record<string, string> {
    const s = this.settings;
    return {
      ...(s.sse ? { ServerSideEncryption: s.sse } : {}),
      ...(s.sseKmsKeyId ? { SSEKMSKeyId: s.sseKmsKeyId } : {}),
      ...(s.storageClass ? { StorageClass: s.storageClass } : {}),
    };
  }

  /** Fails early, with one clear error, when the bucket, credentials or endpoint are wrong. */
  async probe(): Promise<void> {
    await this.send('checking the bucket', () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: this.fanPrefix('00').slice(0, -3), MaxKeys: 1 })),
    );
  }

  async has(oids: readonly Oid[]): Promise<Set<Oid>> {
    const wanted = [...new Set(oids)].sort();
    const present = new Set<Oid>();
    if (wanted.length < HEAD_BELOW) {
      await mapLimit(wanted, this.settings.jobs, async (oid) => {
        if (await this.exists(oid)) present.add(oid);
      });
      return present;
    }
    // one flat page first: a remote of up to 1,000 objects is answered by a single request
    const layout = this.fanPrefix('00').slice(0, -3);
    const first = await this.send(`listing ${layout}`, () =>
      this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: layout, MaxKeys: LIST_PAGE })),
    );
    const wantedSet = new Set(wanted);
    let lastOid = '';
    for (const o of first.Contents ?? []) {
      const oid = o.Key ? o.Key.slice(layout.length).replace('/', '') : '';
      if (wantedSet.has(oid)) present.add(oid);
      if (oid > lastOid) lastOid = oid;
    }
    if (!first.IsTruncated) return present;
    const byFan = new Map<string, Oid[]>();
    for (const oid of wanted) {
      if (oid <= lastOid) continue;
      const fan = oid.slice(0, 2);
      const list = byFan.get(fan);
      if (list) list.push(oid);
      else byFan.set(fan, [oid]);
    }
    await mapLimit([...byFan.values()], this.settings.jobs, (fanOids) => this.listFan(fanOids, present));
    return present;
  }

  /**
   * Lists one fan-out folder, but only the stretches that matter: each page starts just before the
   * next wanted object (StartAfter), so a sparse batch against a huge remote costs at most one
   * request per wanted object, and a dense one about one request per 1,000 objects.
   */
  private async listFan(fanOids: Oid[], present: Set<Oid>): Promise<void> {
    const prefix = this.fanPrefix(fanOids[0]!.slice(0, 2));
    const fan = fanOids[0]!.slice(0, 2);
    const want = new Set(fanOids);
    let i = 0;
    while (i < fanOids.length) {
      const startAfter = prefix + predecessor(fanOids[i]!.slice(2));
      const res = await this.send(`listing ${prefix}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, StartAfter: startAfter, MaxKeys: LIST_PAGE })),
      );
      let last = '';
      for (const o of res.Contents ?? []) {
        if (!o.Key) continue;
        last = o.Key;
        const oid = fan + o.Key.slice(prefix.length);
        if (want.has(oid)) present.add(oid);
      }
      if (!res.IsTruncated || last === '') return;
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
    if (size <= BUFFERED_PUT) {
      body = await readFile(path);
      if (body.length !== size) throw new TdvcError('ECHANGED', `${path} is ${body.length} bytes, expected ${size}`, { path });
    }
    await this.send(`uploading ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.settings.bucket,
          Key: key,
          // a stream is made per attempt: a half-read one cannot be sent again
          Body: body ?? createReadStream(path, { highWaterMark: 1 << 20 }),
          ContentLength: size,
          ...this.objectParams(),
        }),
      ),
    );
    progress?.(size);
  }

  /**
   * Streams the object into `sink`. A connection that breaks mid-body is resumed with a Range request
   * pinned to the first response's ETag, so bytes already handed to `sink` are never sent twice.
   */
  async download(oid: Oid, sink: (chunk: Uint8Array) => Promise<void>, progress?: (bytes: number) => void): Promise<void> {
    const key = this.keyOf(oid);
    let offset = 0;
    let etag: string | undefined;
    let total: number | undefined;
    // sockets deliver 16-64 KiB pieces; the sink (hash + write) is far cheaper per call on 1 MiB
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return;
      const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const n = pendingBytes;
      pending = [];
      pendingBytes = 0;
      try {
        await sink(chunk);
      } catch (err) {
        throw new SinkError(err);
      }
      progress?.(n);
    };
    for (let attempt = 1; ; attempt++) {
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
        if (offset === 0) {
          etag = res.ETag;
          total = res.ContentLength;
        }
        const body = res.Body as Readable | undefined;
        if (body) {
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            pending.push(chunk);
            pendingBytes += chunk.byteLength;
            offset += chunk.byteLength;
            if (pendingBytes >= SINK_CHUNK) await flush();
          }
        }
        await flush();
        if (total !== undefined && offset < total) throw Object.assign(new Error(`body ended after ${offset} of ${total} bytes`), { code: 'ECONNRESET' });
        return;
      } catch (err) {
        // the cache writer's own failures (disk full, ...) are not the network's
        if (err instanceof SinkError) throw err.cause;
        if (err instanceof TdvcError) {
          if (isNotFound(err.cause)) {
            throw new TdvcError('ENOTONREMOTE', `object ${oid} is not on remote ${this.name} (${this.url}, key ${key})`, {
              path: key,
              hint: 'push it from a clone that has it, or check that the remote URL is right',
            });
          }
          throw err;
        }
        // failures while reading the body: what arrived is good and in order; continue from there
        await flush().catch((e: unknown) => {
          throw e instanceof SinkError ? e.cause : e;
        });
        if (retryKind(err) === 'no' || attempt >= this.retry.attempts) throw this.error(err, `downloading ${key}`);
        await new Promise((r) => setTimeout(r, Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (attempt - 1))));
      }
    }
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
    const layout = this.fanPrefix('00').slice(0, -3);
    let token: string | undefined;
    do {
      const res = await this.send(`listing ${layout}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: layout, MaxKeys: LIST_PAGE, ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of res.Contents ?? []) {
        const oid = o.Key ? o.Key.slice(layout.length).replace('/', '') : '';
        if (/^[0-9a-f]{64}$/.test(oid)) yield { oid, size: o.Size ?? 0, ...(o.LastModified ? { mtimeMs: o.LastModified.getTime() } : {}) };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * One DeleteObject per object, concurrently: DeleteObjects needs a body checksum that several
   * S3-compatible stores reject.
   */
  async remove(oids: readonly Oid[]): Promise<void> {
    await mapLimit([...oids], this.settings.jobs, async (oid) => {
      const key = this.keyOf(oid);
      await this.send(`deleting ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key })));
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

class SinkError extends Error {
  constructor(override readonly cause: unknown) {
    super('sink failed');
  }
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

