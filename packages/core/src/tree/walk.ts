import type { Oid } from '../hash/oid.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { MissingManifestError } from '../errors.js';
import type { OidSink } from '../util/oid-set.js';
import { compareUtf8 } from '../objects/paths.js';
import { PathOrder, type ChildRef, type TreeNode } from '../objects/tree-format.js';
import { levelOf, loadChild, TREE_READ_AHEAD, type TreeSource } from './source.js';

/** A range of paths [from, to): either end open when undefined. */
export interface PathRange {
  from?: string;
  to?: string;
}

/** The range of paths a dataset sub-path covers: the file `p` itself and everything in `p/` ('' is everything). */
export function rangeOfSubPath(p: string): PathRange {
  return p === '' ? {} : { from: p, to: `${p}0` }; // '0' follows '/' in byte order
}

/** The ranges of a selection's sub-paths, undefined when it is the whole dataset. */
export function rangesOfSubPaths(subPaths: readonly string[] | undefined): PathRange[] | undefined {
  if (!subPaths || subPaths.length === 0 || subPaths.includes('')) return undefined;
  return subPaths.map(rangeOfSubPath);
}

export function childMayHold(first: string, next: string | undefined, range: PathRange): boolean {
  if (range.to !== undefined && compareUtf8(first, range.to) >= 0) return false;
  if (range.from !== undefined && next !== undefined && compareUtf8(next, range.from) <= 0) return false;
  return true;
}

interface Frame {
  level: number;
  children: ChildRef[];
  next: number;
  /** the first path after this node (the parent's next child), for range checks */
  end: string | undefined;
}

/**
 * Every file of the tree rooted at `root` in canonical order, optionally only those in `range`,
 * a leaf's worth at a time: nodes are loaded one path at a time (memory: one node per level, and
 * the few read ahead), subtrees outside the range are not loaded at all. Checks the order and the
 * file/folder rule across nodes as it goes.
 */
export async function* walkLeaves(src: TreeSource, root: Oid, range: PathRange = {}): AsyncGenerator<ManifestEntry[]> {
  const order = new PathOrder(`manifest ${root} of ${src.where}`);
  const rootNode = await src.load(root);
  const stack: Frame[] = [];
  const inRange = (node: TreeNode & { kind: 'leaf' }): ManifestEntry[] => {
    let out = node.entries;
    if (range.from !== undefined || range.to !== undefined) {
      out = out.filter((e) => (range.from === undefined || compareUtf8(e.path, range.from) >= 0) && (range.to === undefined || compareUtf8(e.path, range.to) < 0));
    }
    for (const e of out) order.check(e.path);
    return out;
  };
  if (rootNode.kind === 'leaf') {
    yield inRange(rootNode);
    return;
  }
  stack.push({ level: rootNode.level, children: rootNode.children, next: 0, end: undefined });
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next >= top.children.length) {
      stack.pop();
      continue;
    }
    const i = top.next++;
    const ref = top.children[i]!;
    const next = i + 1 < top.children.length ? top.children[i + 1]!.first : top.end;
    if (src.prefetch) {
      // read the next siblings while this one is walked (reads overlap; on EFS that is most of the time)
      // (many leaves ahead; one node ahead above them, which the leaves' reads must not wait behind)
      const ahead = top.level === 1 ? TREE_READ_AHEAD : 1;
      for (let j = i + 1; j < Math.min(top.children.length, i + 1 + ahead); j++) {
        const c = top.children[j]!;
        if (childMayHold(c.first, j + 1 < top.children.length ? top.children[j + 1]!.first : top.end, range)) src.prefetch(c.oid);
      }
    }
    if (!childMayHold(ref.first, next, range)) {
      if (range.to !== undefined && compareUtf8(ref.first, range.to) >= 0) return;
      continue;
    }
    const child = await loadChild(src, ref, top.level);
    if (child.kind === 'leaf') {
      const batch = inRange(child);
      if (batch.length > 0) yield batch;
    } else {
      stack.push({ level: child.level, children: child.children, next: 0, end: next });
    }
  }
}

