import { parentPort, workerData } from 'node:worker_threads';
import { OidSet } from '../util/oid-set.js';
import { serializeError } from '../util/worker-errors.js';
import { ObjectStore, type SharedMode } from './store.js';

/** Thread of ObjectStore.listing: lists the cache's objects and sends the set's tables back. */
const cfg = workerData as { root: string; shared: SharedMode };
try {
  const parts = new ObjectStore(cfg.root, { shared: cfg.shared }).listAllSync(new OidSet()).toParts();
  parentPort!.postMessage({ parts }, [parts.keys.buffer, parts.state.buffer]);
} catch (err) {
  parentPort!.postMessage({ error: serializeError(err) });
}
