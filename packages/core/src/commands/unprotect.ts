import { statSync, type Stats } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { placeFileSync } from '../checkout/place.js';
import { streamEntriesIn } from '../dataset/join.js';
import { StatIndex } from '../index/stat-index.js';
import { inSubPaths, repoPathOf, selectDatasets, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { lstatIfExistsSync, uniqueTempName } from '../util/fs.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface UnprotectOptions {
  cwd?: string;
}

export interface UnprotectedDataset {
  path: string;
  /** files that were links to cache objects and are now private, writable copies */
  copied: number;
  /** files that were already copies of their own (cache.type copy or reflink): left as they are */
  alreadyCopies: number;
  /** files the pointer records that are not in the workspace */
  missing: number;
  /** symbolic links that do not lead to the file's cache object: left alone (repository paths, at most 20) */
  otherLinks: string[];
}

const SPILL_EVERY = 4096;

/**
 * `tdvc unprotect PATH...`: before editing tracked files checked out as hardlinks or symlinks to
 * the cache (cache.type hardlink/symlink, e.g. on a shared EFS cache), replaces each by a private,
 * writable copy, so that an edit can never change a cache object. Each copy is read from the
 * object (opened without following links) and checked against its hash before it replaces the
 * link (a temp file beside it, then a rename: the file is never missing); the object itself is
 * only read and stays read-only. A file that is already a copy of its own is left alone, so
 * unprotecting a copy-mode workspace changes nothing. PATH is a dataset, its pointer file, or a
 * path inside a folder dataset. The stat index learns the new files: status stays clean and reads
 * nothing. A later `tdvc add` links the edited files back into the cache.
 */
export async function unprotect(repo: Repo, paths: string[], opts: UnprotectOptions = {}): Promise<UnprotectedDataset[]> {
  if (paths.length === 0) throw new TdvcError('EUSAGE', 'nothing to unprotect', { exitCode: 2, hint: 'name one or more datasets, or paths inside them' });
  const rels = paths.map((p) => repo.relPath(p, opts.cwd));
  const selected = await selectDatasets(repo, rels);
  // no gc may delete an object while it is being copied out
  return withCacheWriterLock(
    repo,
    'unprotect',
    async () => {
      const out: UnprotectedDataset[] = [];
      for (const { dataset, subPaths } of selected) out.push(await unprotectDataset(repo, dataset, subPaths));
      return out;
    },
    { ifCacheExists: true },
  );
}

async function unprotectDataset(repo: Repo, ds: Dataset, subPaths: string[]): Promise<UnprotectedDataset> {
  const res: UnprotectedDataset = { path: ds.dataPath, copied: 0, alreadyCopies: 0, missing: 0, otherLinks: [] };
  const dataAbs = repo.abs(ds.dataPath);
  // what is written here is reached through real folders only (the files themselves may be links: they are replaced, not followed)
  repo.guard.dir(ds.pointer.type === 'dir' ? dataAbs : dirname(dataAbs));
  const index = StatIndex.load(repo.indexDir, ds.dataPath);
  let sinceSpill = 0;
  try {
    for await (const batch of streamEntriesIn(repo, ds.pointer, ds.pointerPath, subPaths)) {
      for (const e of batch) {
        if (ds.pointer.type === 'dir' && !inSubPaths(subPaths, e.path)) continue;
        const abs = ds.pointer.type === 'dir' ? join(dataAbs, ...e.path.split('/')) : dataAbs;
        const st = lstatIfExistsSync(abs);
        if (!st) {
          res.missing++;
          continue;
        }
        const kind = linkToObject(repo, e, abs, st);
        if (kind === 'copy') {
          res.alreadyCopies++;
          continue;
        }
        if (kind === 'other-link') {
          if (res.otherLinks.length < 20) res.otherLinks.push(repoPathOf(ds, e.path));
          continue;
        }
        repo.guard.dir(dirname(abs));
        const now = await privateCopy(repo, e, abs);
        index.record(ds.pointer.type === 'dir' ? e.path : '', now, e.oid);
        res.copied++;
        if (++sinceSpill >= SPILL_EVERY) {
          index.spill();
          sinceSpill = 0;
        }
      }
    }
  } finally {
    await index.save();
  }
  return res;
}

/** Whether a workspace file is its cache object (a hardlink, or a symlink that leads to it). */
function linkToObject(repo: Repo, e: ManifestEntry, abs: string, st: Stats): 'linked' | 'copy' | 'other-link' {
  if (!st.isSymbolicLink() && !(st.isFile() && st.nlink > 1)) return 'copy';
  const obj = lstatIfExistsSync(repo.odb.pathOf(e.oid));
  // following the workspace link to compare, only: nothing is read or written through it
  const target = st.isSymbolicLink() ? statOrUndefined(abs) : st;
  const same = obj !== undefined && target !== undefined && obj.ino === target.ino && obj.dev === target.dev;
  if (same) return 'linked';
  return st.isSymbolicLink() ? 'other-link' : 'copy';
}

/** Replaces the link at `abs` by a verified copy of the object, through a temp file beside it. */
async function privateCopy(repo: Repo, e: ManifestEntry, abs: string): Promise<{ ino: number; size: number; mtimeMs: number }> {
  const tmp = join(dirname(abs), uniqueTempName('.tdvc-unprotect'));
  try {
    const [ino, mtimeMs] = placeFileSync('copy', { oid: e.oid, objectPath: repo.odb.pathOf(e.oid), dest: tmp, exec: e.exec, replace: false, size: e.size, verify: true });
    await rename(tmp, abs);
    return { ino, size: e.size, mtimeMs };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err instanceof TdvcError ? err : fromSystemError(err, abs);
  }
}


function statOrUndefined(p: string): Stats | undefined {
  try {
    return statSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR', 'ELOOP')) return undefined;
    throw fromSystemError(err, p);
  }
}
