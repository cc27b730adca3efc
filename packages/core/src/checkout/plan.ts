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

/** One change a checkout makes to the workspace. */
export type CheckoutAction =
  /** a file absent now, or with other content (`replace`: a file is there now) */
  | { kind: 'write'; entry: ManifestEntry; replace: boolean }
  /** a file whose content is right but whose executable bit is not */
  | { kind: 'chmod'; entry: ManifestEntry }
  /** a file present in the workspace that the target does not have */
  | { kind: 'remove'; path: string }
  /** a folder the files written next need (may exist already); made after every removal, before any file */
  | { kind: 'folder'; path: string };

export interface PlanCounts {
  write: number;
  remove: number;
  chmod: number;
  unchanged: number;
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
  subPaths?: readonly string[];
  /** whether an object id is in the cache */
  inCache: (oid: Oid) => boolean;
  /** whether a workspace file is the half-written leftover of a killed checkout (nothing to protect) */
  isLeftover?: (path: string, have: PresentFile) => boolean;
}

/**
 * Decides, path by path, what a checkout does: fed the target's entry and the workspace's file for
 * each path (in any order), it hands each change to `onAction` and keeps only the counts and the
 * exceptions (files it cannot write, changes it would lose). It never touches the disk, so every
 * decision about data loss is testable on its own; fed two sorted streams, memory does not grow
 * with the dataset.
 */
export class PlanBuilder {
  readonly counts: PlanCounts = { write: 0, remove: 0, chmod: 0, unchanged: 0 };
  /** target files whose object is not in the cache: cannot be written */
  readonly missing: ManifestEntry[] = [];
  /** workspace files that would be overwritten or removed while their content is nowhere in the cache */
  readonly wouldLose: string[] = [];

  constructor(
    private readonly opts: PlanOptions,
    private readonly onAction: (a: CheckoutAction) => void,
  ) {}

  visit(path: string, want: ManifestEntry | undefined, have: PresentFile | undefined): void {
    const { opts } = this;
    if (!inSubPaths(opts.subPaths, path)) return;
    const loses = (h: PresentFile): boolean => !opts.inCache(h.oid) && !opts.isLeftover?.(path, h);
    if (want) {
      if (have && have.oid === want.oid) {
        if (have.exec === want.exec) this.counts.unchanged++;
        else {
          this.counts.chmod++;
          this.onAction({ kind: 'chmod', entry: want });
        }
        return;
      }
      if (!opts.inCache(want.oid)) {
        this.missing.push(want);
        return;
      }
      if (have && loses(have)) this.wouldLose.push(path);
      this.counts.write++;
      this.onAction({ kind: 'write', entry: want, replace: have !== undefined });
      return;
    }
    if (!have) return;
    this.counts.remove++;
    this.onAction({ kind: 'remove', path });
    if (loses(have)) this.wouldLose.push(path);
  }
}

/** PlanBuilder over a whole target and workspace in memory, the changes collected as lists. */
export function planCheckout(target: readonly ManifestEntry[], present: ReadonlyMap<string, PresentFile>, opts: PlanOptions): CheckoutPlan {
  const plan: CheckoutPlan = { write: [], remove: [], chmod: [], unchanged: 0, missing: [], wouldLose: [] };
  const b = new PlanBuilder(opts, (a) => {
    if (a.kind === 'write') plan.write.push(a.entry);
    else if (a.kind === 'chmod') plan.chmod.push(a.entry);
    else if (a.kind === 'remove') plan.remove.push(a.path);
  });
  const wanted = new Set<string>();
  for (const e of target) {
    wanted.add(e.path);
    b.visit(e.path, e, present.get(e.path));
  }
  for (const [path, have] of present) if (!wanted.has(path)) b.visit(path, undefined, have);
  plan.unchanged = b.counts.unchanged;
  plan.missing = b.missing;
  plan.wouldLose = b.wouldLose.sort();
  plan.remove.sort();
  return plan;
}
