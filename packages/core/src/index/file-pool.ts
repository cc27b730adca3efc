import type { Oid } from '../hash/oid.js';
import { selectBackend } from '../hash/blake3.js';
import type { ObjectStore } from '../odb/store.js';
import { addSmallFileSync, hashSmallFileSync } from './ingest.js';
import { defaultThreads, MIN_ITEMS_FOR_THREADS, runInWorkers } from '../util/worker-pool.js';

export interface SmallFileResult {
  oid: Oid;
  size: number;
  ino: number;
  mtimeMs: number;
  created: boolean;
  /** stored as a copy-on-write clone of the file: the workspace already shares its blocks */
  cloned: boolean;
}

type Row = [oid: Oid, size: number, ino: number, mtimeMs: number, created: boolean, cloned: boolean];

/**
 * Hashes small files, and stores them in `store` when given, with synchronous file calls: for
 * 100,000 small files the promise machinery of async calls costs more CPU than the system calls.
 * With enough files it runs one worker thread per core, so reading, hashing and writing use every
 * core. Results come back in the order of `paths`.
 */
export async function processSmallFiles(
  paths: string[],
  store: ObjectStore | undefined,
  opts: { threads?: number; reflink?: boolean; onProgress?: (done: number) => void } = {},
): Promise<SmallFileResult[]> {
  const threads = opts.threads ?? defaultThreads();
  if (paths.length < MIN_ITEMS_FOR_THREADS || threads <= 1) {
    const out: SmallFileResult[] = new Array(paths.length);
    for (let i = 0; i < paths.length; i++) {
      out[i] = store ? addSmallFileSync(store, paths[i]!, { reflink: opts.reflink === true }) : { ...hashSmallFileSync(paths[i]!), cloned: false };
      if ((i & 1023) === 1023) opts.onProgress?.(i + 1);
    }
    opts.onProgress?.(paths.length);
    return out;
  }
  let done = 0;
  const rows = await runInWorkers<string, Row>(
    new URL('./file-worker.js', import.meta.url),
    { root: store?.root, shared: store?.shared ?? 'none', fsync: store?.fsync ?? false, backend: selectBackend(), reflink: opts.reflink === true },
    paths,
    {
      threads,
      onRows: (batch) => {
        for (const r of batch) if (r[4]) store?.noteStored(r[0]);
        done += batch.length;
        opts.onProgress?.(done);
      },
    },
  );
  return rows.map(([oid, size, ino, mtimeMs, created, cloned]) => ({ oid, size, ino, mtimeMs, created, cloned }));
}
