import { isOid, type Oid } from '../hash/oid.js';
import { writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';
import type { DvcHashKind } from './parse-dvc-file.js';

/** What a DVC object became in the tdvc cache: a file's object, or a folder's tree. */
export interface Converted {
  oid: Oid;
  size: number;
  /** folders only */
  files?: number;
}

/** The map file is this workspace's own scratch data: a larger or unreadable one is ignored, never trusted in part. */
const MAP_LIMIT = 256 << 20;

/**
 * DVC's md5 ids → the BLAKE3 ids their bytes (or folder trees) have in the tdvc cache, so a
 * second import (another revision, `--history`, a re-run after `git checkout OLD`) reads no DVC
 * object again. Kept per hash kind: a DVC 2 md5 (dos2unix) and a DVC 3 md5 of the same digits
 * need not be the same bytes. An entry is used only while its object is in the tdvc cache.
 * Stored as `<kind><f|d><md5> <oid> <size> <files|->` lines in `.git/tdvc/dvc-md5-map` (see import-dvc.ts).
 */
export class Md5Map {
  private readonly map = new Map<string, Converted>();
  private changed = false;

  static key(md5: string, kind: DvcHashKind, dir: boolean): string {
    return `${kind === 'md5' ? '3' : '2'}${dir ? 'd' : 'f'}${md5}`;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): Converted | undefined {
    return this.map.get(key);
  }

  set(key: string, c: Converted): void {
    const old = this.map.get(key);
    if (old && old.oid === c.oid) return;
    this.map.set(key, c);
    this.changed = true;
  }

  static async load(path: string): Promise<Md5Map> {
    const m = new Md5Map();
    let text: string | undefined;
    try {
      text = await readSmallText(path, 'md5 map', MAP_LIMIT);
    } catch {
      return m;
    }
    if (text === undefined) return m;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const f = /^([23][fd][0-9a-f]{32}) ([0-9a-f]{64}) (\d{1,16}) (\d{1,16}|-)$/.exec(line);
      if (!f || !isOid(f[2]!)) return new Md5Map();
      m.map.set(f[1]!, { oid: f[2]!, size: Number(f[3]), ...(f[4] === '-' ? {} : { files: Number(f[4]) }) });
    }
    return m;
  }

  async save(path: string): Promise<void> {
    if (!this.changed) return;
    const lines: string[] = [];
    for (const [k, c] of this.map) lines.push(`${k} ${c.oid} ${c.size} ${c.files ?? '-'}`);
    await writeFileAtomic(path, lines.join('\n') + '\n');
    this.changed = false;
  }
}
