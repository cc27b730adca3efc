import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MalformedFileError, isErrno, TdvcError, ExitCode, NotTrackedError } from '../errors.js';
import { parsePointer, POINTER_SUFFIX, type Pointer } from '../objects/pointer.js';
import { datasetPathProblem } from '../objects/paths.js';
import { shownPath } from '../objects/manifest.js';
import type { Repo } from './repo.js';

/** A tracked dataset: the pointer file and the data path beside it (both relative to the root). */
export interface Dataset {
  pointerPath: string;
  dataPath: string;
  pointer: Pointer;
  /** the pointer file's text as committed, when read from a revision */
  text?: string;
}

/**
 * Whether a dataset-relative path lies in a selection of paths inside the dataset, as
 * selectDatasets returns it (`''` or no selection: the whole dataset).
 */
export function inSubPaths(subPaths: readonly string[] | undefined, path: string): boolean {
  if (!subPaths || subPaths.includes('')) return true;
  return subPaths.some((s) => path === s || path.startsWith(s + '/'));
}

/** An entry's path from the repository root: `data/a/b.txt` for entry `a/b.txt` of the folder dataset `data`; a file dataset's own path. */
export function repoPathOf(ds: Pick<Dataset, 'dataPath' | 'pointer'>, entryPath: string): string {
  return ds.pointer.type === 'dir' ? `${ds.dataPath}/${entryPath}` : ds.dataPath;
}

const SKIP = new Set(['.git', '.tdvc', 'node_modules']);

/**
 * Finds every `*.tdvc` pointer file in the repository without descending into tracked data
 * folders (a folder X is skipped when X.tdvc sits beside it): listing 100k data files to find one
 * pointer would make every command pay for the size of the data.
 */
export function findPointerFiles(repo: Repo, unreadable?: string[]): string[] {
  const out: string[] = [];
  const stack: string[] = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(repo.abs(rel), { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
      // folders this user may not read are skipped, or reported to a caller that must not guess (gc)
      if (isErrno(err, 'EACCES', 'EPERM')) {
        unreadable?.push(rel === '' ? '.' : rel);
        continue;
      }
      throw err;
    }
    const names = new Set(entries.map((e) => e.name));
    for (const e of entries) {
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (SKIP.has(e.name) || names.has(e.name + POINTER_SUFFIX)) continue;
        stack.push(childRel);
      } else if (e.name.endsWith(POINTER_SUFFIX) && e.name.length > POINTER_SUFFIX.length) {
        // links, FIFOs and the like too: loading refuses them by name instead of skipping them quietly
        out.push(childRel);
      }
    }
  }
  return out.sort();
}

export function dataPathOf(pointerPath: string): string {
  return pointerPath.slice(0, -POINTER_SUFFIX.length);
}

export async function loadDataset(repo: Repo, pointerPath: string): Promise<Dataset> {
  checkDatasetPath(pointerPath);
  // a pointer file may be a stranger's: bounded, never through a link, only a regular file
  const text = await repo.readText(pointerPath, 'pointer file');
  if (text === undefined) throw new NotTrackedError(`no pointer file ${pointerPath}`, { path: pointerPath, hint: "run 'tdvc add' first" });
  return datasetFromPointerText(pointerPath, text, pointerPath);
}

/** A dataset from a pointer file's text (read from the working tree or a revision). */
export function datasetFromPointerText(pointerPath: string, text: string, where: string): Dataset {
  checkDatasetPath(pointerPath);
  const pointer = parsePointer(text, where);
  const dataPath = dataPathOf(pointerPath);
  const name = dataPath.slice(dataPath.lastIndexOf('/') + 1);
  if (pointer.path !== name) {
    throw new MalformedFileError(where, `"path: ${pointer.path}" does not name the data beside it (${shownPath(name)})`);
  }
  return { pointerPath, dataPath, pointer };
}

/**
 * A pointer file at `.git.tdvc`, `x/.git.tdvc` or `.tdvc/x.tdvc` would make checkout write into Git's
 * or tdvc's own folders (a `.git/config` or hook runs commands): refused, whoever committed it.
 */
export function checkDatasetPath(pointerPath: string): void {
  const problem = datasetPathProblem(dataPathOf(pointerPath));
  if (problem) {
    throw new TdvcError('EBADPATH', `pointer file ${shownPath(pointerPath)} names data tdvc must not write: ${problem}`, {
      path: pointerPath,
      exitCode: ExitCode.usage,
      hint: 'remove that pointer file (git rm); it was not written by tdvc add',
    });
  }
}

export async function loadAllDatasets(repo: Repo): Promise<Dataset[]> {
  return Promise.all(findPointerFiles(repo).map((p) => loadDataset(repo, p)));
}

/**
 * Maps the paths a user named to datasets: a data path, a path inside a tracked folder, or the
 * pointer file itself. Returns, per dataset, the sub-paths asked for ('' = the whole dataset).
 */
export async function selectDatasets(
  repo: Repo,
  relPaths: string[],
  among?: Dataset[],
): Promise<Array<{ dataset: Dataset; subPaths: string[] }>> {
  const all = among ?? (await loadAllDatasets(repo));
  if (relPaths.length === 0) return all.map((dataset) => ({ dataset, subPaths: [''] }));
  const picked = new Map<string, { dataset: Dataset; subPaths: string[] }>();
  for (const rel of relPaths) {
    const target = rel.endsWith(POINTER_SUFFIX) ? dataPathOf(rel) : rel;
    const ds = all.find((d) => target === d.dataPath || target.startsWith(d.dataPath + '/'));
    const inside = ds ? [] : all.filter((d) => target === '' || d.dataPath.startsWith(target + '/'));
    if (!ds && inside.length === 0) {
      throw new NotTrackedError(`${rel || '.'} is not tracked by tdvc`, { path: rel, hint: "run 'tdvc add PATH' to track it" });
    }
    for (const d of ds ? [ds] : inside) {
      const sub = ds && target !== d.dataPath ? target.slice(d.dataPath.length + 1) : '';
      const entry = picked.get(d.pointerPath) ?? { dataset: d, subPaths: [] };
      entry.subPaths.push(sub);
      picked.set(d.pointerPath, entry);
    }
  }
  for (const entry of picked.values()) if (entry.subPaths.includes('')) entry.subPaths = [''];
  return [...picked.values()];
}

export function pointerAbs(repo: Repo, dataPath: string): string {
  return join(repo.abs(dataPath) + POINTER_SUFFIX);
}
