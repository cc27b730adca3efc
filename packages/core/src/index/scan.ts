import { addFile, hashWorkspaceFile } from './ingest.js';
import type { Oid } from '../hash/oid.js';
import { TdvcError } from '../errors.js';
import { SMALL_FILE, type ObjectStore } from '../odb/store.js';
import { SmallFiles } from './file-pool.js';
import { forEachLimit } from '../util/fs.js';
import { walkSorted, statPath, type IgnoreSetup, type WalkedFile } from '../util/walk.js';
import { WalkThread } from '../util/walk-thread.js';
import type { StatIndex } from './stat-index.js';
import { defaultThreads, LARGE_FILES_AT_ONCE } from '../util/concurrency.js';

export interface ScannedFile {
  /** read and hashed in this scan (the stat index did not vouch for it) */
  fresh?: boolean;
  /** its object was made as a copy-on-write clone of it: they already share their blocks */
  cloned?: boolean;
  rel: string;
  abs: string;
  oid: Oid;
  size: number;
  exec: boolean;
  ino: number;
  mtimeMs: number;
}

export interface ScanCounts {
  /** files read and hashed (the stat index could not vouch for them) */
  hashed: number;
  /** objects newly written to the store */
  stored: number;
  /** files found */
  found: number;
}

export type ScanResult =
  | { kind: 'missing' }
  | ({ kind: 'file'; file: ScannedFile } & ScanCounts)
  | ({ kind: 'dir'; files: ScannedFile[] } & ScanCounts);

export interface ScanProgress {
  phase: 'listing' | 'hashing';
  done: number;
  total: number;
}

export interface ScanOptions {
  /** store every file in this object store while hashing it (tdvc add) */
  store?: ObjectStore;
  /** clone large files into the store (copy-on-write) instead of copying them */
  reflink?: boolean;
  /** files whose stat data matches the index are only trusted when their object is in this set */
  requirePresent?: { has(oid: Oid): boolean };
  /** the cache's object folder: links to objects there are read as those objects (see walkSorted) */
  objectsDir?: string;
  /** .tdvcignore rules from the folders above the dataset (see walkSorted) */
  ignore?: IgnoreSetup;
  jobs?: number;
  onProgress?: (p: ScanProgress) => void;
}

/** Files handed to the hashers at a time: enough to keep every thread busy, few enough to stay small. */
export const SCAN_WINDOW = 8192;

/**
 * What a path holds now: nothing, one file, or a folder whose files come as a stream (`windows`),
 * in canonical order. The stat index learns what the scan finds as it goes (the caller saves it).
 */
export type ScanStream =
  | { kind: 'missing' }
  | ({ kind: 'file'; file: ScannedFile } & ScanCounts)
  | { kind: 'dir'; windows: AsyncGenerator<ScannedFile[]>; counts: ScanCounts };

/**
 * Computes the hash of every file at `abs`, reading only files the stat index cannot vouch for.
 * A folder is walked in canonical order and its files come out a window at a time, hashed by a
 * pool of threads while the walk goes on: memory holds a bounded number of windows, never the whole dataset.
 * `counts` are complete once `windows` is.
 */
export async function scanStream(abs: string, index: StatIndex, opts: ScanOptions = {}): Promise<ScanStream> {
  const st = statPath(abs, opts.objectsDir);
  if (!st) return { kind: 'missing' };
  if (st.isFile()) {
    const w: WalkedFile = { rel: '', abs, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, exec: (st.mode & 0o100) !== 0 };
    const hasher = new Hasher(index, opts);
    try {
      const [file] = await hasher.hash([w]);
      index.visit('', file!, file!.oid, file!.fresh === true);
      index.endVisits();
      return { kind: 'file', file: file!, ...hasher.counts };
    } finally {
      await hasher.close();
    }
  }
  if (!st.isDirectory()) {
    throw new TdvcError('EBADFILE', `not a regular file or folder: ${abs}`, { path: abs });
  }
  const hasher = new Hasher(index, opts);
  // the walk starts now (on its own thread for a large dataset), so that it runs ahead while the
  // caller gets ready (lists the cache) before reading the first window
  return { kind: 'dir', windows: scanWindows(index, hasher, opts, startWalk(abs, index, opts)), counts: hasher.counts };
}

/** The files of a folder in canonical order, a window at a time, walked here or on a thread of its own. */
interface Walk {
  take(): Promise<WalkedFile[]>;
  close(): Promise<void>;
}

