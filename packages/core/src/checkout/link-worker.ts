import { workerData } from 'node:worker_threads';
import { serveBatches } from '../util/worker-pool.js';
import type { LinkType } from '../util/link-support.js';
import { placeOrReject } from './place.js';

/** Worker thread of applyCheckout: puts cache objects in their places in the workspace. */
const cfg = workerData as { type: LinkType; verify: boolean };

export type LinkItem = [oid: string, objectPath: string, dest: string, exec: boolean, replace: boolean, size: number];

serveBatches(([oid, objectPath, dest, exec, replace, size]: LinkItem) => placeOrReject(cfg.type, { oid, objectPath, dest, exec, replace, size, verify: cfg.verify }));
