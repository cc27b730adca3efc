import type { ManifestEntry } from '../objects/manifest.js';
import { diffManifests } from '../merge/manifest-diff.js';
import { compareUtf8 } from '../objects/paths.js';
import { repoPathOf, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { readWorkspace } from '../dataset/state.js';
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
    const oldFiles = a ? await filesOf(repo, a) : [];
    const newFiles = b ? (revB === undefined ? await workspaceFiles(repo, b) : await filesOf(repo, b)) : [];
    const d = diffManifests(oldFiles, newFiles);
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
