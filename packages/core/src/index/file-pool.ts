import type { Oid } from '../hash/oid.js';
import { selectBackend } from '../hash/blake3.js';
import type { ObjectStore } from '../odb/store.js';
import { addSmallFileSync, hashSmallFileSync } from './ingest.js';
import { defaultThreads, MIN_ITEMS_FOR_THREADS, WorkerPool } from '../util/worker-pool.js';

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

export interface SmallFileOptions {
  threads?: number;
  reflink?: boolean;
}

/**
 * Hashes small files, and stores them in `store` when given, with synchronous file calls: for
 * 100,000 small files the promise machinery of async calls costs more CPU than the system calls.
 * Once a run brings enough files it starts one worker thread per core, which then serve every
 * later run too (a streaming scan hands over one window of files after another), so reading,
 * hashing and writing use every core. Results come back in the order of the paths. `close()` ends
 * the threads.
 */
export class SmallFiles {
  private pool: WorkerPool<string, Row> | undefined;
  private readonly threads: number;

  constructor(
    private readonly store: ObjectStore | undefined,
    private readonly opts: SmallFileOptions = {},
  ) {
    this.threads = opts.threads ?? defaultThreads();
  }

  async process(paths: string[], onProgress?: (done: number) => void): Promise<SmallFileResult[]> {
    if (!this.pool && (paths.length < MIN_ITEMS_FOR_THREADS || this.threads <= 1)) {
      const out: SmallFileResult[] = new Array(paths.length);
      for (let i = 0; i < paths.length; i++) {
        out[i] = this.store ? addSmallFileSync(this.store, paths[i]!, { reflink: this.opts.reflink === true }) : { ...hashSmallFileSync(paths[i]!), cloned: false };
        if ((i & 1023) === 1023) onProgress?.(i + 1);
      }
      onProgress?.(paths.length);
      return out;
    }
    const store = this.store;
    this.pool ??= new WorkerPool<string, Row>(
      new URL('./file-worker.js', import.meta.url),
      { root: store?.root, shared: store?.shared ?? 'none', fsync: store?.fsync ?? false, backend: selectBackend(), reflink: this.opts.reflink === true },
      this.threads,
    );
    let done = 0;
    const rows = await this.pool.run(paths, {
      onRows: (batch) => {
        for (const r of batch) if (r[4]) store?.noteStored(r[0]);
        done += batch.length;
        onProgress?.(done);
      },
    });
    return rows.map(([oid, size, ino, mtimeMs, created, cloned]) => ({ oid, size, ino, mtimeMs, created, cloned }));
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}
