import type { Repo } from '../workspace/repo.js';
import { datasetsAt } from '../dataset/revision.js';
import { TdvcError } from '../errors.js';
import { storeSource } from '../tree/source.js';
import { rangeOfSubPath, walkLeaves } from '../tree/walk.js';

export interface ListedFile {
  path: string;
  size: number;
  oid: string;
  exec: boolean;
  dataset: string;
}

/**
 * `tdvc ls [--rev REV] [PATH]`: the files of tracked datasets at a revision, from manifests, as a
 * stream of batches (memory does not grow with the dataset). A PATH inside a folder dataset reads only the
 * tree nodes that can hold it.
 */
export async function* lsFiles(repo: Repo, opts: { rev?: string; path?: string; cwd?: string } = {}): AsyncGenerator<ListedFile[]> {
  const rel = opts.path === undefined ? '' : repo.relPath(opts.path, opts.cwd);
  const target = rel.endsWith('.tdvc') ? rel.slice(0, -'.tdvc'.length) : rel;
  const datasets = (await datasetsAt(repo, opts.rev)).filter(
    (d) => target === '' || d.dataPath === target || target.startsWith(d.dataPath + '/') || d.dataPath.startsWith(target + '/'),
  );
  if (datasets.length === 0 && target !== '') {
    throw new TdvcError('ENOTTRACKED', `${target} is not tracked${opts.rev ? ` at ${opts.rev}` : ''}`, { path: target });
  }
  for (const d of datasets) {
    const p = d.pointer;
    if (p.type === 'file') {
      yield [{ path: d.dataPath, size: p.size, oid: p.oid, exec: p.exec, dataset: d.dataPath }];
      continue;
    }
    // the part of the dataset PATH names ('' = all of it)
    const inside = target.startsWith(d.dataPath + '/') ? target.slice(d.dataPath.length + 1) : '';
    for await (const leaf of walkLeaves(storeSource(repo.odb, d.pointerPath), p.oid, rangeOfSubPath(inside))) {
      const batch: ListedFile[] = [];
      for (const e of leaf) {
        if (inside !== '' && e.path !== inside && !e.path.startsWith(inside + '/')) continue;
        batch.push({ path: `${d.dataPath}/${e.path}`, size: e.size, oid: e.oid, exec: e.exec, dataset: d.dataPath });
      }
      if (batch.length > 0) yield batch;
    }
  }
}

/** `lsFiles` collected into one array (for small datasets and tests). */
export async function ls(repo: Repo, opts: { rev?: string; path?: string; cwd?: string } = {}): Promise<ListedFile[]> {
  const out: ListedFile[] = [];
  for await (const batch of lsFiles(repo, opts)) out.push(...batch);
  return out;
}
