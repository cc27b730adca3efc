import { NotTrackedError } from '../errors.js';
import type { GitRepo } from '../git/git-repo.js';
import { selectDatasets, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { datasetFromText, gitOf } from './revision.js';

/**
 * Which versions of the datasets a command covers: the pointer files in the working tree and/or
 * those committed at revisions. Shared by push, fetch and `status -r` (`--rev`, `--all-branches`,
 * `--all-tags`, `--all-commits`) and by gc (what to keep).
 */
export interface RevisionScope {
  /** the working tree's pointer files (default: yes, unless only `revs` are given) */
  workspace?: boolean;
  /** revisions (branch, tag, commit, `HEAD~2`…) */
  revs?: string[];
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
}

/** A dataset version a scope selected: `rev` names the revision it was read at (none: the working tree). */
export interface ScopedDataset {
  dataset: Dataset;
  subPaths: string[];
  rev?: string;
}

export function hasRevisions(scope: RevisionScope): boolean {
  return (scope.revs?.length ?? 0) > 0 || scope.allBranches === true || scope.allTags === true || scope.allCommits === true;
}

/** Whether the working tree's versions are in the scope: asked for, or implied (no revision, or an --all-* option, as DVC does). */
export function coversWorkspace(scope: RevisionScope): boolean {
  if (scope.workspace !== undefined) return scope.workspace;
  return !hasRevisions(scope) || scope.allBranches === true || scope.allTags === true || scope.allCommits === true;
}

/** The commits a scope names, each once, with a name for messages (the revision as given, or a short id). */
export async function commitsInScope(g: GitRepo, scope: RevisionScope): Promise<Array<{ commit: string; name: string }>> {
  const out = new Map<string, string>();
  for (const rev of scope.revs ?? []) {
    const commit = await g.resolve(rev);
    if (!out.has(commit)) out.set(commit, rev);
  }
  const add = (refs: Array<{ name: string; commit: string }>): void => {
    for (const r of refs) if (!out.has(r.commit)) out.set(r.commit, r.name);
  };
  // branch and tag names where a commit has one, else its short id
  if (scope.allBranches || scope.allCommits) add(await g.branches());
  if (scope.allTags || scope.allCommits) add(await g.tags());
  if (scope.allCommits) add((await g.allCommits()).map((commit) => ({ name: commit.slice(0, 12), commit })));
  return [...out].map(([commit, name]) => ({ commit, name }));
}

/**
 * The datasets (or paths inside them) that `relPaths` select in every version of the scope, each
 * distinct version once: the same pointer (type and id) with the same sub-paths is listed at the
 * first place it was found (the working tree first). A path may be tracked in some versions only;
 * one tracked in none is an error (NotTrackedError), as without revisions.
 */
export async function selectInScope(repo: Repo, relPaths: string[], scope: RevisionScope): Promise<ScopedDataset[]> {
  if (!hasRevisions(scope)) return selectDatasets(repo, relPaths);
  const out: ScopedDataset[] = [];
  const seen = new Set<string>();
  const matched = new Set<string>();
  const take = async (among: Dataset[] | undefined, rev: string | undefined): Promise<void> => {
    const picked = relPaths.length === 0 ? await selectDatasets(repo, [], among) : await selectEach(repo, relPaths, among, matched);
    for (const s of picked) {
      const key = `${s.dataset.pointer.type}:${s.dataset.pointer.oid}:${[...s.subPaths].sort().join('\0')}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ ...s, ...(rev !== undefined ? { rev } : {}) });
    }
  };
  if (coversWorkspace(scope)) await take(undefined, undefined);
  const g = gitOf(repo);
  for (const { commit, name } of await commitsInScope(g, scope)) {
    const committed = await g.listPointers(commit);
    await take(
      committed.map(({ path, text }) => datasetFromText(path, text, `${path} at ${name}`)),
      name,
    );
  }
  const unmatched = relPaths.filter((r) => !matched.has(r));
  if (unmatched.length > 0) {
    throw new NotTrackedError(`${unmatched[0] || '.'} is not tracked by tdvc in any of the versions asked for`, { path: unmatched[0]!, hint: "check the path and the revision options ('tdvc ls --rev REV' lists a revision's datasets)" });
  }
  return out;
}

/** selectDatasets for each path on its own: a path this version does not track is skipped, not an error. */
async function selectEach(repo: Repo, relPaths: string[], among: Dataset[] | undefined, matched: Set<string>): Promise<Array<{ dataset: Dataset; subPaths: string[] }>> {
  const byPointer = new Map<string, { dataset: Dataset; subPaths: string[] }>();
  for (const rel of relPaths) {
    let picked: Array<{ dataset: Dataset; subPaths: string[] }>;
    try {
      picked = await selectDatasets(repo, [rel], among);
    } catch (err) {
      if (err instanceof NotTrackedError) continue;
      throw err;
    }
    matched.add(rel);
    for (const p of picked) {
      const entry = byPointer.get(p.dataset.pointerPath) ?? { dataset: p.dataset, subPaths: [] };
      entry.subPaths.push(...p.subPaths);
      byPointer.set(p.dataset.pointerPath, entry);
    }
  }
  for (const e of byPointer.values()) if (e.subPaths.includes('')) e.subPaths = [''];
  return [...byPointer.values()];
}
