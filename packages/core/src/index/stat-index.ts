import { readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Oid } from '../hash/oid.js';
import { isErrno } from '../errors.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';

/** What is remembered about one workspace file: enough stat data to know it was not touched. */
export interface StatKey {
  ino: number;
  size: number;
  mtimeMs: number;
}

type Row = [ino: number, size: number, mtimeMs: number, oid: Oid];

/** On disk: one array per column, rows in the order of the last walk (cheap to parse: five arrays, not 100,000 objects). */
interface Columns {
  v: 2;
  paths: string[];
  ino: number[];
  size: number[];
  mtime: number[];
  oid: Oid[];
}

/**
 * The stat index of one dataset: path → (inode, size, mtime) → hash, so files that did not change
 * are never read again. It is a cache: deleting it loses nothing but time.
 *
 * Rows are kept in the order of the last directory walk, so the next walk finds each file at the
 * same position and no path → row map has to be built (the common case of an unchanged folder).
 *
 * Racy-clean guard (as in Git): an entry whose mtime is not older than the index file itself may
 * have been modified within the same timestamp tick after it was hashed, so it is not trusted.
 */
export class StatIndex {
  private cols: Columns = { v: 2, paths: [], ino: [], size: [], mtime: [], oid: [] };
  private byPath: Map<string, number> | undefined;
  private readonly changed = new Map<string, Row>();
  private readonly forgotten = new Set<string>();
  private order: string[] | undefined;
  private savedAtMs = 0;
  private dirty = false;

  private constructor(private readonly file: string) {}

  static fileFor(indexDir: string, datasetRelPath: string): string {
    const key = createHash('sha1').update(datasetRelPath).digest('hex').slice(0, 16);
    return join(indexDir, `${key}.json`);
  }

  static load(indexDir: string, datasetRelPath: string): StatIndex {
    const idx = new StatIndex(StatIndex.fileFor(indexDir, datasetRelPath));
    try {
      const st = statSync(idx.file);
      const parsed = JSON.parse(readFileSync(idx.file, 'utf8')) as Partial<Columns>;
      const n = parsed.paths?.length ?? -1;
      if (parsed.v === 2 && n >= 0 && [parsed.ino, parsed.size, parsed.mtime, parsed.oid].every((c) => Array.isArray(c) && c.length === n)) {
        idx.cols = parsed as Columns;
        idx.savedAtMs = st.mtimeMs;
      }
    } catch (err) {
      // a missing or damaged index is only a cold cache
      if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    }
    return idx;
  }

  get size(): number {
    return this.order?.length ?? this.cols.paths.length;
  }

  private rowOf(path: string, hint: number | undefined): number | undefined {
    if (hint !== undefined && this.cols.paths[hint] === path) return hint;
    if (!this.byPath) {
      this.byPath = new Map();
      this.cols.paths.forEach((p, i) => this.byPath!.set(p, i));
    }
    return this.byPath.get(path);
  }

  /**
   * The recorded hash if the file still has exactly the recorded stat data and is not racy.
   * `hint`: where the file probably is (its position in this walk).
   */
  lookup(path: string, st: StatKey, hint?: number): Oid | undefined {
    const c = this.changed.get(path);
    let ino: number, size: number, mtime: number, oid: Oid;
    if (c) [ino, size, mtime, oid] = c;
    else {
      const i = this.rowOf(path, hint);
      if (i === undefined) return undefined;
      [ino, size, mtime, oid] = [this.cols.ino[i]!, this.cols.size[i]!, this.cols.mtime[i]!, this.cols.oid[i]!];
    }
    if (ino !== st.ino || size !== st.size || mtime !== st.mtimeMs) return undefined;
    if (st.mtimeMs >= this.savedAtMs) return undefined;
    return oid;
  }

  record(path: string, st: StatKey, oid: Oid): void {
    this.changed.set(path, [st.ino, st.size, st.mtimeMs, oid]);
    this.dirty = true;
  }

  /** Drops a path (a file the caller removed). */
  forget(path: string): void {
    this.forgotten.add(path);
    this.changed.delete(path);
    this.dirty = true;
  }

  /** Keeps only these paths, in this order (the order of the walk that just happened). */
  retainOnly(paths: string[]): void {
    const same = paths.length === this.cols.paths.length && paths.every((p, i) => p === this.cols.paths[i]);
    if (same) return;
    this.order = paths;
    this.dirty = true;
  }

  async save(force = false): Promise<void> {
    if (!this.dirty && !force) return;
    // the walk's order, then files recorded since (e.g. written by a checkout after the walk)
    const base = this.order ?? this.cols.paths;
    const inBase = new Set(base);
    const order = [...base, ...[...this.changed.keys()].filter((p) => !inBase.has(p))];
    const out: Columns = { v: 2, paths: [], ino: [], size: [], mtime: [], oid: [] };
    for (const p of order) {
      if (this.forgotten.has(p)) continue;
      let row = this.changed.get(p);
      if (!row) {
        const i = this.rowOf(p, out.paths.length);
        if (i === undefined) continue;
        row = [this.cols.ino[i]!, this.cols.size[i]!, this.cols.mtime[i]!, this.cols.oid[i]!];
      }
      out.paths.push(p);
      out.ino.push(row[0]);
      out.size.push(row[1]);
      out.mtime.push(row[2]);
      out.oid.push(row[3]);
    }
    await ensureDir(join(this.file, '..'));
    await writeFileAtomic(this.file, JSON.stringify(out));
    this.dirty = false;
  }
}
