import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { createHasher, hashBytes, hashHandle } from '../hash/blake3.js';
import { isOid, type Oid } from '../hash/oid.js';
import { CorruptObjectError, FileChangedError, fromSystemError, isErrno, MissingObjectError, TdvcError } from '../errors.js';
import { removeRegularFile, removeStaleTempSync, uniqueTempName } from '../util/fs.js';
import { openObject } from './object-file.js';
import { isUnsupportedHere } from '../util/link-support.js';
import { fanDir, fanOf, isFanName, layoutDir, objectPath, oidOfEntry } from '../objects/layout.js';
import { NoFollowGuard } from '../util/no-follow.js';
import { NotRegularFileError, WORKSPACE_READ } from '../util/safe-read.js';

/** Folder of the cache root where projects using the cache register (workspace/projects.ts). */
export const PROJECTS_DIR = 'projects';

export type SharedMode = 'none' | 'group';

export interface ObjectStoreOptions {
  shared?: SharedMode;
  /** fsync objects before publishing them; on by default for shared caches. */
  fsync?: boolean;
}

/** Files up to this size are read into memory in one go; larger ones are streamed. */
export const SMALL_FILE = 8 << 20;
const CHUNK = 1 << 20;
/** Chunk of the pipelined large-file pass: big enough that each read and write is one long system call. */
const PIPE_CHUNK = 4 << 20;

export interface PutResult {
  oid: Oid;
  size: number;
  /** false when an identical object was already there */
  created: boolean;
}

/**
 * The content-addressed store. Objects live at `<root>/b3v1/<oid[0:2]>/<oid[2:]>`, read-only.
 * Every write goes to an exclusive temp file in the object's own folder and is renamed in only
 * after its bytes were hashed; a writer that loses a race to an identical object just drops its copy.
 */
export class ObjectStore {
  readonly root: string;
  readonly shared: SharedMode;
  readonly fsync: boolean;
  private readonly knownDirs = new Set<string>();
  private readonly noFollow: NoFollowGuard;

  constructor(root: string, options: ObjectStoreOptions = {}) {
    this.root = root;
    this.shared = options.shared ?? 'none';
    this.fsync = options.fsync ?? this.shared !== 'none';
    this.noFollow = new NoFollowGuard(root);
    // A shared cache must never show another member a folder they cannot use, not even for the
    // moment between mkdir and chmod (or after a writer is killed in between): the umask becomes
    // 002, so every folder is born 2775 and nothing is world-writable. (Worker threads inherit it.)
    if (this.shared === 'group' && isMainThread) process.umask(0o002);
  }

  get objectMode(): number {
    return 0o444;
  }

  get dirMode(): number {
    return this.shared === 'group' ? 0o2775 : 0o755;
  }

  pathOf(oid: Oid): string {
    return objectPath(this.root, oid);
  }

  /** The folder of the object layout (`<root>/b3v1`). */
  get objectsDir(): string {
    return layoutDir(this.root);
  }

  /**
   * Object ids known to be present: filled by one listing of the fan-out folders, then kept up to
   * date by this process's own writes. Once loaded it answers `has` without a stat per object;
   * an object another process adds meanwhile is at worst written again, which is harmless.
   */
  private known: Set<Oid> | undefined;

  knownObjects(): Set<Oid> {
    this.known ??= this.listAllSync();
    return this.known;
  }

  /** Drops an object from the in-memory listing (after it was moved or deleted). */
  forget(oid: Oid): void {
    this.known?.delete(oid);
  }

  /**
   * Makes the file at `absPath`, which the caller knows holds exactly `oid` (a held workspace file:
   * see workspace/local-objects.ts), the cache object, by renaming it in: the bytes are not written
   * again. 'other-fs' when the file is on another file system (nothing moved: copy it instead).
   */
  async adoptFile(oid: Oid, absPath: string): Promise<'adopted' | 'other-fs'> {
    const final = this.pathOf(oid);
    await this.ensureDir(fanDir(this.root, fanOf(oid)));
    try {
      await rename(absPath, final);
    } catch (err) {
      if (isErrno(err, 'EXDEV')) return 'other-fs';
      throw fromSystemError(err, absPath);
    }
    await chmod(final, this.objectMode);
    this.noteStored(oid);
    return 'adopted';
  }

