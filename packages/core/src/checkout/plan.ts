import type { Oid } from '../hash/oid.js';
import { inSubPaths } from '../workspace/datasets.js';
import type { ManifestEntry } from '../objects/manifest.js';

/** What the workspace holds now, per path relative to the dataset. */
export interface PresentFile {
  oid: Oid;
  exec: boolean;
  size?: number;
  mtimeMs?: number;
}

export interface CheckoutPlan {
  /** files to write (absent now, or with other content) */
  write: ManifestEntry[];
  /** files present in the workspace that the target does not have */
  remove: string[];
  /** files whose content is right but whose executable bit is not */
  chmod: ManifestEntry[];
  unchanged: number;
  /** target files whose object is not in the cache: cannot be written */
  missing: ManifestEntry[];
  /** workspace files that would be overwritten or removed while their content is nowhere in the cache */
  wouldLose: string[];
}

export interface PlanOptions {
  /** restrict to these sub-paths of the dataset ('' = all) */
  subPaths?: string[];
  /** whether an object id is in the cache */
  inCache: (oid: Oid) => boolean;
  /** whether a workspace file is the half-written leftover of a killed checkout (nothing to protect) */
  isLeftover?: (path: string, have: PresentFile) => boolean;
}

/**
 * Pure: compares the target manifest with what the workspace holds and says what to do. It never
 * touches the disk, so every decision about data loss is testable on its own.
 */
export function planCheckout(target: readonly ManifestEntry[], present: ReadonlyMap<string, PresentFile>, opts: PlanOptions): CheckoutPlan {
  const plan: CheckoutPlan = { write: [], remove: [], chmod: [], unchanged: 0, missing: [], wouldLose: [] };
  const wanted = new Set<string>();
  for (const e of target) {
    if (!inSubPaths(opts.subPaths, e.path)) continue;
    wanted.add(e.path);
    const have = present.get(e.path);
    if (have && have.oid === e.oid) {
      if (have.exec !== e.exec) plan.chmod.push(e);
      else plan.unchanged++;
      continue;
    }
    if (!opts.inCache(e.oid)) {
      plan.missing.push(e);
      continue;
    }
    if (have && !opts.inCache(have.oid) && !opts.isLeftover?.(e.path, have)) plan.wouldLose.push(e.path);
    plan.write.push(e);
  }
  for (const [path, have] of present) {
    if (wanted.has(path) || !inSubPaths(opts.subPaths, path)) continue;
    plan.remove.push(path);
    if (!opts.inCache(have.oid) && !opts.isLeftover?.(path, have)) plan.wouldLose.push(path);
  }
  plan.remove.sort();
  plan.wouldLose.sort();
  return plan;
}
