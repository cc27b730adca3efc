import { rmSync } from 'node:fs';
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fromSystemError, isErrno, TdvcError, LockedError } from '../errors.js';
import { isOwnedByDeadLocalProcess, uniqueTempName } from '../util/fs.js';
import { describeHolder, fileSystemNow, isDeadLocalHolder, isStaleLock, lockInfo, readLockInfo, refreshLock, type LockInfo } from './lock.js';
import type { ObjectStore } from './store.js';

/**
 * The cache's lock protocol (restic's): gc takes the exclusive `<cache>/gc.lock`; every command
 * that writes objects or links from the cache holds a shared lock, one file per process in
 * `<cache>/locks/`. Each side creates its own lock first and then looks for the other's, so of a
 * gc and a writer that start together at least one sees the other: the writer then steps back
 * (removes its lock and waits for gc to finish), gc waits for writers and refuses if they stay.
 */
export const LOCKS_DIR = 'locks';
export const GC_LOCK = 'gc.lock';
/** gc.lock's heartbeat bound (acquireLock's default): a writer ignores a gc lock older than this. */
export const GC_LOCK_STALE_MS = 120_000;
/** A writer's lock without heartbeat for this long belongs to a dead (or frozen) process. */
export const WRITER_LOCK_STALE_MS = 5 * 60_000;
export const WRITER_LOCK_HEARTBEAT_MS = 30_000;
/** How long a writer waits for a running gc before it gives up. */
export const WRITER_WAIT_MS = 120_000;
/** How long gc waits for running writers before it refuses. */
export const GC_WAIT_MS = 60_000;

const PREFIX = 'w';

export interface WriterLock {
  release(): Promise<void>;
}

export interface WriterLockOptions {
  /** give up after this long while a live gc holds the cache */
  waitMs?: number;
  pollMs?: number;
  heartbeatMs?: number;
}

interface HeldEntry {
  count: number;
  ready: Promise<{ path: string; timer: NodeJS.Timeout }>;
}

// one lock file per process and cache: commands that call each other (pull → checkout,
// merge → checkout) share the outer one instead of creating a second
const held = new Map<string, HeldEntry>();
const heldPaths = new Set<string>();
let exitHookInstalled = false;

/**
 * Takes this process's shared lock on the cache `store`, waiting (bounded) while a live gc holds
 * the exclusive lock. Release it in `finally`: a killed process leaves its file behind, which
 * counts for nothing once the process is gone (at once on this host, after WRITER_LOCK_STALE_MS
 * without heartbeat elsewhere).
 */
export async function acquireWriterLock(store: ObjectStore, purpose: string, opts: WriterLockOptions = {}): Promise<WriterLock> {
  const key = resolve(store.root);
  let entry = held.get(key);
  if (entry) {
    entry.count++;
  } else {
    entry = { count: 1, ready: createWriterLock(store, purpose, opts) };
    held.set(key, entry);
  }
  const mine = entry;
  try {
    await mine.ready;
  } catch (err) {
    if (--mine.count === 0 && held.get(key) === mine) held.delete(key);
    throw err;
  }
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      if (--mine.count > 0) return;
      if (held.get(key) === mine) held.delete(key);
      const { path, timer } = await mine.ready;
      clearInterval(timer);
      heldPaths.delete(path);
      await rm(path, { force: true });
    },
  };
}