/** `walkLeaves` one file at a time. */
export async function* walkEntries(src: TreeSource, root: Oid, range: PathRange = {}): AsyncGenerator<ManifestEntry> {
  for await (const batch of walkLeaves(src, root, range)) yield* batch;
}

/** All files of a tree in one array (for callers that need them all at once, and for v1 manifests). */
export async function readAllEntries(src: TreeSource, root: Oid): Promise<ManifestEntry[]> {
  const out: ManifestEntry[] = [];
  for await (const batch of walkLeaves(src, root)) for (const e of batch) out.push(e);
  return out;
}

/**
 * Every node of the tree, parents before children, skipping subtrees `enter` declines (for gc's
 * marking and push's planning: a subtree already seen, or already on the remote). Leaves are
 * passed with their files.
 */
export async function forEachNode(
  src: TreeSource,
  root: Oid,
  visit: (oid: Oid, node: TreeNode, level: number) => Promise<void> | void,
  enter: (oid: Oid) => boolean | Promise<boolean> = () => true,
): Promise<void> {
  if (!(await enter(root))) return;
  const rootNode = await src.load(root);
  await visit(root, rootNode, levelOf(rootNode));
  if (rootNode.kind === 'leaf') return;
  const stack: Array<{ ref: ChildRef; parentLevel: number }> = rootNode.children.map((ref) => ({ ref, parentLevel: rootNode.level })).reverse();
  while (stack.length > 0) {
    const { ref, parentLevel } = stack.pop()!;
    if (!(await enter(ref.oid))) continue;
    const node = await loadChild(src, ref, parentLevel);
    await visit(ref.oid, node, parentLevel - 1);
    if (node.kind === 'node') for (let i = node.children.length - 1; i >= 0; i--) stack.push({ ref: node.children[i]!, parentLevel: node.level });
  }
}

/**
 * Adds to `into` the ids of every node of the tree at `root` and of every file it lists (gc's
 * marking). A node already in `seen` is not read again: versions of a dataset share most of
 * their subtrees, so marking many versions costs what differs between them. A node missing from
 * the source does not stop the marking (everything else still gets marked); the number missing
 * is returned, the root included.
 */
export async function markTree(src: TreeSource, root: Oid, into: OidSink, seen: Set<Oid>): Promise<number> {
  let missing = 0;
  const stack: Array<{ ref: ChildRef | undefined; oid: Oid; parentLevel: number }> = [{ ref: undefined, oid: root, parentLevel: 0 }];
  while (stack.length > 0) {
    const { ref, oid, parentLevel } = stack.pop()!;
    if (seen.has(oid)) continue;
    into.add(oid);
    let node: TreeNode;
    try {
      node = ref === undefined ? await src.load(oid) : await loadChild(src, ref, parentLevel);
    } catch (err) {
      if (err instanceof MissingManifestError) {
        missing++;
        continue;
      }
      throw err;
    }
    seen.add(oid);
    if (node.kind === 'leaf') for (const e of node.entries) into.add(e.oid);
    else for (let i = node.children.length - 1; i >= 0; i--) stack.push({ ref: node.children[i]!, oid: node.children[i]!.oid, parentLevel: node.level });
    // the next nodes to be marked are read while this one is
    if (src.prefetch) for (let i = stack.length - 1; i >= Math.max(0, stack.length - TREE_READ_AHEAD); i--) if (!seen.has(stack[i]!.oid)) src.prefetch(stack[i]!.oid);
  }
  return missing;
}

/** The file at `path` in the tree, if any: O(depth) nodes read. */
export async function lookupEntry(src: TreeSource, root: Oid, path: string): Promise<ManifestEntry | undefined> {
  for await (const e of walkEntries(src, root, { from: path, to: `${path}\u0000` })) return e;
  return undefined;
}

/** The files under folder `path` (`path/…`) in the tree, in order: O(depth + what is there). */
export function entriesUnder(src: TreeSource, root: Oid, path: string): AsyncGenerator<ManifestEntry> {
  return walkEntries(src, root, { from: `${path}/`, to: `${path}0` });
}
