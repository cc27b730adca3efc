import { TdvcError, NotTrackedError } from '../errors.js';
import { GitRepo } from '../git/git-repo.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { datasetFromPointerText, loadAllDatasets, loadDataset, repoPathOf, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { targetEntries } from './state.js';

export function gitOf(repo: Repo): GitRepo {
  if (!repo.hasGit) throw new TdvcError('ENOGIT', 'this tdvc repository is not under Git', { hint: 'revisions need Git; run git init' });
  return new GitRepo(repo.root);
}

/** The datasets recorded at a revision (undefined = the pointer files in the working tree). */
export async function datasetsAt(repo: Repo, rev: string | undefined): Promise<Dataset[]> {
  if (rev === undefined) return loadAllDatasets(repo);
  const g = gitOf(repo);
  const commit = await g.resolve(rev);
  const committed = await g.listPointers(commit);
  return committed.map(({ path, text }) => datasetFromText(path, text, `${path} at ${rev}`));
}

/** One dataset at a revision, by pointer path. */
export async function datasetAt(repo: Repo, rev: string | undefined, pointerPath: string): Promise<Dataset | undefined> {
  if (rev === undefined) {
    try {
      return await loadDataset(repo, pointerPath);
    } catch (err) {
      if (err instanceof NotTrackedError) return undefined;
      throw err;
    }
  }
  const g = gitOf(repo);
  const text = await g.readText(await g.resolve(rev), pointerPath);
  return text === undefined ? undefined : datasetFromText(pointerPath, text, `${pointerPath} at ${rev}`);
}

export function datasetFromText(pointerPath: string, text: string, where: string): Dataset {
  return { ...datasetFromPointerText(pointerPath, text, where), text };
}

/** A dataset's files keyed relative to the repository root. */
export async function filesOf(repo: Repo, ds: Dataset): Promise<ManifestEntry[]> {
  const entries = await targetEntries(repo, ds.pointer, ds.pointerPath);
  if (ds.pointer.type === 'file') return entries.map((e) => ({ ...e, path: ds.dataPath }));
  return entries.map((e) => ({ ...e, path: repoPathOf(ds, e.path) }));
}
