import { lstatSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fromSystemError, InvalidPathError, isErrno, TdvcError } from '../errors.js';
import { POINTER_SUFFIX, serializePointer, type Pointer } from '../objects/pointer.js';
import { StatIndex } from '../index/stat-index.js';
import { checkoutJournalDir, journalFile } from '../checkout/journal.js';
import { dataPathOf, loadAllDatasets } from '../workspace/datasets.js';
import { datasetPathProblem } from '../objects/paths.js';
import { shownPath } from '../objects/manifest.js';
import { ensureIgnored, removeIgnored } from '../workspace/gitignore.js';
import type { Repo } from '../workspace/repo.js';
import { writeFileAtomic } from '../util/fs.js';
import { withCacheWriterLock } from './cache-lock.js';
import { datasetNamed } from './tracked-path.js';
import { moveInside, type MoveResult } from './move-inside.js';

export interface MoveOptions {
  cwd?: string;
}

export type { MoveResult };

/**
 * `tdvc move SRC DST`: renames a dataset (or a path inside a folder dataset, within it: see
 * move-inside.ts). The data is renamed as it is in the workspace (changes
 * not yet added move with it and stay changes), the pointer file is rewritten beside it (its
 * `path` line names the new data; the hash is unchanged, nothing is re-hashed), the .gitignore
 * lines follow (both folders' files when it changes folder), and the stat index moves too, so the
 * next status or add reads no file again. DST may be an existing real folder (the dataset goes
 * into it, as with mv); an existing file, dataset or pointer file at the final path is refused, as
 * is a path inside a dataset (on either side) and any symbolic link on the way.
 */
export async function move(repo: Repo, src: string, dst: string, opts: MoveOptions = {}): Promise<MoveResult> {
  const all = await loadAllDatasets(repo);
  const srcRel = repo.relPath(src, opts.cwd);
  const outer = all.find((d) => srcRel.startsWith(d.dataPath + '/'));
  if (outer && !srcRel.endsWith(POINTER_SUFFIX)) {
    const dstRel = repo.relPath(dst, opts.cwd);
    return moveInside(repo, outer, srcRel, dst, dstRel);
  }
  const ds = datasetNamed(all, srcRel, 'move', (o) => `move ${o.dataPath} as a whole, or move the files in the workspace and run: tdvc add ${o.dataPath}`);
  let dstRel = repo.relPath(dst, opts.cwd);
  if (dstRel.endsWith(POINTER_SUFFIX)) dstRel = dataPathOf(dstRel);
  if (dstRel === '') throw new InvalidPathError(dst, 'the repository root itself cannot be a dataset');
  // into an existing real folder (not a dataset, not a link), as mv does
  if (!all.some((d) => d.dataPath === dstRel) && isRealDir(repo.abs(dstRel))) dstRel = `${dstRel}/${basename(ds.dataPath)}`;
  if (dstRel === ds.dataPath) throw new InvalidPathError(dst, `it is where ${ds.dataPath} already is`);
  const exists = (what: string, hint: string): TdvcError => new TdvcError('EEXISTS', `cannot move ${ds.dataPath} to ${dstRel}: ${what}`, { path: dstRel, hint });
  const other = all.find((d) => d.dataPath === dstRel || dstRel.startsWith(d.dataPath + '/') || d.dataPath.startsWith(dstRel + '/'));
  if (other?.dataPath === dstRel) throw exists(`${other.pointerPath} already tracks it`, `remove that dataset first (tdvc remove ${other.dataPath}), or choose another name`);
  if (other && dstRel.startsWith(other.dataPath + '/')) {
    throw new InvalidPathError(dst, `it is inside the dataset ${other.dataPath}`, 'a dataset cannot hold another one: choose a path outside it');
  }
  if (other) throw new InvalidPathError(dst, `it would contain the dataset ${other.dataPath}`, 'choose a path that holds no dataset');
  const dstProblem = datasetPathProblem(dstRel);
  // named as manifests name paths: a line break in it must not split the message
  if (dstProblem) throw new InvalidPathError(shownPath(dst), dstProblem);

  const srcAbs = repo.abs(ds.dataPath);
  const dstAbs = repo.abs(dstRel);
  // every write and delete below: no link on the way (a DST that is a link is refused, not followed)
  // (SRC itself may be a link: a file dataset checked out with cache.type symlink; the link is renamed, not followed)
  repo.guard.dir(dirname(srcAbs));
  for (const p of [srcAbs + POINTER_SUFFIX, dstAbs, dstAbs + POINTER_SUFFIX]) repo.guard.target(p);
  if (repo.hasGit) for (const p of [srcAbs, dstAbs]) repo.guard.target(join(dirname(p), '.gitignore'));
  if (present(dstAbs)) throw exists('a file or folder is there', 'move it away first, or choose another name');
  if (present(dstAbs + POINTER_SUFFIX)) throw exists(`${dstRel}${POINTER_SUFFIX} is there`, 'move it away first, or choose another name');
  if (ds.pointer.type === 'dir' && isLink(srcAbs)) repo.guard.target(srcAbs);

  return withCacheWriterLock(repo, 'move', () => moveDataset(repo, { dataPath: ds.dataPath, pointer: ds.pointer }, dstRel), { ifCacheExists: true });
}

