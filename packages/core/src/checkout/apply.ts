import { lstatSync, statSync } from 'node:fs';
import { chmod, mkdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathBelow } from '../objects/paths.js';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import type { StatIndex } from '../index/stat-index.js';
import type { ObjectStore } from '../odb/store.js';
import { forEachLimit } from '../util/fs.js';
import type { LinkType } from '../util/link-support.js';
import type { Linker } from './link.js';
import type { LinkItem } from './link-worker.js';
import { placeError, placeOrReject, REJECTED, type PlaceItem } from './place.js';
import { RejectedObjectError } from '../odb/object-file.js';
import { WorkerPool } from '../util/worker-pool.js';
import { CACHE_OPS_AT_ONCE, defaultThreads, MIN_ITEMS_FOR_THREADS } from '../util/concurrency.js';
import type { CheckoutAction, PlanCounts } from './plan.js';
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
  /** learns each file written or removed; spilled a window at a time (see StatIndex.spill) */
  index: StatIndex;
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

/** A plan to carry out: its changes in canonical path order, a window at a time, as often as asked. */
export interface PlanSource {
  counts: PlanCounts;
  /** `kinds`: only the changes of these kinds ('remove', 'folder', …) are needed */
  windows(kinds?: ReadonlyArray<CheckoutAction['kind']>): AsyncIterable<CheckoutAction[]>;
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
 * Carries out a checkout plan, read as a stream of windows three times: first every removal (a
 * folder emptied here may be where a file goes), then every folder the files need, then, window by
 * window, the files written in place (see placeFileSync) and the executable bits, the stat index
 * learning each window as it goes. Memory holds a window, whatever the size of the plan. The caller writes the plan as a checkout journal
 * first, so a re-run after a kill recognises half-written files as its own and finishes the job.
 */
export async function applyCheckout(src: PlanSource, opts: ApplyOptions): Promise<ApplyResult> {
  const { counts } = src;
  const used = new Set<LinkType>();
  const total = counts.write + counts.remove + counts.chmod;
  let done = 0;
  const tick = (): void => {
    done++;
    if ((done & 255) === 0 || done === total) opts.onProgress?.(done, total);
  };
  const abs = (rel: string): string => pathBelow(opts.destRoot, rel);
  const key = (rel: string): string => (opts.indexKey ? opts.indexKey(rel) : rel);

  if (counts.remove > 0) {
    for await (const window of src.windows(['remove'])) {
      const removes: string[] = [];
      for (const a of window) if (a.kind === 'remove') removes.push(a.path);
      if (removes.length === 0) continue;
      await forEachLimit(removes, CACHE_OPS_AT_ONCE, async (rel) => {
        try {
          await unlink(abs(rel));
        } catch (err) {
          if (!isErrno(err, 'ENOENT')) throw fromSystemError(err, abs(rel));
        }
        tick();
      });
      // a folder emptied over several windows goes with the last: every window tries the
      // folders of what it removed, deepest first
      await pruneEmptyDirs(removes.map(abs), opts.destRoot);
    }
  }

  if (counts.write > 0) {
    for await (const window of src.windows(['folder'])) {
      const folders: string[] = [];
      for (const a of window) if (a.kind === 'folder') folders.push(abs(a.path));
      await makeFolders(folders, opts.destRoot);
    }
  }

  const placer = new Placer(opts, used, tick, counts.write);
  let chmodded = 0;
  try {
    if (counts.write + counts.chmod + counts.remove > 0) {
      for await (const window of src.windows(['remove', 'write', 'chmod'])) {
        const writes: ManifestEntry[] = [];
        const replacing = new Set<string>();
        const chmods: ManifestEntry[] = [];
        for (const a of window) {
          if (a.kind === 'remove') opts.index.forget(key(a.path));
          else if (a.kind === 'chmod') chmods.push(a.entry);
          else if (a.kind === 'write') {
            writes.push(a.entry);
            if (a.replace) replacing.add(a.entry.path);
          }
        }
        if (writes.length > 0) await placer.place(writes, replacing);
        for (const e of chmods) {
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
        opts.index.spill();
      }
    }
  } finally {
    await placer.close();
  }
  return {
    written: counts.write - placer.rejected.length,
    removed: counts.remove,
    chmodded,
    handedOver: placer.handedOver,
    rejected: placer.rejected,
    linkTypes: [...used],
  };
}

/**
 * Writes the files of a plan window after window. The first files go one by one through the
 * Linker, which finds the link type that works here (falling back on "not supported" errors); the
 * rest use that type on worker threads that stay up for the whole plan (or on this thread for
 * small plans). A rejected object does not tell which type works: the next file is tried the same way.
 */
class Placer {
  readonly rejected: ManifestEntry[] = [];
  handedOver = 0;
  private probing = true;
  private probes = 0;
  private pool: WorkerPool<LinkItem, [number, number]> | undefined;
  private readonly threads: number;

  constructor(
    private readonly opts: ApplyOptions,
    private readonly used: Set<LinkType>,
    private readonly tick: () => void,
    writes: number,
  ) {
    const threads = opts.jobs ?? defaultThreads();
    this.threads = writes >= MIN_ITEMS_FOR_THREADS && threads > 1 ? threads : 1;
  }

  private abs(rel: string): string {
    return pathBelow(this.opts.destRoot, rel);
  }

  private key(rel: string): string {
    return this.opts.indexKey ? this.opts.indexKey(rel) : rel;
  }

  private placeItem(e: ManifestEntry, dest: string, replace: boolean): PlaceItem {
    return { oid: e.oid, objectPath: this.opts.odb.pathOf(e.oid), dest, exec: e.exec, replace, size: e.size, verify: this.opts.verify };
  }

  async place(window: ManifestEntry[], replacing: ReadonlySet<string>): Promise<void> {
    const { opts } = this;
    const writes: ManifestEntry[] = [];
    for (const e of window) {
      const how = opts.held?.handOver.has(e.oid) ? await handOverOne(e, this.abs(e.path), replacing.has(e.path), opts, opts.held.objects, (x, d, r) => this.placeItem(x, d, r)) : undefined;
      if (how === undefined) {
        writes.push(e);
        continue;
      }
      if (how === 'moved') this.handedOver++;
      else this.used.add(how);
      opts.index.record(this.key(e.path), statSync(this.abs(e.path)), e.oid);
      this.tick();
    }
    let first = 0;
    while (first < writes.length && this.probing) {
      const e = writes[first++]!;
      const dest = this.abs(e.path);
      const tmp = join(opts.scratchDir, `w${++this.probes}`);
      try {
        this.used.add(await opts.linker.link(this.placeItem(e, tmp, false)));
      } catch (err) {
        if (!(err instanceof RejectedObjectError)) throw err;
        this.rejected.push(e);
        this.tick();
        continue;
      }
      try {
        // over the old version, if any: its content is in the cache; never over a file the scan
        // did not report (one a .tdvcignore rule hides): rename would replace it silently
        if (!replacing.has(e.path)) refuseUnseen(dest);
        await rename(tmp, dest);
      } catch (err) {
        await rm(tmp, { force: true });
        throw placeError(err, dest);
      }
      opts.index.record(this.key(e.path), statSync(dest), e.oid);
      this.probing = false;
      this.tick();
    }
    const rest = first === 0 ? writes : writes.slice(first);
    if (rest.length === 0) return;
    const type = opts.linker.current;
    this.used.add(type);
    const item = (e: ManifestEntry): LinkItem => [e.oid, opts.odb.pathOf(e.oid), this.abs(e.path), e.exec, replacing.has(e.path), e.size];
    const record = (row: [ino: number, mtimeMs: number], e: ManifestEntry): void => {
      if (row[0] === REJECTED[0]) this.rejected.push(e);
      else opts.index.record(this.key(e.path), { ino: row[0], mtimeMs: row[1], size: e.size }, e.oid);
      this.tick();
    };
    if (this.threads > 1) {
      this.pool ??= new WorkerPool<LinkItem, [number, number]>(new URL('./link-worker.js', import.meta.url), { type, verify: opts.verify }, this.threads);
      await this.pool.run(rest.map(item), { keepRows: false, onRows: (rows, start) => rows.forEach((row, k) => record(row, rest[start + k]!)) });
      return;
    }
    for (const e of rest) {
      const [oid, objectPath, dest, exec, replace, size] = item(e);
      record(placeOrReject(type, { oid, objectPath, dest, exec, replace, size, verify: opts.verify }), e);
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }
}

/**
 * Puts an object `pull` has just downloaded at `dest` with a link where one works here; where only
 * a full copy would, moves the object itself out of the cache into place and records the file as
 * its holder. Undefined: neither was possible (cache and workspace on different file systems).
 */
async function handOverOne(
  e: ManifestEntry,
  dest: string,
  replace: boolean,
  opts: ApplyOptions,
  local: LocalObjects,
  placeItem: (e: ManifestEntry, dest: string, replace: boolean) => PlaceItem,
): Promise<LinkType | 'moved' | undefined> {
  // renames below land over whatever is at dest: only over what the plan saw
  if (!replace) refuseUnseen(dest);
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

/** Creates folders (and their parents), once each, shallowest first. */
async function makeFolders(folders: string[], root: string): Promise<void> {
  const dirs = [...new Set(folders)].sort((a, b) => a.length - b.length);
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

/**
 * Throws EBLOCKED when something is at `dest`, where the plan saw nothing: a file a .tdvcignore
 * rule hides from the scan (a checkpoint in progress) must survive a checkout that writes there by
 * rename. (Files created in place are created exclusively and fail the same way.)
 */
function refuseUnseen(dest: string): void {
  if (lstatSync(dest, { throwIfNoEntry: false }) === undefined) return;
  throw placeError(Object.assign(new Error(`EEXIST: ${dest}`), { code: 'EEXIST' }), dest);
}
