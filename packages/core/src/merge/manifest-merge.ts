import type { ManifestEntry } from '../objects/manifest.js';
import { compareUtf8 } from '../objects/paths.js';

export type ConflictKind = 'both-modified' | 'both-added' | 'modified-deleted' | 'deleted-modified' | 'file-folder';

export interface MergeConflict {
  path: string;
  kind: ConflictKind;
  base: ManifestEntry | undefined;
  ours: ManifestEntry | undefined;
  theirs: ManifestEntry | undefined;
}

export interface ManifestMergeResult {
  /** the merged file list; for a conflict it holds our side (or the surviving side of a modify/delete) */
  merged: ManifestEntry[];
  conflicts: MergeConflict[];
}

const same = (a: ManifestEntry | undefined, b: ManifestEntry | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.oid === b.oid && a.exec === b.exec && a.size === b.size);

/**
 * Pure three-way merge of directory manifests at file level. Changes to different files on each
 * side combine; a file changed differently on both sides, or changed on one side and deleted on
 * the other, is a conflict. The merged list keeps every file either side still has, so checking
 * it out after the merge materialises the union and nothing is lost while the conflict waits.
 */
export function mergeManifests(
  base: readonly ManifestEntry[],
  ours: readonly ManifestEntry[],
  theirs: readonly ManifestEntry[],
): ManifestMergeResult {
  const b = new Map(base.map((e) => [e.path, e]));
  const o = new Map(ours.map((e) => [e.path, e]));
  const t = new Map(theirs.map((e) => [e.path, e]));
  const paths = new Set([...b.keys(), ...o.keys(), ...t.keys()]);
  const merged = new Map<string, ManifestEntry>();
  const conflicts: MergeConflict[] = [];
  for (const path of paths) {
    const be = b.get(path);
    const oe = o.get(path);
    const te = t.get(path);
    let pick: ManifestEntry | undefined;
    if (same(oe, te)) pick = oe;
    else if (same(oe, be)) pick = te;
    else if (same(te, be)) pick = oe;
    else {
      const kind: ConflictKind = !oe ? 'deleted-modified' : !te ? 'modified-deleted' : be ? 'both-modified' : 'both-added';
      conflicts.push({ path, kind, base: be, ours: oe, theirs: te });
      pick = oe ?? te;
    }
    if (pick) merged.set(path, pick);
  }
  resolveFileFolderClashes(merged, o, b, t, conflicts);
  return {
    merged: [...merged.values()].sort((x, y) => compareUtf8(x.path, y.path)),
    conflicts: conflicts.sort((x, y) => compareUtf8(x.path, y.path)),
  };
}

/**
 * One side may add a file `a` while the other adds `a/b`: both cannot exist. Our side wins in the
 * merged list. The file and every path under it become conflicts (whichever side they came from),
 * so nothing disappears silently, the conflict paths do not depend on which side is "ours", and
 * taking either side of all of them gives a valid file list.
 */
function resolveFileFolderClashes(
  merged: Map<string, ManifestEntry>,
  ours: Map<string, ManifestEntry>,
  base: Map<string, ManifestEntry>,
  theirs: Map<string, ManifestEntry>,
  conflicts: MergeConflict[],
): void {
  // file path -> merged paths under it; each side's list is valid, so the file comes from one
  // side and the paths under it from the other
  const under = new Map<string, string[]>();
  for (const path of merged.keys()) {
    for (let slash = path.indexOf('/'); slash > 0; slash = path.indexOf('/', slash + 1)) {
      const parent = path.slice(0, slash);
      if (!merged.has(parent)) continue;
      const list = under.get(parent);
      if (list) list.push(path);
      else under.set(parent, [path]);
    }
  }
  if (under.size === 0) return;
  const listed = new Set(conflicts.map((c) => c.path));
  const mark = (path: string): void => {
    if (listed.has(path)) return;
    listed.add(path);
    conflicts.push({ path, kind: 'file-folder', base: base.get(path), ours: ours.get(path), theirs: theirs.get(path) });
  };
  for (const [file, paths] of under) {
    mark(file);
    for (const p of paths) mark(p);
    if (ours.has(file)) for (const p of paths) merged.delete(p);
    else merged.delete(file);
  }
}
