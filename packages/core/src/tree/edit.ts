import type { Oid } from '../hash/oid.js';
import { TdvcError } from '../errors.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { compareUtf8 } from '../objects/paths.js';
import type { ChildRef } from '../objects/tree-format.js';
import { TreeBuilder, type PutNode, type TreeSummary } from './builder.js';
import { loadChild, type TreeSource } from './source.js';

/** Set `path` to `entry`, or remove it (`entry` undefined). */
export interface TreeEdit {
  path: string;
  entry?: ManifestEntry;
}

interface Pending {
  ref: ChildRef;
  /** level of the node `ref` names */
  level: number;
  /** the first path after this node, undefined at the end */
  end: string | undefined;
}

/**
 * Applies edits (in canonical order of their paths, each path once) to the tree at `root` and
 * returns the new root. Gives exactly the tree a full build of the edited file list would give,
 * but a subtree no edit falls into is taken over unread whenever the builder is at a node
 * boundary there, so the cost is O(depth) nodes read and written per edited region.
 * Removing a path that is not there is a no-op.
 */
export async function editTree(src: TreeSource, put: PutNode, root: Oid, edits: readonly TreeEdit[]): Promise<TreeSummary & { nodesWritten: number; textBytesWritten: number }> {
  for (let i = 1; i < edits.length; i++) {
    if (compareUtf8(edits[i - 1]!.path, edits[i]!.path) >= 0) throw new TdvcError('EINTERNAL', 'tree edits out of order');
  }
  const builder = new TreeBuilder(put);
  let e = 0;
  // edits before `path`: inserts (a removal of a path that is not there does nothing)
  const before = async (path: string | undefined): Promise<void> => {
    while (e < edits.length && (path === undefined || compareUtf8(edits[e]!.path, path) < 0)) {
      const ed = edits[e++]!;
      if (ed.entry) await builder.add({ ...ed.entry, path: ed.path });
    }
  };
  const addEntry = async (entry: ManifestEntry): Promise<void> => {
    await before(entry.path);
    if (e < edits.length && edits[e]!.path === entry.path) {
      const ed = edits[e++]!;
      if (ed.entry) await builder.add({ ...ed.entry, path: ed.path });
    } else {
      await builder.add(entry);
    }
  };
  // no edit left falls before `end` (all that are left lie at or after the node's first path)
  const untouched = (end: string | undefined): boolean => e >= edits.length || (end !== undefined && compareUtf8(edits[e]!.path, end) >= 0);

  const rootNode = await src.load(root);
  const stack: Pending[] = [];
  const pushChildren = (children: ChildRef[], level: number, end: string | undefined): void => {
    for (let i = children.length - 1; i >= 0; i--) stack.push({ ref: children[i]!, level: level - 1, end: i + 1 < children.length ? children[i + 1]!.first : end });
  };
  if (rootNode.kind === 'leaf') for (const x of rootNode.entries) await addEntry(x);
  else pushChildren(rootNode.children, rootNode.level, undefined);
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (untouched(p.end) && builder.canAdopt(p.level)) {
      await builder.adopt(p.level, p.ref);
      continue;
    }
    const node = await loadChild(src, p.ref, p.level + 1);
    if (node.kind === 'leaf') for (const x of node.entries) await addEntry(x);
    else pushChildren(node.children, node.level, p.end);
  }
  await before(undefined);
  const summary = await builder.finish();
  return { ...summary, nodesWritten: builder.nodesWritten, textBytesWritten: builder.textBytesWritten };
}
