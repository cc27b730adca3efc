import { constants, type Dirent, type Stats } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import {
  ExitCode,
  fanDir,
  fanOf,
  FOLDER_REMOTE_OPS_AT_ONCE,
  forEachLimit,
  isErrno,
  isFanName,
  isOid,
  isTempName,
  LAYOUT,
  layoutDir,
  MissingObjectError,
  objectPath,
  oidOfEntry,
  openObject,
  RejectedObjectError,
  removeRegularFile,
  removeStaleTemp,
  TdvcError,
  uniqueTempName,
  type Oid,
  type Remote,
  type RemoteSettings,
} from '@tdvc/core';

/**
 * An entry under an object's name on a folder remote that is not a regular file (a link, FIFO,
 * socket, device or folder: anyone who can write to the remote can put one there). It is not an
 * object: has() does not count it, push reports it as a failed transfer instead of writing over it,
 * get-url refuses it, fsck --remote reports it. tdvc never deletes or replaces it: it did not make it.
 */
export class RemoteEntryRejectedError extends TdvcError {
  constructor(
    readonly oid: Oid,
    path: string,
    readonly reason: string,
    remote: string,
  ) {
    super('EBADOBJECT', `remote ${remote}: ${path} is not usable as object ${oid}: ${reason}`, {
      path,
      exitCode: ExitCode.integrity,
      data: { oid, reason },
      hint: "tdvc never deletes or replaces what it did not write: look at what it is, remove it from the remote yourself, then run 'tdvc push' again",
    });
  }
}

/**
 * A remote on a mounted filesystem: a local folder, EFS, or FSx for Lustre. Objects use the same
 * layout as the S3 remote (`b3v1/ab/cdef…`), so a Lustre file system linked to the bucket shows
 * exactly what `tdvc push` wrote. Writes go to a unique temp name in the destination folder and are
 * renamed in, so concurrent writers and killed processes never leave a partial object behind.
 */
export class FsRemote implements Remote {
  readonly name: string;
  readonly url: string;
  readonly root: string;
  private readonly jobs: number;
  private readonly madeDirs = new Set<string>();
  /** the layout folder and fan-out folders seen to be real folders (not links) */
  private readonly ownDirs = new Set<string>();
  private readonly sharedSetting: string | undefined;
  private shared: Promise<boolean> | undefined;

  constructor(settings: RemoteSettings) {
    this.name = settings.name;
    this.url = settings.url;
    this.root = settings.url.startsWith('file://') ? fileURLToPath(settings.url) : settings.url;
    this.jobs = settings.jobs ?? FOLDER_REMOTE_OPS_AT_ONCE;
    this.sharedSetting = settings.options['shared'];
  }

  /**
   * A remote folder used by a team: `remote.NAME.shared group`, or by default a root folder with the
   * setgid bit (how an admin sets up a group folder). Its folders are then made group-writable and
   * setgid (2775) whatever the pushing user's umask, as in a shared cache: otherwise the first
   * member to push creates private fan-out folders and everyone else's pushes fail with EACCES.
   */
  private isShared(): Promise<boolean> {
    this.shared ??=
      this.sharedSetting === 'group'
        ? Promise.resolve(true)
        : this.sharedSetting === 'none'
          ? Promise.resolve(false)
          : stat(this.root).then(
              (st) => (st.mode & 0o2000) !== 0,
              () => false,
            );
    return this.shared;
  }

  async checkReachable(): Promise<void> {
    try {
      const st = await stat(this.root);
      if (!st.isDirectory()) throw new TdvcError('EREMOTE', `remote ${this.name}: ${this.root} is not a folder`, { path: this.root });
    } catch (err) {
      if (err instanceof TdvcError) throw err;
      if (isErrno(err, 'ENOENT')) {
        throw new TdvcError('EREMOTE', `remote ${this.name}: ${this.root} does not exist`, {
          path: this.root,
          hint: 'create the folder (or mount the file system) first',
        });
      }
      throw err;
    }
  }

