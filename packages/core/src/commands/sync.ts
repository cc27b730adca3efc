import type { Oid } from '../hash/oid.js';
import { MissingDataError, MissingManifestError } from '../errors.js';
import { applyFetch, applyPush, planPush, type FetchOptions, type TransferItem, type TransferResult } from '../transfer/transfer.js';
import { itemOids, planTransfer, type TransferPlan } from '../transfer/plan.js';
import { fetchTreeNodes, treeItemsForPush } from '../transfer/tree-items.js';
import { storeSource } from '../tree/source.js';
import { markTree, rangesOfSubPaths, walkEntries } from '../tree/walk.js';
import { HAND_OVER_MIN_SIZE } from '../workspace/held.js';
import type { RemoteOpener } from '../transfer/remote.js';
import { inSubPaths, repoPathOf, type Dataset } from '../workspace/datasets.js';
import { selectInScope, type RevisionScope, type ScopedDataset } from '../dataset/scope.js';
import type { Repo } from '../workspace/repo.js';
import { checkout, type CheckoutResult } from './checkout.js';
import { readManifest } from '../dataset/state.js';
import { openRemote } from './remote.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface SyncOptions {
  cwd?: string;
  remote?: string;
  jobs?: number;
  /**
   * push, fetch and `status -r`: the versions to cover (default: the working tree's pointer files);
   * with revisions, every distinct dataset version they hold, once
   */
  scope?: RevisionScope;
  /** push and fetch: plan only, move nothing (`skipped` still counts what is there already) */
  dryRun?: boolean;
  onProgress?: (p: { phase: 'upload' | 'download'; done: number; total: number; bytes: number; totalBytes: number }) => void;
}

export interface SyncResult extends TransferResult {
  remote: string;
  /** with `dryRun`: what would move */
  wouldTransfer?: { objects: number; bytes: number; manifests: number };
  /**
   * with `dryRun` on fetch: folder versions whose file list is neither in the cache nor fetched
   * (a dry run writes nothing), so their files are not counted
   */
  unknownVersions?: number;
}

function wouldTransfer(...plans: TransferPlan[]): NonNullable<SyncResult['wouldTransfer']> {
  const out = { objects: 0, bytes: 0, manifests: 0 };
  for (const p of plans) {
    out.objects += p.files.length + p.manifests.length;
    out.manifests += p.manifests.length;
    out.bytes += p.bytes;
  }
  return out;
}

async function selected(repo: Repo, paths: string[], opts: SyncOptions): Promise<ScopedDataset[]> {
  return selectInScope(repo, paths.map((p) => repo.relPath(p, opts.cwd)), opts.scope ?? {});
}

/** Where a selected dataset version is, for messages: its pointer file, and the revision it was read at. */
function whereOf(s: ScopedDataset): string {
  return s.rev === undefined ? s.dataset.pointerPath : `${s.dataset.pointerPath} at ${s.rev}`;
}

