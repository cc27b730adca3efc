import { open } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListPartsCommand,
  UploadPartCommand,
  type CompletedPart,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { forEachLimit, TdvcError, type Oid } from '@tdvc/core';
import { factsOf } from './errors.js';
import type { BufferPool } from './buffer-pool.js';
import { sameUpload, type MultipartState, type MultipartStateStore, type PartRecord, type UploadIdentity } from './multipart-state.js';
import { partLength, partSizeFor, type S3Settings } from './settings.js';

/** What every object written gets: encryption, storage class, user metadata. */
export type ObjectParams = Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId' | 'StorageClass' | 'Metadata'>;

/** Unfinished uploads older than this are aborted instead of resumed: their parts cost storage. */
export const MAX_UPLOAD_AGE_MS = 7 * 24 * 3600 * 1000;

export interface MultipartDeps {
  client: S3Client;
  settings: S3Settings;
  /** where parts are read into: bounds the memory of all parts in flight */
  buffers: BufferPool;
  store: MultipartStateStore;
  /** runs one S3 request with the remote's concurrency limit and retries, mapping final errors */
  send: <T>(doing: string, fn: () => Promise<T>) => Promise<T>;
  /** extra headers every new object gets (SSE, storage class) */
  objectParams: () => ObjectParams;
}

/**
 * Multipart upload that survives a killed process: the upload id is saved before the first part
 * and every finished part after it lands, and a new run asks the server (ListParts) which parts it
 * really has. lib-storage's `Upload` cannot continue an existing upload id, hence this.
 */
export class MultipartUploader {
  private sweep: Promise<void> | undefined;

  constructor(private readonly d: MultipartDeps) {}

  private identity(key: string, size: number): UploadIdentity {
    const s = this.d.settings;
    return {
      bucket: s.bucket,
      key,
      size,
      partSize: partSizeFor(size, s.multipartChunksize),
      checksum: s.requestChecksumCalculation === 'when_supported' ? 'CRC32' : 'SIGNED',
      sse: s.sse ?? '',
      sseKmsKeyId: s.sseKmsKeyId ?? '',
      storageClass: s.storageClass ?? '',
    };
  }

  async upload(oid: Oid, key: string, path: string, size: number, progress?: (bytes: number) => void): Promise<void> {
    // every upload waits for the sweep, so none resumes a state file the sweep is about to abort
    await (this.sweep ??= this.abortStale());
    const want = this.identity(key, size);
    const { state, done } = await this.resumeOrCreate(oid, want);
    let sent = 0;
    for (const p of done.values()) sent += p.size;
    if (sent > 0) progress?.(sent);

    const count = Math.max(1, Math.ceil(size / want.partSize));
    const todo: number[] = [];
    for (let n = 1; n <= count; n++) if (!done.has(n)) todo.push(n);
    await forEachLimit(todo, this.d.settings.jobs, async (n) => {
      const rec = await this.d.buffers.with(partLength(state.size, state.partSize, n), (buf) => this.uploadPart(state, path, n, buf));
      done.set(n, rec);
      state.parts[String(n)] = rec;
      await this.d.store.save(oid, state);
      progress?.(rec.size);
    });
    await this.complete(oid, state, done, count);
  }

  private async resumeOrCreate(oid: Oid, want: UploadIdentity): Promise<{ state: MultipartState; done: Map<number, PartRecord> }> {
    const old = await this.d.store.load(oid);
    if (old) {
      if (!sameUpload(old, want) || Date.now() - old.createdAt > MAX_UPLOAD_AGE_MS) {
        await this.abort(oid, old);
      } else {
        const done = await this.listParts(old, want);
        if (done) return { state: old, done };
        await this.d.store.remove(oid);
      }
    }
    const s = this.d.settings;
    const res = await this.d.send(`starting the multipart upload of ${want.key}`, () =>
      this.d.client.send(
        new CreateMultipartUploadCommand({
          Bucket: s.bucket,
          Key: want.key,
          ...this.d.objectParams(),
          ...(want.checksum === 'CRC32' ? { ChecksumAlgorithm: 'CRC32' } : {}),
        }),
      ),
    );
    if (!res.UploadId) throw new TdvcError('ES3', `remote ${s.name}: the server returned no upload id for ${want.key}`);
    const state: MultipartState = { version: 1, ...want, uploadId: res.UploadId, endpoint: s.endpointUrl ?? '', createdAt: Date.now(), parts: {} };
    await this.d.store.save(oid, state);
    return { state, done: new Map() };
  }

