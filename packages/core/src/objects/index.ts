export { parseManifest, serializeManifest, MANIFEST_HEADER } from './manifest.js';
export type { ManifestEntry } from './manifest.js';
export { parsePointer, serializePointer, POINTER_SUFFIX, POINTER_VERSION } from './pointer.js';
export type { ImportSource, Pointer, PointerVersion } from './pointer.js';
export { LAYOUT, LAYOUT_KEY, FANS, fanOf, objectName, objectKey, fanKey, layoutDir, fanDir, objectPath, isFanName, oidOfEntry, oidOfTail } from './layout.js';
export { relPathProblem, reservedName, datasetPathProblem, compareUtf8 } from './paths.js';
export { TREE_LEAF_HEADER, TREE_NODE_HEADER, TREE_FORMAT, CHUNKING, boundaryHash, parseTreeNode, PathOrder } from './tree-format.js';
export type { ChildRef, TreeNode } from './tree-format.js';
