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

/**
 * The stat index of one dataset: path → (inode, size, mtime) → hash, so files that did not change
 * are never read again. It is a cache: deleting it loses nothing but time.
 *
 * Racy-clean guard (as in Git): an entry whose mtime is not older than the index file itself may
 * have been modified within the same timestamp tick after it was hashed, so it is not trusted.
 */
export class StatIndex {
  private rows = new Map<string, Row>();
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
      const parsed = JSON.parse(readFileSync(idx.file, 'utf8')) as { v?: number; rows?: Record<string, Row> };
      if (parsed.v === 1 && parsed.rows && typeof parsed.rows === 'object') {
        idx.rows = new Map(Object.entries(parsed.rows));
        idx.savedAtMs = st.mtimeMs;
      }
    } catch (err) {
      // a missing or damaged index is only a cold cache
      if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) throw err;
    }
    return idx;
  }

  get size(): number {
    return this.rows.size;
  }

  /** The recorded hash if the file still has exactly the recorded stat data and is not racy. */
  lookup(path: string, st: StatKey): Oid | undefined {
    const r = this.rows.get(path);
    if (!r) return undefined;
    if (r[0] !== st.ino || r[1] !== st.size || r[2] !== st.mtimeMs) return undefined;
    if (st.mtimeMs >= this.savedAtMs) return undefined;
    return r[3];
  }

  record(path: string, st: StatKey, oid: Oid): void {
    const r = this.rows.get(path);
    if (r && r[0] === st.ino && r[1] === st.size && r[2] === st.mtimeMs && r[3] === oid) return;
    this.rows.set(path, [st.ino, st.size, st.mtimeMs, oid]);
    this.dirty = true;
  }

  /** Drops entries for paths no longer present. */
  retainOnly(paths: Set<string>): void {
    for (const p of this.rows.keys()) {
      if (!paths.has(p)) {
        this.rows.delete(p);
        this.dirty = true;
      }
    }
  }

  async save(force = false): Promise<void> {
    if (!this.dirty && !force) return;
    await ensureDir(join(this.file, '..'));
    await writeFileAtomic(this.file, JSON.stringify({ v: 1, rows: Object.fromEntries(this.rows) }));
    this.dirty = false;
  }
}
