import { workerData } from 'node:worker_threads';
import { serveBatches } from '../util/worker-pool.js';
import type { LinkType } from '../workspace/config.js';
import { placeFileSync } from './place.js';

/** Worker thread of applyCheckout: puts cache objects in their places in the workspace. */
const cfg = workerData as { type: LinkType };

export type LinkItem = [objectPath: string, dest: string, exec: boolean, replace: boolean, size: number];

serveBatches(([objectPath, dest, exec, replace, size]: LinkItem) => placeFileSync(cfg.type, objectPath, dest, exec, replace, size));