  /**
   * Moves an object out of the cache to `dest` (replacing what is there), for a workspace file that
   * is to become its only local copy. 'other-fs' when `dest` is on another file system (nothing moved).
   */
  async moveOut(oid: Oid, dest: string): Promise<'moved' | 'other-fs'> {
    try {
      await rename(this.pathOf(oid), dest);
    } catch (err) {
      if (isErrno(err, 'EXDEV')) return 'other-fs';
      throw err;
    }
    this.forget(oid);
    return 'moved';
  }

  /**
   * Moves a cache entry that failed a check out of the layout into `<root>/quarantine/` (never
   * deleted: it may be the only copy anyone can still partly use). A link or FIFO is moved as
   * itself (rename does not follow). Returns where it went.
   */
  async quarantine(oid: Oid): Promise<string> {
    const qdir = join(this.root, 'quarantine');
    await this.ensureDir(qdir);
    const dest = join(qdir, `${oid}.${Date.now()}`);
    await rename(this.pathOf(oid), dest);
    this.forget(oid);
    return dest;
  }

  /**
   * Deletes an object (gc). Its folder stays: other writers may be creating files in it. Only a
   * regular file is deleted: a folder or symlink under an object's name is not tdvc's.
   */
  async remove(oid: Oid): Promise<void> {
    if ((await removeRegularFile(this.pathOf(oid))) !== 'skipped') this.forget(oid);
  }

  async has(oid: Oid): Promise<boolean> {
    if (this.known) return this.known.has(oid);
    try {
      await lstat(this.pathOf(oid));
      return true;
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
      throw fromSystemError(err);
    }
  }

  /**
   * Which of `oids` are present. For large batches it lists the 256 fan-out folders instead of
   * stat-ing every object: a few hundred readdir calls instead of one stat per object.
   */
  async hasMany(oids: Iterable<Oid>): Promise<Set<Oid>> {
    const list = [...oids];
    const present = new Set<Oid>();
    if (list.length < 2048 && !this.known) {
      await Promise.all(list.map(async (o) => void ((await this.has(o)) && present.add(o))));
      return present;
    }
    const all = this.knownObjects();
    for (const o of list) if (all.has(o)) present.add(o);
    return present;
  }

