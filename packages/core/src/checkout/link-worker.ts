import { renameSync, rmSync, statSync } from 'node:fs';
import { threadId, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { serveBatches } from '../util/worker-pool.js';
import type { LinkType } from '../workspace/config.js';
import { makeLinkSync } from './link.js';
import { placeError } from './place.js';

/** Worker thread of applyCheckout: materialises files from the cache, each through a scratch name and a rename. */
const cfg = workerData as { type: LinkType; scratchDir: string };
let seq = 0;

export type LinkItem = [objectPath: string, dest: string, exec: boolean];

serveBatches(([objectPath, dest, exec]: LinkItem) => {
  const tmp = join(cfg.scratchDir, `t${threadId}-${seq++}`);
  makeLinkSync(cfg.type, objectPath, tmp, exec);
  try {
    renameSync(tmp, dest);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw placeError(err, dest);
  }
  const st = statSync(dest);
  return [st.ino, st.mtimeMs];
});
