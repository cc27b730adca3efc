import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { constants, lstatSync, openSync, unlinkSync, type Stats } from 'node:fs';
import { lstat, open, rename, rm, mkdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fromSystemError, isErrno } from '../errors.js';

const HOST = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');

/**
 * A temp name that no other writer can pick: host, pid and randomness, so concurrent
 * writers on a shared NFS/EFS folder never collide.
 */
export function uniqueTempName(prefix = '.tmp'): string {
  // a random stem per thread plus a counter: unique without a random draw per file (hot in add)
  counter = (counter + 1) & 0xffffff;
  return `${prefix}-${HOST}-${process.pid}-${STEM}${counter.toString(16).padStart(6, '0')}`;
}

const STEM = randomBytes(3).toString('hex');
let counter = 0;

/**
 * Who made a `uniqueTempName(prefix)` name. Host names may contain '-', so a prefix that does too
 * (e.g. 'scratch-checkout') must be passed: otherwise part of it would be read as the host.
 */
export function tempNameOwner(name: string, prefix?: string): { host: string; pid: number } | undefined {
  if (prefix !== undefined && !name.startsWith(prefix + '-')) return undefined;
  const rest = prefix === undefined ? name : name.slice(prefix.length);
  const m = /-([A-Za-z0-9_.-]+)-(\d+)-[0-9a-f]{12}$/.exec(rest);
  if (!m || (prefix !== undefined && m.index !== 0)) return undefined;
  return { host: m[1]!, pid: Number(m[2]) };
}

export function isOwnedByDeadLocalProcess(name: string, prefix?: string): boolean {
  const owner = tempNameOwner(name, prefix);
  if (!owner || owner.host !== HOST) return false;
  if (owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (err) {
    return isErrno(err, 'ESRCH');
  }
}

/** Age after which a temp file is taken for a killed writer's, whichever host wrote it. */
export const STALE_TEMP_AGE_MS = 24 * 3600_000;

/**
 * Whether `name` is exactly what `uniqueTempName()` makes. Maintenance (fsck, gc, a listing that
 * tidies up) may delete only such names: a cache or remote folder comes from a repository's
 * committed config, so it may be any folder of the user's, holding things that merely look like ours.
 */
export function isTempName(name: string): boolean {
  return tempNameOwner(name, '.tmp') !== undefined;
}

/**
 * Whether a `uniqueTempName()` file was left by a killed writer: its owner is a dead process on
 * this host, or it is older than `maxAgeMs` (`mtimeMs` undefined: age unknown, only the owner counts).
 * Any other name is never stale, however old.
 */
export function isStaleTemp(name: string, mtimeMs: number | undefined, maxAgeMs = STALE_TEMP_AGE_MS): boolean {
  if (!isTempName(name)) return false;
  return isOwnedByDeadLocalProcess(name, '.tmp') || (mtimeMs !== undefined && Date.now() - mtimeMs > maxAgeMs);
}

/**
 * tdvc makes temp *files* only (folders are made with mkdir in place), so a folder or symlink under a
 * temp name is not ours. `st` must come from lstat, so a link is judged as a link, never followed.
 */
function isStaleTempFile(path: string, st: Stats | undefined, maxAgeMs: number | undefined): boolean {
  if (!st?.isFile()) return false;
  return isStaleTemp(basename(path), maxAgeMs === undefined ? undefined : st.mtimeMs, maxAgeMs);
}

/**
 * Deletes `path` if it is a stale `uniqueTempName()` file (see isStaleTemp; `maxAgeMs` undefined:
 * only a dead local owner counts). unlink, not rm: it never recurses, and a folder swapped in
 * after the lstat makes it fail instead of being emptied. Returns whether it deleted.
 */
export async function removeStaleTemp(path: string, maxAgeMs: number | undefined = STALE_TEMP_AGE_MS): Promise<boolean> {
  if (!isTempName(basename(path))) return false;
  const st = await lstat(path).catch(() => undefined);
  if (!isStaleTempFile(path, st, maxAgeMs)) return false;
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'EISDIR')) return false;
    throw fromSystemError(err, path);
  }
}

/** The synchronous twin of `removeStaleTemp`. */
export function removeStaleTempSync(path: string, maxAgeMs: number | undefined = STALE_TEMP_AGE_MS): boolean {
  if (!isTempName(basename(path))) return false;
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch {
    return false;
  }
  if (!isStaleTempFile(path, st, maxAgeMs)) return false;
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'EISDIR')) return false;
    throw fromSystemError(err, path);
  }
}

/**
 * Deletes a file that maintenance decided to delete (gc of an unreferenced object), and only if it
 * is a regular file: a folder or symlink under an object's name was not written by tdvc, so it is
 * left alone (never emptied, never followed). Returns 'removed', 'gone' or 'skipped'.
 */
export async function removeRegularFile(path: string): Promise<'removed' | 'gone' | 'skipped'> {
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 'gone';
    throw fromSystemError(err, path);
  }
  if (!st.isFile()) return 'skipped';
  try {
    await unlink(path);
    return 'removed';
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return 'gone';
    if (isErrno(err, 'EISDIR')) return 'skipped';
    throw fromSystemError(err, path);
  }
}

/** Writes a whole file atomically: exclusive temp file beside it, fsync, rename over. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  const tmp = join(dirname(path), uniqueTempName());
  // system errors (ENOSPC from write(), which carries no path) are reported against `path`
  let fh;
  try {
    fh = await open(tmp, 'wx', mode);
  } catch (err) {
    throw fromSystemError(err, path);
  }
  try {
    // the open() mode is filtered by the umask; files in a shared cache must get exactly `mode`
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw fromSystemError(err, path);
  }
  try {
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw fromSystemError(err, path);
  }
}

export async function ensureDir(path: string, mode?: number): Promise<void> {
  await mkdir(path, { recursive: true, ...(mode === undefined ? {} : { mode }) });
}

/** Runs `fn` over `items` with at most `limit` in flight; collects nothing, rethrows the first error after all settle. */
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let firstError: unknown;
  let failed = false;
  const worker = async (): Promise<void> => {
    for (;;) {
      if (failed) return;
      const next = it.next();
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (err) {
        if (!failed) {
          failed = true;
          firstError = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failed) throw firstError;
}

/** Whether anything is at `p`, a dangling symbolic link included (lstat: nothing is followed). */
export function entryExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** lstat of `p` (nothing followed); undefined when nothing is there. Other errors name `p`. */
export function lstatIfExistsSync(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw fromSystemError(err, p);
  }
}

/**
 * Opens a file of tdvc's own for reading; undefined when it does not exist or is a symbolic link
 * (not tdvc's: never followed). Non-blocking, so a FIFO planted under the name cannot hang the
 * open; the caller checks that what it got is a regular file. Other errors are thrown.
 */
export function openIfExistsSync(file: string): number | undefined {
  try {
    return openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ELOOP')) return undefined;
    throw err;
  }
}
