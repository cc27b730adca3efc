import type { Repo } from '../workspace/repo.js';
import { datasetsAt, filesOf } from '../dataset/revision.js';
import { TdvcError } from '../errors.js';

export interface ListedFile {
  path: string;
  size: number;
  oid: string;
  exec: boolean;
  dataset: string;
}

/** `tdvc ls [--rev REV] [PATH]`: the files of tracked datasets at a revision, from manifests. */
export async function ls(repo: Repo, opts: { rev?: string; path?: string; cwd?: string } = {}): Promise<ListedFile[]> {
  const rel = opts.path === undefined ? '' : repo.relPath(opts.path, opts.cwd);
  const target = rel.endsWith('.tdvc') ? rel.slice(0, -'.tdvc'.length) : rel;
  const datasets = (await datasetsAt(repo, opts.rev)).filter(
    (d) => target === '' || d.dataPath === target || target.startsWith(d.dataPath + '/') || d.dataPath.startsWith(target + '/'),
  );
  if (datasets.length === 0 && target !== '') {
    throw new TdvcError('ENOTTRACKED', `${target} is not tracked${opts.rev ? ` at ${opts.rev}` : ''}`, { path: target });
  }
  const out: ListedFile[] = [];
  for (const d of datasets) {
    for (const e of await filesOf(repo, d)) {
      if (target === '' || e.path === target || e.path.startsWith(target + '/') || d.dataPath.startsWith(target + '/') || d.dataPath === target) {
        out.push({ path: e.path, size: e.size, oid: e.oid, exec: e.exec, dataset: d.dataPath });
      }
    }
  }
  return out;
}
