import { TdvcError } from '../errors.js';
import { checkIgnore, type CheckIgnoreResult } from '../workspace/tdvcignore.js';
import type { Repo } from '../workspace/repo.js';

export type { CheckIgnoreResult };

/**
 * `tdvc check-ignore PATH...`: for each path, whether a .tdvcignore rule keeps it out of its
 * dataset, and which rule decided (see checkIgnore). Paths outside the repository are refused.
 */
export function checkIgnorePaths(repo: Repo, paths: readonly string[], cwd: string = process.cwd()): CheckIgnoreResult[] {
  if (paths.length === 0) throw new TdvcError('EUSAGE', 'tdvc check-ignore needs at least one PATH', { exitCode: 2 });
  return checkIgnore(repo, paths, cwd);
}