  /** Every object id in the store (temp files excluded). */
  listAllSync(): Set<Oid> {
    const out = new Set<Oid>();
    const base = layoutDir(this.root);
    let fans: Dirent[];
    try {
      fans = readdirSync(base, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw fromSystemError(err);
    }
    for (const entry of fans) {
      const fan = entry.name;
      // the listing sees every temp file anyway: drop those of killed writers on this host (files
      // only, exact temp names only: see removeStaleTempSync)
      if (!isFanName(fan)) {
        removeStaleTempSync(join(base, fan), undefined);
        continue;
      }
      // a symlink (or file) where a fan-out folder belongs is not tdvc's: gc must not delete
      // through it whatever it points at
      if (!entry.isDirectory()) continue;
      for (const name of readdirSync(join(base, fan))) {
        const oid = oidOfEntry(fan, name);
        if (oid) out.add(oid);
        else removeStaleTempSync(join(base, fan, name), undefined);
      }
    }
    return out;
  }

  async read(oid: Oid): Promise<Buffer> {
    const { fh } = await openObject(oid, this.pathOf(oid));
    let data: Buffer;
    try {
      data = await fh.readFile();
    } catch (err) {
      throw fromSystemError(err, this.pathOf(oid));
    } finally {
      await fh.close();
    }
    const found = hashBytes(data);
    if (found !== oid) throw new CorruptObjectError(oid, found, this.pathOf(oid));
    return data;
  }

  /** Stores bytes, hashing them here so the object is verified by construction. */
  async putBytes(data: Uint8Array): Promise<PutResult> {
    const oid = hashBytes(data);
    const size = data.byteLength;
    if (await this.has(oid)) return { oid, size, created: false };
    const tmp = await this.tempFor(oid);
    await this.writeTemp(tmp, async (fh) => {
      await fh.writeFile(data);
    });
    return { oid, size, created: await this.publish(oid, tmp) };
  }

  /**
   * The synchronous twin of `putFile` for files up to SMALL_FILE bytes: one open, two fstats, one
   * read, and (when the object is new) one exclusive create, write and rename. For 100,000 small
   * files the promise machinery of the async path costs more CPU than the system calls themselves,
   * so batches of small files run through this, on worker threads.
   */
  putSmallFileSync(path: string, opts: { reflink?: boolean } = {}): PutResult & { mtimeMs: number; ino: number; cloned: boolean } {
    if (opts.reflink && this.reflinkWorks !== false) {
      const r = this.cloneSmallFileSync(path);
      if (r) return r;
    }
    const { data, st } = readSmallFileSync(path);
    const oid = hashBytes(data);
    let created = false;
    if (!this.hasSync(oid)) {
      const dir = fanDir(this.root, fanOf(oid));
      this.ensureDirSync(dir);
      const tmp = join(dir, uniqueTempName());
      let fd: number | undefined;
      try {
        fd = openSync(tmp, 'wx', this.objectMode);
        if (this.shared === 'group') fchmodSync(fd, this.objectMode);
        writeAllSync(fd, data);
        if (this.fsync) fsyncSync(fd);
        closeSync(fd);
        fd = undefined;
        renameSync(tmp, this.pathOf(oid));
        this.known?.add(oid);
        created = true;
      } catch (err) {
        if (fd !== undefined) closeSync(fd);
        rmSync(tmp, { force: true });
        throw fromSystemError(err, path);
      }
    }
    return { oid, size: data.byteLength, created, mtimeMs: st.mtimeMs, ino: st.ino, cloned: false };
  }

  /** undefined until tried; false once a clone failed with "not supported here" */
  private reflinkWorks: boolean | undefined;

  /**
   * On a copy-on-write file system: clone the file into the store first and hash the clone, which
   * nobody else can change, so the object is exact and shares its blocks with the workspace (no
   * second copy on disk, and no need to relink the workspace file). The source's stat before and
   * after the clone must agree, or the file was changing. Returns undefined when reflink does not
   * work here (then the caller copies).
   */
  private cloneSmallFileSync(path: string): (PutResult & { mtimeMs: number; ino: number; cloned: boolean }) | undefined {
    const dir = layoutDir(this.root);
    this.ensureDirSync(dir);
    const tmp = join(dir, uniqueTempName());
    let before: Stats;
    try {
      before = statSync(path);
      copyFileSync(path, tmp, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
    } catch (err) {
      rmSync(tmp, { force: true });
      if (isReflinkUnsupported(err)) {
        this.reflinkWorks = false;
        return undefined;
      }
      if (isErrno(err, 'ENOENT')) throw new TdvcError('EVANISHED', `file vanished while it was being added: ${path}`, { path, hint: 'run tdvc add again' });
      throw fromSystemError(err, path);
    }
    this.reflinkWorks = true;
    try {
      const after = statSync(path);
      if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || after.ino !== before.ino) throw new FileChangedError(path);
      chmodSync(tmp, this.objectMode);
      const { data } = readSmallFileSync(tmp);
      if (data.byteLength !== before.size) throw new FileChangedError(path);
      const oid = hashBytes(data);
      if (this.hasSync(oid)) {
        rmSync(tmp, { force: true });
        return { oid, size: data.byteLength, created: false, mtimeMs: before.mtimeMs, ino: before.ino, cloned: false };
      }
      this.ensureDirSync(fanDir(this.root, fanOf(oid)));
      renameSync(tmp, this.pathOf(oid));
      this.known?.add(oid);
      return { oid, size: data.byteLength, created: true, mtimeMs: before.mtimeMs, ino: before.ino, cloned: true };
    } catch (err) {
      rmSync(tmp, { force: true });
      throw fromSystemError(err, path);
    }
  }

  /** Records an object another thread of this process stored. */
  noteStored(oid: Oid): void {
    this.known?.add(oid);
  }

  hasSync(oid: Oid): boolean {
    if (this.known) return this.known.has(oid);
    return statSync(this.pathOf(oid), { throwIfNoEntry: false }) !== undefined;
  }

  /** The synchronous twin of `ensureDir`. */
  ensureDirSync(dir: string): void {
    if (this.knownDirs.has(dir)) return;
    this.noFollow.dir(dir);
    const first = mkdirSync(dir, { recursive: true, mode: this.dirMode });
    if (this.shared === 'group' && first !== undefined) chmodCreated(dir, first, this.dirMode);
    this.knownDirs.add(dir);
  }

  /**
   * Adds a workspace file. The source is fstat-ed before and after it is read: a file that
   * changes meanwhile is refused (FileChangedError) instead of being stored torn.
   * `reflink` clones the file into the cache (copy-on-write) and hashes the clone.
   */
  async putFile(path: string, opts: { reflink?: boolean } = {}): Promise<PutResult & { mtimeMs: number; ino: number }> {
    let fh;
    try {
      fh = await open(path, WORKSPACE_READ);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        throw new TdvcError('EVANISHED', `file vanished while it was being added: ${path}`, { path, hint: 'run tdvc add again' });
      }
      throw fromSystemError(err, path);
    }
    try {
      const before = await fh.stat();
      if (!before.isFile()) throw new NotRegularFileError(path, 'file', before);
      if (before.size <= SMALL_FILE) {
        const data = await fh.readFile();
        const after = await fh.stat();
        if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || data.byteLength !== before.size) {
          throw new FileChangedError(path);
        }
        const res = await this.putBytes(data);
        return { ...res, mtimeMs: before.mtimeMs, ino: before.ino };
      }
      if (opts.reflink !== true) return await this.putLargeFileOnePass(fh, before, path);
      const { oid, size } = await hashHandle(fh);
      const after = await fh.stat();
      if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || size !== before.size) {
        throw new FileChangedError(path);
      }
      if (await this.has(oid)) return { oid, size, created: false, mtimeMs: before.mtimeMs, ino: before.ino };
      const tmp = await this.tempFor(oid);
      try {
        const copied = await this.copyVerified(path, tmp, opts.reflink === true);
        if (copied !== oid) throw new FileChangedError(path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw fromSystemError(err, path);
      }
      return { oid, size, created: await this.publish(oid, tmp), mtimeMs: before.mtimeMs, ino: before.ino };
    } finally {
      await fh.close();
    }
  }

  /**
   * Large files without reflink: one pass that hashes each chunk and writes it to a temp file in
   * the layout folder while the next chunk is being read, so the file is read once and reading
   * overlaps writing. The id is only known at the end; the temp file is then renamed into its fan-out
   * folder (same file system), or dropped when the object was already there.
   */
  private async putLargeFileOnePass(
    fh: Awaited<ReturnType<typeof open>>,
    before: Stats,
    path: string,
  ): Promise<PutResult & { mtimeMs: number; ino: number }> {
    const dir = layoutDir(this.root);
    await this.ensureDir(dir);
    const tmp = join(dir, uniqueTempName());
    const h = createHasher();
    let size = 0;
    try {
      const out = await open(tmp, 'wx', this.objectMode);
      try {
        let cur = Buffer.allocUnsafe(PIPE_CHUNK);
        let spare = Buffer.allocUnsafe(PIPE_CHUNK);
        let { bytesRead } = await fh.read(cur, 0, PIPE_CHUNK, null);
        while (bytesRead > 0) {
          const chunk = cur.subarray(0, bytesRead);
          h.update(chunk);
          size += bytesRead;
          const [, next] = await Promise.all([writeAll(out, chunk), fh.read(spare, 0, PIPE_CHUNK, null)]);
          [cur, spare] = [spare, cur];
          bytesRead = next.bytesRead;
        }
        if (this.fsync) await out.sync();
      } finally {
        await out.close();
      }
      const after = await fh.stat();
      if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || size !== before.size) throw new FileChangedError(path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw fromSystemError(err, path);
    }
    const oid = h.digestHex();
    if (await this.has(oid)) {
      await rm(tmp, { force: true });
      return { oid, size, created: false, mtimeMs: before.mtimeMs, ino: before.ino };
    }
    await this.ensureDir(fanDir(this.root, fanOf(oid)));
    return { oid, size, created: await this.publish(oid, tmp), mtimeMs: before.mtimeMs, ino: before.ino };
  }

  /**
   * Opens a writer for an object whose id is known in advance (a download). The bytes are hashed
   * as they arrive; `commit` publishes only when they match, `abort` leaves nothing behind.
   */
  async openWriter(oid: Oid, source: string): Promise<ObjectWriter> {
    const tmp = await this.tempFor(oid);
    const fh = await open(tmp, 'wx', this.objectMode);
    return new ObjectWriter(this, oid, source, tmp, fh);
  }

  /** Re-hashes an object on disk; returns the digest found. */
  async rehash(oid: Oid): Promise<string> {
    return (await this.rehashChecked(oid)).oid;
  }

  /**
   * Re-hashes an object, opened as every reader opens one (no links, no blocking, regular files
   * only: RejectedObjectError otherwise); returns the digest found and the size.
   */
  async rehashChecked(oid: Oid): Promise<{ oid: string; size: number }> {
    const { fh } = await openObject(oid, this.pathOf(oid));
    try {
      return await hashHandle(fh);
    } finally {
      await fh.close();
    }
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Creates a folder inside the store (and any missing parents up to the root) with the store's
   * folder mode. On a shared cache the constructor set the umask to 002, so a folder is born
   * group-writable (2775 with the setgid bit inherited from the cache root): it is never visible
   * with the creator's private mode, where another member's concurrent add would fail with EACCES.
   * `chmodCreated` then sets the exact mode on the folders this call made, in case the root lacks
   * the setgid bit. Folders another member created are left alone (only their owner may chmod
   * them, and they are right).
   */
  async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    // any member of a shared cache's group can replace `b3v1/ab` by a link to their own folder:
    // objects (and gc's deletes) must never land there. Checked before mkdir, which follows links.
    this.noFollow.dir(dir);
    const first = await mkdir(dir, { recursive: true, mode: this.dirMode });
    if (this.shared === 'group' && first !== undefined) chmodCreated(dir, first, this.dirMode);
    this.knownDirs.add(dir);
  }

  private async tempFor(oid: Oid): Promise<string> {
    const dir = fanDir(this.root, fanOf(oid));
    await this.ensureDir(dir);
    return join(dir, uniqueTempName());
  }

  private async writeTemp(tmp: string, write: (fh: Awaited<ReturnType<typeof open>>) => Promise<void>): Promise<void> {
    const fh = await open(tmp, 'wx', this.objectMode);
    try {
      await write(fh);
      if (this.fsync) await fh.sync();
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw fromSystemError(err, tmp);
    }
  }

  /** @internal renames a finished temp file into place; false when an identical object won the race. */
  async publish(oid: Oid, tmp: string): Promise<boolean> {
    const final = this.pathOf(oid);
    try {
      // the open() mode is filtered by the umask; objects must be readable by every cache user.
      if (this.shared === 'group') await chmod(tmp, this.objectMode);
      // With the listing loaded, a stat is not needed: renaming over an identical object that a
      // concurrent writer just published is harmless (same bytes, and old links stay valid).
      const existed = this.known
        ? this.known.has(oid)
        : await stat(final).then(
            () => true,
            () => false,
          );
      if (existed) {
        await rm(tmp, { force: true });
        return false;
      }
      await rename(tmp, final);
      this.known?.add(oid);
      return true;
    } catch (err) {
      await rm(tmp, { force: true });
      throw fromSystemError(err, final);
    }
  }

  private async copyVerified(src: string, tmp: string, reflink: boolean): Promise<string> {
    if (reflink) {
      try {
        await copyFile(src, tmp, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
        await chmod(tmp, this.objectMode);
        const fh = await open(tmp, 'r');
        try {
          return (await hashHandle(fh)).oid;
        } finally {
          await fh.close();
        }
      } catch (err) {
        if (!isReflinkUnsupported(err)) throw err;
        await rm(tmp, { force: true });
      }
    }
    const out = await open(tmp, 'wx', this.objectMode);
    const inp = await open(src, 'r');
    try {
      const h = createHasher();
      const buf = Buffer.allocUnsafe(CHUNK);
      for (;;) {
        const { bytesRead } = await inp.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        h.update(chunk);
        await writeAll(out, chunk);
      }
      if (this.fsync) await out.sync();
      return h.digestHex();
    } finally {
      await inp.close();
      await out.close();
    }
  }
}

