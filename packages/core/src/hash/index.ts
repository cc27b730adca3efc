export { createHasher, hashBytes, hashFile, hashHandle, selectBackend } from './blake3.js';
export type { Hasher, HasherBackend } from './blake3.js';
export { isOid, HASH_PREFIX } from './oid.js';
export type { Oid } from './oid.js';
