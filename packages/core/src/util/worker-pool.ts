import { availableParallelism } from 'node:os';
import { parentPort, Worker } from 'node:worker_threads';
import { deserializeError, serializeError, type SerializedError } from './worker-errors.js';

const BATCH = 256;
/**
 * Batches in flight per thread: a thread that finishes one starts the next at once instead of
 * waiting for this thread to take its rows and send more (with one, the link threads of a 100k
 * checkout sat idle 15 % of the time).
 */
const IN_FLIGHT = 2;
/** Below this many items, starting threads costs more than it saves. */
export const MIN_ITEMS_FOR_THREADS = 2000;

/** One thread per core (at most 8); TDVC_THREADS overrides it (1 = no worker threads). */
export function defaultThreads(): number {
  const forced = Number(process.env['TDVC_THREADS']);
  if (Number.isInteger(forced) && forced >= 1) return Math.min(forced, 64);
  return Math.min(availableParallelism(), 8);
}

type Items<TItem> = TItem[] | { length: number; slice(start: number, end: number): TItem[] };

interface Job<TItem, TRow> {
  items: Items<TItem>;
  next: number;
  busy: number;
  out: TRow[];
  keep: boolean;
  onRows: ((rows: TRow[], start: number) => void) | undefined;
  resolve: (rows: TRow[]) => void;
  reject: (err: Error) => void;
}

/**
 * Worker threads that stay up for several runs (a streaming scan hands them one window of files
 * after another). Each run's items go out in batches to whichever thread is free; its rows come
 * back in the order of its items. Runs are served one after another, in the order they were asked
 * for. The first failure fails the run it belongs to and stops the pool.
 */
export class WorkerPool<TItem, TRow> {
  private readonly workers: Worker[] = [];
  private readonly queue: Array<Job<TItem, TRow>> = [];
  private readonly idle: Array<[Worker, Array<[Job<TItem, TRow>, number]>]> = [];
  private failed: Error | undefined;

  constructor(script: URL, workerData: unknown, threads = defaultThreads()) {
    for (let t = 0; t < threads; t++) {
      const w = new Worker(script, { workerData });
      const starts: Array<[Job<TItem, TRow>, number]> = [];
      this.workers.push(w);
      w.on('error', (err) => this.fail(err));
      w.on('message', (msg: { rows?: TRow[]; error?: SerializedError }) => {
        const [job, start] = starts.shift()!;
        job.busy--;
        if (msg.error) return this.fail(deserializeError(msg.error));
        if (job.keep) msg.rows!.forEach((row, k) => (job.out[start + k] = row));
        job.onRows?.(msg.rows!, start);
        if (job.busy === 0 && job.next >= job.items.length) {
          this.queue.splice(this.queue.indexOf(job), 1);
          job.resolve(job.out);
        }
        this.feed(w, starts);
      });
      this.idle.push([w, starts]);
    }
  }

  /** Runs `items` through the threads; the rows in the order of `items` (none kept with keepRows: false). */
  run(items: Items<TItem>, opts: { onRows?: (rows: TRow[], start: number) => void; keepRows?: boolean } = {}): Promise<TRow[]> {
    if (this.failed) return Promise.reject(this.failed);
    const keep = opts.keepRows !== false;
    return new Promise<TRow[]>((resolve, reject) => {
      const job: Job<TItem, TRow> = { items, next: 0, busy: 0, out: keep ? new Array(items.length) : [], keep, onRows: opts.onRows, resolve, reject };
      if (items.length === 0) return resolve(job.out);
      this.queue.push(job);
      for (const [w, starts] of this.idle.splice(0)) while (starts.length < IN_FLIGHT && this.feed(w, starts));
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  /** Sends `w` its next batch; false when there is none (it joins the idle list, once). */
  private feed(w: Worker, starts: Array<[Job<TItem, TRow>, number]>): boolean {
    if (this.failed) return false;
    const job = this.queue.find((j) => j.next < j.items.length);
    if (!job) {
      if (!this.idle.some(([x]) => x === w)) this.idle.push([w, starts]);
      return false;
    }
    const start = job.next;
    job.next = Math.min(job.items.length, job.next + BATCH);
    job.busy++;
    starts.push([job, start]);
    w.postMessage(job.items.slice(start, job.next));
    return true;
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    for (const job of this.queue.splice(0)) job.reject(err);
  }
}

/**
 * Runs `items` through a worker script in batches, one thread per core by default, and returns
 * the rows in the order of `items`. The first failure stops the pool and is rethrown here with its
 * original code and message.
 */
export async function runInWorkers<TItem, TRow>(
  script: URL,
  workerData: unknown,
  items: Items<TItem>,
  opts: { threads?: number; onRows?: (rows: TRow[], start: number) => void; keepRows?: boolean } = {},
): Promise<TRow[]> {
  // callers that consume rows in onRows pass keepRows: false, so 100,000 rows are not held twice
  const pool = new WorkerPool<TItem, TRow>(script, workerData, opts.threads ?? defaultThreads());
  try {
    return await pool.run(items, opts);
  } finally {
    await pool.close();
  }
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
