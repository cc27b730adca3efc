import { lstat } from 'node:fs/promises';
import type { Oid } from '../hash/oid.js';
import type { ChildRef, TreeNode } from '../objects/tree-format.js';
import type { ObjectStore } from '../odb/store.js';
import { loadChild, storeSource } from '../tree/source.js';
import { childMayHold, type PathRange } from '../tree/walk.js';
import type { TransferItem } from './plan.js';
import type { Remote } from './remote.js';

interface Pending {
  oid: Oid;
  /** undefined for a root */
  ref: ChildRef | undefined;
  parentLevel: number;
  where: string;
}

/**
 * What a push of folder trees must upload: the nodes the remote lacks and the files their leaves
 * list. Top-down, one `has` request per level: a node the remote holds is skipped with its whole
 * subtree (push uploads children before parents, so its subtree is complete there). A no-op push
 * is one request; a one-file change costs O(depth) nodes. Files are returned unchecked (the
 * caller asks the remote about them with the rest).
 */
export async function treeItemsForPush(odb: ObjectStore, remote: Remote, roots: ReadonlyArray<{ oid: Oid; where: string; files: number }>): Promise<{ nodes: TransferItem[]; files: TransferItem[]; present: number }> {
  const nodes: TransferItem[] = [];
  const files: TransferItem[] = [];
  // objects already there: a present node and the files under it (each path counts)
  let present = 0;
  const queued = new Set<Oid>();
  let frontier: Array<Pending & { files: number }> = [];
  for (const r of roots) {
    if (queued.has(r.oid)) continue;
    queued.add(r.oid);
    frontier.push({ oid: r.oid, ref: undefined, parentLevel: 0, where: r.where, files: r.files });
  }
  while (frontier.length > 0) {
    const there = await remote.has(frontier.map((p) => p.oid));
    const next: Array<Pending & { files: number }> = [];
    for (const p of frontier) {
      if (there.has(p.oid)) {
        present += 1 + p.files;
        continue;
      }
      const src = storeSource(odb, p.where);
      const node: TreeNode = p.ref === undefined ? await src.load(p.oid) : await loadChild(src, p.ref, p.parentLevel);
      const level = node.kind === 'leaf' ? 0 : node.level;
      nodes.push({ oid: p.oid, size: (await lstat(odb.pathOf(p.oid))).size, isManifest: true, level });
      if (node.kind === 'leaf') {
        for (const e of node.entries) files.push({ oid: e.oid, size: e.size, isManifest: false });
        continue;
      }
      for (const c of node.children) {
        if (queued.has(c.oid)) continue;
        queued.add(c.oid);
        next.push({ oid: c.oid, ref: c, parentLevel: node.level, where: p.where, files: c.files });
      }
    }
    frontier = next;
  }
  return { nodes, files, present };
}

/**
 * Fetches the nodes of folder trees the cache lacks, top-down, one level at a time (a node's
 * children are known only once it is here). With `ranges`, only the nodes that can hold a path in
 * them. Returns the roots that could not be completed (a node failed or is malformed).
 */
export async function fetchTreeNodes(
  odb: ObjectStore,
  roots: ReadonlyArray<{ oid: Oid; where: string; ranges?: PathRange[] }>,
  local: (oids: Oid[]) => Promise<Set<Oid>>,
  download: (items: TransferItem[]) => Promise<{ failed: Array<{ oid: Oid }>; transferred: number; bytes: number; skipped: number }>,
): Promise<{ failedRoots: Set<Oid>; transferred: number; bytes: number; skipped: number; failed: Array<{ oid: Oid; code: string; message: string }> }> {
  type P = Pending & { root: Oid; ranges: PathRange[] | undefined; end: string | undefined };
  const out = { failedRoots: new Set<Oid>(), transferred: 0, bytes: 0, skipped: 0, failed: [] as Array<{ oid: Oid; code: string; message: string }> };
  let frontier: P[] = roots.map((r) => ({ oid: r.oid, ref: undefined, parentLevel: 0, where: r.where, root: r.oid, ranges: r.ranges, end: undefined }));
  const seen = new Set<Oid>();
  while (frontier.length > 0) {
    frontier = frontier.filter((p) => !out.failedRoots.has(p.root));
    const wanted = [...new Set(frontier.map((p) => p.oid))];
    const have = await local(wanted);
    const missing = wanted.filter((o) => !have.has(o));
    out.skipped += wanted.length - missing.length;
    if (missing.length > 0) {
      const res = await download(missing.map((oid) => ({ oid, size: 0, isManifest: true })));
      out.transferred += res.transferred;
      out.bytes += res.bytes;
      const failed = new Set(res.failed.map((f) => f.oid));
      for (const f of res.failed) out.failed.push(f as { oid: Oid; code: string; message: string });
      for (const p of frontier) if (failed.has(p.oid)) out.failedRoots.add(p.root);
    }
    const next: P[] = [];
    for (const p of frontier) {
      const key = `${p.root} ${p.oid}`;
      if (out.failedRoots.has(p.root) || seen.has(key)) continue;
      seen.add(key);
      const src = storeSource(odb, p.where);
      let node: TreeNode;
      try {
        node = p.ref === undefined ? await src.load(p.oid) : await loadChild(src, p.ref, p.parentLevel);
      } catch (err) {
        out.failedRoots.add(p.root);
        const e = err as { code?: string; message?: string };
        out.failed.push({ oid: p.oid, code: e.code ?? 'ERROR', message: String(e.message ?? err) });
        continue;
      }
      if (node.kind === 'leaf') continue;
      node.children.forEach((c, i) => {
        const nextFirst = i + 1 < node.children.length ? node.children[i + 1]!.first : p.end;
        if (p.ranges && !p.ranges.some((r) => childMayHold(c.first, nextFirst, r))) return;
        next.push({ oid: c.oid, ref: c, parentLevel: node.level, where: p.where, root: p.root, ranges: p.ranges, end: nextFirst });
      });
    }
    frontier = next;
  }
  return out;
}
