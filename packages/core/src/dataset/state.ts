import { dirname } from 'node:path';
import type { Oid } from '../hash/oid.js';
import { TypeMismatchError } from '../errors.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { storeSource } from '../tree/source.js';
import { rangesOfSubPaths, readAllEntries, walkEntries } from '../tree/walk.js';
import { StatIndex } from '../index/stat-index.js';
import { collectScan, scanStream, type ScanOptions, type ScanResult, type ScanStream } from '../index/scan.js';
import type { PresentFile } from '../checkout/plan.js';
import type { Pointer } from '../objects/pointer.js';
import type { Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { ignoreSetupFor } from '../workspace/tdvcignore.js';

/**
 * The files a pointer stands for, as manifest entries relative to the dataset's base folder:
 * the data folder itself for a directory, the parent folder (one entry, its name) for a file.
 */
export async function targetEntries(repo: Repo, pointer: Pointer, where: string, subPaths?: readonly string[]): Promise<ManifestEntry[]> {
  if (pointer.type === 'file') return [{ path: pointer.path, oid: pointer.oid, size: pointer.size, exec: pointer.exec }];
  const ranges = rangesOfSubPaths(subPaths);
  if (!ranges) return readManifest(repo, pointer.oid, where);
  // only the tree nodes that can hold the sub-paths are read (and need to be in the cache)
  const src = storeSource(repo.odb, where);
  const out = new Map<string, ManifestEntry>();
  for (const r of ranges) for await (const e of walkEntries(src, pointer.oid, r)) out.set(e.path, e);
  return [...out.values()];
}

/** Every file of a folder version (a v2 tree or a v1 manifest), in canonical order, in one array. */
export async function readManifest(repo: Repo, oid: Oid, where: string): Promise<ManifestEntry[]> {
  return readAllEntries(storeSource(repo.odb, where), oid);
}

/** Where a dataset's entries are rooted in the workspace. */
export function baseDirOf(repo: Repo, ds: Dataset): string {
  return ds.pointer.type === 'dir' ? repo.abs(ds.dataPath) : dirname(repo.abs(ds.dataPath));
}

export interface WorkspaceState {
  scan: ScanResult;
  present: Map<string, PresentFile & { size: number; mtimeMs: number }>;
  index: StatIndex;
}

export interface WorkspaceStream {
  /** a folder's files come as a stream in canonical order; a file dataset's file is named `rel: ''` */
  scan: ScanStream;
  index: StatIndex;
}

/**
 * What the workspace holds for a dataset (stat index first), as a stream: memory does not grow
 * with the dataset. The index learns what the scan finds; the caller saves it.
 */
export async function streamWorkspace(repo: Repo, ds: Dataset, opts: ScanOptions = {}): Promise<WorkspaceStream> {
  // the dataset's folders from the root down must be real: what is read here is what a checkout
  // writes and deletes, and what add stores
  // (the dataset path itself: statPath, which allows a file dataset to be a symlink checkout)
  repo.guard.dir(dirname(repo.abs(ds.dataPath)));
  const index = StatIndex.load(repo.indexDir, ds.dataPath);
  const scan = await scanStream(repo.abs(ds.dataPath), index, { objectsDir: repo.odb.objectsDir, ignore: ignoreSetupFor(repo, ds.dataPath), ...opts });
  if (scan.kind === 'dir' && ds.pointer.type !== 'dir') {
    await scan.windows.return(undefined);
    throw fileRecordedError(ds);
  }
  if (scan.kind === 'file' && ds.pointer.type !== 'file') throw folderRecordedError(ds);
  return { scan, index };
}

function fileRecordedError(ds: Dataset): TypeMismatchError {
  return new TypeMismatchError(`${ds.dataPath} is a folder but ${ds.pointerPath} records a file`, { path: ds.dataPath, hint: 'move the folder away, or re-add it with tdvc add' });
}

function folderRecordedError(ds: Dataset): TypeMismatchError {
  return new TypeMismatchError(`${ds.dataPath} is a file but ${ds.pointerPath} records a folder`, { path: ds.dataPath, hint: 'move the file away, or re-add it with tdvc add' });
}

/** Hashes what the workspace holds for a dataset (stat index first) in the shape of its entries, all at once. */
export async function readWorkspace(repo: Repo, ds: Dataset, opts: ScanOptions = {}): Promise<WorkspaceState> {
  const ws = await streamWorkspace(repo, ds, opts);
  const scan = await collectScan(ws.scan);
  const present = new Map<string, PresentFile & { size: number; mtimeMs: number }>();
  // the scanned records already carry oid, exec, size and mtime: use them as they are
  if (scan.kind === 'dir') for (const f of scan.files) present.set(f.rel, f);
  else if (scan.kind === 'file') present.set(ds.pointer.path, { oid: scan.file.oid, exec: scan.file.exec, size: scan.file.size, mtimeMs: scan.file.mtimeMs });
  return { scan, present, index: ws.index };
}
