import type { Pointer } from '../objects/pointer.js';

export type PointerMergeOutcome =
  | { kind: 'take'; pointer: Pointer | undefined }
  /** folders changed on both sides: their trees are merged file by file */
  | { kind: 'trees' }
  | { kind: 'conflict'; reason: string };

const samePointer = (a: Pointer | undefined, b: Pointer | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.type === b.type && a.oid === b.oid && a.path === b.path);

/**
 * Decides how to merge three versions of one pointer file (pure). Directory pointers changed on
 * both sides are merged file by file (`mergeTrees`); anything else is whole-object.
 */
export function mergePointers(base: Pointer | undefined, ours: Pointer | undefined, theirs: Pointer | undefined): PointerMergeOutcome {
  if (samePointer(ours, theirs)) return { kind: 'take', pointer: ours };
  if (samePointer(ours, base)) return { kind: 'take', pointer: theirs };
  if (samePointer(theirs, base)) return { kind: 'take', pointer: ours };
  if (ours?.type === 'dir' && theirs?.type === 'dir' && (base === undefined || base.type === 'dir')) {
    return { kind: 'trees' };
  }
  if (!ours || !theirs) return { kind: 'conflict', reason: `${ours ? 'deleted on their side' : 'deleted on our side'} and changed on the other` };
  if (ours.type !== theirs.type) return { kind: 'conflict', reason: `a ${ours.type} on our side, a ${theirs.type} on theirs` };
  return { kind: 'conflict', reason: 'the file was changed differently on both sides' };
}
