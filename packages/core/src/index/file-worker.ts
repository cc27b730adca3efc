import { workerData } from 'node:worker_threads';
import { selectBackend, type HasherBackend } from '../hash/blake3.js';
import { ObjectStore, type SharedMode } from '../odb/store.js';
import { addSmallFileSync, hashSmallFileSync } from './ingest.js';
import { serveBatches } from '../util/worker-pool.js';

/** Worker thread of processSmallFiles: hashes (and stores) small files synchronously. */
const cfg = workerData as { root: string | undefined; shared: SharedMode; fsync: boolean; backend: HasherBackend; reflink: boolean };
selectBackend(cfg.backend);
const odb = cfg.root === undefined ? undefined : new ObjectStore(cfg.root, { shared: cfg.shared, fsync: cfg.fsync });

serveBatches((path: string) => {
  const r = odb ? addSmallFileSync(odb, path, { reflink: cfg.reflink }) : { ...hashSmallFileSync(path), cloned: false };
  return [r.oid, r.size, r.ino, r.mtimeMs, r.created, r.cloned];
});
