import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { selectBackend } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { hashSmallFileSync, type ObjectStore } from '../odb/store.js';
import { deserializeError, type SerializedError } from './worker-errors.js';

export interface SmallFileResult {
  oid: Oid;
  size: number;
  ino: number;
  mtimeMs: number;
  created: boolean;
}

type Row = [oid: Oid, size: number, ino: number, mtimeMs: number, created: boolean];

const BATCH = 256;
/** Below this many files, starting threads costs more than it saves. */
const MIN_FILES_FOR_THREADS = 2000;

/**
 * Hashes small files, and stores them in `store` when given, with synchronous file calls: for
 * 100,000 small files the promise machinery of async calls costs more CPU than the system calls.
 * With enough files it runs one worker thread per core, so reading, hashing and writing use every
 * core. Results come back in the order of `paths`; the first failure stops the pool and is thrown.
 */
export async function processSmallFiles(
  paths: string[],
  store: ObjectStore | undefined,
  opts: { threads?: number; onProgress?: (done: number) => void } = {},
): Promise<SmallFileResult[]> {
  const out: SmallFileResult[] = new Array(paths.length);
  const threads = Math.min(opts.threads ?? availableParallelism(), 8);
  if (paths.length < MIN_FILES_FOR_THREADS || threads <= 1) {
    for (let i = 0; i < paths.length; i++) {
      out[i] = store ? store.putSmallFileSync(paths[i]!) : hashSmallFileSync(paths[i]!);
      if ((i & 1023) === 1023) opts.onProgress?.(i + 1);
    }
    opts.onProgress?.(paths.length);
    return out;
  }
  const workerData = { root: store?.root, shared: store?.shared ?? 'none', fsync: store?.fsync ?? false, backend: selectBackend() };
  const workers: Worker[] = [];
  let next = 0;
  let done = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let busy = 0;
      const fail = (err: Error): void => {
        if (!settled) (settled = true), reject(err);
      };
      const feed = (w: Worker, starts: number[]): void => {
        if (settled) return;
        if (next >= paths.length) {
          if (busy === 0) (settled = true), resolve();
          return;
        }
        const start = next;
        next = Math.min(paths.length, next + BATCH);
        starts.push(start);
        busy++;
        w.postMessage(paths.slice(start, next));
      };
      for (let t = 0; t < threads; t++) {
        const w = new Worker(new URL('./file-worker.js', import.meta.url), { workerData });
        const starts: number[] = [];
        workers.push(w);
        w.on('error', fail);
        w.on('message', (msg: { results?: Row[]; error?: SerializedError }) => {
          busy--;
          if (msg.error) return fail(deserializeError(msg.error));
          const start = starts.shift()!;
          msg.results!.forEach(([oid, size, ino, mtimeMs, created], k) => {
            out[start + k] = { oid, size, ino, mtimeMs, created };
            if (created) store?.noteStored(oid);
          });
          done += msg.results!.length;
          opts.onProgress?.(done);
          feed(w, starts);
        });
        feed(w, starts);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return out;
}
