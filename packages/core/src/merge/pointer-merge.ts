import type { ManifestEntry } from '../objects/manifest.js';
import type { Pointer } from '../objects/pointer.js';
import { mergeManifests, type MergeConflict } from './manifest-merge.js';

export type PointerMergeOutcome =
  | { kind: 'take'; pointer: Pointer | undefined }
  | { kind: 'manifests'; merged: ManifestEntry[]; conflicts: MergeConflict[] }
  | { kind: 'conflict'; reason: string };

const samePointer = (a: Pointer | undefined, b: Pointer | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.type === b.type && a.oid === b.oid && a.path === b.path);

/**
 * Decides how to merge three versions of one pointer file. Directory pointers changed on both
 * sides need their manifests (`load`) merged file by file; anything else is whole-object.
 */
export async function mergePointers(
  base: Pointer | undefined,
  ours: Pointer | undefined,
  theirs: Pointer | undefined,
  load: (p: Pointer) => Promise<ManifestEntry[]>,
): Promise<PointerMergeOutcome> {
  if (samePointer(ours, theirs)) return { kind: 'take', pointer: ours };
  if (samePointer(ours, base)) return { kind: 'take', pointer: theirs };
  if (samePointer(theirs, base)) return { kind: 'take', pointer: ours };
  if (ours?.type === 'dir' && theirs?.type === 'dir' && (base === undefined || base.type === 'dir')) {
    const [b, o, t] = await Promise.all([base ? load(base) : Promise.resolve([]), load(ours), load(theirs)]);
    const { merged, conflicts } = mergeManifests(b, o, t);
    return { kind: 'manifests', merged, conflicts };
  }
  if (!ours || !theirs) return { kind: 'conflict', reason: `${ours ? 'deleted on their side' : 'deleted on our side'} and changed on the other` };
  if (ours.type !== theirs.type) return { kind: 'conflict', reason: `a ${ours.type} on our side, a ${theirs.type} on theirs` };
  return { kind: 'conflict', reason: 'the file was changed differently on both sides' };
}