/** `tdvc push [PATH...]`: uploads the objects of the selected datasets that the remote lacks. */
export async function push(repo: Repo, opener: RemoteOpener, paths: string[] = [], opts: SyncOptions = {}): Promise<SyncResult> {
  const fileItems: TransferItem[] = [];
  const roots: Array<{ oid: Oid; where: string; files: number }> = [];
  const rootSeen = new Set<Oid>();
  for (const s of await selected(repo, paths, opts)) {
    const ds = s.dataset;
    if (ds.pointer.type === 'file') fileItems.push({ oid: ds.pointer.oid, size: ds.pointer.size, isManifest: false });
    else if (!rootSeen.has(ds.pointer.oid)) {
      rootSeen.add(ds.pointer.oid);
      roots.push({ oid: ds.pointer.oid, where: whereOf(s), files: ds.pointer.files });
    }
  }
  const remote = await openRemote(repo, opener, opts.remote, opts.jobs);
  try {
    // folder trees top-down: a node the remote holds is skipped with everything under it
    const tree = await treeItemsForPush(repo.odb, remote, roots);
    const items = [...fileItems, ...tree.files];
    const local = await repo.objects.hasMany(items.map((i) => i.oid));
    const missingLocally = items.filter((i) => !local.has(i.oid));
    if (missingLocally.length > 0) {
      throw new MissingDataError(`${missingLocally.length} object(s) to push are not in the local cache (first: ${missingLocally[0]!.oid})`, {
        hint: "run 'tdvc status' to see which files; 'tdvc pull' or re-adding the data restores them",
      });
    }
    const filePlan = await planPush(remote, items);
    const plan: TransferPlan = { ...filePlan, manifests: tree.nodes, present: filePlan.present + tree.present, bytes: filePlan.bytes + tree.nodes.reduce((s, n) => s + n.size, 0) };
    if (opts.dryRun) return { remote: remote.name, transferred: 0, bytes: 0, skipped: plan.present, failed: [], wouldTransfer: wouldTransfer(plan) };
    // an object only a workspace file holds goes into the cache first, hashed as it is read: a
    // file edited during the upload must not reach the remote under the object's name
    await repo.objects.ensureInCache(plan.files.map((i) => i.oid));
    const res = await applyPush(repo.odb, remote, plan, {
      ...(opts.jobs ? { jobs: opts.jobs } : {}),
      ...(opts.onProgress ? { onProgress: (p) => opts.onProgress!({ phase: 'upload', ...p }) } : {}),
    });
    return { remote: remote.name, ...res };
  } finally {
    await remote.close?.();
  }
}

/**
 * `tdvc fetch [PATH...]`: downloads what the selected datasets need into the cache, manifests
 * first. Objects held by unchanged workspace files (see HeldObjects) are local already.
 */
export async function fetch(repo: Repo, opener: RemoteOpener, paths: string[] = [], opts: SyncOptions & Pick<FetchOptions, 'onFetched'> = {}): Promise<SyncResult> {
  if (opts.dryRun) return fetchUnlocked(repo, opener, paths, opts);
  // what is fetched is referenced only by pointer files gc may not have seen yet: see gc.ts
  return withCacheWriterLock(repo, 'fetch', () => fetchUnlocked(repo, opener, paths, opts));
}

async function fetchUnlocked(repo: Repo, opener: RemoteOpener, paths: string[], opts: SyncOptions & Pick<FetchOptions, 'onFetched'>): Promise<SyncResult> {
  const sel = await selected(repo, paths, opts);
  const remote = await openRemote(repo, opener, opts.remote, opts.jobs);
  const progress = opts.onProgress ? { onProgress: (p: { done: number; total: number; bytes: number; totalBytes: number }) => opts.onProgress!({ phase: 'download', ...p }) } : {};
  const jobs = opts.jobs ? { jobs: opts.jobs } : {};
  try {
    // the file lists first, level by level: what the files are is only known from them
    const dirs = sel.filter((s) => s.dataset.pointer.type === 'dir');
    const trees = opts.dryRun
      ? await dryRunTrees(repo, dirs.map((s) => s.dataset.pointer.oid))
      : await fetchTreeNodes(
          repo.odb,
          dirs.map((s) => {
            const ranges = rangesOfSubPaths(s.subPaths);
            return { oid: s.dataset.pointer.oid, where: whereOf(s), ...(ranges ? { ranges } : {}) };
          }),
          (oids) => repo.odb.hasMany(oids),
          (items) => applyFetch(repo.odb, remote, planTransfer(items, new Set()), jobs),
        );
    const first = { transferred: trees.transferred, bytes: trees.bytes, skipped: trees.skipped, failed: trees.failed };
    const unreadable = trees.failedRoots;
    const files: TransferItem[] = [];
    for (const s of sel) {
      const { dataset: ds, subPaths } = s;
      if (ds.pointer.type === 'file') {
        files.push({ oid: ds.pointer.oid, size: ds.pointer.size, isManifest: false });
      } else if (!unreadable.has(ds.pointer.oid)) {
        const src = storeSource(repo.odb, whereOf(s));
        const walks = (rangesOfSubPaths(subPaths) ?? [{}]).map((r) => walkEntries(src, ds.pointer.oid, r));
        for (const walk of walks) {
          for await (const e of walk) if (inSubPaths(subPaths, e.path)) files.push({ oid: e.oid, size: e.size, isManifest: false });
        }
      }
    }
    // what is local already (in the cache, or held by an unchanged workspace file) is not fetched
    const filePlan = planTransfer(files, await repo.objects.hasMany(itemOids(files)));
    if (opts.dryRun) {
      return {
        remote: remote.name,
        transferred: 0,
        bytes: 0,
        skipped: first.skipped + filePlan.present,
        failed: [],
        wouldTransfer: wouldTransfer({ files: [], manifests: trees.failed.map((f) => ({ oid: f.oid, size: 0, isManifest: true })), present: 0, bytes: 0 }, filePlan),
        unknownVersions: unreadable.size,
      };
    }
    const onFetched = opts.onFetched ? { onFetched: opts.onFetched } : {};
    const second = await applyFetch(repo.odb, remote, filePlan, { ...jobs, ...progress, ...onFetched });
    return {
      remote: remote.name,
      transferred: first.transferred + second.transferred,
      bytes: first.bytes + second.bytes,
      skipped: first.skipped + second.skipped,
      failed: [...first.failed, ...second.failed],
    };
  } finally {
    await remote.close?.();
  }
}

