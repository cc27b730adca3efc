import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Oid } from '../hash/oid.js';
import { isErrno } from '../errors.js';
import { compareUtf8 } from '../objects/paths.js';
import { openIfExistsSync, removeStaleTempSync, uniqueTempName } from '../util/fs.js';

/** What is remembered about one workspace file: enough stat data to know it was not touched. */
export interface StatKey {
  ino: number;
  size: number;
  mtimeMs: number;
}

interface Row extends StatKey {
  path: string;
  oid: Oid;
}

const MAGIC = Buffer.from('tdvc-index 3\n');
/** the inode of a spilled change that forgets its path */
const FORGOTTEN = -1;
const ZERO_OID = '0'.repeat(64);
/** A change that drops `path`, as it is spilled and merged. */
function forgottenRow(path: string): Row {
  return { path, oid: ZERO_OID, ino: FORGOTTEN, size: 0, mtimeMs: 0 };
}
/** the header: MAGIC, then the number of rows (a double) */
const HEADER = MAGIC.length + 8;
const OID_BYTES = 32;
const CHUNK = 1 << 20;
/** No path is longer (Linux: PATH_MAX 4096); a longer one means the file is damaged. */
const MAX_PATH_BYTES = 64 * 1024;

/**
 * The stat index of one dataset: path → (inode, size, mtime) → hash, so files that did not change
 * are never read again. It is a cache: deleting it loses nothing but time.
 *
 * On disk (`<16 hex>.idx` in `.tdvc/tmp/index/`): a header with the number of rows, then the rows
 * in canonical path order (UTF-8 bytes, the order of tree manifests and of `walkSorted`), each: the length of the path prefix it shares with
 * the row before (UTF-16 units) and the rest of the path (UTF-8), both length-prefixed, then the
 * 32-byte hash and inode, size and mtime as doubles. It is read and written as a stream: a scan
 * asks about paths in order and a cursor moves through the file; the rows of the new index are
 * written to a temp file as the scan goes (`visit`); memory holds one chunk of each, never a row
 * per file, whatever the size of the dataset.
 *
 * Files written or removed outside a scan (by checkout) are recorded in a map and merged in when
 * the index is saved; a writer that records in canonical order, a window at a time, spills each
 * window to a sorted temp file (`spill`), so its records do not pile up in memory either. Nothing
 * is written when a scan found every row as it was.
 *
 * Racy-clean guard (as in Git): an entry whose mtime is not older than the index file itself may
 * have been modified within the same timestamp tick after it was hashed, so it is not trusted.
 */
export class StatIndex {
  private reader: RowReader | undefined;
  /** recorded changes not spilled yet: a row, or null for a path forgotten */
  private readonly changed = new Map<string, Row | null>();
  /** changes spilled in canonical order (a forgotten path as a row with ino -1) */
  private spilled: RowWriter | undefined;
  private spilledLast: string | undefined;
  /** forgotten paths among the spilled changes */
  private spilledForgotten = 0;
  private savedAtMs = 0;
  private exists = false;
  /** the scan's rows, written as it goes; complete once `endVisits` is called */
  private visits: RowWriter | undefined;
  private visitsComplete = false;
  /** whether the scan saw anything other than the rows on disk, in the same order */
  private visitsDiffer = false;
  private oldRowsSeen = 0;
  private dirty = false;

  private constructor(private readonly file: string) {}

  static fileFor(indexDir: string, datasetRelPath: string): string {
    const key = createHash('sha1').update(datasetRelPath).digest('hex').slice(0, 16);
    return join(indexDir, `${key}.idx`);
  }

