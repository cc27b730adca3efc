import type { Oid } from '../hash/oid.js';

export interface TransferItem {
  oid: Oid;
  size: number;
  /** manifests are uploaded after all the files they list, so a manifest on the remote means the whole folder is there */
  isManifest: boolean;
  /** a tree node's level (leaves 0): nodes go up level by level, children before their parents */
  level?: number;
}

/**
 * What a push or fetch will move, decided before anything moves (as checkout's plan is): pure,
 * from the items the datasets need and what the receiving side already holds.
 */
export interface TransferPlan {
  /** files to move, each once */
  files: TransferItem[];
  /** manifests (tree nodes) to move, each once: after every file, leaves first, a level only when nothing below it failed */
  manifests: TransferItem[];
  /** distinct objects the receiving side holds already */
  present: number;
  /** bytes of what is to move (a fetched manifest's size counts as 0 when not known beforehand) */
  bytes: number;
}

/** The plan for moving `items` to a side that already holds `present`. Duplicates count once. */
export function planTransfer(items: readonly TransferItem[], present: ReadonlySet<Oid>): TransferPlan {
  const seen = new Set<Oid>();
  const plan: TransferPlan = { files: [], manifests: [], present: 0, bytes: 0 };
  for (const it of items) {
    if (seen.has(it.oid)) continue;
    seen.add(it.oid);
    if (present.has(it.oid)) {
      plan.present++;
      continue;
    }
    (it.isManifest ? plan.manifests : plan.files).push(it);
    plan.bytes += it.size;
  }
  return plan;
}

/** Distinct object ids of `items`, to ask the receiving side about. */
export function itemOids(items: readonly TransferItem[]): Oid[] {
  return [...new Set(items.map((i) => i.oid))];
}
