import { workerData } from 'node:worker_threads';
import { selectBackend, type HasherBackend } from '../hash/blake3.js';
import { ObjectStore, type SharedMode } from '../odb/store.js';
import { addSmallFileSync, hashSmallFileSync, TOO_LARGE } from './ingest.js';
import { serveBatches } from '../util/worker-pool.js';

/** Worker thread of processSmallFiles: hashes (and stores) small files synchronously. */
const cfg = workerData as { root: string | undefined; shared: SharedMode; fsync: boolean; backend: HasherBackend; reflink: boolean; limit: number | undefined };
selectBackend(cfg.backend);
const odb = cfg.root === undefined ? undefined : new ObjectStore(cfg.root, { shared: cfg.shared, fsync: cfg.fsync });

const read = { reflink: cfg.reflink, ...(cfg.limit !== undefined ? { limit: cfg.limit } : {}) };

serveBatches((path: string) => {
  const r = odb ? addSmallFileSync(odb, path, read) : hashSmallFileSync(path, read.limit);
  if (r === undefined) return [TOO_LARGE, 0, 0, 0, false, false, false];
  return [r.oid, r.size, r.ino, r.mtimeMs, r.created, 'cloned' in r && r.cloned, r.exec];
});
