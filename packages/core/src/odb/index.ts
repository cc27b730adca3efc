export { ObjectStore, ObjectWriter, isReflinkUnsupported } from './store.js';
export type { ObjectStoreOptions, PutResult, SharedMode } from './store.js';
export { acquireLock } from './lock.js';
export type { HeldLock, LockInfo, LockOptions } from './lock.js';
export { acquireWriterLock, liveWriterLocks, removeDeadWriterLocks, waitForWriters, LOCKS_DIR, GC_LOCK } from './writer-lock.js';
export type { WriterLock, WriterLockHolder, WriterLockOptions } from './writer-lock.js';
export { verifyStore } from './verify.js';
export { openObject, openObjectSync, RejectedObjectError } from './object-file.js';
export type { VerifyReport, VerifyOptions } from './verify.js';