  /**
   * Lists fan-out folders instead of stat-ing each object: on EFS every metadata call is a network
   * round trip, and 256 concurrent readdirs beat 100,000 stats. Only a regular file is an object:
   * a link, FIFO or folder under an object's name is absent (a tree node counted as present would
   * make push skip its whole subtree), and push then reports it (see upload).
   */
  async has(oids: readonly Oid[]): Promise<Set<Oid>> {
    const wanted = new Set(oids);
    const fans = new Set([...wanted].map(fanOf));
    const present = new Set<Oid>();
    if (wanted.size < 64) {
      await forEachLimit(wanted, this.jobs, async (oid) => {
        if (!(await this.foreignDir(fanOf(oid))) && (await entryKind(this.pathOf(oid))) === 'file') present.add(oid);
      });
      return present;
    }
    await this.readOwnDirs();
    await forEachLimit(fans, this.jobs, async (fan) => {
      // objects under a fan-out folder that is a link are not this remote's
      if (await this.foreignDir(fan)) return;
      const dir = fanDir(this.root, fan);
      let entries: Dirent[] = [];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      }
      for (const e of entries) {
        const oid = oidOfEntry(fan, e.name);
        if (oid && wanted.has(oid) && (await direntKind(dir, e)) === 'file') present.add(oid);
      }
    });
    return present;
  }

  pathOf(oid: Oid): string {
    return objectPath(this.root, oid);
  }

  async upload(oid: Oid, path: string, size: number, progress?: (bytes: number) => void): Promise<void> {
    const dest = this.pathOf(oid);
    const dir = join(dest, '..');
    if (!this.madeDirs.has(dir)) {
      // before mkdir too: a recursive mkdir would create the fan-out folder wherever a linked
      // layout folder points
      await this.checkDirs(oid);
      if (await this.isShared()) await makeSharedDir(dir);
      else await mkdir(dir, { recursive: true });
      await this.checkDirs(oid);
      this.madeDirs.add(dir);
    }
    // whatever else is under the object's name stays as it is and the transfer fails, naming it:
    // has() did not count it, and tdvc neither writes through nor replaces what it did not make
    // (rename would replace a link or FIFO; a regular file there is a concurrent push of the same
    // object, and replacing it is harmless)
    await this.checkEntry(oid, dest);
    const tmp = join(dir, uniqueTempName());
    try {
      await copyFile(path, tmp, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
      await chmod(tmp, 0o444);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    progress?.(size);
  }

  /**
   * A file:// URL: on EFS or FSx for Lustre every machine that mounts the same path can read it.
   * Never for an entry that is not a regular file (a link to /proc/self/environ, a FIFO a reader
   * would hang on, a folder): the URL is handed to tools that follow links and do not check.
   */
  async urlFor(oid: Oid): Promise<string> {
    const path = this.pathOf(oid);
    await this.checkEntry(oid, path);
    return pathToFileURL(path).href;
  }

  list(): AsyncIterable<{ oid: Oid; size: number; mtimeMs: number }> {
    return listFsObjects(this.root);
  }

  /**
   * Entries under object names that are not regular files, so not objects, and layout or fan-out
   * folders that are not real folders (fsck --remote reports them; nothing is listed through them).
   */
  async *listRejected(): AsyncIterable<{ oid?: Oid; path: string; reason: string }> {
    const base = layoutDir(this.root);
    const baseKind = await entryKind(base);
    if (baseKind !== 'a folder') {
      if (baseKind !== 'gone') yield { path: base, reason: `it is ${baseKind} where the remote's own folder belongs` };
      return;
    }
    for (const entry of await readdir(base, { withFileTypes: true }).catch(() => [] as Dirent[])) {
      const fan = entry.name;
      if (!isFanName(fan)) continue;
      if (!entry.isDirectory()) {
        const kind = await direntKind(base, entry);
        if (kind !== 'a folder' && kind !== 'gone') yield { path: join(base, fan), reason: `it is ${kind} where the remote's own folder belongs` };
        continue;
      }
      const dir = join(base, fan);
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [] as Dirent[])) {
        const oid = oidOfEntry(fan, e.name);
        if (!oid) continue;
        const kind = await direntKind(dir, e);
        if (kind !== 'file' && kind !== 'gone') yield { oid, path: join(dir, e.name), reason: `it is ${kind}` };
      }
    }
  }

  /**
   * The layout folder or `fan`'s folder when it exists and is not a real folder (a link to a
   * folder elsewhere, put there by anyone who can write to the remote): tdvc neither reads, writes
   * nor deletes through it. Real folders are remembered (a process swapping one meanwhile is not
   * caught, as in the cache).
   */
  private async foreignDir(fan: string): Promise<{ path: string; kind: string } | undefined> {
    for (const d of [layoutDir(this.root), fanDir(this.root, fan)]) {
      if (this.ownDirs.has(d)) continue;
      const kind = await entryKind(d);
      if (kind === 'gone') return undefined;
      if (kind !== 'a folder') return { path: d, kind };
      this.ownDirs.add(d);
    }
    return undefined;
  }

  /** One listing of the layout folder marks its real fan-out folders (has() of many ids asks about most of them). */
  private async readOwnDirs(): Promise<void> {
    const base = layoutDir(this.root);
    if (!this.ownDirs.has(base) && (await entryKind(base)) !== 'a folder') return;
    this.ownDirs.add(base);
    for (const e of await readdir(base, { withFileTypes: true }).catch(() => [] as Dirent[])) {
      if (isFanName(e.name) && e.isDirectory()) this.ownDirs.add(join(base, e.name));
    }
  }

  /** Throws when the layout or fan-out folder of `oid` is there but not a real folder (see foreignDir). */
  private async checkDirs(oid: Oid): Promise<void> {
    const bad = await this.foreignDir(fanOf(oid));
    if (!bad) return;
    throw new TdvcError(bad.kind === 'a symbolic link' ? 'ESYMLINK' : 'EBADFILE', `remote ${this.name}: ${bad.path} is ${bad.kind} where the remote's own folder belongs; tdvc does not read or write through it (object ${oid})`, {
      path: bad.path,
      exitCode: ExitCode.integrity,
      data: { oid },
      hint: 'tdvc never deletes or replaces what it did not write: look at what it is, remove it from the remote yourself, then run the command again',
    });
  }

  /** Throws RemoteEntryRejectedError when something other than a regular file is under `path` (after checkDirs). */
  private async checkEntry(oid: Oid, path: string): Promise<void> {
    await this.checkDirs(oid);
    const kind = await entryKind(path);
    if (kind !== 'file' && kind !== 'gone') throw new RemoteEntryRejectedError(oid, path, `it is ${kind}`, this.name);
  }

  /**
   * Temp files of killed pushes: those of dead processes on this host at once, any host's after a
   * day (a pid on another machine cannot be checked, and no single object's upload takes that long).
   * Returns the removed paths, relative to the remote's root. The remote's URL may come from a
   * stranger's committed config, so only exact temp-name files are deleted (see removeStaleTemp),
   * and only in the layout's own folders, never through a symlink.
   */
  async removeStaleTemps(): Promise<string[]> {
    const removed: string[] = [];
    const base = layoutDir(this.root);
    if (!(await isRealDir(base))) return removed;
    const fans = await readdir(base).catch(() => [] as string[]);
    for (const dir of ['', ...fans.filter(isFanName)]) {
      if (dir !== '' && !(await isRealDir(join(base, dir)))) continue;
      for (const name of await readdir(join(base, dir)).catch(() => [] as string[])) {
        if (!isTempName(name)) continue;
        if (await removeStaleTemp(join(base, dir, name))) removed.push(join(LAYOUT, dir, name));
      }
    }
    return removed;
  }

  /** Deletes objects (gc): regular files only, so a folder or symlink under an object's name stays. */
  async remove(oids: readonly Oid[]): Promise<void> {
    const realFans = new Map<string, Promise<boolean>>();
    await forEachLimit(oids, this.jobs, async (oid) => {
      if (!isOid(oid)) throw new Error(`not an object id: ${oid}`);
      const fan = fanOf(oid);
      if (!realFans.has(fan)) realFans.set(fan, this.foreignDir(fan).then(async (bad) => !bad && (await isRealDir(fanDir(this.root, fan)))));
      if (await realFans.get(fan)) await removeRegularFile(this.pathOf(oid));
    });
  }

  async download(oid: Oid, sink: (chunk: Uint8Array) => Promise<void>, progress?: (bytes: number) => void): Promise<void> {
    // a remote folder may be written by anyone with access: never read through a link, never wait
    // on a FIFO, only a regular file (the bytes are then verified against the id by the caller)
    await this.checkDirs(oid);
    let opened;
    try {
      opened = await openObject(oid, this.pathOf(oid));
    } catch (err) {
      if (err instanceof MissingObjectError) throw new TdvcError('ENOTONREMOTE', `object ${oid} is not on remote ${this.name}`, { path: this.pathOf(oid) });
      if (err instanceof RejectedObjectError) throw new RemoteEntryRejectedError(oid, this.pathOf(oid), err.reason, this.name);
      throw err;
    }
    const stream = opened.fh.createReadStream({ highWaterMark: 1 << 20 });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        await sink(chunk);
        progress?.(chunk.byteLength);
      }
    } finally {
      await opened.fh.close().catch(() => {});
    }
  }
}

