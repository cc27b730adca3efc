import {
  chmodSync,
  closeSync,
  existsSync,
  constants,
  copyFileSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
  type Dirent,
} from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isMainThread, Worker } from 'node:worker_threads';
import { createHasher, hashBytes, hashHandle } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { CorruptObjectError, fromSystemError, isErrno, TdvcError } from '../errors.js';
import { forEachLimit, removeRegularFile, removeStaleTemp, removeStaleTempSync, uniqueTempName } from '../util/fs.js';
import { CACHE_OPS_AT_ONCE } from '../util/concurrency.js';
import { hashFdSync, openObject, openObjectSync, readAllSync } from './object-file.js';
import { isUnsupportedHere } from '../util/link-support.js';
import { fanDir, fanOf, isFanName, layoutDir, objectName, oidOfEntry } from '../objects/layout.js';
import { pathBelow } from '../objects/paths.js';
import { NoFollowGuard } from '../util/no-follow.js';
import { OidSet, type OidLookup, type OidSetParts, type OidSink } from '../util/oid-set.js';
import { defaultThreads } from '../util/concurrency.js';
import { deserializeError, type SerializedError } from '../util/worker-errors.js';

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

export interface PutResult {
  oid: Oid;
  size: number;
  /** false when an identical object was already there */
  created: boolean;
}

/**
 * The content-addressed store. Objects live at `<root>/b3v1/<oid[0:2]>/<oid[2:]>` (objects/layout.ts),
 * read-only. Every write takes one path: an exclusive temp file in the store, renamed in only after
 * its bytes were hashed; a writer that loses a race to an identical object just drops its copy. The
 * store never reads workspace files itself (index/ingest.ts does, and hands it bytes, a stream or a
 * file to clone).
 */
/** Objects `read` reads with synchronous calls (tree nodes are a few KiB; a v1 manifest may be far bigger). */
const SYNC_READ_MAX_BYTES = 1 << 20;
/**
 * A synchronous read slower than this counts as slow; once half the reads (of at least the first
 * few) are slow, reads use the promise API. A network file system is slow on every read; a busy
 * machine now and then.
 */
const SLOW_READ_MS = 2;
const SYNC_READS_TO_JUDGE = 16;
/** From about how many objects `listing` lists the cache on a thread of its own. */
const LIST_THREAD_MIN_OBJECTS = 20_000;

export class ObjectStore {
  readonly root: string;
  readonly shared: SharedMode;
  readonly fsync: boolean;
  private readonly knownDirs = new Set<string>();
  private readonly noFollow: NoFollowGuard;
  /** synchronous reads so far, and those slower than SLOW_READ_MS (see readSmallSync) */
  private readonly syncReads = { done: 0, slow: 0 };
  /** the layout folder, for pathOf */
  private readonly layout: string;

