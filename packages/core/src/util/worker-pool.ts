import { availableParallelism } from 'node:os';
import { parentPort, Worker } from 'node:worker_threads';
import { deserializeError, serializeError, type SerializedError } from './worker-errors.js';

const BATCH = 256;
/** Below this many items, starting threads costs more than it saves. */
export const MIN_ITEMS_FOR_THREADS = 2000;

/** One thread per core (at most 8); TDVC_THREADS overrides it (1 = no worker threads). */
export function defaultThreads(): number {
  const forced = Number(process.env['TDVC_THREADS']);
  if (Number.isInteger(forced) && forced >= 1) return Math.min(forced, 64);
  return Math.min(availableParallelism(), 8);
}

/**
 * Runs `items` through a worker script in batches, one thread per core by default, and returns
 * the rows in the order of `items`. The first failure stops the pool and is rethrown here with its
 * original code and message.
 */
export async function runInWorkers<TItem, TRow>(
  script: URL,
  workerData: unknown,
  items: TItem[] | { length: number; slice(start: number, end: number): TItem[] },
  opts: { threads?: number; onRows?: (rows: TRow[], start: number) => void; keepRows?: boolean } = {},
): Promise<TRow[]> {
  // callers that consume rows in onRows pass keepRows: false, so 100,000 rows are not held twice
  const keep = opts.keepRows !== false;
  const out: TRow[] = keep ? new Array(items.length) : [];
  const threads = opts.threads ?? defaultThreads();
  const workers: Worker[] = [];
  let next = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      let busy = 0;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        reject(err);
      };
      const feed = (w: Worker, starts: number[]): void => {
        if (settled) return;
        if (next >= items.length) {
          if (busy === 0) {
            settled = true;
            resolve();
          }
          return;
        }
        const start = next;
        next = Math.min(items.length, next + BATCH);
        starts.push(start);
        busy++;
        w.postMessage(items.slice(start, next));
      };
      for (let t = 0; t < threads; t++) {
        const w = new Worker(script, { workerData });
        const starts: number[] = [];
        workers.push(w);
        w.on('error', fail);
        w.on('message', (msg: { rows?: TRow[]; error?: SerializedError }) => {
          busy--;
          if (msg.error) return fail(deserializeError(msg.error));
          const start = starts.shift()!;
          if (keep) msg.rows!.forEach((row, k) => (out[start + k] = row));
          opts.onRows?.(msg.rows!, start);
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

/** The worker side: answers each batch with one row per item, or the first error. */
export function serveBatches<TItem, TRow>(handle: (item: TItem) => TRow): void {
  parentPort!.on('message', (batch: TItem[]) => {
    const rows: TRow[] = [];
    for (const item of batch) {
      try {
        rows.push(handle(item));
      } catch (err) {
        parentPort!.postMessage({ error: serializeError(err) });
        return;
      }
    }
    parentPort!.postMessage({ rows });
  });
}