export async function* listFsObjects(root: string): AsyncIterable<{ oid: Oid; size: number; mtimeMs: number }> {
  const base = layoutDir(root);
  // a link where the layout folder belongs is not tdvc's: nothing is listed (so read or deleted) through it
  if (!(await isRealDir(base))) return;
  for (const entry of await readdir(base, { withFileTypes: true }).catch(() => [])) {
    const fan = entry.name;
    // a symlink where a fan-out folder belongs is not tdvc's: nothing is listed (so read or
    // deleted) through it
    if (!isFanName(fan) || !entry.isDirectory()) continue;
    for (const name of await readdir(join(base, fan)).catch(() => [] as string[])) {
      const oid = oidOfEntry(fan, name);
      if (!oid) continue;
      // lstat: a link under an object's name is not an object (and is never followed)
      const st = await lstat(join(base, fan, name)).catch(() => undefined);
      if (st?.isFile()) yield { oid, size: st.size, mtimeMs: st.mtimeMs };
    }
  }
}

/**
 * Makes `dir` (and missing parents) group-writable and setgid for a team remote. The umask
 * becomes 002 first, so no folder is ever visible to another member with a narrower mode; the folders this process created are then chmod-ed to exactly 2775 (setgid is
 * otherwise only inherited). A rename-into-place scheme is not used: renaming a folder over an
 * empty one that another writer just created would silently replace it.
 */
