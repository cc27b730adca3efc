import type { ManifestEntry } from '../objects/manifest.js';
import { diffManifests, type ManifestDiff } from '../merge/manifest-diff.js';
import { diffTrees } from '../tree/diff.js';
import { storeSource } from '../tree/source.js';
import { compareUtf8 } from '../objects/paths.js';
import { repoPathOf, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { readWorkspace, streamWorkspace } from '../dataset/state.js';
import { joinByPath, streamEntries } from '../dataset/join.js';
import type { ScannedFile } from '../index/scan.js';
import { datasetsAt, filesOf } from '../dataset/revision.js';

export interface DiffFile {
  path: string;
  size: number;
  oid: string;
}

export interface DatasetDiff {
  path: string;
  added: DiffFile[];
  deleted: DiffFile[];
  modified: Array<{ path: string; oldSize: number; newSize: number; oldOid: string; newOid: string }>;
}

export interface DiffResult {
  from: string;
  to: string;
  datasets: DatasetDiff[];
}

/**
 * `tdvc diff [A [B]]`: per dataset, files added, modified and deleted between two revisions, from
 * manifests alone. Without B the other side is the workspace (its data, hashed through the stat
 * index); without A it is HEAD against the workspace.
 */
export async function diff(repo: Repo, revA = 'HEAD', revB?: string): Promise<DiffResult> {
  const before = await datasetsAt(repo, revA);
  const after = revB === undefined ? await datasetsAt(repo, undefined) : await datasetsAt(repo, revB);
  const byPointer = new Map<string, { a?: Dataset; b?: Dataset }>();
  for (const d of before) byPointer.set(d.pointerPath, { a: d });
  for (const d of after) byPointer.set(d.pointerPath, { ...byPointer.get(d.pointerPath), b: d });
  const datasets: DatasetDiff[] = [];
  for (const [, { a, b }] of [...byPointer].sort(([x], [y]) => compareUtf8(x, y))) {
    if (a && b && revB !== undefined && a.pointer.oid === b.pointer.oid) continue;
    const folders = a?.pointer.type !== 'file' && b?.pointer.type !== 'file';
    const d =
      revB !== undefined && folders
        ? await diffVersions(repo, a, b, revA, revB)
        : revB === undefined && folders && b
          ? await diffWorkspace(repo, a, b)
          : diffManifests(a ? await filesOf(repo, a) : [], b ? (revB === undefined ? await workspaceFiles(repo, b) : await filesOf(repo, b)) : []);
    if (d.added.length + d.deleted.length + d.modified.length === 0) continue;
    datasets.push({
      path: (a ?? b)!.dataPath,
      added: d.added.map(toDiffFile),
      deleted: d.deleted.map(toDiffFile),
      modified: d.modified.map((m) => ({ path: m.path, oldSize: m.before.size, newSize: m.after.size, oldOid: m.before.oid, newOid: m.after.oid })),
    });
  }
  return { from: revA, to: revB ?? 'workspace', datasets };
}

/**
 * Two recorded versions of a folder dataset compared tree against tree: subtrees with equal ids
 * are skipped unread, so the cost follows the change, not the dataset.
 */
async function diffVersions(repo: Repo, a: Dataset | undefined, b: Dataset | undefined, revA: string, revB: string): Promise<ManifestDiff> {
  const out: ManifestDiff = { added: [], deleted: [], modified: [] };
  const ds = (a ?? b)!;
  const at = (e: ManifestEntry): ManifestEntry => ({ ...e, path: repoPathOf(ds, e.path) });
  const changes = diffTrees(storeSource(repo.odb, `${ds.pointerPath} at ${revA}`), a?.pointer.oid, storeSource(repo.odb, `${ds.pointerPath} at ${revB}`), b?.pointer.oid);
  for await (const c of changes) {
    if (c.before && c.after) out.modified.push({ path: repoPathOf(ds, c.path), before: at(c.before), after: at(c.after) });
    else if (c.before) out.deleted.push(at(c.before));
    else if (c.after) out.added.push(at(c.after));
  }
  return out;
}

/**
 * A recorded version of a folder dataset against what its folder holds now: the tree's leaves and
 * the workspace scan (stat index first) read side by side as sorted streams, only the differences
 * kept, so memory does not grow with the dataset.
 */
async function diffWorkspace(repo: Repo, a: Dataset | undefined, b: Dataset): Promise<ManifestDiff> {
  const out: ManifestDiff = { added: [], deleted: [], modified: [] };
  const at = (path: string): string => repoPathOf(b, path);
  const ws = await streamWorkspace(repo, b);
  const present = ws.scan.kind === 'dir' ? ws.scan.windows : nothing<ScannedFile>();
  const target = a ? streamEntries(repo, a.pointer, a.pointerPath) : nothing<ManifestEntry>();
  await joinByPath(target, present, (want, have) => {
    const now = have && { path: at(have.rel), oid: have.oid, size: have.size, exec: have.exec };
    if (!now) out.deleted.push({ ...want!, path: at(want!.path) });
    else if (!want) out.added.push(now);
    else if (want.oid !== now.oid || want.exec !== now.exec) out.modified.push({ path: now.path, before: { ...want, path: now.path }, after: now });
  });
  await ws.index.save();
  return out;
}

async function* nothing<T>(): AsyncGenerator<T[]> {}

function toDiffFile(e: ManifestEntry): DiffFile {
  return { path: e.path, size: e.size, oid: e.oid };
}

async function workspaceFiles(repo: Repo, ds: Dataset): Promise<ManifestEntry[]> {
  const ws = await readWorkspace(repo, ds);
  await ws.index.save();
  const out: ManifestEntry[] = [];
  for (const [p, f] of ws.present) out.push({ path: repoPathOf(ds, p), oid: f.oid, size: f.size, exec: f.exec });
  return out.sort((x, y) => compareUtf8(x.path, y.path));
}