function startWalk(abs: string, index: StatIndex, opts: ScanOptions): Walk {
  const walkOpts = {
    onFile: (n: number) => opts.onProgress?.({ phase: 'listing', done: n, total: 0 }),
    ...(opts.objectsDir ? { objectsDir: opts.objectsDir } : {}),
    ...(opts.ignore ? { ignore: opts.ignore } : {}),
  };
  // a dataset the index knows to be large is walked on a thread of its own (see WalkThread); a new
  // or small one here, where the walk is cheap next to hashing or to starting a thread
  const threads = opts.jobs ?? defaultThreads();
  if (threads > 1 && index.size >= WALK_THREAD_MIN_FILES) {
    const thread = new WalkThread(abs, { ...walkOpts, window: SCAN_WINDOW });
    return { take: async () => (await thread.next()) ?? [], close: () => thread.close() };
  }
  const walk = walkSorted(abs, walkOpts);
  return {
    take: async () => {
      const out: WalkedFile[] = [];
      while (out.length < SCAN_WINDOW) {
        const r = walk.next();
        if (r.done) break;
        out.push(r.value);
      }
      return out;
    },
    close: async () => void walk.return(undefined),
  };
}

async function* scanWindows(index: StatIndex, hasher: Hasher, opts: ScanOptions, walk: Walk): AsyncGenerator<ScannedFile[]> {
  try {
    // one window hashes while the next is walked
    let pending: Promise<ScannedFile[]> | undefined;
    for (;;) {
      const walked = await walk.take();
      const next = walked.length > 0 ? hasher.hash(walked) : undefined;
      // a failure of the window not yet awaited must not go unhandled while this one is
      next?.catch(() => {});
      if (pending) {
        const files = await pending;
        for (const f of files) index.visit(f.rel, f, f.oid, f.fresh === true);
        yield files;
      }
      if (!next) break;
      pending = next;
    }
    index.endVisits();
  } finally {
    await walk.close();
    await hasher.close();
  }
}

/** From how many files (as the stat index last counted them) a scan walks on a thread of its own. */
export const WALK_THREAD_MIN_FILES = 20_000;

/** Hashes walked files the index cannot vouch for: small ones on the thread pool, large ones streamed. */
class Hasher {
  readonly counts: ScanCounts = { hashed: 0, stored: 0, found: 0 };
  private readonly small: SmallFiles;

  constructor(
    private readonly index: StatIndex,
    private readonly opts: ScanOptions,
  ) {
    this.small = new SmallFiles(opts.store, { reflink: opts.reflink === true, ...(opts.jobs ? { threads: opts.jobs } : {}) });
  }

  async hash(walked: WalkedFile[]): Promise<ScannedFile[]> {
    const { index, opts, counts } = this;
    const out: ScannedFile[] = new Array(walked.length);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < walked.length; i++) {
      const w = walked[i]!;
      const oid = index.lookup(w.rel, w);
      if (oid !== undefined && (!opts.requirePresent || opts.requirePresent.has(oid))) {
        // the walked record becomes the scanned one: no second object per file
        const f = w as ScannedFile;
        f.oid = oid;
        out[i] = f;
      } else if (w.size <= SMALL_FILE) small.push(i);
      else large.push(i);
    }
    counts.found += walked.length;
    const total = small.length + large.length;
    if (total === 0) return out;
    const base = counts.hashed;
    let smallDone = 0;
    let largeDone = 0;
    const progress = (): void => opts.onProgress?.({ phase: 'hashing', done: base + smallDone + largeDone, total: base + total });
    const record = (i: number, r: { oid: Oid; size: number; ino: number; mtimeMs: number; created?: boolean; cloned?: boolean }): void => {
      const w = walked[i]!;
      out[i] = { rel: w.rel, abs: w.abs, oid: r.oid, size: r.size, exec: w.exec, ino: r.ino, mtimeMs: r.mtimeMs, fresh: true, cloned: r.cloned === true };
      if (r.created) counts.stored++;
    };
    const smallRun = this.small.process(
      small.map((i) => walked[i]!.abs),
      (n) => ((smallDone = n), progress()),
    );
    const largeRun = forEachLimit(large, LARGE_FILES_AT_ONCE, async (i) => {
      const w = walked[i]!;
      record(i, opts.store ? await addFile(opts.store, w.abs, { reflink: opts.reflink === true }) : await hashWorkspaceFile(w.abs));
      largeDone++;
      progress();
    });
    const [smallResults] = await Promise.all([smallRun, largeRun]);
    smallResults.forEach((r, k) => record(small[k]!, r));
    counts.hashed += total;
    return out;
  }

  close(): Promise<void> {
    return this.small.close();
  }
}

/**
 * `scanStream` with every file of a folder in one array, for callers that need them all at once
 * (checkout's plan, diff against the workspace).
 */
export async function scanPath(abs: string, index: StatIndex, opts: ScanOptions = {}): Promise<ScanResult> {
  return collectScan(await scanStream(abs, index, opts));
}

/** A scan's stream read to its end: a folder's files in one array. */
export async function collectScan(s: ScanStream): Promise<ScanResult> {
  if (s.kind !== 'dir') return s;
  const files: ScannedFile[] = [];
  for await (const w of s.windows) for (const f of w) files.push(f);
  return { kind: 'dir', files, ...s.counts };
}