async function makeSharedDir(dir: string): Promise<void> {
  if (isMainThread) process.umask(0o002);
  const first = await mkdir(dir, { recursive: true, mode: 0o2775 });
  if (first === undefined) return;
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    await chmod(d, 0o2775).catch(() => {});
    if (d === first) break;
  }
}

async function isRealDir(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => undefined))?.isDirectory() === true;
}

/** What is at `p`, never following a link there: 'file' (a regular file), 'gone', or what else it is. */
async function entryKind(p: string): Promise<string> {
  let st: Stats;
  try {
    st = await lstat(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return 'gone';
    throw err;
  }
  return kindOf(st);
}

/** entryKind from a directory entry; lstat only where the file system gives no type (DT_UNKNOWN). */
async function direntKind(dir: string, e: Dirent): Promise<string> {
  if (e.isFile()) return 'file';
  if (e.isDirectory()) return 'a folder';
  if (e.isSymbolicLink()) return 'a symbolic link';
  if (e.isFIFO()) return 'a named pipe';
  if (e.isSocket()) return 'a socket';
  if (e.isCharacterDevice() || e.isBlockDevice()) return 'a device';
  return entryKind(join(dir, e.name));
}

function kindOf(st: Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  return 'a device';
}

export async function openFsRemote(settings: RemoteSettings): Promise<FsRemote> {
  const remote = new FsRemote(settings);
  await remote.checkReachable();
  return remote;
}