  static load(indexDir: string, datasetRelPath: string): StatIndex {
    const idx = new StatIndex(StatIndex.fileFor(indexDir, datasetRelPath));
    try {
      idx.savedAtMs = statSync(idx.file).mtimeMs;
      idx.exists = true;
    } catch (err) {
      // a missing index is only a cold cache
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    return idx;
  }

  /** Rows on disk. */
  get size(): number {
    return this.diskRows();
  }

  private openReader(): RowReader | undefined {
    return this.exists ? RowReader.open(this.file) : undefined;
  }

  /** The row on disk for `path`: a cursor that moves forward; asking for an earlier path starts over. */
  private onDisk(path: string): Row | undefined {
    if (!this.exists) return undefined;
    let r = this.reader;
    // the cursor stands at or after the last path asked for: an earlier path may be behind it
    if (r?.lastAsked !== undefined && compareUtf8(path, r.lastAsked) < 0) {
      r.close();
      r = undefined;
    }
    if (!r) {
      r = this.reader = this.openReader();
      if (!r) return undefined;
      r.next();
    }
    r.lastAsked = path;
    while (r.current && compareUtf8(r.current.path, path) < 0) r.next();
    return r.current?.path === path ? r.current : undefined;
  }

  /**
   * The recorded hash if the file still has exactly the recorded stat data and is not racy.
   * Cheapest when asked about paths in canonical order (a scan's order).
   */
  lookup(path: string, st: StatKey, _hint?: number): Oid | undefined {
    const c = this.changed.get(path);
    const row = c === null ? undefined : (c ?? this.onDisk(path));
    if (!row || row.ino !== st.ino || row.size !== st.size || row.mtimeMs !== st.mtimeMs) return undefined;
    if (st.mtimeMs >= this.savedAtMs) return undefined;
    return row.oid;
  }

  /**
   * A file the scan found, in canonical order, with the hash it has now. `fresh`: read this time
   * (otherwise the hash came from `lookup`, i.e. from the row on disk for this very stat data).
   * The rows visited replace the whole index once the scan calls `endVisits`.
   */
  visit(path: string, st: StatKey, oid: Oid, fresh: boolean): void {
    this.visits ??= RowWriter.create(this.file);
    this.visits.write({ path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, oid });
    // a fresh hash is saved even when equal: the new file time makes a racy row trustworthy
    if (fresh) this.visitsDiffer = true;
    else this.oldRowsSeen++;
  }

  /** The scan saw every file: what it visited is the index now. */
  endVisits(): void {
    // (a scan that visited nothing has no rows file: nothing is written before save)
    this.visitsComplete = true;
    // every row visited was vouched for by a row on disk: unchanged, unless the disk has more
    if (!this.visitsDiffer && this.diskRows() !== this.oldRowsSeen) this.visitsDiffer = true;
    if (!this.visitsDiffer) {
      // the file on disk says it all: the copy is not needed
      this.visits?.discard();
      this.visits = undefined;
    }
  }

  private diskRows(): number {
    const r = this.openReader();
    const n = r?.rows ?? 0;
    r?.close();
    return n;
  }

  record(path: string, st: StatKey, oid: Oid): void {
    this.changed.set(path, { path, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, oid });
    this.dirty = true;
  }

  /** Drops a path (a file the caller removed). */
  forget(path: string): void {
    this.changed.set(path, null);
    this.dirty = true;
  }

  /**
   * Moves the changes recorded so far out of memory into a sorted temp file, merged in at `save`.
   * For a caller that records a window of paths at a time, each window after the last one (a
   * checkout): changes that do not all come after what was spilled before stay in memory. Spilled
   * changes are no longer seen by `lookup`.
   */
  spill(): void {
    if (this.changed.size === 0) return;
    const paths = [...this.changed.keys()];
    // a window is usually recorded in order already: check before sorting
    for (let k = 1; k < paths.length; k++) {
      if (compareUtf8(paths[k - 1]!, paths[k]!) > 0) {
        paths.sort(compareUtf8);
        break;
      }
    }
    if (this.spilledLast !== undefined && compareUtf8(paths[0]!, this.spilledLast) <= 0) return;
    this.spilled ??= RowWriter.create(this.file);
    for (const path of paths) {
      const row = this.changed.get(path) ?? forgottenRow(path);
      if (row.ino === FORGOTTEN) this.spilledForgotten++;
      this.spilled.write(row);
    }
    this.spilledLast = paths[paths.length - 1];
    this.changed.clear();
  }

  async save(force = false): Promise<void> {
    this.reader?.close();
    this.reader = undefined;
    const scanned = this.visitsComplete && this.visitsDiffer;
    if (!force && !this.dirty && !scanned) {
      this.visits?.discard();
      this.visits = undefined;
      return;
    }
    // the base: what the scan visited, else what was on disk; then the recorded changes merged in
    let baseFile: string | undefined;
    // (a scan that visited nothing has no rows file: an empty base)
    if (scanned) baseFile = this.visits?.finish();
    else {
      this.visits?.discard();
      if (this.exists) baseFile = this.file;
    }
    this.visits = undefined;
    // read back by this process only: no fsync
    const spilledFile = this.spilled?.finish(false);
    this.spilled = undefined;
    this.spilledLast = undefined;
    const forgottenSpilled = this.spilledForgotten;
    this.spilledForgotten = 0;
    if (scanned && this.changed.size === 0 && spilledFile === undefined) {
      // what the scan wrote is the index: no second copy
      this.install(baseFile ?? RowWriter.create(this.file).finish());
      return;
    }
    if (spilledFile !== undefined && this.changed.size === 0 && forgottenSpilled === 0 && rowsIn(baseFile) === 0) {
      // everything is in the spilled rows (a checkout into an empty folder): they are the index
      if (baseFile !== undefined && baseFile !== this.file) rmSync(baseFile, { force: true });
      syncFile(spilledFile);
      this.install(spilledFile);
      return;
    }
    // highest priority first: the changes in memory are newer than those spilled
    const memory = [...this.changed.entries()]
      .sort((a, b) => compareUtf8(a[0], b[0]))
      .map(([path, row]) => row ?? forgottenRow(path));
    let k = 0;
    const spilled = spilledFile ? RowReader.open(spilledFile) : undefined;
    const base = baseFile ? RowReader.open(baseFile) : undefined;
    const sources: Array<() => Row | undefined> = [() => memory[k++], () => spilled?.next(), () => base?.next()];
    const heads = sources.map((next) => next());
    const out = RowWriter.create(this.file);
    try {
      for (;;) {
        let first: number | undefined;
        for (let s = 0; s < heads.length; s++) {
          if (heads[s] && (first === undefined || compareUtf8(heads[s]!.path, heads[first]!.path) < 0)) first = s;
        }
        if (first === undefined) break;
        const row = heads[first]!;
        if (row.ino !== FORGOTTEN) out.write(row);
        for (let s = 0; s < heads.length; s++) if (heads[s]?.path === row.path) heads[s] = sources[s]!();
      }
    } catch (err) {
      out.discard();
      throw err;
    } finally {
      base?.close();
      spilled?.close();
      if (baseFile !== undefined && baseFile !== this.file) rmSync(baseFile, { force: true });
      if (spilledFile !== undefined) rmSync(spilledFile, { force: true });
    }
    this.install(out.finish());
  }

  /** Renames a finished rows file into place as the index. */
  private install(tmp: string): void {
    renameSync(tmp, this.file);
    this.exists = true;
    sweepIndexDir(join(this.file, '..'));
    this.savedAtMs = statSync(this.file).mtimeMs;
    this.changed.clear();
    this.dirty = false;
    this.visitsDiffer = false;
    this.oldRowsSeen = 0;
  }
}

/** The number of rows a rows file's header announces (0 for none or no file). */
function rowsIn(file: string | undefined): number {
  const r = file === undefined ? undefined : RowReader.open(file);
  r?.close();
  return r?.rows ?? 0;
}

function syncFile(file: string): void {
  const fd = openSync(file, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Reads rows one at a time, a chunk of the file in memory. A damaged file ends where it is damaged. */
class RowReader {
  current: Row | undefined;
  lastAsked: string | undefined;
  /** rows the header announces */
  rows = 0;
  private buf = Buffer.allocUnsafe(CHUNK);
  private start = 0;
  private end = 0;
  private eof = false;
  private prevPath = '';

  private constructor(private fd: number | undefined) {}

  static open(file: string): RowReader | undefined {
    const fd = openIfExistsSync(file);
    if (fd === undefined) return undefined;
    const r = new RowReader(fd);
    if (!fstatSync(fd).isFile() || !r.fill(HEADER) || !r.buf.subarray(r.start, r.start + MAGIC.length).equals(MAGIC)) {
      r.close();
      return r; // not an index of this version: no rows
    }
    r.rows = r.buf.readDoubleLE(r.start + MAGIC.length);
    r.start += HEADER;
    return r;
  }

  /** Makes at least `n` bytes available from `start`, reading on; false at the end of the file. */
  private fill(n: number): boolean {
    if (this.end - this.start >= n) return true;
    if (this.eof || this.fd === undefined) return false;
    if (this.start > 0) {
      this.buf.copy(this.buf, 0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
    }
    if (n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    while (this.end - this.start < n) {
      const got = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (got === 0) {
        this.eof = true;
        return false;
      }
      this.end += got;
    }
    return true;
  }

  next(): Row | undefined {
    this.current = this.readRow();
    return this.current;
  }

  private readRow(): Row | undefined {
    if (!this.fill(8)) return undefined;
    const shared = this.buf.readUInt32LE(this.start);
    const restBytes = this.buf.readUInt32LE(this.start + 4);
    if (shared > this.prevPath.length || restBytes > MAX_PATH_BYTES) return this.damaged();
    const rowBytes = 8 + restBytes + OID_BYTES + 24;
    if (!this.fill(rowBytes)) return this.damaged();
    let p = this.start + 8;
    const path = this.prevPath.slice(0, shared) + this.buf.toString('utf8', p, p + restBytes);
    p += restBytes;
    const oid = this.buf.toString('hex', p, p + OID_BYTES);
    p += OID_BYTES;
    const ino = this.buf.readDoubleLE(p);
    const size = this.buf.readDoubleLE(p + 8);
    const mtimeMs = this.buf.readDoubleLE(p + 16);
    this.start += rowBytes;
    if (this.prevPath !== '' && compareUtf8(this.prevPath, path) >= 0) return this.damaged();
    this.prevPath = path;
    return { path, oid, ino, size, mtimeMs };
  }

  private damaged(): undefined {
    this.close();
    return undefined;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.eof = true;
    this.start = this.end = 0;
  }
}

/** Writes rows in order to a temp file beside the index; `finish` returns its name. */
class RowWriter {
  rows = 0;
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  private prevPath = '';

  private constructor(
    private readonly tmp: string,
    private fd: number | undefined,
  ) {}

  static create(indexFile: string): RowWriter {
    const dir = join(indexFile, '..');
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, uniqueTempName());
    const w = new RowWriter(tmp, openSync(tmp, 'wx', 0o644));
    unfinished(tmp, true);
    w.put(MAGIC);
    w.put(Buffer.alloc(8)); // the number of rows, written by finish
    return w;
  }

  write(row: Row): void {
    let shared = 0;
    const prev = this.prevPath;
    const max = Math.min(prev.length, row.path.length);
    while (shared < max && prev.charCodeAt(shared) === row.path.charCodeAt(shared)) shared++;
    // never split a surrogate pair: the rest is written as UTF-8
    if (shared > 0 && shared < row.path.length && (row.path.charCodeAt(shared - 1) & 0xfc00) === 0xd800) shared--;
    const rest = row.path.slice(shared);
    const restBytes = Buffer.byteLength(rest, 'utf8');
    const rowBytes = 8 + restBytes + OID_BYTES + 24;
    if (this.used + rowBytes > this.buf.length) this.flush();
    if (rowBytes > this.buf.length) this.buf = Buffer.allocUnsafe(rowBytes);
    let p = this.used;
    p = this.buf.writeUInt32LE(shared, p);
    p = this.buf.writeUInt32LE(restBytes, p);
    p += this.buf.write(rest, p, 'utf8');
    p += this.buf.write(row.oid, p, 'hex');
    p = this.buf.writeDoubleLE(row.ino, p);
    p = this.buf.writeDoubleLE(row.size, p);
    p = this.buf.writeDoubleLE(row.mtimeMs, p);
    this.used = p;
    this.prevPath = row.path;
    this.rows++;
  }

  private put(b: Buffer): void {
    if (this.used + b.length > this.buf.length) this.flush();
    b.copy(this.buf, this.used);
    this.used += b.length;
  }

  private flush(): void {
    let off = 0;
    while (off < this.used) off += writeSync(this.fd!, this.buf, off, this.used - off);
    this.used = 0;
  }

  /**
   * Completes the file (row count; fsync unless `durable` is false: a row of an index that lies
   * after a crash would be trusted) and returns its name.
   */
  finish(durable = true): string {
    this.flush();
    const count = Buffer.alloc(8);
    count.writeDoubleLE(this.rows);
    writeSync(this.fd!, count, 0, 8, MAGIC.length);
    if (durable) fsyncSync(this.fd!);
    closeSync(this.fd!);
    this.fd = undefined;
    unfinished(this.tmp, false);
    return this.tmp;
  }

  discard(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tmp, { force: true });
    unfinished(this.tmp, false);
  }
}

/** Removes what killed scans left in the index folder (their temp files) and indexes of older versions. */
function sweepIndexDir(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.json') && /^[0-9a-f]{16}\.json$/.test(name)) rmSync(join(dir, name), { force: true });
    else removeStaleTempSync(join(dir, name));
  }
}

/**
 * Temp files of rows a command started and did not finish (a scan whose command then refused, or
 * failed): removed when the process exits, so a refusal leaves nothing behind. (A killed process's
 * are swept by the next save: see sweepIndexDir.)
 */
const open = new Set<string>();
function unfinished(tmp: string, isOpen: boolean): void {
  if (!isOpen) {
    open.delete(tmp);
    return;
  }
  if (open.size === 0 && !exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const f of open) rmSync(f, { force: true });
    });
  }
  open.add(tmp);
}
let exitHook = false;
