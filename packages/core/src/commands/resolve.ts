import { join } from 'node:path';
import { ExitCode, TdvcError } from '../errors.js';
import { editTree, type TreeEdit } from '../tree/edit.js';
import { storePut, storeSource } from '../tree/source.js';
import { serializePointer, POINTER_VERSION, type Pointer } from '../objects/pointer.js';
import { compareUtf8 } from '../objects/paths.js';
import { inSubPaths, repoPathOf, selectDatasets, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { writeFileAtomic } from '../util/fs.js';
import { applyCheckoutSet, planCheckoutSet, type CheckoutResult } from './checkout.js';
import { clearMergeState, loadMergeState, saveMergeState, type MergeState } from './merge-driver.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface ResolveResult {
  resolved: string[];
  remaining: number;
  checkout: CheckoutResult;
}

export interface ResolveOptions {
  cwd?: string;
  /** as checkout --force: discard workspace changes that are not in the cache */
  force?: boolean;
  /** threads writing files (see checkout) */
  jobs?: number;
}

/** What resolving one dataset will write, decided before anything is written. */
interface Resolution {
  /** the dataset as it will be once resolved (the pointer checkout plans with) */
  dataset: Dataset;
  /** the new pointer file text, or undefined to leave the file as it is */
  text: string | undefined;
  /** the merge state left (conflicts outside PATH), or undefined to clear it */
  state: MergeState | undefined;
  remaining: number;
}

/**
 * `tdvc checkout --ours|--theirs -- PATH...` after a conflicted merge: takes one side's version of
 * the conflicting files under PATH (or of the whole pointer), records it in the pointer file and
 * materialises it. What is left conflicted stays listed in the pointer file's comments.
 */
export async function resolveConflict(repo: Repo, side: 'ours' | 'theirs', paths: string[], opts: ResolveOptions = {}): Promise<ResolveResult> {
  if (paths.length === 0) {
    throw new TdvcError('EUSAGE', `--${side} needs the paths to resolve`, { exitCode: ExitCode.usage, hint: `tdvc checkout --${side} -- DATASET/PATH` });
  }
  return withCacheWriterLock(repo, `checkout --${side}`, () => resolveUnlocked(repo, side, paths, opts));
}

/**
 * Three steps, so that a refusal leaves the pointer files and the merge state as they were (a
 * refused `--theirs` can be followed by `--ours`): decide every dataset's new pointer (only tree
 * nodes enter the cache), plan the checkout of those pointers (every link check and the
 * would-lose check of checkout), and only then write pointer files, merge state and data.
 */
async function resolveUnlocked(repo: Repo, side: 'ours' | 'theirs', paths: string[], opts: ResolveOptions): Promise<ResolveResult> {
  const selected = await selectDatasets(repo, paths.map((p) => repo.relPath(p, opts.cwd)));
  repo.guard.dir(join(repo.tmpDir, 'merge'));
  const states = new Map<string, MergeState>();
  for (const { dataset: ds } of selected) {
    const state = await loadMergeState(repo, ds.pointerPath);
    if (!state) throw new TdvcError('ENOCONFLICT', `${ds.dataPath} has no unresolved tdvc merge conflict`, { path: ds.dataPath });
    repo.guard.target(repo.abs(ds.pointerPath));
    states.set(ds.pointerPath, state);
  }

  const resolved: string[] = [];
  const plans: Resolution[] = [];
  for (const { dataset: ds, subPaths } of selected) {
    const state = states.get(ds.pointerPath)!;
    const chosen = side === 'ours' ? state.ours : state.theirs;
    if (state.whole !== undefined) {
      plans.push({
        dataset: chosen ? { ...ds, pointer: chosen } : ds,
        text: chosen ? serializePointer(chosen) : undefined,
        state: undefined,
        remaining: 0,
      });
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
    }
    plans.push({ dataset: { ...ds, pointer }, text, state: left.length > 0 ? { ...state, conflicts: left } : undefined, remaining: left.length });
  }

  // the pointer file of each dataset is rewritten, so the whole dataset is checked out: after a
  // conflicted `git merge` the clean changes of the other side are not in the workspace yet.
  // Conflicting files in the workspace hold our side, which is in the cache, so this does not need
  // --force; any other unsaved change still makes it stop. Planned with the new pointers, before
  // they are written: a link in the dataset, or a change it would lose, refuses here.
  const datasets = plans.map((p) => p.dataset);
  const coOpts = { ...(opts.force ? { force: true } : {}), ...(opts.jobs ? { jobs: opts.jobs } : {}) };
  const set = await planCheckoutSet(repo, datasets.map((d) => repo.abs(d.dataPath)), coOpts, datasets);

  let remaining = 0;
  for (const p of plans) {
    // the pointer first: killed in between, the merge state is still there and a second run
    // makes the same edits
    if (p.text !== undefined) await writeFileAtomic(repo.abs(p.dataset.pointerPath), p.text);
    if (p.state) await saveMergeState(repo, p.state);
    else await clearMergeState(repo, p.dataset.pointerPath);
    remaining += p.remaining;
  }
  const co = await applyCheckoutSet(repo, set, coOpts);
  return { resolved, remaining, checkout: co };
}
