import { isOid, type Oid } from '../hash/oid.js';
import { MalformedFileError } from '../errors.js';
import { compareUtf8, relPathProblem } from './paths.js';
import { MANIFEST_HEADER, entryLine, parseEntryLine, parseManifest, shownPath, splitLine, type ManifestEntry } from './manifest.js';
import { fmix32 } from '../hash/mix.js';

/**
 * Folder manifests, version 2: a tree of small objects over the dataset's files in canonical
 * (UTF-8 byte) order of their paths.
 *
 * - A **leaf** lists files, one line each, exactly as a v1 manifest does:
 *   `tdvc-tree 2 leaf`, then `<hash> <size> <x|-> <path>` per file.
 * - A **node** of level k ≥ 1 lists the nodes of level k − 1 under it, in order:
 *   `tdvc-tree 2 node <k>`, then `<hash> <files> <bytes> <first path>` per child (the number of
 *   files and bytes under the child, and the path of its first file).
 *
 * Where one node ends and the next begins depends only on the paths (content-defined, as in a
 * prolly tree), so the same set of files always gives the same nodes and the same root id, and a
 * change to one file rewrites only the nodes on its way to the root. See `endsChunk`.
 */
export const TREE_LEAF_HEADER = 'tdvc-tree 2 leaf';
export const TREE_NODE_HEADER = 'tdvc-tree 2 node';
export const TREE_FORMAT = 2;

/** A node's reference to a child node of the level below. */
export interface ChildRef {
  oid: Oid;
  /** files under the child */
  files: number;
  /** bytes of those files */
  bytes: number;
  /** the path of the child's first file: children are in order, so this bounds their ranges */
  first: string;
}

export type TreeNode =
  | { kind: 'leaf'; entries: ManifestEntry[]; /** a v1 manifest, read as one leaf */ v1?: true }
  | { kind: 'node'; level: number; children: ChildRef[] };

/**
 * The chunking rules, part of the format (changing them changes every id):
 * - a leaf ends after a file whose path's boundary hash at level 0 has its low 6 bits zero (on
 *   average every 64 files), or once it holds 1,024 files or 128 KiB of text;
 * - a node of level k ends after a child (not its first) whose first path's boundary hash at level
 *   k has its low 5 bits zero (on average 32 children), or once it holds 512 children or 128 KiB;
 * - the root is the one node of the highest level (a single leaf for small folders).
 * Boundaries depend on paths, never on contents: editing a file never moves one, and adding or
 * removing a file moves at most the boundaries next to it.
 */
export const CHUNKING = {
  leafMask: 63,
  nodeMask: 31,
  leafMaxItems: 1024,
  nodeMaxItems: 512,
  maxBytes: 128 * 1024,
  maxLevel: 16,
} as const;

/**
 * FNV-1a (32 bits) over the level byte then the UTF-8 bytes of the path, finished with
 * MurmurHash3's fmix32 (FNV's low bits alone are weak).
 */
export function boundaryHash(level: number, path: string): number {
  let h = 0x811c9dc5;
  h = Math.imul(h ^ (level & 0xff), 0x01000193);
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
    } else {
      for (const b of Buffer.from(path.slice(i))) h = Math.imul(h ^ b, 0x01000193);
      break;
    }
  }
  return fmix32(h);
}

/** Whether a node of `level` holding `items` lines and `bytes` of text ends after an item keyed `key`. */
export function endsChunk(level: number, key: string, items: number, bytes: number): boolean {
  if (bytes >= CHUNKING.maxBytes) return true;
  if (level === 0) return items >= CHUNKING.leafMaxItems || (boundaryHash(0, key) & CHUNKING.leafMask) === 0;
  return items >= CHUNKING.nodeMaxItems || (items >= 2 && (boundaryHash(level, key) & CHUNKING.nodeMask) === 0);
}

/** Bytes of a string in UTF-8. */
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return s.length;
}

export function childLine(c: ChildRef): string {
  return `${c.oid} ${c.files} ${c.bytes} ${c.first}`;
}

export function leafText(lines: readonly string[]): string {
  return lines.length === 0 ? `${TREE_LEAF_HEADER}\n` : `${TREE_LEAF_HEADER}\n${lines.join('\n')}\n`;
}

export function nodeText(level: number, lines: readonly string[]): string {
  return `${TREE_NODE_HEADER} ${level}\n${lines.join('\n')}\n`;
}

