import { lstatSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fromSystemError, isErrno, TdvcError, WouldLoseDataError } from '../errors.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { StatIndex } from '../index/stat-index.js';
import { checkoutJournalDir, clearJournal } from '../checkout/journal.js';
import { loadAllDatasets, type Dataset } from '../workspace/datasets.js';
import { removeIgnored } from '../workspace/gitignore.js';
import type { Repo } from '../workspace/repo.js';
import { shellQuote } from '../util/shell-quote.js';
import { withCacheWriterLock } from './cache-lock.js';
import { datasetNamed, duplicateArgument, unsavedChanges, wholeDatasetHint } from './tracked-path.js';

export interface RemoveOptions {
  cwd?: string;
  /** also delete the workspace data, when it matches its pointer */
  delete?: boolean;
  /** with `delete`: delete it even when it holds changes the pointer does not record */
  force?: boolean;
}

export interface RemovedDataset {
  path: string;
  pointerPath: string;
  /** the workspace data was deleted (`--delete`) */
  deleted: boolean;
  /** the .gitignore line for the data was removed */
  unignored: boolean;
}

/**
 * `tdvc remove PATH...`: stop tracking datasets. Deletes each pointer file and the data's line in
 * its .gitignore; the data stays in the workspace (now a plain, untracked file or folder) unless
 * `--delete`, which deletes it only when it matches its pointer — files added or modified since
 * are not in the cache and would be lost, so they stop the command (exit 3) unless `--force`.
 * Whole datasets only: a path inside one is refused with a hint. Every argument is checked before
 * anything is changed. The cache keeps the objects; once no revision gc covers references them,
 * gc may free them (the workspace record is refreshed here).
 */
export async function remove(repo: Repo, paths: string[], opts: RemoveOptions = {}): Promise<RemovedDataset[]> {
  if (paths.length === 0) throw new TdvcError('EUSAGE', 'nothing to remove', { exitCode: 2, hint: 'name one or more datasets (or their .tdvc files)' });
  const all = await loadAllDatasets(repo);
  const picked: Dataset[] = [];
  for (const p of paths) {
    const rel = repo.relPath(p, opts.cwd);
    const ds = datasetNamed(all, rel, 'remove', wholeDatasetHint);
    if (picked.includes(ds)) throw duplicateArgument(rel);
    picked.push(ds);
  }
  for (const ds of picked) checkWritable(repo, ds, opts.delete === true);
  if (opts.delete && !opts.force) {
    for (const ds of picked) {
      const changes = await unsavedChanges(repo, ds);
      if (changes.count > 0) {
        throw new WouldLoseDataError(
          `not deleting ${ds.dataPath}: ${changes.count} file(s) differ from ${ds.pointerPath} and are not in the cache: ${changes.changed.join(', ')}${changes.count > changes.changed.length ? ', …' : ''}`,
          changes.changed,
          `record them first (tdvc add ${shellQuote(ds.dataPath)}), remove without --delete to keep the data, or add --force to delete them anyway`,
        );
      }
    }
  }
  const run = async (): Promise<RemovedDataset[]> => {
    const out: RemovedDataset[] = [];
    for (const ds of picked) out.push(await removeOne(repo, ds, opts.delete === true));
    return out;
  };
  // the record gc reads is refreshed once the pointers are gone (no cache yet: nothing to protect)
  return withCacheWriterLock(repo, 'remove', run, { ifCacheExists: true });
}

/** Nothing remove writes or deletes may be reached through a symbolic link. */
function checkWritable(repo: Repo, ds: Dataset, deleting: boolean): void {
  const dataAbs = repo.abs(ds.dataPath);
  repo.guard.target(dataAbs + POINTER_SUFFIX);
  if (repo.hasGit) repo.guard.target(join(dirname(dataAbs), '.gitignore'));
  if (!deleting) return;
  repo.guard.dir(dirname(dataAbs));
  // a folder dataset that is a link (to anywhere) is not tdvc's to delete; a file dataset may be a
  // symlink checkout, and deleting it removes the link, never what it points to
  let st;
  try {
    st = lstatSync(dataAbs);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw fromSystemError(err, dataAbs);
  }
  if (st.isSymbolicLink() && ds.pointer.type === 'dir') repo.guard.target(dataAbs);
}

async function removeOne(repo: Repo, ds: Dataset, deleting: boolean): Promise<RemovedDataset> {
  const dataAbs = repo.abs(ds.dataPath);
  if (deleting) await rm(dataAbs, { recursive: true, force: true }).catch((err: unknown) => { throw fromSystemError(err, dataAbs); });
  try {
    await rm(dataAbs + POINTER_SUFFIX);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw fromSystemError(err, dataAbs + POINTER_SUFFIX);
  }
  const unignored = repo.hasGit ? await removeIgnored(join(dirname(dataAbs), '.gitignore'), basename(dataAbs), join(repo.tmpDir, 'locks')) : false;
  // the stat index and checkout journal of a dataset that no longer exists are only clutter (and
  // would vouch for a new dataset of the same name)
  await rm(StatIndex.fileFor(repo.indexDir, ds.dataPath), { force: true });
  await clearJournal(checkoutJournalDir(repo.tmpDir), ds.dataPath);
  return { path: ds.dataPath, pointerPath: ds.pointerPath, deleted: deleting, unignored };
}