/**
 * `tdvc pull [PATH...]` = fetch, then checkout of the same paths. Where the workspace cannot share
 * blocks with the cache, a large file just downloaded is moved into the workspace instead of
 * copied (written once, stored once; see HeldObjects), unless `pull.move_large_files` is false
 * or the cache is shared with others, who need the cache copy.
 */
export async function pull(
  repo: Repo,
  opener: RemoteOpener,
  paths: string[] = [],
  opts: SyncOptions & { force?: boolean } = {},
): Promise<{ fetch: SyncResult; checkout: CheckoutResult }> {
  // one lock from the first download to the last link
  return withCacheWriterLock(repo, 'pull', () => pullUnlocked(repo, opener, paths, opts));
}

async function pullUnlocked(repo: Repo, opener: RemoteOpener, paths: string[], opts: SyncOptions & { force?: boolean }): Promise<{ fetch: SyncResult; checkout: CheckoutResult }> {
  const handOver = new Set<Oid>();
  const moveLarge = repo.config.get('pull.move_large_files') !== 'false' && repo.odb.shared === 'none';
  const fetched = await fetch(repo, opener, paths, {
    ...opts,
    ...(moveLarge ? { onFetched: (it: TransferItem) => void (it.size >= HAND_OVER_MIN_SIZE && !it.isManifest && handOver.add(it.oid)) } : {}),
  });
  const co = await checkout(repo, paths, { ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.force ? { force: true } : {}), handOver });
  return { fetch: fetched, checkout: co };
}

/**
 * What a dry-run fetch can say of the trees without downloading: a version whose tree is not
 * complete in the cache cannot be read (its nodes would be fetched), so it counts as unknown.
 */
async function dryRunTrees(repo: Repo, roots: Oid[]): Promise<{ failedRoots: Set<Oid>; transferred: number; bytes: number; skipped: number; failed: Array<{ oid: Oid; code: string; message: string }> }> {
  const out = { failedRoots: new Set<Oid>(), transferred: 0, bytes: 0, skipped: 0, failed: [] as Array<{ oid: Oid; code: string; message: string }> };
  for (const oid of [...new Set(roots)]) {
    const missing = await markTree(storeSource(repo.odb, oid), oid, new Set(), new Set());
    if (missing > 0) {
      out.failedRoots.add(oid);
      out.failed.push({ oid, code: 'EMISSING', message: 'not in the cache' });
    } else {
      out.skipped++;
    }
  }
  return out;
}

