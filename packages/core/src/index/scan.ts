import { addFile, hashWorkspaceFile } from './ingest.js';
import type { Oid } from '../hash/oid.js';
import { TdvcError } from '../errors.js';
import { SMALL_FILE, type ObjectStore } from '../odb/store.js';
import { processSmallFiles } from './file-pool.js';
import { forEachLimit } from '../util/fs.js';
import { walkFiles, statPath, type WalkedFile } from '../util/walk.js';
import { StatIndex } from './stat-index.js';
import { LARGE_FILES_AT_ONCE } from '../util/concurrency.js';

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
  requirePresent?: Set<Oid>;
  /** the cache's object folder: links to objects there are read as those objects (see walkFiles) */
  objectsDir?: string;
  jobs?: number;
  onProgress?: (p: ScanProgress) => void;
}

/**
 * Computes the hash of every file at `abs`, reading only files the stat index cannot vouch for,
 * and records what it learns in the index (the caller saves it).
 */
export async function scanPath(abs: string, index: StatIndex, opts: ScanOptions = {}): Promise<ScanResult> {
  const st = statPath(abs, opts.objectsDir);
  if (!st) return { kind: 'missing' };
  if (st.isFile()) {
    const w: WalkedFile = { rel: '', abs, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, exec: (st.mode & 0o100) !== 0 };
    const { files, ...counts } = await hashAll([w], index, opts);
    return { kind: 'file', file: files[0]!, ...counts };
  }
  if (!st.isDirectory()) {
    throw new TdvcError('EBADFILE', `not a regular file or folder: ${abs}`, { path: abs });
  }
  const walked = walkFiles(abs, {
    onFile: (n) => opts.onProgress?.({ phase: 'listing', done: n, total: 0 }),
    ...(opts.objectsDir ? { objectsDir: opts.objectsDir } : {}),
  });
  const result = await hashAll(walked, index, opts);
  index.retainOnly(walked.map((w) => w.rel));
  return { kind: 'dir', ...result };
}

async function hashAll(walked: WalkedFile[], index: StatIndex, opts: ScanOptions): Promise<{ files: ScannedFile[] } & ScanCounts> {
  const out: ScannedFile[] = new Array(walked.length);
  const todo: number[] = [];
  for (let i = 0; i < walked.length; i++) {
    const w = walked[i]!;
    const oid = index.lookup(w.rel, w, i);
    if (oid !== undefined && (!opts.requirePresent || opts.requirePresent.has(oid))) {
      // the walked record becomes the scanned one: no second object per file (100,000 of them)
      const f = w as ScannedFile;
      f.oid = oid;
      out[i] = f;
    } else {
      todo.push(i);
    }
  }
  const total = todo.length;
  let stored = 0;
  let largeDone = 0;
  let smallDone = 0;
  const progress = (): void => opts.onProgress?.({ phase: 'hashing', done: smallDone + largeDone, total });
  progress();
  const record = (i: number, r: { oid: Oid; size: number; ino: number; mtimeMs: number; created?: boolean; cloned?: boolean }): void => {
    const w = walked[i]!;
    const file: ScannedFile = { rel: w.rel, abs: w.abs, oid: r.oid, size: r.size, exec: w.exec, ino: r.ino, mtimeMs: r.mtimeMs, fresh: true, cloned: r.cloned === true };
    out[i] = file;
    index.record(w.rel, file, file.oid);
    if (r.created) stored++;
  };
  // small files go through the synchronous worker pool; large ones are streamed, a few at a time
  const small = todo.filter((i) => walked[i]!.size <= SMALL_FILE);
  const large = todo.filter((i) => walked[i]!.size > SMALL_FILE);
  const smallRun = processSmallFiles(
    small.map((i) => walked[i]!.abs),
    opts.store,
    { reflink: opts.reflink === true, ...(opts.jobs ? { threads: opts.jobs } : {}), onProgress: (n) => ((smallDone = n), progress()) },
  );
  const largeRun = forEachLimit(large, LARGE_FILES_AT_ONCE, async (i) => {
    const w = walked[i]!;
    record(i, opts.store ? await addFile(opts.store, w.abs, { reflink: opts.reflink === true }) : await hashWorkspaceFile(w.abs));
    largeDone++;
    progress();
  });
  const [smallResults] = await Promise.all([smallRun, largeRun]);
  smallResults.forEach((r, k) => record(small[k]!, r));
  progress();
  return { files: out, hashed: total, stored };
}