  constructor(root: string, options: ObjectStoreOptions = {}) {
    this.root = root;
    this.shared = options.shared ?? 'none';
    this.fsync = options.fsync ?? this.shared !== 'none';
    this.noFollow = new NoFollowGuard(root);
    this.layout = layoutDir(root);
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
    // objectPath(root, oid) without path.join's per-call normalising (a checkout asks once per file)
    return pathBelow(this.layout, `${fanOf(oid)}/${objectName(oid)}`);
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
  private known: OidSet | undefined;

  knownObjects(): OidLookup {
    this.known ??= this.listAllSync(new OidSet());
    return this.known;
  }

  private listingRun: Promise<OidLookup> | undefined;
  /** objects this process added or removed (see `listing`) */
  private changesSinceListing = 0;

  /**
   * `knownObjects`, listed on a thread of its own when the cache is large (its first fan-out
   * folder tells), so that a caller can start it early and go on with its own work (a checkout
   * reads its trees meanwhile, a status walks): at 100,000 objects the listing costs ~0.2 s of
   * CPU, at a million ~2–4 s. Small caches are listed here, when asked (a thread costs more).
   */
  listing(): Promise<OidLookup> {
    if (this.known) return Promise.resolve(this.known);
    const changes = this.changesSinceListing;
    // a set listed on the thread while this process added or removed objects may miss those: listed again here then
    this.listingRun ??= this.listLarge().then((set) => (this.known ??= (this.changesSinceListing === changes ? set : undefined) ?? this.listAllSync(new OidSet())));
    return this.listingRun;
  }

  private async listLarge(): Promise<OidSet | undefined> {
    if (defaultThreads() <= 1 || this.estimatedObjects() < LIST_THREAD_MIN_OBJECTS) return undefined;
    const worker = new Worker(new URL('./list-worker.js', import.meta.url), { workerData: { root: this.root, shared: this.shared } });
    try {
      const msg = await new Promise<{ parts?: OidSetParts; error?: SerializedError }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      if (msg.error) throw deserializeError(msg.error);
      return OidSet.fromParts(msg.parts!);
    } finally {
      void worker.terminate();
    }
  }

  /** About how many objects the cache holds: the first fan-out folder's entries × the number of folders. */
  private estimatedObjects(): number {
    let fans: string[];
    try {
      fans = readdirSync(this.layout).filter(isFanName);
    } catch {
      return 0;
    }
    if (fans.length === 0) return 0;
    try {
      return readdirSync(join(this.layout, fans[0]!)).length * fans.length;
    } catch {
      return 0;
    }
  }

  /** Drops an object from the in-memory listing (after it was moved or deleted). */
  forget(oid: Oid): void {
    this.known?.delete(oid);
    this.changesSinceListing++;
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
   * itself (rename does not follow). A folder is not moved (tdvc never moves or deletes a folder it
   * did not make: it may hold anything, and a rename would carry all of it along): '' is returned
   * and the caller reports it. Returns where the entry went.
   */
  async quarantine(oid: Oid): Promise<string> {
    if ((await lstat(this.pathOf(oid)).catch(() => undefined))?.isDirectory()) return '';
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

  /**
   * Every object id in the store. The listing sees every temp file anyway: those of killed writers
   * on this host are dropped (files only, exact temp names only: see removeStaleTemp). A symlink (or
   * file) where a fan-out folder belongs is not tdvc's and is not entered: gc must not delete
   * through it whatever it points at.
   */
  listAllSync<S extends OidSink = Set<Oid>>(out: S = new Set<Oid>() as unknown as S): S {
    const base = layoutDir(this.root);
    let entries: Dirent[];
    try {
      entries = readdirSync(base, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw fromSystemError(err);
    }
    let reserved = false;
    for (const entry of entries) {
      const fan = fanFolderOf(entry);
      if (fan === undefined) removeStaleTempSync(join(base, entry.name));
      else if (fan !== false) {
        const names = readdirSync(join(base, fan));
        // ids spread evenly over the fan-out folders: the first tells about how many there are
        if (!reserved) out.reserve?.(Math.ceil(names.length * entries.length * 1.1));
        reserved = true;
        for (const stray of collectFan(fan, names, out)) removeStaleTempSync(join(base, fan, stray));
      }
    }
    return out;
  }

  /**
   * `listAllSync` with the fan-out folders read several at a time (CACHE_OPS_AT_ONCE): on a network
   * file system each read is a round trip, and 257 of them one after another add up.
   */
  async listAll(): Promise<Set<Oid>> {
    const out = new Set<Oid>();
    const base = layoutDir(this.root);
    let entries: Dirent[];
    try {
      entries = await readdir(base, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw fromSystemError(err);
    }
    await forEachLimit(entries, CACHE_OPS_AT_ONCE, async (entry) => {
      const fan = fanFolderOf(entry);
      if (fan === undefined) await removeStaleTemp(join(base, entry.name));
      else if (fan !== false) for (const stray of collectFan(fan, await readdir(join(base, fan)), out)) await removeStaleTemp(join(base, fan, stray));
    });
    return out;
  }

  /** An object's bytes, verified against its id; `tooBig` is thrown for one larger than `maxBytes`, before reading it. */
  async read(oid: Oid, limit?: { maxBytes: number; tooBig: (size: number) => Error }): Promise<Buffer> {
    if (this.syncReads.slow * 2 <= this.syncReads.done || this.syncReads.done < SYNC_READS_TO_JUDGE) {
      const t0 = performance.now();
      const data = this.readSmallSync(oid, limit);
      this.syncReads.done++;
      if (performance.now() - t0 > SLOW_READ_MS) this.syncReads.slow++;
      if (data) return data;
    }
    const { fh, st } = await openObject(oid, this.pathOf(oid));
    let data: Buffer;
    try {
      if (limit && st.size > limit.maxBytes) throw limit.tooBig(st.size);
      data = await fh.readFile();
    } catch (err) {
      throw err instanceof TdvcError ? err : fromSystemError(err, this.pathOf(oid));
    } finally {
      await fh.close();
    }
    const found = hashBytes(data);
    if (found !== oid) throw new CorruptObjectError(oid, found, this.pathOf(oid));
    return data;
  }

  /**
   * `read` of a small object with synchronous calls (undefined: it is not small). Tree walks read
   * thousands of nodes of a few KiB: through the promise API each costs several thread-pool round
   * trips and promises (measured: ~0.4 ms of main-thread time a node, a third of a no-op status's
   * work at 100,000 files), synchronously four system calls. On a cache where reads are slow (a
   * network file system), `read` goes back to the promise API, whose reads overlap (see TreeSource).
   */
  private readSmallSync(oid: Oid, limit?: { maxBytes: number; tooBig: (size: number) => Error }): Buffer | undefined {
    const path = this.pathOf(oid);
    const { fd, st } = openObjectSync(oid, path);
    let data: Buffer;
    try {
      if (limit && st.size > limit.maxBytes) throw limit.tooBig(st.size);
      if (st.size > SYNC_READ_MAX_BYTES) return undefined;
      data = readAllSync(fd, st.size, oid, path);
    } catch (err) {
      throw err instanceof TdvcError ? err : fromSystemError(err, path);
    } finally {
      closeSync(fd);
    }
    const found = hashBytes(data);
    if (found !== oid) throw new CorruptObjectError(oid, found, path);
    return data;
  }

  /** Stores bytes, hashing them here so the object is verified by construction. */
  async putBytes(data: Uint8Array): Promise<PutResult> {
    const oid = hashBytes(data);
    const size = data.byteLength;
    if (this.presentForWriteSync(oid)) return { oid, size, created: false };
    const tmp = await this.fillTemp(await this.fanDirFor(oid), (fh) => writeAll(fh, data)).catch((err: unknown) => {
      throw fromSystemError(err, this.pathOf(oid));
    });
    return { oid, size, created: await this.publish(oid, tmp) };
  }

  /** The synchronous twin of `putBytes` (worker threads store small files through it). */
  putBytesSync(data: Uint8Array): PutResult {
    const oid = hashBytes(data);
    if (this.presentForWriteSync(oid)) return { oid, size: data.byteLength, created: false };
    const dir = fanDir(this.root, fanOf(oid));
    this.ensureDirSync(dir);
    let tmp: string;
    try {
      tmp = this.fillTempSync(dir, data);
    } catch (err) {
      throw fromSystemError(err, this.pathOf(oid));
    }
    return { oid, size: data.byteLength, created: this.publishSync(oid, tmp, true) };
  }

  /** undefined until tried; false once a clone failed with "not supported here" */
  private reflinkWorks: boolean | undefined;

  /** Whether a clone may work here (false once one failed with "not supported here"). */
  get mayClone(): boolean {
    return this.reflinkWorks !== false;
  }

  /**
   * Makes an object by cloning the file at `path` (copy-on-write: it shares the file's blocks) and
   * hashing the clone, which nobody else can change, so the object is exact. Undefined, with
   * nothing left behind, when reflinks do not work here (then the caller copies). `check` runs
   * once the clone is made, before it is published: the caller's test that the file did not
   * change meanwhile (given the clone's size); throwing there leaves nothing behind.
   */
  cloneInSync(path: string, check: (size: number) => void): (PutResult & { cloned: boolean }) | undefined {
    if (this.reflinkWorks === false) return undefined;
    const dir = layoutDir(this.root);
    this.ensureDirSync(dir);
    const tmp = join(dir, uniqueTempName());
    try {
      copyFileSync(path, tmp, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
    } catch (err) {
      rmSync(tmp, { force: true });
      if (isReflinkUnsupported(err)) {
        this.reflinkWorks = false;
        return undefined;
      }
      throw err;
    }
    this.reflinkWorks = true;
    try {
      this.sealCopiedTempSync(tmp);
      const fd = openSync(tmp, 'r');
      let oid: Oid;
      let size: number;
      try {
        size = fstatSync(fd).size;
        check(size);
        oid = hashFdSync(fd);
      } finally {
        closeSync(fd);
      }
      this.ensureDirSync(fanDir(this.root, fanOf(oid)));
      const created = this.publishSync(oid, tmp);
      return { oid, size, created, cloned: created };
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** The asynchronous twin of `cloneInSync` (large files: hashed as a stream). */
  async cloneIn(path: string, check: (size: number) => Promise<void>): Promise<(PutResult & { cloned: boolean }) | undefined> {
    if (this.reflinkWorks === false) return undefined;
    const dir = layoutDir(this.root);
    await this.ensureDir(dir);
    const tmp = join(dir, uniqueTempName());
    try {
      await copyFile(path, tmp, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
    } catch (err) {
      await rm(tmp, { force: true });
      if (isReflinkUnsupported(err)) {
        this.reflinkWorks = false;
        return undefined;
      }
      throw err;
    }
    this.reflinkWorks = true;
    try {
      await this.sealCopiedTemp(tmp);
      const fh = await open(tmp, 'r');
      let hashed: { oid: string; size: number };
      try {
        await check((await fh.stat()).size);
        hashed = await hashHandle(fh);
      } finally {
        await fh.close();
      }
      await this.ensureDir(fanDir(this.root, fanOf(hashed.oid)));
      const created = await this.publish(hashed.oid, tmp);
      return { ...hashed, created, cloned: created };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Stores bytes whose id is known only once they are all written: `fill` hands each chunk to
   * `write`, which hashes it and writes it to a temp file in the layout folder (so reading the next
   * chunk can overlap writing this one); `publish` then renames it into its fan-out folder, or
   * drops it when the object was there already. Raw errors from `fill` pass through.
   */
  async putStreamed(fill: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>): Promise<PutResult> {
    const dir = layoutDir(this.root);
    await this.ensureDir(dir);
    const h = createHasher();
    let size = 0;
    const tmp = await this.fillTemp(dir, (out) =>
      fill(async (chunk) => {
        h.update(chunk);
        size += chunk.byteLength;
        await writeAll(out, chunk);
      }),
    );
    const oid = h.digestHex();
    await this.ensureDir(fanDir(this.root, fanOf(oid)));
    return { oid, size, created: await this.publish(oid, tmp) };
  }

  /** Records an object another thread of this process stored. */
  noteStored(oid: Oid): void {
    this.known?.add(oid);
    this.changesSinceListing++;
  }

  /**
   * Whether a writer may skip storing `oid`. The listing's "absent" is trusted (writing an object
   * that is there after all renames identical bytes over it), its "present" is not: on a network
   * file system a listing can still show an object another machine's gc has just deleted, and a
   * writer that believed it would keep bytes nowhere. One lookup, only for objects believed present.
   */
  private presentForWriteSync(oid: Oid): boolean {
    if (this.known && !this.known.has(oid)) return false;
    return existsSync(this.pathOf(oid));
  }

  hasSync(oid: Oid): boolean {
    if (this.known) return this.known.has(oid);
    // existsSync, not statSync: no Stats object, and for a missing object (every new one of an
    // add) a third of the cost (100,000 lookups: 0.6 s against 1.5 s, then 0.33 s against 0.43 s)
    return existsSync(this.pathOf(oid));
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
   * Opens a writer for an object whose id is known in advance (a download). The bytes are hashed
   * as they arrive; `commit` publishes only when they match, `abort` leaves nothing behind.
   */
  async openWriter(oid: Oid, source: string): Promise<ObjectWriter> {
    const tmp = join(await this.fanDirFor(oid), uniqueTempName());
    const fh = await open(tmp, 'wx', this.objectMode);
    return new ObjectWriter(this, oid, source, tmp, fh);
  }

  /**
   * Feeds an object's bytes to `sink` in chunks, in order (opened as every reader opens one: no
   * links, no blocking, regular files of `expectedSize` only). The caller hashes what it gets.
   */
  async streamObject(oid: Oid, sink: (chunk: Uint8Array) => Promise<void>, expectedSize?: number): Promise<void> {
    const { fh } = await openObject(oid, this.pathOf(oid), expectedSize);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) return;
        // a copy: the sink may keep the chunk while this buffer is read into again
        await sink(Buffer.from(buf.subarray(0, bytesRead)));
      }
    } finally {
      await fh.close();
    }
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

  /** The object's fan-out folder, made if missing. */
  private async fanDirFor(oid: Oid): Promise<string> {
    const dir = fanDir(this.root, fanOf(oid));
    await this.ensureDir(dir);
    return dir;
  }

  // --- the one way bytes become an object ------------------------------------------------
  //
  // Every object enters the store the same way, whatever wrote its bytes (add, a clone, a
  // download): an exclusive temp file in the store (O_EXCL, the object mode, a name fsck knows
  // as a temp file), its bytes written in full, fsynced when `fsync` is on, closed; then renamed
  // to the object's name, unless the object is there already. `fillTemp` and its synchronous twin
  // do the first half, `publish` and its twin the second; a file made by copying (a clone) gets
  // the object mode and the fsync from `sealCopiedTemp`. A failure removes the temp file.

  /** Creates a temp file in `dir`, lets `fill` write it, fsyncs and closes it; returns its path. Raw errors. */
  private async fillTemp(dir: string, fill: (fh: FileHandle) => Promise<void>): Promise<string> {
    const tmp = join(dir, uniqueTempName());
    const fh = await open(tmp, 'wx', this.objectMode);
    try {
      await fill(fh);
      if (this.fsync) await fh.sync();
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    return tmp;
  }

  /** The synchronous twin of `fillTemp`, for bytes in memory. */
  private fillTempSync(dir: string, data: Uint8Array): string {
    const tmp = join(dir, uniqueTempName());
    const fd = openSync(tmp, 'wx', this.objectMode);
    try {
      writeAllSync(fd, data);
      if (this.fsync) fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(tmp, { force: true });
      throw err;
    }
    closeSync(fd);
    return tmp;
  }

  /** A temp file made by copying (which keeps the source's mode): the object mode, and the fsync. */
  private async sealCopiedTemp(tmp: string): Promise<void> {
    await chmod(tmp, this.objectMode);
    if (!this.fsync) return;
    const fh = await open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  private sealCopiedTempSync(tmp: string): void {
    chmodSync(tmp, this.objectMode);
    if (!this.fsync) return;
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * @internal renames a finished temp file to the object's name; false when the object was there
   * already (the temp file is dropped). With the listing loaded no stat is needed for an object it
   * lacks: renaming over an identical object a concurrent writer just published is harmless (same
   * bytes; old links stay valid).
   */
  async publish(oid: Oid, tmp: string): Promise<boolean> {
    const final = this.pathOf(oid);
    try {
      // the listing's "present" is looked up (see presentForWriteSync), its "absent" trusted
      const existed =
        this.known && !this.known.has(oid)
          ? false
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
      this.changesSinceListing++;
      return true;
    } catch (err) {
      await rm(tmp, { force: true });
      throw fromSystemError(err, final);
    }
  }

  /**
   * The synchronous twin of `publish`: renames a temp file holding exactly `oid` into place, unless the object is there already.
   * `lookedJustNow`: the caller has just found it missing (hasSync): no second look before the
   * rename (an object published meanwhile by another writer has the same bytes, and is replaced).
   */
  private publishSync(oid: Oid, tmp: string, lookedJustNow = false): boolean {
    const final = this.pathOf(oid);
    try {
      // existsSync: no Stats object per file (this runs for every new object of a 100,000-file add)
      // the listing's "present" is looked up (see presentForWriteSync), its "absent" trusted
      const existed = !lookedJustNow && (!this.known || this.known.has(oid)) && existsSync(final);
      if (existed) {
        rmSync(tmp, { force: true });
        return false;
      }
      renameSync(tmp, final);
      this.known?.add(oid);
      this.changesSinceListing++;
      return true;
    } catch (err) {
      rmSync(tmp, { force: true });
      throw fromSystemError(err, final);
    }
  }
}

/**
 * What an entry of the layout folder is: its fan-out folder's name; false for a link or file under
 * a fan-out name (not tdvc's: never entered); undefined for anything else (a temp file, at most).
 */
function fanFolderOf(entry: Dirent): string | false | undefined {
  if (!isFanName(entry.name)) return undefined;
  return entry.isDirectory() ? entry.name : false;
}

/** Adds the objects among a fan-out folder's `names` to `out`; returns the other names (temp files, junk). */
function collectFan(fan: string, names: string[], out: OidSink): string[] {
  const strays: string[] = [];
  for (const name of names) {
    const oid = oidOfEntry(fan, name);
    if (oid) out.add(oid);
    else strays.push(name);
  }
  return strays;
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
    private readonly fh: FileHandle,
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
async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
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