export class ObjectWriter {
  private readonly hasher = createHasher();
  private written = 0;
  private done = false;

  constructor(
    private readonly store: ObjectStore,
    readonly oid: Oid,
    private readonly source: string,
    readonly tempPath: string,
    private readonly fh: Awaited<ReturnType<typeof open>>,
  ) {}

  get bytesWritten(): number {
    return this.written;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.hasher.update(chunk);
    await writeAll(this.fh, chunk);
    this.written += chunk.byteLength;
  }

  /** Verifies the hash of everything written, then publishes the object. */
  async commit(): Promise<boolean> {
    this.done = true;
    try {
      try {
        if (this.store.fsync) await this.fh.sync();
      } finally {
        await this.fh.close();
      }
      const found = this.hasher.digestHex();
      if (found !== this.oid) throw new CorruptObjectError(this.oid, found, this.source);
    } catch (err) {
      // a failed fsync (EIO, a full disk on NFS) must not leave the temp file behind either
      await rm(this.tempPath, { force: true });
      throw err;
    }
    return this.store.publish(this.oid, this.tempPath);
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    await this.fh.close().catch(() => {});
    await rm(this.tempPath, { force: true });
  }
}

/**
 * write(2) may write less than asked (a nearly full disk) without failing. Every byte must be
 * written before a temp file is published under a name hashed from the bytes we meant to write.
 */