/**
 * The order keeps every moment recoverable and never shows Git the data: the new pointer and its
 * ignore line first, then the data renamed, then the old pointer and its line removed.
 */
async function moveDataset(repo: Repo, ds: { dataPath: string; pointer: Pointer }, dstRel: string): Promise<MoveResult> {
  const srcAbs = repo.abs(ds.dataPath);
  const dstAbs = repo.abs(dstRel);
  const lockDir = join(repo.tmpDir, 'locks');
  await mkdir(dirname(dstAbs), { recursive: true }).catch((err: unknown) => {
    throw fromSystemError(err, dirname(dstAbs));
  });
  repo.guard.dir(dirname(dstAbs));
  const name = basename(dstAbs);
  const pointer = { ...ds.pointer, path: name };
  await writeFileAtomic(dstAbs + POINTER_SUFFIX, serializePointer(pointer));
  if (repo.hasGit) await ensureIgnored(join(dirname(dstAbs), '.gitignore'), name, lockDir);
  let dataMoved = false;
  try {
    await rename(srcAbs, dstAbs);
    dataMoved = true;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) {
      await rm(dstAbs + POINTER_SUFFIX, { force: true });
      if (repo.hasGit) await removeIgnored(join(dirname(dstAbs), '.gitignore'), name, lockDir);
      throw fromSystemError(err, srcAbs);
    }
  }
  // same inodes, sizes and times under the new name: the rows stay true
  await rename(StatIndex.fileFor(repo.indexDir, ds.dataPath), StatIndex.fileFor(repo.indexDir, dstRel)).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
  // a killed checkout's journal names files relative to the dataset: still true under the new name
  const journals = checkoutJournalDir(repo.tmpDir);
  await rename(journalFile(journals, ds.dataPath), journalFile(journals, dstRel)).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) throw err;
  });
  await rm(srcAbs + POINTER_SUFFIX, { force: true });
  if (repo.hasGit) await removeIgnored(join(dirname(srcAbs), '.gitignore'), basename(srcAbs), lockDir);
  return { from: ds.dataPath, to: dstRel, fromPointer: ds.dataPath + POINTER_SUFFIX, toPointer: dstRel + POINTER_SUFFIX, dataMoved };
}

function lstatOrUndefined(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw fromSystemError(err, p);
  }
}

const present = (p: string): boolean => lstatOrUndefined(p) !== undefined;
const isRealDir = (p: string): boolean => lstatOrUndefined(p)?.isDirectory() === true;
const isLink = (p: string): boolean => lstatOrUndefined(p)?.isSymbolicLink() === true;
