import { constants, readdirSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createHasher, hashBytes } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { CorruptObjectError, FileChangedError, fromSystemError, isErrno, MissingObjectError, TdvcError } from '../errors.js';
import { uniqueTempName } from '../util/fs.js';

/** The on-disk layout version is part of every object path, so a future format can live beside this one. */
export const LAYOUT = 'b3v1';

export function objectRelPath(oid: Oid): string {
  return `${LAYOUT}/${oid.slice(0, 2)}/${oid.slice(2)}`;
}

export type SharedMode = 'none' | 'group';

export interface ObjectStoreOptions {
  shared?: SharedMode;
  /** fsync objects before publishing them; on by default for shared caches. */
  fsync?: boolean;
}

/** Files up to this size are read into memory in one go; larger ones are streamed. */
const SMALL_FILE = 8 << 20;
const CHUNK = 1 << 20;

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

  constructor(root: string, options: ObjectStoreOptions = {}) {
    this.root = root;
    this.shared = options.shared ?? 'none';
    this.fsync = options.fsync ?? this.shared !== 'none';
  }

  get objectMode(): number {
    return 0o444;
  }

  get dirMode(): number {
    return this.shared === 'group' ? 0o2775 : 0o755;
  }

  pathOf(oid: Oid): string {
    return join(this.root, LAYOUT, oid.slice(0, 2), oid.slice(2));
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

  /** Deletes an object (gc). Its folder stays: other writers may be creating files in it. */
  async remove(oid: Oid): Promise<void> {
    await rm(this.pathOf(oid), { force: true });
    this.forget(oid);
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
    const base = join(this.root, LAYOUT);
    let fans: string[];
    try {
      fans = readdirSync(base);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw fromSystemError(err);
    }
    for (const fan of fans) {
      if (fan.length !== 2) continue;
      for (const name of readdirSync(join(base, fan))) {
        if (name.length === 62 && !name.startsWith('.')) out.add(fan + name);
      }
    }
    return out;
  }

  async read(oid: Oid): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(this.pathOf(oid));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new MissingObjectError(oid, 'object');
      throw fromSystemError(err);
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
   * Adds a workspace file. The source is fstat-ed before and after it is read: a file that
   * changes meanwhile is refused (FileChangedError) instead of being stored torn.
   * `reflink` clones the file into the cache (copy-on-write) and hashes the clone.
   */
  async putFile(path: string, opts: { reflink?: boolean } = {}): Promise<PutResult & { mtimeMs: number; ino: number }> {
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        throw new TdvcError('EVANISHED', `file vanished while it was being added: ${path}`, { path, hint: 'run tdvc add again' });
      }
      throw fromSystemError(err, path);
    }
    try {
      const before = await fh.stat();
      if (before.size <= SMALL_FILE) {
        const data = await fh.readFile();
        const after = await fh.stat();
        if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || data.byteLength !== before.size) {
          throw new FileChangedError(path);
        }
        const res = await this.putBytes(data);
        return { ...res, mtimeMs: before.mtimeMs, ino: before.ino };
      }
      const h = createHasher();
      const buf = Buffer.allocUnsafe(CHUNK);
      let size = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
        if (bytesRead === 0) break;
        h.update(buf.subarray(0, bytesRead));
        size += bytesRead;
      }
      const after = await fh.stat();
      if (after.mtimeMs !== before.mtimeMs || after.size !== before.size || size !== before.size) {
        throw new FileChangedError(path);
      }
      const oid = h.digestHex();
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
   * Opens a writer for an object whose id is known in advance (a download). The bytes are hashed
   * as they arrive; `commit` publishes only when they match, `abort` leaves nothing behind.
   */
  async openWriter(oid: Oid, source: string): Promise<ObjectWriter> {
    const tmp = await this.tempFor(oid);
    const fh = await open(tmp, 'wx', this.objectMode);
    return new ObjectWriter(this, oid, source, tmp, fh);
  }

  /** Copies an object out of the store into an exclusive temp-free destination path. */
  async exportTo(oid: Oid, dest: string): Promise<void> {
    await copyFile(this.pathOf(oid), dest, constants.COPYFILE_EXCL);
  }

  /** Re-hashes an object on disk; returns the digest found. */
  async rehash(oid: Oid): Promise<string> {
    const fh = await open(this.pathOf(oid), 'r');
    try {
      return await hashHandle(fh);
    } finally {
      await fh.close();
    }
  }

  async dirEntries(): Promise<string[]> {
    try {
      return await readdir(join(this.root, LAYOUT));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
  }

  // --- internals -------------------------------------------------------------------------

  /**
   * Creates a folder inside the store (and any missing parents up to the root) with the store's
   * folder mode. mkdir's mode is filtered by the umask, so on a shared cache each folder this
   * process creates is chmod-ed: group-writable and setgid whatever the user's umask. Folders
   * another member created are left alone (only their owner may chmod them, and they are right).
   */
  async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const first = await mkdir(dir, { recursive: true, mode: this.dirMode });
    if (this.shared === 'group' && first !== undefined) {
      for (let d = dir; d.length >= first.length; d = dirname(d)) {
        await chmod(d, this.dirMode).catch(() => {});
        if (d === first) break;
      }
    }
    this.knownDirs.add(dir);
  }

  private async tempFor(oid: Oid): Promise<string> {
    const dir = join(this.root, LAYOUT, oid.slice(0, 2));
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
          return await hashHandle(fh);
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
        await out.write(chunk);
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
    await this.fh.write(chunk);
    this.written += chunk.byteLength;
  }

  /** Verifies the hash of everything written, then publishes the object. */
  async commit(): Promise<boolean> {
    this.done = true;
    try {
      if (this.store.fsync) await this.fh.sync();
    } finally {
      await this.fh.close();
    }
    const found = this.hasher.digestHex();
    if (found !== this.oid) {
      await rm(this.tempPath, { force: true });
      throw new CorruptObjectError(this.oid, found, this.source);
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

async function hashHandle(fh: Awaited<ReturnType<typeof open>>): Promise<string> {
  const h = createHasher();
  const buf = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
  }
  return h.digestHex();
}

/** Errors that mean "this filesystem (pair) cannot do that kind of link", as opposed to real failures. */
export function isReflinkUnsupported(err: unknown): boolean {
  return isErrno(err, 'EOPNOTSUPP', 'ENOTSUP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EBADF');
}
