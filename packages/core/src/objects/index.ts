export { parseManifest, serializeManifest, MANIFEST_HEADER } from './manifest.js';
export type { ManifestEntry } from './manifest.js';
export { parsePointer, serializePointer, POINTER_SUFFIX, POINTER_VERSION } from './pointer.js';
export type { Pointer } from './pointer.js';
export { relPathProblem, reservedName, datasetPathProblem, compareUtf8 } from './paths.js';
