import type { Oid } from '../hash/oid.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { compareUtf8 } from '../objects/paths.js';
import type { ConflictKind, MergeConflict } from '../merge/manifest-merge.js';
import type { PutNode, TreeSummary } from './builder.js';
import { diffTrees, type TreeChange } from './diff.js';
import { editTree, type TreeEdit } from './edit.js';
import type { TreeSource } from './source.js';
import { entriesUnder, lookupEntry } from './walk.js';

const same = (a: ManifestEntry | undefined, b: ManifestEntry | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.oid === b.oid && a.exec === b.exec && a.size === b.size);

/**
 * Three-way merge of folder trees, with the rules of `mergeManifests` (its reference model, which
 * the tests hold it to): changes to different files combine, a file changed differently on both
 * sides (or changed on one, deleted on the other) is a conflict whose merged entry is ours (or the
 * surviving side), and a file on one side where the other has a folder of that name is a conflict
 * for the file and everything under it. Only what changed is read: both sides are diffed against
 * the base (equal subtrees skipped) and their changes applied to our tree as edits.
 */
export async function mergeTrees(src: TreeSource, put: PutNode, base: Oid | undefined, ours: Oid, theirs: Oid): Promise<{ tree: TreeSummary; conflicts: MergeConflict[] }> {
  const ourChanges = new Map<string, TreeChange>();
  for await (const c of diffTrees(src, base, src, ours)) ourChanges.set(c.path, c);
  const edits: TreeEdit[] = [];
  const conflicts: MergeConflict[] = [];
  // paths the merge adds to what the base had, to check for file/folder clashes afterwards
  const added: string[] = [];
  for (const c of ourChanges.values()) if (!c.before && c.after) added.push(c.path);
  for await (const t of diffTrees(src, base, src, theirs)) {
    const be = t.before;
    const te = t.after;
    const oe = ourChanges.has(t.path) ? ourChanges.get(t.path)!.after : be;
    if (same(oe, te)) continue;
    if (same(oe, be)) {
      edits.push(te ? { path: t.path, entry: te } : { path: t.path });
      if (te && !be) added.push(t.path);
      continue;
    }
    const kind: ConflictKind = !oe ? 'deleted-modified' : !te ? 'modified-deleted' : be ? 'both-modified' : 'both-added';
    conflicts.push({ path: t.path, kind, base: be, ours: oe, theirs: te });
    if (!oe && te) {
      edits.push({ path: t.path, entry: te });
      if (!be) added.push(t.path);
    }
  }
  let tree = await editTree(src, put, ours, edits);
  const clash = await fileFolderClashes(src, tree.oid, ours, base, theirs, added.sort(compareUtf8), conflicts);
  if (clash.length > 0) tree = await editTree(src, put, tree.oid, clash);
  return { tree: { oid: tree.oid, files: tree.files, bytes: tree.bytes }, conflicts: conflicts.sort((x, y) => compareUtf8(x.path, y.path)) };
}

/**
 * A path one side added may be a file where the merged tree has a folder, or lie under a file of
 * the merged tree. Ours wins in the merged tree; the file and every path under it become
 * conflicts. Returns the edits that remove the losing side.
 */
async function fileFolderClashes(
  src: TreeSource,
  merged: Oid,
  ours: Oid,
  base: Oid | undefined,
  theirs: Oid,
  added: readonly string[],
  conflicts: MergeConflict[],
): Promise<TreeEdit[]> {
  const clashFiles = new Set<string>();
  for (const p of added) {
    for (let slash = p.indexOf('/'); slash > 0; slash = p.indexOf('/', slash + 1)) {
      const parent = p.slice(0, slash);
      if (await lookupEntry(src, merged, parent)) clashFiles.add(parent);
    }
    if ((await lookupEntry(src, merged, p)) && !(await entriesUnder(src, merged, p).next()).done) clashFiles.add(p);
  }
  if (clashFiles.size === 0) return [];
  const listed = new Set(conflicts.map((c) => c.path));
  const at = async (root: Oid | undefined, path: string): Promise<ManifestEntry | undefined> => (root === undefined ? undefined : lookupEntry(src, root, path));
  const mark = async (path: string): Promise<void> => {
    if (listed.has(path)) return;
    listed.add(path);
    conflicts.push({ path, kind: 'file-folder', base: await at(base, path), ours: await at(ours, path), theirs: await at(theirs, path) });
  };
  const edits = new Map<string, TreeEdit>();
  for (const file of [...clashFiles].sort(compareUtf8)) {
    await mark(file);
    const under: string[] = [];
    for await (const e of entriesUnder(src, merged, file)) under.push(e.path);
    for (const p of under) await mark(p);
    if (await at(ours, file)) for (const p of under) edits.set(p, { path: p });
    else edits.set(file, { path: file });
  }
  return [...edits.values()].sort((a, b) => compareUtf8(a.path, b.path));
}
