/**
 * How much tdvc does at once: the one set of knobs (README, "Concurrency"). Two kinds:
 * - threads, for CPU-bound work (hashing in add and status, placing files in checkout): one per
 *   core up to 8, `TDVC_THREADS` to override, `--jobs` on add and checkout for one command;
 * - operations in flight, for work that waits on a file system or network (no threads: promises):
 *   the numbers below, and `--jobs` on push, fetch, pull and fsck.
 */
export { defaultThreads, MIN_ITEMS_FOR_THREADS } from './worker-pool.js';

/** metadata operations on the cache at once: gc's deletes, cache status's stats, checkout's removals */
export const CACHE_OPS_AT_ONCE = 16;
/** large files (over SMALL_FILE) hashed and stored at once by add, beside the threads doing small ones */
export const LARGE_FILES_AT_ONCE = 2;
/** objects fsck re-hashes at once in the cache */
export const CACHE_VERIFY_AT_ONCE = 4;
/** objects fsck --remote downloads and re-hashes at once */
export const REMOTE_VERIFY_AT_ONCE = 8;
/** objects pushed or fetched at once (a remote may limit its own requests further) */
export const TRANSFERS_AT_ONCE = 32;
/** metadata operations at once on a folder remote (EFS: each is a network round trip) */
export const FOLDER_REMOTE_OPS_AT_ONCE = 16;

/**
 * The bounds of every "how many at once" a user or a repository can ask for, checked where the
 * value is read: `-j` when the command line is parsed, `core.jobs` and `remote.NAME.jobs` when a
 * remote is opened (and when they are set). Unbounded, `-j 100000000` or a committed
 * `core.jobs 100000000` started that many workers (gigabytes of memory, a hang) and `-j 4294967296`
 * crashed. Threads are each a V8 isolate: 64 is the cap TDVC_THREADS has too (defaultThreads).
 * Operations in flight cost a promise and a read buffer each: past 1024 no file system or S3
 * endpoint goes faster (S3's own request bound has always been 1024).
 */
export const MAX_THREADS = 64;
export const MAX_OPERATIONS = 1024;

/** threads: -j on add and checkout; operations: -j on push, fetch, pull and fsck, core.jobs, a remote's jobs */
export type JobsKind = 'threads' | 'operations';

export function maxJobs(kind: JobsKind): number {
  return kind === 'threads' ? MAX_THREADS : MAX_OPERATIONS;
}

/** What a valid value is, for messages: "a whole number from 1 to 1024". */
export function jobsRange(kind: JobsKind): string {
  return `a whole number from 1 to ${maxJobs(kind)}`;
}

/**
 * The number `text` asks for, or undefined unless it is decimal digits naming 1 to the bound
 * (no `1e9`, `0x10`, `2.5` or `Infinity`).
 */
export function parseJobs(text: string, kind: JobsKind): number | undefined {
  const t = text.trim();
  if (!/^[0-9]{1,9}$/.test(t)) return undefined;
  const n = Number(t);
  return n >= 1 && n <= maxJobs(kind) ? n : undefined;
}
