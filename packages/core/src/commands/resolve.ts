import { TdvcError } from '../errors.js';
import { editTree, type TreeEdit } from '../tree/edit.js';
import { storePut, storeSource } from '../tree/source.js';
import { serializePointer, POINTER_VERSION, type Pointer } from '../objects/pointer.js';
import { compareUtf8 } from '../objects/paths.js';
import { inSubPaths, repoPathOf, selectDatasets } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { writeFileAtomic } from '../util/fs.js';
import { checkout, type CheckoutResult } from './checkout.js';
import { clearMergeState, loadMergeState, saveMergeState } from './merge-driver.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface ResolveResult {
  resolved: string[];
  remaining: number;
  checkout: CheckoutResult;
}

/**
 * `tdvc checkout --ours|--theirs -- PATH...` after a conflicted merge: takes one side's version of
 * the conflicting files under PATH (or of the whole pointer), records it in the pointer file and
 * materialises it. What is left conflicted stays listed in the pointer file's comments.
 */
export async function resolveConflict(repo: Repo, side: 'ours' | 'theirs', paths: string[], cwd?: string): Promise<ResolveResult> {
  return withCacheWriterLock(repo, `checkout --${side}`, () => resolveUnlocked(repo, side, paths, cwd));
}

async function resolveUnlocked(repo: Repo, side: 'ours' | 'theirs', paths: string[], cwd?: string): Promise<ResolveResult> {
  if (paths.length === 0) throw new TdvcError('EUSAGE', `--${side} needs the paths to resolve`, { hint: `tdvc checkout --${side} -- DATASET/PATH` });
  const selected = await selectDatasets(repo, paths.map((p) => repo.relPath(p, cwd)));
  const resolved: string[] = [];
  let remaining = 0;
  for (const { dataset: ds, subPaths } of selected) {
    const state = await loadMergeState(repo, ds.pointerPath);
    if (!state) throw new TdvcError('ENOCONFLICT', `${ds.dataPath} has no unresolved tdvc merge conflict`, { path: ds.dataPath });
    const chosen = side === 'ours' ? state.ours : state.theirs;
    repo.guard.target(repo.abs(ds.pointerPath));
    if (state.whole !== undefined) {
      if (chosen) await writeFileAtomic(repo.abs(ds.pointerPath), serializePointer(chosen));
      await clearMergeState(repo, ds.pointerPath);
      resolved.push(ds.dataPath);
      continue;
    }
    const left = [];
    const edits: TreeEdit[] = [];
    for (const c of state.conflicts) {
      if (!inSubPaths(subPaths, c.path)) {
        left.push(c);
        continue;
      }
      const pick = side === 'ours' ? c.ours : c.theirs;
      edits.push(pick ? { path: c.path, entry: pick } : { path: c.path });
      resolved.push(repoPathOf(ds, c.path));
    }
    // only the conflicting files change: the tree is edited, not rebuilt
    const tree = await editTree(storeSource(repo.odb, ds.pointerPath), storePut(repo.odb), ds.pointer.oid, edits.sort((a, b) => compareUtf8(a.path, b.path)));
    const pointer: Pointer = { version: POINTER_VERSION, path: ds.pointer.path, type: 'dir', oid: tree.oid, size: tree.bytes, files: tree.files };
    let text = serializePointer(pointer);
    if (left.length > 0) {
      text = `# tdvc merge conflict in ${ds.dataPath}: ${left.length} file(s) still unresolved:\n${left.map((c) => `#   ${repoPathOf(ds, c.path)}`).join('\n')}\n` + text;
      await saveMergeState(repo, { ...state, conflicts: left });
    } else {
      await clearMergeState(repo, ds.pointerPath);
    }
    await writeFileAtomic(repo.abs(ds.pointerPath), text);
    remaining += left.length;
  }
  // the pointer file of each dataset was rewritten, so the whole dataset is checked out: after a
  // conflicted `git merge` the clean changes of the other side are not in the workspace yet.
  // Conflicting files in the workspace hold our side, which is in the cache, so this does not need
  // --force; any other unsaved change still makes it stop.
  const co = await checkout(repo, selected.map(({ dataset }) => repo.abs(dataset.dataPath)));
  return { resolved, remaining, checkout: co };
}
