import type { Oid } from '../hash/oid.js';
import { TdvcError } from '../errors.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { compareUtf8 } from '../objects/paths.js';
import { CHUNKING, childLine, endsChunk, entryLine, leafText, nodeText, utf8Length, type ChildRef } from '../objects/tree-format.js';

/** Stores one node's text and returns its id (the cache's `putBytes`, or a test's map). */
export type PutNode = (text: string) => Promise<Oid>;

/** What a pointer records of a folder tree. */
export interface TreeSummary {
  oid: Oid;
  files: number;
  bytes: number;
}

interface Level {
  lines: string[];
  /** for levels above the leaves: the child references themselves (the root may be one of them) */
  refs: ChildRef[];
  textBytes: number;
  files: number;
  bytes: number;
  first: string | undefined;
  /** items ever pushed into this level: the number of nodes written one level down */
  received: number;
}

/**
 * Builds a tree from files given in canonical order, writing each node as soon as it is complete:
 * memory holds one open node per level, never the whole list. Whole subtrees of an older tree
 * can be taken over unchanged (`adopt`) where the new tree would rebuild them identically, which
 * is how an edit costs the nodes it touches rather than the whole tree (see `editTree`).
 */
export class TreeBuilder {
  private readonly levels: Level[] = [];
  private last: string | undefined;
  /** nodes this builder wrote (some may have been in the store already) */
  nodesWritten = 0;
  textBytesWritten = 0;

  constructor(private readonly put: PutNode) {}

  async add(e: ManifestEntry): Promise<void> {
    if (this.last !== undefined && compareUtf8(this.last, e.path) >= 0) {
      throw new TdvcError('EINTERNAL', `tree entries out of order at ${JSON.stringify(e.path)}`);
    }
    this.last = e.path;
    const line = entryLine(e);
    await this.push(0, line, 1, e.size, e.path, undefined);
  }

  /** Whether a whole node of `level` may be taken over here: nothing is open at its level or below. */
  canAdopt(level: number): boolean {
    for (let k = 0; k <= level && k < this.levels.length; k++) if (this.levels[k]!.lines.length > 0) return false;
    return true;
  }

  /** Takes over an existing node of `level` (with everything under it) as the next item. */
  async adopt(level: number, ref: ChildRef): Promise<void> {
    if (!this.canAdopt(level)) throw new TdvcError('EINTERNAL', 'a tree node adopted where a node is open');
    if (this.last !== undefined && compareUtf8(this.last, ref.first) >= 0) {
      throw new TdvcError('EINTERNAL', `tree node adopted out of order at ${JSON.stringify(ref.first)}`);
    }
    this.last = ref.first;
    await this.pushRef(level + 1, ref);
  }

  /** Closes every open node and returns the root: the one node of the highest level. */
  async finish(): Promise<TreeSummary> {
    for (let k = 0; ; k++) {
      const L = this.level(k);
      const written = this.levels[k + 1]?.received ?? 0;
      if (written === 0) {
        if (k > 0 && L.refs.length === 1) {
          const only = L.refs[0]!;
          return { oid: only.oid, files: only.files, bytes: only.bytes };
        }
        const ref = await this.write(k);
        return { oid: ref.oid, files: ref.files, bytes: ref.bytes };
      }
      if (L.lines.length > 0) await this.close(k);
    }
  }

  private level(k: number): Level {
    if (k > CHUNKING.maxLevel) throw new TdvcError('EINTERNAL', 'tree deeper than the format allows');
    while (this.levels.length <= k) this.levels.push({ lines: [], refs: [], textBytes: 0, files: 0, bytes: 0, first: undefined, received: 0 });
    return this.levels[k]!;
  }

  private async pushRef(k: number, ref: ChildRef): Promise<void> {
    await this.push(k, childLine(ref), ref.files, ref.bytes, ref.first, ref);
  }

  private async push(k: number, line: string, files: number, bytes: number, key: string, ref: ChildRef | undefined): Promise<void> {
    const L = this.level(k);
    L.lines.push(line);
    if (ref) L.refs.push(ref);
    // the line, its line break, and (for the first line) what the header adds
    L.textBytes += line.length - key.length + utf8Length(key) + 1;
    L.files += files;
    L.bytes += bytes;
    L.first ??= key;
    L.received++;
    if (endsChunk(k, key, L.lines.length, L.textBytes)) await this.close(k);
  }

  private async close(k: number): Promise<void> {
    const ref = await this.write(k);
    await this.pushRef(k + 1, ref);
  }

  private async write(k: number): Promise<ChildRef> {
    const L = this.level(k);
    const text = k === 0 ? leafText(L.lines) : nodeText(k, L.lines);
    const oid = await this.put(text);
    this.nodesWritten++;
    this.textBytesWritten += L.textBytes;
    const ref: ChildRef = { oid, files: L.files, bytes: L.bytes, first: L.first ?? '' };
    L.lines = [];
    L.refs = [];
    L.textBytes = 0;
    L.files = 0;
    L.bytes = 0;
    L.first = undefined;
    return ref;
  }
}

/** The tree of a whole file list (any order: it is sorted here). */
export async function buildTree(put: PutNode, entries: readonly ManifestEntry[]): Promise<TreeSummary> {
  const b = new TreeBuilder(put);
  for (const e of [...entries].sort((x, y) => compareUtf8(x.path, y.path))) await b.add(e);
  return b.finish();
}