async function createWriterLock(store: ObjectStore, purpose: string, opts: WriterLockOptions): Promise<{ path: string; timer: NodeJS.Timeout }> {
  const dir = join(store.root, LOCKS_DIR);
  try {
    await store.ensureDir(dir);
  } catch (err) {
    throw noAccess(err, dir);
  }
  await removeDeadWriterLocks(store.root);
  const info = lockInfo(purpose);
  const text = JSON.stringify(info);
  const mode = store.shared === 'group' ? 0o664 : 0o644;
  const waitMs = opts.waitMs ?? WRITER_WAIT_MS;
  const deadline = Date.now() + waitMs;
  let pollMs = opts.pollMs ?? 100;
  for (;;) {
    const path = join(dir, `${uniqueTempName(PREFIX)}.json`);
    let nowMs: number;
    try {
      const fh = await open(path, 'wx', mode);
      try {
        // open()'s mode is filtered by the umask; on a shared cache others must be able to read it
        await fh.chmod(mode);
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
      // created by the file server just now: its mtime is "now" on the clock gc.lock's heartbeat uses
      nowMs = (await stat(path)).mtimeMs;
    } catch (err) {
      await rm(path, { force: true }).catch(() => {});
      throw noAccess(err, dir);
    }
    const gc = await liveGcLock(store.root, nowMs);
    if (gc === undefined) {
      heldPaths.add(path);
      installExitHook();
      const timer = setInterval(() => void refreshLock(path, text), opts.heartbeatMs ?? WRITER_LOCK_HEARTBEAT_MS);
      timer.unref();
      return { path, timer };
    }
    // gc is running: step back so it can finish, and try again when it has
    await rm(path, { force: true });
    if (Date.now() >= deadline) {
      throw new LockedError(`the cache ${store.root} is being garbage-collected by ${describeHolder(gc.holder)}; gave up waiting after ${Math.round(waitMs / 1000)} s`, {
        path: gc.path,
        data: gc.holder ? { ...gc.holder } : {},
        hint: `run the command again when that gc has finished; a gc that died is ignored after ${GC_LOCK_STALE_MS / 1000} s without heartbeat (at once when it ran on this host)`,
      });
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
    pollMs = Math.min(pollMs * 2, 1000);
  }
}

/** gc.lock when a live gc holds it (undefined when absent or stale). */
export async function liveGcLock(root: string, nowMs: number): Promise<{ path: string; holder: LockInfo | undefined } | undefined> {
  const path = join(root, GC_LOCK);
  try {
    await stat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw fromSystemError(err, path);
  }
  const holder = await readLockInfo(path);
  if (await isStaleLock(path, holder, GC_LOCK_STALE_MS, nowMs)) return undefined;
  return { path, holder };
}

export interface WriterLockHolder extends LockInfo {
  file: string;
}

/**
 * The live writers' locks of the cache at `root`. Those of dead processes on this host are
 * removed; those without heartbeat for WRITER_LOCK_STALE_MS (by the file server's clock) are
 * ignored, as their holders are gone or frozen.
 */
export async function liveWriterLocks(root: string): Promise<WriterLockHolder[]> {
  const dir = join(root, LOCKS_DIR);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith(`${PREFIX}-`) && n.endsWith('.json'));
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw fromSystemError(err, dir);
  }
  if (names.length === 0) return [];
  const nowMs = await fileSystemNow(dir);
  const live: WriterLockHolder[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const holder = await readLockInfo(file);
    if (isDeadLocalHolder(holder)) {
      await rm(file, { force: true });
      continue;
    }
    if (await isStaleLock(file, holder, WRITER_LOCK_STALE_MS, nowMs)) continue;
    // an unreadable lock is one whose writer is still filling it in: it counts
    live.push({ ...(holder ?? { owner: '?', host: '?', pid: 0, startedAt: '?', purpose: 'unknown' }), file });
  }
  return live;
}

/**
 * Removes the lock files (and time probes) that dead processes of this host left in
 * `<root>/locks/`. Returns their paths. Other hosts' are left: only a heartbeat can tell about them.
 */
export async function removeDeadWriterLocks(root: string): Promise<string[]> {
  const dir = join(root, LOCKS_DIR);
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const file = join(dir, name);
    let dead = false;
    if (name.startsWith('.tmp-')) dead = isOwnedByDeadLocalProcess(name);
    else if (name.startsWith(`${PREFIX}-`) && name.endsWith('.json')) dead = isOwnedByDeadLocalProcess(name.slice(0, -'.json'.length), PREFIX);
    if (!dead) continue;
    try {
      await rm(file);
      removed.push(file);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw fromSystemError(err, file);
    }
  }
  return removed;
}

/**
 * Waits until no live writer holds the cache, polling until `deadline` (ms since the epoch).
 * Returns whether any writer was seen; throws ELOCKED, naming them, when they outlast it.
 */
export async function waitForWriters(root: string, deadline: number, pollMs = 250): Promise<boolean> {
  let seen = false;
  for (;;) {
    const live = await liveWriterLocks(root);
    if (live.length === 0) return seen;
    seen = true;
    if (Date.now() >= deadline) {
      throw new LockedError(
        `gc deleted nothing: ${live.length} tdvc command(s) are using the cache ${root} and did not finish in time:\n` +
          live.map((h) => `  ${describeHolder(h)}  [${h.file}]`).join('\n'),
        {
          path: join(root, LOCKS_DIR),
          data: { holders: live },
          hint:
            `run gc again when they have finished. A lock whose process died is ignored: at once on its own host, ` +
            `after ${WRITER_LOCK_STALE_MS / 60_000} min without heartbeat from another; delete its file only if you are sure the process is gone`,
        },
      );
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
  }
}

function noAccess(err: unknown, dir: string): unknown {
  if (!isErrno(err, 'EACCES', 'EPERM', 'EROFS')) return fromSystemError(err, dir);
  const what = isErrno(err, 'EROFS') ? 'the file system is read-only' : 'permission denied';
  return new TdvcError(isErrno(err, 'EROFS') ? 'EROFS' : 'EACCES', `cannot create a lock file in ${dir}: ${what}`, {
    path: dir,
    cause: err,
    hint:
      'every command that writes to or checks out from the cache registers itself there, so that a concurrent ' +
      "'tdvc gc' cannot delete what it uses: you need write access to the cache folder (on a team cache: " +
      "group-writable folders, 'tdvc config cache.shared group'), or use a cache of your own ('tdvc cache dir PATH')",
  });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // process.exit() skips `finally`: drop the locks anyway, so a gc here need not check the pid
  process.on('exit', () => {
    for (const p of heldPaths) rmSync(p, { force: true });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
