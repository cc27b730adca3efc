import { Worker } from 'node:worker_threads';
import type { IgnoreSetup, WalkedFile } from './walk.js';
import { deserializeError, type SerializedError } from './worker-errors.js';

/** Numbers per file in a window's array: inode, size, mtime, executable (1/0). */
export const FIELDS = 4;
/**
 * Windows the walker may be ahead of the reader: enough to keep walking while the reader lists the
 * cache (~4 s at a million objects), few enough to stay small (~0.8 MB a window).
 */
const AHEAD = 24;

export interface WalkWorkerData {
  dir: string;
  objectsDir: string | undefined;
  ignore: IgnoreSetup | undefined;
  window: number;
  /** one Int32: how many more windows the walker may post */
  credits: SharedArrayBuffer;
}

type Message = { rels: string[]; nums: Float64Array } | { done: true } | { error: SerializedError };

/**
 * `walkSorted` on a thread of its own, read a window at a time: the lstat of every file (the
 * floor of a no-op status or add) runs on one core while this thread compares what it gets with
 * the stat index and the tree on another. Same files, same order, same errors (rebuilt with their
 * codes, paths and hints) as walking here.
 */
export class WalkThread {
  private readonly worker: Worker;
  private readonly credit: Int32Array;
  private readonly ready: WalkedFile[][] = [];
  private waiting: { resolve: (w: WalkedFile[] | undefined) => void; reject: (e: Error) => void } | undefined;
  private done = false;
  private failed: Error | undefined;
  private readonly prefix: string;
  /** files received so far */
  count = 0;

  constructor(
    dir: string,
    opts: { objectsDir?: string; ignore?: IgnoreSetup; window: number; onFile?: (count: number) => void },
  ) {
    this.prefix = `${dir}/`;
    const credits = new SharedArrayBuffer(4);
    this.credit = new Int32Array(credits);
    Atomics.store(this.credit, 0, AHEAD);
    const data: WalkWorkerData = { dir, objectsDir: opts.objectsDir, ignore: opts.ignore, window: opts.window, credits };
    this.worker = new Worker(new URL('./walk-worker.js', import.meta.url), { workerData: data });
    this.worker.on('message', (m: Message) => {
      if ('error' in m) return this.fail(deserializeError(m.error));
      if ('done' in m) {
        this.done = true;
        return this.wake();
      }
      const files: WalkedFile[] = new Array(m.rels.length);
      for (let i = 0; i < m.rels.length; i++) {
        const rel = m.rels[i]!;
        const at = i * FIELDS;
        files[i] = { rel, abs: this.prefix + rel, ino: m.nums[at]!, size: m.nums[at + 1]!, mtimeMs: m.nums[at + 2]!, exec: m.nums[at + 3] === 1 };
      }
      this.count += files.length;
      opts.onFile?.(this.count);
      this.ready.push(files);
      this.wake();
    });
    // a scan its caller gave up on before reading it must not keep the process alive: the thread
    // holds the process only while a window is awaited
    this.worker.unref();
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => {
      if (!this.done) this.fail(new Error('the folder walk stopped unexpectedly'));
    });
  }

  /** The next window of files in canonical order; undefined after the last. */
  next(): Promise<WalkedFile[] | undefined> {
    if (this.failed) return Promise.reject(this.failed);
    const w = this.ready.shift();
    if (w) {
      this.giveCredit();
      return Promise.resolve(w);
    }
    if (this.done) return Promise.resolve(undefined);
    this.worker.ref();
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  async close(): Promise<void> {
    this.done = true;
    await this.worker.terminate();
  }

  private giveCredit(): void {
    Atomics.add(this.credit, 0, 1);
    Atomics.notify(this.credit, 0);
  }

  private wake(): void {
    const w = this.waiting;
    if (!w) return;
    this.waiting = undefined;
    this.worker.unref();
    if (this.failed) return w.reject(this.failed);
    const files = this.ready.shift();
    if (files) this.giveCredit();
    w.resolve(files);
  }

  private fail(err: Error): void {
    if (this.failed || this.done) return;
    this.failed = err;
    const w = this.waiting;
    this.waiting = undefined;
    this.worker.unref();
    w?.reject(err);
  }
}
