import { hostname } from 'node:os';
import { link, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isErrno, LockedError } from '../errors.js';
import { uniqueTempName } from '../util/fs.js';

export interface LockInfo {
  owner: string;
  host: string;
  pid: number;
  startedAt: string;
  purpose: string;
}

export interface LockOptions {
  purpose: string;
  /** a lock whose heartbeat is older than this is stale and may be taken over */
  staleMs?: number;
  heartbeatMs?: number;
}

export interface HeldLock {
  info: LockInfo;
  release(): Promise<void>;
}

/** Who this process is, as written into the lock files it creates. */
export function lockInfo(purpose: string): LockInfo {
  return {
    owner: process.env['USER'] ?? process.env['LOGNAME'] ?? String(process.getuid?.() ?? ''),
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
    purpose,
  };
}

/**
 * An exclusive lock that works on NFS/EFS: no flock, just a file created with O_EXCL (atomic on
 * NFSv3+), holding owner, host and pid, whose mtime is a heartbeat. A lock whose heartbeat stopped,
 * or whose process is gone on this host, is stale: it is renamed away (only one contender's rename
 * can succeed) and then created afresh.
 */
export async function acquireLock(path: string, opts: LockOptions): Promise<HeldLock> {
  const staleMs = opts.staleMs ?? 120_000;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(1000, Math.floor(staleMs / 4));
  const info = lockInfo(opts.purpose);
  const text = JSON.stringify(info);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o664);
      let ino: number;
      try {
        ino = (await fh.stat()).ino;
        await fh.chmod(0o664);
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const timer = setInterval(() => void refreshLock(path, text), heartbeatMs);
      timer.unref();
      return {
        info,
        release: async () => {
          clearInterval(timer);
          // only our own file: one a contender took over (thinking ours stale) is theirs now
          const now = await stat(path).catch(() => undefined);
          if (now?.ino === ino) await rm(path, { force: true });
        },
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    // released between our create and now: not stale, just free again (renaming what is there now
    // would throw away the lock another contender has just taken)
    const judged = await stat(path).catch(() => undefined);
    if (!judged) continue;
    const holder = await readLockInfo(path);
    // judged on the stat above, not a new one: a lock that is gone by now is free, not stale
    const stale = isDeadLocalHolder(holder) || (await fileSystemNow(dirname(path))) - judged.mtimeMs > staleMs;
    if (!stale) {
      throw new LockedError(`${path} is locked by ${describeHolder(holder)}`, {
        path,
        data: holder ? { ...holder } : {},
        hint: `wait for it to finish; a lock whose holder died is taken over automatically after ${Math.round(staleMs / 1000)} s without heartbeat`,
      });
    }
    // take over: whoever renames the stale file away first wins; the others see it gone and retry
    const aside = `${path}.${uniqueTempName('stale')}`;
    try {
      await rename(path, aside);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      continue;
    }
    const moved = await stat(aside).catch(() => undefined);
    if (moved && moved.ino !== judged.ino) {
      // another contender took the stale lock over first, and this rename moved its fresh lock:
      // put it back unless yet another process holds the name by now
      await link(aside, path).catch(() => {});
      await rm(aside, { force: true });
      continue;
    }
    await cleanupStale(path);
  }
  throw new LockedError(`could not take the lock ${path}`, { path, hint: 'another process keeps taking it; try again' });
}

export async function readLockInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    return info && typeof info === 'object' ? info : undefined;
  } catch {
    // absent, or its holder is still writing it (its fresh mtime keeps it from looking stale)
    return undefined;
  }
}

/** The holder is a process of this host that no longer exists (pid reuse makes this err on "alive"). */
export function isDeadLocalHolder(holder: LockInfo | undefined): boolean {
  if (!holder || holder.host !== hostname() || holder.pid === process.pid || !Number.isInteger(holder.pid) || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return isErrno(err, 'ESRCH');
  }
}

/**
 * A lock is stale when its holder is a dead process on this host, or its heartbeat (mtime) is
 * older than `staleMs` measured against `nowMs`, which must be the file server's idea of now
 * (`fileSystemNow`): comparing with this host's clock would take a skewed clock for a dead holder.
 */
export async function isStaleLock(path: string, holder: LockInfo | undefined, staleMs: number, nowMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true;
    throw err;
  }
  if (isDeadLocalHolder(holder)) return true;
  return nowMs - mtimeMs > staleMs;
}

/**
 * The current time as the file system holding `dir` stamps it: the mtime of a file just created
 * there. On NFS the server sets it, so lock ages are measured on one clock whatever the clients'.
 * The probe has a temp name, so fsck removes it should this process die before it does.
 */
export async function fileSystemNow(dir: string): Promise<number> {
  const probe = join(dir, uniqueTempName());
  const fh = await open(probe, 'wx', 0o644);
  try {
    await fh.write('now');
  } finally {
    await fh.close();
  }
  try {
    return (await stat(probe)).mtimeMs;
  } finally {
    await rm(probe, { force: true });
  }
}

/**
 * Heartbeat: rewrites the lock's content in place. A write, unlike utimes with an explicit time,
 * lets the file server stamp the mtime with its own clock. False when the lock file is gone.
 */
export async function refreshLock(path: string, text: string): Promise<boolean> {
  try {
    const fh = await open(path, 'r+');
    try {
      await fh.write(text, 0, 'utf8');
    } finally {
      await fh.close();
    }
    return true;
  } catch {
    return false;
  }
}

async function cleanupStale(path: string): Promise<void> {
  const dir = dirname(path);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(basename(path) + '.stale-')) await rm(join(dir, name), { force: true });
  }
}

export function describeHolder(h: LockInfo | undefined): string {
  return h ? `${h.owner}@${h.host} (pid ${h.pid}, ${h.purpose}, since ${h.startedAt})` : 'another process';
}

/**
 * acquireLock, waiting while another live process holds the lock (short critical sections such as
 * a read-modify-write of one file): retries with a growing pause, up to `waitMs`, then rethrows.
 */
export async function acquireLockWaiting(path: string, opts: LockOptions & { waitMs?: number }): Promise<HeldLock> {
  const deadline = Date.now() + (opts.waitMs ?? 30_000);
  for (let pause = 5; ; pause = Math.min(pause * 2, 200)) {
    try {
      return await acquireLock(path, opts);
    } catch (err) {
      if (!(err instanceof LockedError) || Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, pause * (0.5 + Math.random())));
  }
}
