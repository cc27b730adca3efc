import { hostname } from 'node:os';
import { open, readdir, readFile, rename, rm, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TdvcError, isErrno } from '../errors.js';
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

/**
 * An exclusive lock that works on NFS/EFS: no flock, just a file created with O_EXCL (atomic on
 * NFSv3+), holding owner, host and pid, whose mtime is a heartbeat. A lock whose heartbeat stopped,
 * or whose process is gone on this host, is stale: it is renamed away (only one contender's rename
 * can succeed) and then created afresh.
 */
export async function acquireLock(path: string, opts: LockOptions): Promise<HeldLock> {
  const staleMs = opts.staleMs ?? 120_000;
  const heartbeatMs = opts.heartbeatMs ?? Math.max(1000, Math.floor(staleMs / 4));
  const info: LockInfo = {
    owner: process.env['USER'] ?? process.env['LOGNAME'] ?? String(process.getuid?.() ?? ''),
    host: hostname(),
    pid: process.pid,
    startedAt: new Date().toISOString(),
    purpose: opts.purpose,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o664);
      try {
        await fh.chmod(0o664);
        await fh.writeFile(JSON.stringify(info));
        await fh.sync();
      } finally {
        await fh.close();
      }
      const timer = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => {});
      }, heartbeatMs);
      timer.unref();
      return {
        info,
        release: async () => {
          clearInterval(timer);
          await rm(path, { force: true });
        },
      };
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const holder = await readHolder(path);
    if (!(await isStale(path, holder, staleMs))) {
      throw new TdvcError('ELOCKED', `${path} is locked by ${describe(holder)}`, {
        path,
        data: holder ? { ...holder } : {},
        hint: `wait for it to finish; a lock whose holder died is taken over automatically after ${Math.round(staleMs / 1000)} s without heartbeat`,
      });
    }
    // take over: whoever renames the stale file away first wins; the others see it gone and retry
    try {
      await rename(path, `${path}.${uniqueTempName('stale')}`);
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    await cleanupStale(path);
  }
  throw new TdvcError('ELOCKED', `could not take the lock ${path}`, { path, hint: 'another process keeps taking it; try again' });
}

async function readHolder(path: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

async function isStale(path: string, holder: LockInfo | undefined, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return true;
    throw err;
  }
  if (holder && holder.host === hostname() && holder.pid !== process.pid) {
    try {
      process.kill(holder.pid, 0);
    } catch (err) {
      if (isErrno(err, 'ESRCH')) return true;
    }
  }
  // a holder that was still writing its info has a fresh mtime, so it is not mistaken for stale
  return Date.now() - mtimeMs > staleMs;
}

async function cleanupStale(path: string): Promise<void> {
  const dir = dirname(path);
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith(basename(path) + '.stale-')) await rm(join(dir, name), { force: true });
  }
}

function describe(h: LockInfo | undefined): string {
  return h ? `${h.owner}@${h.host} (pid ${h.pid}, ${h.purpose}, since ${h.startedAt})` : 'another process';
}
