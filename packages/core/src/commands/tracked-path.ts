import { InvalidPathError, NotTrackedError, TdvcError } from '../errors.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { joinByPath, streamEntries } from '../dataset/join.js';
import { streamWorkspace } from '../dataset/state.js';
import { dataPathOf, repoPathOf, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { shellQuote } from '../util/shell-quote.js';

/**
 * The dataset a user named for a command that acts on whole datasets (remove, move): its data path
 * or its pointer file. A path inside a dataset, or one no pointer file tracks, is refused by name.
 */
export function datasetNamed(all: readonly Dataset[], rel: string, verb: string, insideHint: (ds: Dataset) => string): Dataset {
  const target = rel.endsWith(POINTER_SUFFIX) ? dataPathOf(rel) : rel;
  const exact = all.find((d) => d.dataPath === target);
  if (exact) return exact;
  const outer = all.find((d) => target.startsWith(d.dataPath + '/'));
  if (outer) throw new InvalidPathError(rel, `it is inside the dataset ${outer.dataPath}: tdvc ${verb} works on whole datasets`, insideHint(outer));
  throw new NotTrackedError(`${rel || '.'} is not tracked by tdvc (no ${target || '.'}${POINTER_SUFFIX})`, {
    path: rel,
    hint: `name a dataset or its pointer file ('tdvc ls' lists them)`,
  });
}

/** The hint for a path inside a dataset: how to change the dataset instead. */
export function wholeDatasetHint(ds: Dataset): string {
  return `change the files of ${ds.dataPath} in the workspace, then record it with: tdvc add ${shellQuote(ds.dataPath)}`;
}

export interface WorkspaceChanges {
  /** files in the workspace that the pointer does not record, or records with other content (repository paths, at most `limit`) */
  changed: string[];
  /** how many there are in all */
  count: number;
  /** whether the data is in the workspace at all */
  present: boolean;
}

/**
 * What deleting a dataset's workspace data would lose: the files added or modified since its
 * pointer was written (a deleted file loses nothing). Streamed (stat index first), only the first
 * `limit` paths are kept.
 */
export async function unsavedChanges(repo: Repo, ds: Dataset, limit = 10): Promise<WorkspaceChanges> {
  const ws = await streamWorkspace(repo, ds);
  if (ws.scan.kind === 'missing') return { changed: [], count: 0, present: false };
  const out: WorkspaceChanges = { changed: [], count: 0, present: true };
  const present = ws.scan.kind === 'dir' ? ws.scan.windows : oneBatch({ ...ws.scan.file, rel: ds.pointer.path });
  await joinByPath(streamEntries(repo, ds.pointer, ds.pointerPath), present, (want, have) => {
    if (!have) return;
    if (!want || want.oid !== have.oid || want.exec !== have.exec) {
      out.count++;
      if (out.changed.length < limit) out.changed.push(repoPathOf(ds, have.rel));
    }
  });
  await ws.index.save();
  return out;
}

async function* oneBatch<T>(item: T): AsyncGenerator<T[]> {
  yield [item];
}

/** Two arguments naming the same dataset, or a path twice. */
export function duplicateArgument(rel: string): TdvcError {
  return new TdvcError('EUSAGE', `${rel} is named twice`, { path: rel, exitCode: 2 });
}
