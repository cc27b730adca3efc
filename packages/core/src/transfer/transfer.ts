import type { Oid } from '../hash/oid.js';
import type { ObjectStore } from '../odb/store.js';
import { openObject } from '../odb/object-file.js';
import { forEachLimit } from '../util/fs.js';
import type { Remote } from './remote.js';
import { itemOids, planTransfer, type TransferItem, type TransferPlan } from './plan.js';
import { TRANSFERS_AT_ONCE } from '../util/concurrency.js';

export type { TransferItem, TransferPlan } from './plan.js';

export interface TransferFailure {
  oid: Oid;
  code: string;
  message: string;
}

export interface TransferResult {
  transferred: number;
  bytes: number;
  /** already where they had to go */
  skipped: number;
  failed: TransferFailure[];
}

export interface TransferOptions {
  jobs?: number;
  onProgress?: (p: { done: number; total: number; bytes: number; totalBytes: number }) => void;
}

export interface FetchOptions extends TransferOptions {
  /** called for each object this call downloaded and published (not one another process stored meanwhile) */
  onFetched?: (item: TransferItem) => void;
}

function failureOf(oid: Oid, err: unknown): TransferFailure {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  return { oid, code: typeof e?.code === 'string' ? e.code : typeof e?.name === 'string' ? e.name : 'ERROR', message: String(e?.message ?? err) };
}

/** What a push of `items` to `remote` would upload: what the remote lacks. */
export async function planPush(remote: Remote, items: readonly TransferItem[]): Promise<TransferPlan> {
  return planTransfer(items, await remote.has(itemOids(items)));
}

/** Plans and uploads: the objects the remote lacks. */
export async function pushObjects(odb: ObjectStore, remote: Remote, items: TransferItem[], opts: TransferOptions = {}): Promise<TransferResult> {
  return applyPush(odb, remote, await planPush(remote, items), opts);
}

/** Uploads a plan: files first, manifests last. Failures are collected, not thrown. */
export async function applyPush(odb: ObjectStore, remote: Remote, plan: TransferPlan, opts: TransferOptions = {}): Promise<TransferResult> {
  const todo = [...plan.files, ...plan.manifests];
  const result: TransferResult = { transferred: 0, bytes: 0, skipped: plan.present, failed: [] };
  const totalBytes = plan.bytes;
  let done = 0;
  // bytes of objects still in flight, as the remote reports them, so large files move the bar
  let moving = 0;
  const report = (): void => opts.onProgress?.({ done, total: todo.length, bytes: result.bytes + moving, totalBytes });
  const failedFiles = new Set<Oid>();
  const run = async (batch: TransferItem[]): Promise<void> => {
    await forEachLimit(batch, opts.jobs ?? TRANSFERS_AT_ONCE, async (it) => {
      try {
        let sent = 0;
        // only a regular file of the recorded size goes up: a link or FIFO planted in a shared
        // cache must not be read through (or hang the push)
        const { fh } = await openObject(it.oid, odb.pathOf(it.oid), it.isManifest ? undefined : it.size);
        await fh.close();
        try {
          await remote.upload(it.oid, odb.pathOf(it.oid), it.size, (b) => {
            sent += b;
            moving += b;
            report();
          });
        } finally {
          moving -= sent;
        }
        result.transferred++;
        result.bytes += it.size;
      } catch (err) {
        result.failed.push(failureOf(it.oid, err));
        failedFiles.add(it.oid);
      }
      done++;
      report();
    });
  };
  await run(plan.files);
  // a tree node goes up only once everything under it is there: a node on the remote means its
  // whole subtree is (a partial folder must never look complete), so level by level, leaves
  // first, and nothing above a failure
  const levels = [...new Set(plan.manifests.map((m) => m.level ?? 0))].sort((a, b) => a - b);
  for (const level of levels) {
    const batch = plan.manifests.filter((m) => (m.level ?? 0) === level);
    if (failedFiles.size > 0) {
      for (const m of batch) result.failed.push({ oid: m.oid, code: 'ESKIPPED', message: 'not uploaded because files of its folder failed' });
    } else {
      await run(batch);
    }
  }
  report();
  return result;
}

/**
 * Downloads a plan (manifests and files alike), verifying each hash before the object enters the
 * cache. Failures, a temp file that cannot be created included, are collected, not thrown.
 */
export async function applyFetch(odb: ObjectStore, remote: Remote, plan: TransferPlan, opts: FetchOptions = {}): Promise<TransferResult> {
  const todo = [...plan.manifests, ...plan.files];
  const result: TransferResult = { transferred: 0, bytes: 0, skipped: plan.present, failed: [] };
  const totalBytes = plan.bytes;
  let done = 0;
  let moving = 0;
  await forEachLimit(todo, opts.jobs ?? TRANSFERS_AT_ONCE, async (it) => {
    let writer: Awaited<ReturnType<ObjectStore['openWriter']>>;
    try {
      writer = await odb.openWriter(it.oid, `${remote.name}:${it.oid}`);
    } catch (err) {
      result.failed.push(failureOf(it.oid, err));
      done++;
      opts.onProgress?.({ done, total: todo.length, bytes: result.bytes, totalBytes });
      return;
    }
    try {
      try {
        // the writer hashes and writes each chunk before its promise settles, so the size hint is safe
        await remote.download(
          it.oid,
          async (chunk) => {
            await writer.write(chunk);
            moving += chunk.byteLength;
            opts.onProgress?.({ done, total: todo.length, bytes: result.bytes + moving, totalBytes });
          },
          undefined,
          it.size > 0 ? it.size : undefined,
        );
      } finally {
        moving -= writer.bytesWritten;
      }
      if (await writer.commit()) opts.onFetched?.(it);
      result.transferred++;
      result.bytes += writer.bytesWritten;
    } catch (err) {
      await writer.abort();
      result.failed.push(failureOf(it.oid, err));
    }
    done++;
    opts.onProgress?.({ done, total: todo.length, bytes: result.bytes, totalBytes });
  });
  return result;
}
