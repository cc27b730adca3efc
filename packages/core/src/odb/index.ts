export { ObjectStore, ObjectWriter, LAYOUT, objectRelPath, isReflinkUnsupported } from './store.js';
export type { ObjectStoreOptions, PutResult, SharedMode } from './store.js';
export { acquireLock } from './lock.js';
export type { HeldLock, LockInfo, LockOptions } from './lock.js';
export { verifyStore } from './verify.js';
export type { VerifyReport, VerifyOptions } from './verify.js';
