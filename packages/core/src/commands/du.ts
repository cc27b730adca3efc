import { NotTrackedError } from '../errors.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { datasetsAt } from '../dataset/revision.js';
import { storeSource } from '../tree/source.js';
import { rangeOfSubPath, walkLeaves } from '../tree/walk.js';
import type { Repo } from '../workspace/repo.js';
import { OidSet } from '../util/oid-set.js';

export interface DuOptions {
  rev?: string;
  path?: string;
  cwd?: string;
}

export interface DuDataset {
  /** the dataset, or the path inside it that was asked about */
  path: string;
  dataset: string;
  files: number;
  /** the sum of the files' sizes */
  bytes: number;
  /** bytes once files with the same content are counted once (within this dataset) */
  uniqueBytes: number;
}

export interface DuResult {
  rev?: string;
  datasets: DuDataset[];
  files: number;
  bytes: number;
  /** bytes once files with the same content are counted once, across every dataset shown */
  uniqueBytes: number;
  /** distinct objects across every dataset shown */
  objects: number;
}

/**
 * `tdvc du [PATH] [--rev REV]`: the size of tracked data from manifests alone (no workspace, no
 * remote): per dataset its files and bytes, and the bytes the distinct contents take (what the
 * cache holds for them). Streamed a tree leaf at a time; what is kept per file is its id in an
 * exact compact set (util/oid-set.ts, ~45 bytes an id: one for all the datasets shown, and
 * one for the dataset being walked when there are several), never its entry.
 */
export async function du(repo: Repo, opts: DuOptions = {}): Promise<DuResult> {
  const rel = opts.path === undefined ? '' : repo.relPath(opts.path, opts.cwd);
  const target = rel.endsWith(POINTER_SUFFIX) ? rel.slice(0, -POINTER_SUFFIX.length) : rel;
  const datasets = (await datasetsAt(repo, opts.rev)).filter(
    (d) => target === '' || d.dataPath === target || target.startsWith(d.dataPath + '/') || d.dataPath.startsWith(target + '/'),
  );
  if (datasets.length === 0 && target !== '') {
    throw new NotTrackedError(`${target} is not tracked${opts.rev ? ` at ${opts.rev}` : ''}`, { path: target, hint: "'tdvc ls' lists what is tracked" });
  }
  const all = new OidSet();
  const res: DuResult = { ...(opts.rev ? { rev: opts.rev } : {}), datasets: [], files: 0, bytes: 0, uniqueBytes: 0, objects: 0 };
  for (const d of datasets) {
    const p = d.pointer;
    const inside = p.type === 'dir' && target.startsWith(d.dataPath + '/') ? target.slice(d.dataPath.length + 1) : '';
    const row: DuDataset = { path: inside === '' ? d.dataPath : target, dataset: d.dataPath, files: 0, bytes: 0, uniqueBytes: 0 };
    // `own`: this dataset's ids, when they are not all there is (one dataset shown: `all` says it)
    const count = (oid: string, size: number, own: OidSet | undefined): void => {
      row.files++;
      row.bytes += size;
      const first = !all.has(oid);
      if (first) {
        all.add(oid);
        res.uniqueBytes += size;
      }
      if (own === undefined ? first || p.type === 'file' : !own.has(oid)) {
        own?.add(oid);
        row.uniqueBytes += size;
      }
    };
    if (p.type === 'file') count(p.oid, p.size, undefined);
    else {
      const own = datasets.length > 1 ? new OidSet() : undefined;
      for await (const leaf of walkLeaves(storeSource(repo.odb, d.pointerPath), p.oid, rangeOfSubPath(inside))) {
        for (const e of leaf) {
          if (inside !== '' && e.path !== inside && !e.path.startsWith(inside + '/')) continue;
          count(e.oid, e.size, own);
        }
      }
    }
    if (inside !== '' && row.files === 0) continue;
    res.datasets.push(row);
    res.files += row.files;
    res.bytes += row.bytes;
  }
  if (res.datasets.length === 0 && target !== '') {
    throw new NotTrackedError(`${target} is not tracked${opts.rev ? ` at ${opts.rev}` : ''}`, { path: target, hint: "'tdvc ls' lists what is tracked" });
  }
  res.objects = all.size;
  return res;
}
