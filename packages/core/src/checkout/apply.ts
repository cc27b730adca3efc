import { statSync } from 'node:fs';
import { chmod, mkdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import type { StatIndex } from '../index/stat-index.js';
import type { ObjectStore } from '../odb/store.js';
import { forEachLimit } from '../util/fs.js';
import type { LinkType } from '../util/link-support.js';
import type { Linker } from './link.js';
import type { LinkItem } from './link-worker.js';
import { placeError, placeOrReject, REJECTED, type PlaceItem } from './place.js';
import { RejectedObjectError } from '../odb/object-file.js';
import { runInWorkers } from '../util/worker-pool.js';
import { CACHE_OPS_AT_ONCE, defaultThreads, MIN_ITEMS_FOR_THREADS } from '../util/concurrency.js';
import type { CheckoutPlan } from './plan.js';
import type { LocalObjects } from '../workspace/local-objects.js';
import type { Oid } from '../hash/oid.js';
import type { ManifestEntry } from '../objects/manifest.js';

export interface ApplyOptions {
  odb: ObjectStore;
  linker: Linker;
  /** private folder on the workspace filesystem for files being written */
  scratchDir: string;
  /** folder the plan's paths are relative to */
  destRoot: string;
  index: StatIndex;
  /** plan paths that exist now with other (cached) content, replaced in place */
  replacing: Set<string>;
  /** the stat index key of a plan path (a file dataset is indexed under '') */
  indexKey?: (path: string) => string;
  jobs?: number;
  /** hash each object as it is placed (cache.verify); type and size are always checked */
  verify: boolean;
  onProgress?: (done: number, total: number) => void;
  /** the project's local objects, for objects only a workspace file holds (see LocalObjects) */
  held?: {
    objects: LocalObjects;
    /** objects to move into place instead of copying where a copy is the only way (each written once in this plan) */
    handOver: ReadonlySet<Oid>;
  };
}

export interface ApplyResult {
  written: number;
  removed: number;
  chmodded: number;
  /** files moved out of the cache into place (see `handOver`) */
  handedOver: number;
  /** files not written because their cache entry failed its checks (see RejectedObjectError) */
  rejected: ManifestEntry[];
  linkTypes: LinkType[];
}

/**
 * Carries out a checkout plan: removals, folders, then files written in place (see placeFileSync).
 * The caller writes a checkout journal first, so a re-run after a kill recognises half-written
 * files as its own and finishes the job.
 */
export async function applyCheckout(plan: CheckoutPlan, opts: ApplyOptions): Promise<ApplyResult> {
  const used = new Set<LinkType>();
  const total = plan.write.length + plan.remove.length + plan.chmod.length;
  let done = 0;
  const tick = (): void => {
    done++;
    if ((done & 255) === 0 || done === total) opts.onProgress?.(done, total);
  };
  const abs = (rel: string): string => join(opts.destRoot, ...rel.split('/'));
  const key = (rel: string): string => (opts.indexKey ? opts.indexKey(rel) : rel);

  await forEachLimit(plan.remove, CACHE_OPS_AT_ONCE, async (rel) => {
    opts.index.forget(key(rel));
    try {
      await unlink(abs(rel));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw fromSystemError(err, abs(rel));
    }
    tick();
  });
  await pruneEmptyDirs(plan.remove.map(abs), opts.destRoot);

  await makeParents(plan.write.map((e) => abs(e.path)), opts.destRoot);
  const placeItem = (e: ManifestEntry, dest: string, replace: boolean): PlaceItem => ({
    oid: e.oid,
    objectPath: opts.odb.pathOf(e.oid),
    dest,
    exec: e.exec,
    replace,
    size: e.size,
    verify: opts.verify,
  });
  const rejected: ManifestEntry[] = [];
  let handedOver = 0;
  const writes: ManifestEntry[] = [];
  for (const e of plan.write) {
    const how = opts.held?.handOver.has(e.oid) ? await handOverOne(e, abs(e.path), opts, opts.held.objects, placeItem) : undefined;
    if (how === undefined) {
      writes.push(e);
      continue;
    }
    if (how === 'moved') handedOver++;
    else used.add(how);
    opts.index.record(key(e.path), statSync(abs(e.path)), e.oid);
    tick();
  }
  let first = 0;
  // the first files go one by one through the Linker, which finds the link type that works here
  // (falling back on "not supported" errors); the rest use that type on worker threads
  // (a rejected object does not tell which type works: the next file is tried the same way)
  let probing = true;
  while (first < writes.length && probing) {
    const e = writes[first++]!;
    const dest = abs(e.path);
    const tmp = join(opts.scratchDir, `w${first}`);
    try {
      used.add(await opts.linker.link(placeItem(e, tmp, false)));
    } catch (err) {
      if (!(err instanceof RejectedObjectError)) throw err;
      rejected.push(e);
      tick();
      continue;
    }
    try {
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw placeError(err, dest);
    }
    opts.index.record(key(e.path), statSync(dest), e.oid);
    probing = false;
    tick();
  }
  const rest = writes.slice(first);
  const type = opts.linker.current;
  if (rest.length > 0) used.add(type);
  // items are built a batch at a time: 100,000 [object path, destination] pairs held at once cost
  // tens of megabytes
  const item = (k: number): LinkItem => {
    const e = rest[k]!;
    return [e.oid, opts.odb.pathOf(e.oid), abs(e.path), e.exec, opts.replacing.has(e.path), e.size];
  };
  const record = (row: [ino: number, mtimeMs: number], k: number): void => {
    const e = rest[k]!;
    if (row[0] === REJECTED[0]) rejected.push(e);
    else opts.index.record(key(e.path), { ino: row[0], mtimeMs: row[1], size: e.size }, e.oid);
  };
  const threads = opts.jobs ?? defaultThreads();
  if (rest.length >= MIN_ITEMS_FOR_THREADS && threads > 1) {
    const lazy = { length: rest.length, slice: (a: number, b: number) => Array.from({ length: b - a }, (_, k) => item(a + k)) };
    await runInWorkers<LinkItem, [number, number]>(new URL('./link-worker.js', import.meta.url), { type, verify: opts.verify }, lazy, {
      threads,
      keepRows: false,
      onRows: (rows, start) => rows.forEach((row, k) => (record(row, start + k), tick())),
    });
  } else {
    for (let k = 0; k < rest.length; k++) {
      const [oid, objectPath, dest, exec, replace, size] = item(k);
      record(placeOrReject(type, { oid, objectPath, dest, exec, replace, size, verify: opts.verify }), k);
      tick();
    }
  }

  let chmodded = 0;
  for (const e of plan.chmod) {
    // links share the read-only cache object; only real copies carry their own mode
    const t = opts.linker.current;
    if (t === 'copy' || t === 'reflink') {
      await chmod(abs(e.path), e.exec ? 0o755 : 0o644);
      chmodded++;
      // a chmod changes the ctime: a held file stays the object's holder
      if (opts.held) await opts.held.objects.touchedHeldFile(e.oid, abs(e.path));
    }
    tick();
  }
  return { written: plan.write.length - rejected.length, removed: plan.remove.length, chmodded, handedOver, rejected, linkTypes: [...used] };
}

/**
 * Puts an object `pull` has just downloaded at `dest` with a link where one works here; where only
 * a full copy would, moves the object itself out of the cache into place and records the file as
 * its holder. Undefined: neither was possible (cache and workspace on different file systems).
 */
async function handOverOne(
  e: ManifestEntry,
  dest: string,
  opts: ApplyOptions,
  local: LocalObjects,
  placeItem: (e: ManifestEntry, dest: string, replace: boolean) => PlaceItem,
): Promise<LinkType | 'moved' | undefined> {
  const tmp = join(opts.scratchDir, `h-${e.oid}`);
  const linked = await opts.linker.linkUnlessCopy(placeItem(e, tmp, false));
  if (linked !== undefined) {
    try {
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw placeError(err, dest);
    }
    return linked;
  }
  let moved: boolean;
  try {
    // over the old version, if any: its content is in the cache (or was put back there)
    moved = await local.handOver(e.oid, dest, e.exec ? 0o755 : 0o644);
  } catch (err) {
    throw placeError(err, dest);
  }
  return moved ? 'moved' : undefined;
}

async function pruneEmptyDirs(removed: string[], root: string): Promise<void> {
  const dirs = new Set<string>();
  for (const f of removed) {
    for (let d = dirname(f); d.length > root.length && d.startsWith(root); d = dirname(d)) dirs.add(d);
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      await rmdir(d);
    } catch (err) {
      if (!isErrno(err, 'ENOTEMPTY', 'EEXIST', 'ENOENT', 'ENOTDIR')) throw fromSystemError(err, d);
    }
  }
}

/** Creates every folder the written files need, once each, shallowest first. */
async function makeParents(dests: string[], root: string): Promise<void> {
  const dirs = [...new Set(dests.map((d) => dirname(d)))].sort((a, b) => a.length - b.length);
  const made = new Set<string>();
  for (const dir of dirs) {
    if (made.has(dir)) continue;
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      if (!isErrno(err, 'EEXIST', 'ENOTDIR')) throw fromSystemError(err, dir);
      throw new TdvcError('EBLOCKED', `cannot create folder ${dir}: a file is in the way`, {
        path: dir,
        hint: `the file is not part of the dataset under ${root}; move it away or use --force`,
      });
    }
    made.add(dir);
  }
}