export interface RemoteStatusDataset {
  path: string;
  /** the revision this version of the dataset was read at (none: the working tree) */
  rev?: string;
  /** files whose data is in the cache but not on the remote */
  notPushed: string[];
  /** files whose data is on the remote but not in the cache */
  notFetched: string[];
  /** files whose data is in neither place */
  lost: string[];
  manifestOnRemote: boolean;
  /**
   * a folder dataset whose tree root is in the cache but not on the remote (a push that failed
   * part way, or an entry on the remote that is not an object): the remote cannot serve it yet
   */
  manifestNotPushed: boolean;
}

/** `tdvc status --remote [NAME]`: what is not yet pushed, and what is not available locally. */
export async function remoteStatus(repo: Repo, opener: RemoteOpener, paths: string[] = [], opts: SyncOptions = {}): Promise<{ remote: string; datasets: RemoteStatusDataset[] }> {
  const sel = await selected(repo, paths, opts);
  const remote = await openRemote(repo, opener, opts.remote, opts.jobs);
  try {
    const rows: Array<{ ds: Dataset; rev: string | undefined; files: Array<{ path: string; oid: Oid }>; rootOnRemote: boolean; rootLocal: boolean }> = [];
    const all = new Set<Oid>();
    // objects the remote may lack: files under tree nodes it lacks (a node it holds has its whole
    // subtree there, so what lies under one is not asked about), and file datasets
    const askRemote = new Set<Oid>();
    for (const s of sel) {
      const { dataset: ds, subPaths } = s;
      const files: Array<{ path: string; oid: Oid }> = [];
      let rootOnRemote = false;
      let rootLocal = false;
      if (ds.pointer.type === 'file') {
        files.push({ path: ds.dataPath, oid: ds.pointer.oid });
        askRemote.add(ds.pointer.oid);
      } else if (await repo.odb.has(ds.pointer.oid)) {
        rootLocal = true;
        try {
          const tree = await treeItemsForPush(repo.odb, remote, [{ oid: ds.pointer.oid, where: whereOf(s), files: ds.pointer.files }]);
          rootOnRemote = !tree.nodes.some((n) => n.oid === ds.pointer.oid);
          for (const f of tree.files) askRemote.add(f.oid);
          for (const e of await readManifest(repo, ds.pointer.oid, whereOf(s))) {
            if (inSubPaths(subPaths, e.path)) files.push({ path: repoPathOf(ds, e.path), oid: e.oid });
          }
        } catch (err) {
          // a tree fetched only in part (for some of its paths): its files are not known here
          if (!(err instanceof MissingManifestError)) throw err;
        }
      } else {
        rootOnRemote = (await remote.has([ds.pointer.oid])).has(ds.pointer.oid);
      }
      for (const f of files) all.add(f.oid);
      rows.push({ ds, rev: s.rev, files, rootOnRemote, rootLocal });
    }
    const there = await remote.has([...askRemote]);
    const onRemote = { has: (oid: Oid): boolean => !askRemote.has(oid) || there.has(oid) };
    const local = await repo.objects.hasMany(all);
    return {
      remote: remote.name,
      datasets: rows.map(({ ds, rev, files, rootOnRemote, rootLocal }) => ({
        path: ds.dataPath,
        ...(rev !== undefined ? { rev } : {}),
        notPushed: files.filter((f) => local.has(f.oid) && !onRemote.has(f.oid)).map((f) => f.path),
        notFetched: files.filter((f) => !local.has(f.oid) && onRemote.has(f.oid)).map((f) => f.path),
        lost: files.filter((f) => !local.has(f.oid) && !onRemote.has(f.oid)).map((f) => f.path),
        manifestOnRemote: rootOnRemote,
        manifestNotPushed: rootLocal && !rootOnRemote,
      })),
    };
  } finally {
    await remote.close?.();
  }
}
