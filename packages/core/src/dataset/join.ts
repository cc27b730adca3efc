import { compareUtf8 } from '../objects/paths.js';
import type { ManifestEntry } from '../objects/manifest.js';
import type { Pointer } from '../objects/pointer.js';
import type { ScannedFile } from '../index/scan.js';
import { storeSource } from '../tree/source.js';
import { rangesOfSubPaths, walkLeaves, type PathRange } from '../tree/walk.js';
import type { Repo } from '../workspace/repo.js';

/**
 * The files a pointer stands for as a stream of batches in canonical order, read a tree node at a
 * time (see `targetEntries` for one array): the data folder's files for a directory, one entry
 * (the file's name) for a file.
 */
export async function* streamEntries(repo: Repo, pointer: Pointer, where: string, range?: PathRange): AsyncGenerator<ManifestEntry[]> {
  if (pointer.type === 'file') {
    yield [{ path: pointer.path, oid: pointer.oid, size: pointer.size, exec: pointer.exec }];
    return;
  }
  yield* walkLeaves(storeSource(repo.odb, where), pointer.oid, range);
}

/**
 * streamEntries restricted to sub-paths of the dataset: only the tree nodes that can hold them are
 * read (and need to be in the cache). Entries near a sub-path (`a.txt` next to `a`) may come too:
 * the caller filters with inSubPaths. In canonical order, each entry once.
 */
export async function* streamEntriesIn(repo: Repo, pointer: Pointer, where: string, subPaths?: readonly string[]): AsyncGenerator<ManifestEntry[]> {
  const ranges = pointer.type === 'dir' ? rangesOfSubPaths(subPaths) : undefined;
  if (!ranges) {
    yield* streamEntries(repo, pointer, where);
    return;
  }
  for (const r of disjointRanges(ranges)) yield* streamEntries(repo, pointer, where, r);
}

/** Ranges with both ends set, sorted and merged where they overlap, so walking them in turn is in order. */
function disjointRanges(ranges: PathRange[]): PathRange[] {
  const sorted = [...ranges].sort((a, b) => compareUtf8(a.from ?? '', b.from ?? ''));
  const out: PathRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && (last.to === undefined || compareUtf8(r.from ?? '', last.to) <= 0)) {
      if (r.to === undefined) delete last.to;
      else if (last.to !== undefined && compareUtf8(r.to, last.to) > 0) last.to = r.to;
      continue;
    }
    out.push({ ...r });
  }
  return out;
}

/**
 * Walks two streams of batches, each in canonical path order, side by side: `visit` gets each path
 * once, with the entry of each side that has it. Awaits only between batches, so a million paths
 * cost a million comparisons and not a million promises; memory holds one batch of each side.
 */
export async function joinByPath(
  target: AsyncIterable<ManifestEntry[]>,
  present: AsyncIterable<ScannedFile[]>,
  visit: (want: ManifestEntry | undefined, have: ScannedFile | undefined) => void,
): Promise<void> {
  const a = target[Symbol.asyncIterator]();
  const b = present[Symbol.asyncIterator]();
  let as: ManifestEntry[] = [];
  let bs: ScannedFile[] = [];
  let i = 0;
  let j = 0;
  let aDone = false;
  let bDone = false;
  try {
    for (;;) {
      while (!aDone && i >= as.length) {
        const r = await a.next();
        if (r.done) aDone = true;
        else [as, i] = [r.value, 0];
      }
      while (!bDone && j >= bs.length) {
        const r = await b.next();
        if (r.done) bDone = true;
        else [bs, j] = [r.value, 0];
      }
      if (aDone && bDone) return;
      // within the current batches: no await
      while ((aDone || i < as.length) && (bDone || j < bs.length) && !(aDone && bDone)) {
        const want = aDone ? undefined : as[i];
        const have = bDone ? undefined : bs[j];
        const order = !want ? 1 : !have ? -1 : compareUtf8(want.path, have.rel);
        if (order < 0) {
          visit(want, undefined);
          i++;
        } else if (order > 0) {
          visit(undefined, have);
          j++;
        } else {
          visit(want, have);
          i++;
          j++;
        }
      }
    }
  } finally {
    if (!aDone) await a.return?.();
    if (!bDone) await b.return?.();
  }
}
