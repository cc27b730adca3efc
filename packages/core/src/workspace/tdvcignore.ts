import { lstatSync } from 'node:fs';
import { decidingRule, IGNORE_FILE, parseIgnore, readIgnoreFileSync, rulesAbove, type ActiveRules, type IgnoreRule, type IgnoreSetup } from '../util/ignore-rules.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { findPointerFiles, dataPathOf } from './datasets.js';
import type { Repo } from './repo.js';

/**
 * The .tdvcignore rules a walk of the dataset at `dataPath` inherits: the files at the repository
 * root and in every folder between it and the dataset (the dataset's own and those below it are
 * found by the walk). Read without following links, bounded, like every committed file.
 */
export function ignoreSetupFor(repo: Repo, dataPath: string): IgnoreSetup {
  const above: IgnoreSetup['above'] = [];
  const parts = dataPath === '' ? [] : dataPath.split('/');
  for (let i = 0; i < parts.length; i++) {
    const folder = parts.slice(0, i).join('/');
    const source = folder === '' ? IGNORE_FILE : `${folder}/${IGNORE_FILE}`;
    const text = readIgnoreFileSync(repo.abs(source), { absentOk: true });
    if (text !== undefined) above.push({ source, text });
  }
  return { datasetPath: dataPath, above };
}

export interface CheckIgnoreResult {
  /** the path as given */
  path: string;
  /** from the repository root */
  repoPath: string;
  ignored: boolean;
  /** the rule that decided (a negated one when it re-includes the path) */
  rule?: { source: string; line: number; pattern: string };
}

/**
 * Why a path is ignored, or not: the decision the walk of its dataset makes. Inside a dataset,
 * the rules apply to the components below the dataset's own folder (a tracked dataset is never
 * ignored itself) and a component that is ignored hides everything below it, since the walk does
 * not descend there. A path in no dataset is judged from the repository root down, as Git would.
 */
export function checkIgnore(repo: Repo, paths: readonly string[], cwd: string = process.cwd()): CheckIgnoreResult[] {
  const datasets = findPointerFiles(repo).map(dataPathOf);
  return paths.map((path) => {
    const repoPath = repo.relPath(path, cwd);
    const dataset = datasets.find((d) => repoPath.startsWith(`${d}/`));
    const decided = decide(repo, repoPath, dataset, path.endsWith('/'));
    return { path, repoPath, ignored: decided !== undefined && !decided.negate, ...(decided ? { rule: { source: decided.source, line: decided.line, pattern: decided.text } } : {}) };
  });
}

function decide(repo: Repo, repoPath: string, dataset: string | undefined, slash: boolean): IgnoreRule | undefined {
  if (repoPath === '' || datasetsOwnPath(repo, repoPath)) return undefined;
  const start = dataset ?? '';
  let active: ActiveRules[] = dataset === undefined ? [] : rulesAbove(ignoreSetupFor(repo, dataset));
  const below = (start === '' ? repoPath : repoPath.slice(start.length + 1)).split('/');
  let folder = start;
  for (let i = 0; i < below.length; i++) {
    const source = folder === '' ? IGNORE_FILE : `${folder}/${IGNORE_FILE}`;
    const text = readIgnoreFileSync(repo.abs(source), { absentOk: true, objectsDir: repo.odb.objectsDir });
    if (text !== undefined) {
      const rules = parseIgnore(text, source);
      if (rules.length > 0) active = [...active, { rules, dir: [] }];
    }
    const name = below[i]!;
    const last = i === below.length - 1;
    const rule = decidingRule(active, name, !last || slash || isFolder(repo.abs(repoPath)));
    if (last || (rule && !rule.negate)) return rule;
    active = active.map((a) => ({ rules: a.rules, dir: [...a.dir, name] }));
    folder = folder === '' ? name : `${folder}/${name}`;
  }
  return undefined;
}

/** A path that is itself a tracked dataset (its pointer file is there): never ignored. */
function datasetsOwnPath(repo: Repo, repoPath: string): boolean {
  try {
    return lstatSync(repo.abs(repoPath + POINTER_SUFFIX)).isFile();
  } catch {
    return false;
  }
}

function isFolder(abs: string): boolean {
  try {
    return lstatSync(abs).isDirectory();
  } catch {
    return false;
  }
}
