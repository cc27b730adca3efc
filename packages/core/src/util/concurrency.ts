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