async function writeAll(fh: Awaited<ReturnType<typeof open>>, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.byteLength; ) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
    if (bytesWritten <= 0) throw Object.assign(new Error('no progress writing to the cache'), { code: 'EIO' });
    off += bytesWritten;
  }
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  for (let off = 0; off < chunk.byteLength; ) {
    const n = writeSync(fd, chunk, off, chunk.byteLength - off);
    if (n <= 0) throw Object.assign(new Error('no progress writing to the cache'), { code: 'EIO' });
    off += n;
  }
}

/** Errors that mean "this filesystem (pair) cannot do that kind of link", as opposed to real failures. */
/** Whether a failed clone means "no reflinks here" (so copy instead): the link-support table. */
export function isReflinkUnsupported(err: unknown): boolean {
  return isUnsupportedHere('reflink', err);
}

/**
 * Reads a whole small file, refusing it when it changes while being read (size or mtime moved
 * between the fstat before and the one after) or vanishes.
 */
export function readSmallFileSync(path: string): { data: Buffer; st: Stats } {
  let fd: number;
  try {
    fd = openSync(path, WORKSPACE_READ);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TdvcError('EVANISHED', `file vanished while it was being read: ${path}`, { path, hint: 'run the command again' });
    throw fromSystemError(err, path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path, 'file', st);
    // one byte more than expected, so a file that grew is noticed without a second read
    const data = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, data, n, data.length - n, n);
      if (r === 0) break;
      n += r;
      if (n === data.length) break;
    }
    const after = fstatSync(fd);
    if (n !== st.size || after.size !== st.size || after.mtimeMs !== st.mtimeMs) throw new FileChangedError(path);
    return { data: data.subarray(0, n), st };
  } catch (err) {
    throw fromSystemError(err, path);
  } finally {
    closeSync(fd);
  }
}

/** Hashes a small workspace file (read whole, refused if it changes meanwhile). */
export function hashSmallFileSync(path: string): { oid: Oid; size: number; mtimeMs: number; ino: number; created: false } {
  const { data, st } = readSmallFileSync(path);
  return { oid: hashBytes(data), size: data.byteLength, mtimeMs: st.mtimeMs, ino: st.ino, created: false };
}

/**
 * Sets the exact mode (setgid, group-writable) on the folders this process just created, from
 * `dir` up to `first`: mkdir leaves the setgid bit to inheritance, which needs the cache root to
 * have it. Folders another member created stay as they are (only their owner may chmod them).
 */
function chmodCreated(dir: string, first: string, mode: number): void {
  for (let d = dir; d.length >= first.length; d = dirname(d)) {
    try {
      chmodSync(d, mode);
    } catch {
      // a member's folder: its owner set it right
    }
    if (d === first) break;
  }
}