  /** The parts the server holds for the saved upload, or undefined when the upload is gone. */
  private async listParts(state: MultipartState, want: UploadIdentity): Promise<Map<number, PartRecord> | undefined> {
    const done = new Map<number, PartRecord>();
    let marker: string | undefined;
    try {
      for (;;) {
        const res = await this.d.send(`listing the parts of ${state.key}`, () =>
          this.d.client.send(new ListPartsCommand({ Bucket: state.bucket, Key: state.key, UploadId: state.uploadId, ...(marker ? { PartNumberMarker: marker } : {}) })),
        );
        for (const p of res.Parts ?? []) {
          const n = p.PartNumber ?? 0;
          const expected = partLength(want.size, want.partSize, n);
          // a part of the wrong size cannot be ours (or was cut short): it is simply uploaded again
          if (n >= 1 && p.ETag && p.Size === expected) done.set(n, { etag: p.ETag, size: expected, ...(p.ChecksumCRC32 ? { crc32: p.ChecksumCRC32 } : {}) });
        }
        if (!res.IsTruncated || !res.NextPartNumberMarker) break;
        marker = res.NextPartNumberMarker;
      }
    } catch (err) {
      if (factsOf(err).name === 'NoSuchUpload' || factsOf(err).status === 404) return undefined;
      throw err;
    }
    return done;
  }

  /** Sends part `n`, read into `body` (whose length is the part's). */
  private async uploadPart(state: MultipartState, path: string, n: number, body: Buffer): Promise<PartRecord> {
    const offset = (n - 1) * state.partSize;
    const length = body.byteLength;
    await readRange(path, offset, body);
    const res = await this.d.send(`uploading part ${n} of ${state.key}`, () =>
      this.d.client.send(
        new UploadPartCommand({
          Bucket: state.bucket,
          Key: state.key,
          UploadId: state.uploadId,
          PartNumber: n,
          Body: body,
          ContentLength: length,
          ...(state.checksum === 'CRC32' ? { ChecksumAlgorithm: 'CRC32' } : {}),
        }),
      ),
    );
    if (!res.ETag) throw new TdvcError('ES3', `remote ${this.d.settings.name}: no ETag for part ${n} of ${state.key}`);
    return { etag: res.ETag, size: length, ...(res.ChecksumCRC32 ? { crc32: res.ChecksumCRC32 } : {}) };
  }

  private async complete(oid: Oid, state: MultipartState, done: Map<number, PartRecord>, count: number): Promise<void> {
    const parts: CompletedPart[] = [];
    for (let n = 1; n <= count; n++) {
      const p = done.get(n)!;
      parts.push({ PartNumber: n, ETag: p.etag, ...(p.crc32 ? { ChecksumCRC32: p.crc32 } : {}) });
    }
    try {
      // the response ETag is not used: RGW returns an empty one
      await this.d.send(`completing the upload of ${state.key}`, () =>
        this.d.client.send(new CompleteMultipartUploadCommand({ Bucket: state.bucket, Key: state.key, UploadId: state.uploadId, MultipartUpload: { Parts: parts } })),
      );
    } catch (err) {
      // a retried Complete whose first attempt succeeded reports NoSuchUpload: the object decides
      if (factsOf(err).name !== 'NoSuchUpload' || !(await this.objectHasSize(state))) throw err;
    }
    if (!(await this.objectHasSize(state))) {
      throw new TdvcError('ES3', `remote ${this.d.settings.name}: after completing ${state.key} the object is missing or not ${state.size} bytes`, {
        hint: 'run the push again; if it keeps happening the server mishandles multipart uploads (try a larger multipart_threshold)',
      });
    }
    await this.d.store.remove(oid);
  }

  private async objectHasSize(state: MultipartState): Promise<boolean> {
    try {
      const head = await this.d.send(`checking ${state.key}`, () => this.d.client.send(new HeadObjectCommand({ Bucket: state.bucket, Key: state.key })));
      return head.ContentLength === state.size;
    } catch (err) {
      if (factsOf(err).status === 404) return false;
      throw err;
    }
  }

  /**
   * Aborts the saved upload and forgets it. Best effort: when the server cannot be told (gone,
   * denied, unreachable), the parts are left to the bucket's AbortIncompleteMultipartUpload rule.
   */
  async abort(oid: Oid, state: MultipartState): Promise<void> {
    await this.d
      .send(`aborting the old upload of ${state.key}`, () =>
        this.d.client.send(new AbortMultipartUploadCommand({ Bucket: state.bucket, Key: state.key, UploadId: state.uploadId })),
      )
      .catch(() => {});
    await this.d.store.remove(oid);
  }

  /** Uploads abandoned for good (older than MAX_UPLOAD_AGE_MS, or for another bucket) are aborted once per run. */
  private async abortStale(): Promise<void> {
    for (const { oid, state } of await this.d.store.list()) {
      const tooOld = Date.now() - state.createdAt > MAX_UPLOAD_AGE_MS;
      const elsewhere = state.bucket !== this.d.settings.bucket || state.endpoint !== (this.d.settings.endpointUrl ?? '');
      if (elsewhere) await this.d.store.remove(oid);
      else if (tooOld) await this.abort(oid, state);
    }
  }
}

async function readRange(path: string, offset: number, buf: Buffer): Promise<void> {
  const length = buf.byteLength;
  const fh = await open(path, 'r');
  try {
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) throw new TdvcError('ECHANGED', `${path} is shorter than expected (${offset + got} of ${offset + length} bytes)`, { path });
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
}
