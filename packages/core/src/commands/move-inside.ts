import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Oid } from '../hash/oid.js';
import { fromSystemError, InvalidPathError, NotTrackedError, TdvcError } from '../errors.js';
import { shownPath, type ManifestEntry } from '../objects/manifest.js';
import { compareUtf8, pathBelow, relPathProblem } from '../objects/paths.js';
import { POINTER_VERSION, serializePointer, type Pointer } from '../objects/pointer.js';
import { StatIndex } from '../index/stat-index.js';
import { editTree, type TreeEdit } from '../tree/edit.js';
import { storePut, storeSource } from '../tree/source.js';
import { entriesUnder, lookupEntry } from '../tree/walk.js';
import type { Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { lstatIfExistsSync, writeFileAtomic } from '../util/fs.js';
import { shellQuote } from '../util/shell-quote.js';
import { withCacheWriterLock } from './cache-lock.js';

/** What `tdvc move` did (a whole dataset, or a path inside one). */
export interface MoveResult {
  from: string;
  to: string;
  fromPointer: string;
  toPointer: string;
  /** the workspace data was renamed (false: it was not in the workspace, only the pointer moved) */
  dataMoved: boolean;
}

/**
 * `tdvc move` of a file or folder inside a folder dataset, to another path in the same dataset: a
 * tree edit (the moved entries removed and added under the new path, every other node of the tree
 * taken over unread; no file is hashed), the workspace file or folder renamed as it is (changes
 * not yet added move with it), and the stat index told the moved files' new names, so the next
 * status or add reads none of them. The moved entries are held in memory while the tree is
 * edited (one per moved file); the rest of the dataset is not read.
 */
export async function moveInside(repo: Repo, ds: Dataset, srcRel: string, dstArg: string, dstRelIn: string): Promise<MoveResult> {
  const base = ds.dataPath + '/';
  // the dataset's own folder as DST: into it, as mv does
  let dstRel = dstRelIn === ds.dataPath ? base + srcRel.slice(srcRel.lastIndexOf('/') + 1) : dstRelIn;
  if (!dstRel.startsWith(base)) {
    throw new InvalidPathError(dstArg, `${srcRel} is inside the dataset ${ds.dataPath}, and a path inside a dataset moves only within it`, `to take files out of ${ds.dataPath}, copy them out, delete them there and run: tdvc add ${shellQuote(ds.dataPath)}`);
  }
  const dirPointer = ds.pointer;
  if (dirPointer.type !== 'dir') throw new InvalidPathError(srcRel, `${ds.dataPath} is a file dataset`);
  const tree = storeSource(repo.odb, ds.pointerPath);
  const root: Oid = ds.pointer.oid;
  const from = srcRel.slice(base.length);
  const moved = await entriesOf(tree, root, from);
  if (moved.length === 0) throw new NotTrackedError(`${srcRel} is not in the dataset ${ds.dataPath}`, { path: srcRel, hint: `'tdvc ls ${ds.dataPath}' lists its files` });
  const isFolder = moved[0]!.path !== from;
  if (dstRel === srcRel) throw new InvalidPathError(dstArg, `it is where ${srcRel} already is`);
  // into an existing real folder, as mv does
  if (isRealDir(repo.abs(dstRel))) dstRel = `${dstRel}/${from.slice(from.lastIndexOf('/') + 1)}`;
  const to = dstRel.slice(base.length);
  if (to === from) throw new InvalidPathError(dstArg, `it is where ${srcRel} already is`);
  if (to.startsWith(from + '/')) throw new InvalidPathError(dstArg, `it is inside ${srcRel} itself`);
  const problem = relPathProblem(to);
  // named as manifests name paths: a line break in it must not split the message
  if (problem) throw new InvalidPathError(shownPath(dstArg), problem);
  const exists = (what: string): TdvcError =>
    new TdvcError('EEXISTS', `cannot move ${srcRel} to ${dstRel}: ${what}`, { path: dstRel, hint: 'move it away first, or choose another name' });
  if ((await lookupEntry(tree, root, to)) !== undefined) throw exists(`${ds.pointerPath} records a file there`);
  for await (const _ of entriesUnder(tree, root, to)) throw exists(`${ds.pointerPath} records files under it`);
  // a recorded file where a folder of DST must be
  for (let i = to.indexOf('/'); i > 0; i = to.indexOf('/', i + 1)) {
    if ((await lookupEntry(tree, root, to.slice(0, i))) !== undefined) throw exists(`${ds.dataPath}/${to.slice(0, i)} is a file`);
  }
  const srcAbs = repo.abs(srcRel);
  const dstAbs = repo.abs(dstRel);
  // a file may be a link (cache.type symlink): it is renamed, not followed; a folder never is one
  repo.guard.dir(dirname(srcAbs));
  if (isFolder) repo.guard.target(srcAbs);
  repo.guard.target(dstAbs);
  repo.guard.target(repo.abs(ds.pointerPath));
  if (lstatIfExistsSync(dstAbs) !== undefined) throw exists('a file or folder is there');

  const renamed = (p: string): string => (isFolder ? to + p.slice(from.length) : to);
  const edits: TreeEdit[] = [...moved.map((e) => ({ path: e.path })), ...moved.map((e) => ({ path: renamed(e.path), entry: { ...e, path: renamed(e.path) } }))];
  edits.sort((a, b) => compareUtf8(a.path, b.path));

  return withCacheWriterLock(repo, 'move', async () => {
    const edited = await editTree(tree, storePut(repo.odb), root, edits);
    let dataMoved = false;
    if (lstatIfExistsSync(srcAbs) !== undefined) {
      await mkdir(dirname(dstAbs), { recursive: true }).catch((err: unknown) => {
        throw fromSystemError(err, dirname(dstAbs));
      });
      repo.guard.dir(dirname(dstAbs));
      await rename(srcAbs, dstAbs).catch((err: unknown) => {
        throw fromSystemError(err, srcAbs);
      });
      dataMoved = true;
    }
    const pointer: Pointer = { ...dirPointer, version: POINTER_VERSION, oid: edited.oid, size: edited.bytes, files: edited.files };
    await writeFileAtomic(repo.abs(ds.pointerPath), serializePointer(pointer));
    if (dataMoved) await moveIndexRows(repo, ds, moved, renamed);
    return { from: srcRel, to: dstRel, fromPointer: ds.pointerPath, toPointer: ds.pointerPath, dataMoved };
  });
}

/** The entries at `path`: the file itself, or every file under the folder. */
async function entriesOf(tree: ReturnType<typeof storeSource>, root: Oid, path: string): Promise<ManifestEntry[]> {
  const file = await lookupEntry(tree, root, path);
  if (file) return [file];
  const out: ManifestEntry[] = [];
  for await (const e of entriesUnder(tree, root, path)) out.push(e);
  return out;
}

/**
 * The moved files keep their inodes, sizes and times: a row that vouched for a file under its old
 * name vouches for it under the new one (asked in canonical order, as the index is read).
 */
async function moveIndexRows(repo: Repo, ds: Dataset, moved: ManifestEntry[], renamed: (p: string) => string): Promise<void> {
  const index = StatIndex.load(repo.indexDir, ds.dataPath);
  const dataAbs = repo.abs(ds.dataPath);
  for (const e of moved) {
    const now = renamed(e.path);
    const st = lstatIfExistsSync(pathBelow(dataAbs, now));
    const oid = st?.isFile() || st?.isSymbolicLink() ? index.lookup(e.path, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }) : undefined;
    index.forget(e.path);
    if (st && oid !== undefined) index.record(now, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs }, oid);
  }
  await index.save();
}


const isRealDir = (p: string): boolean => lstatIfExistsSync(p)?.isDirectory() === true;
