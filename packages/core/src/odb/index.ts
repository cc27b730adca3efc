export { ObjectStore, ObjectWriter, LAYOUT, objectRelPath, isReflinkUnsupported } from './store.js';
export type { ObjectStoreOptions, PutResult, SharedMode } from './store.js';