export { entryLine };

/** Whether an object's bytes start like a v1 manifest or a v2 tree node (for readers of both). */
export function isTreeText(text: string): boolean {
  return text.startsWith('tdvc-tree ');
}

/**
 * Parses a tree node, or a v1 manifest as a single leaf. Checks each line and the order within the
 * node; the order across nodes and the file/folder rule are checked while walking (`PathOrder`).
 */
export function parseTreeNode(text: string, where: string): TreeNode {
  const nl = text.indexOf('\n');
  const header = (nl < 0 ? text : text.slice(0, nl)).replace(/\r$/, '');
  if (header === MANIFEST_HEADER) return { kind: 'leaf', entries: parseManifest(text, where), v1: true };
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== '') throw new MalformedFileError(where, 'the last line has no line break', lines.length + 1);
  if (header === TREE_LEAF_HEADER) {
    const entries: ManifestEntry[] = [];
    for (let i = 1; i < lines.length; i++) {
      const e = parseEntryLine(lines[i]!, where, i + 1);
      if (entries.length > 0 && compareUtf8(entries[entries.length - 1]!.path, e.path) >= 0) {
        throw new MalformedFileError(where, `entries out of order or duplicated at ${shownPath(e.path)}`, i + 1);
      }
      entries.push(e);
    }
    return { kind: 'leaf', entries };
  }
  const m = /^tdvc-tree 2 node ([1-9]\d?)$/.exec(header);
  if (!m || Number(m[1]) > CHUNKING.maxLevel) {
    if (header.startsWith('tdvc-tree ')) throw new MalformedFileError(where, 'a tree node of a format or level this tdvc does not read', 1);
    throw new MalformedFileError(where, `not a tdvc manifest (expected "${MANIFEST_HEADER}" or "${TREE_LEAF_HEADER}")`, 1);
  }
  const level = Number(m[1]);
  if (lines.length < 2) throw new MalformedFileError(where, 'a tree node without children', 1);
  const children: ChildRef[] = [];
  for (let i = 1; i < lines.length; i++) {
    const c = parseChildLine(lines[i]!, where, i + 1);
    if (children.length > 0 && compareUtf8(children[children.length - 1]!.first, c.first) >= 0) {
      throw new MalformedFileError(where, `children out of order or duplicated at ${shownPath(c.first)}`, i + 1);
    }
    children.push(c);
  }
  return { kind: 'node', level, children };
}

function parseChildLine(line: string, where: string, lineNo: number): ChildRef {
  const [oid, files, bytes, first] = splitLine(line, where, lineNo, '"<hash> <files> <bytes> <first path>"');
  if (!isOid(oid)) throw new MalformedFileError(where, 'bad hash', lineNo);
  if (!/^[1-9]\d{0,15}$/.test(files)) throw new MalformedFileError(where, 'bad file count', lineNo);
  if (!/^\d{1,16}$/.test(bytes)) throw new MalformedFileError(where, 'bad size', lineNo);
  const problem = relPathProblem(first);
  if (problem) throw new MalformedFileError(where, `${problem}: ${shownPath(first)}`, lineNo);
  return { oid, files: Number(files), bytes: Number(bytes), first };
}

/**
 * The order rule of a stream of paths, checked as they pass with memory bounded by the depth of
 * the paths: strictly increasing, and no path both a file and a folder (`a` then `a/b`). Paths
 * between a file and its would-be children (`a.txt` between `a` and `a/b`) are why a stack of
 * candidate files is kept rather than only the previous path.
 */
export class PathOrder {
  private prev: string | undefined;
  private readonly files: string[] = [];

  constructor(private readonly where: string) {}

  check(path: string): void {
    if (this.prev !== undefined && compareUtf8(this.prev, path) >= 0) {
      throw new MalformedFileError(this.where, `entries out of order or duplicated at ${shownPath(path)}`);
    }
    this.prev = path;
    // a candidate that is not a prefix of this path is no prefix of any later one either
    while (this.files.length > 0 && !path.startsWith(this.files[this.files.length - 1]!)) this.files.pop();
    const top = this.files[this.files.length - 1];
    if (top !== undefined && path.charCodeAt(top.length) === 47) {
      throw new MalformedFileError(this.where, `${shownPath(top)} is both a file and a folder`);
    }
    this.files.push(path);
  }
}
