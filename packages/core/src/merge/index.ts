export { diffManifests } from './manifest-diff.js';
export type { ManifestDiff } from './manifest-diff.js';
export { mergeManifests } from './manifest-merge.js';
export type { ManifestMergeResult, MergeConflict, ConflictKind } from './manifest-merge.js';
export { mergePointers } from './pointer-merge.js';
export type { PointerMergeOutcome } from './pointer-merge.js';
