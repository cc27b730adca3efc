import { parentPort, workerData } from 'node:worker_threads';
import { selectBackend, type HasherBackend } from '../hash/blake3.js';
import { hashSmallFileSync, ObjectStore, type SharedMode } from '../odb/store.js';
import { serializeError } from './worker-errors.js';

/** A worker thread of the file pool: hashes (and stores) batches of small files synchronously. */
interface WorkerConfig {
  /** the object store to write into; absent when files are only hashed */
  root: string | undefined;
  shared: SharedMode;
  fsync: boolean;
  backend: HasherBackend;
}

const cfg = workerData as WorkerConfig;
selectBackend(cfg.backend);
const odb = cfg.root === undefined ? undefined : new ObjectStore(cfg.root, { shared: cfg.shared, fsync: cfg.fsync });

parentPort!.on('message', (batch: string[]) => {
  const results: Array<[oid: string, size: number, ino: number, mtimeMs: number, created: boolean]> = [];
  for (const path of batch) {
    try {
      const r = odb ? odb.putSmallFileSync(path) : hashSmallFileSync(path);
      results.push([r.oid, r.size, r.ino, r.mtimeMs, r.created]);
    } catch (err) {
      parentPort!.postMessage({ error: serializeError(err) });
      return;
    }
  }
  parentPort!.postMessage({ results });
});
