import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { NotAGitRepositoryError, TdvcError } from '../errors.js';
import { Config } from '../workspace/config.js';
import { findGitDir, findRoot, TDVC_DIR } from '../workspace/repo.js';
import { writeFileAtomic } from '../util/fs.js';
import { shellQuote } from '../util/shell-quote.js';

export interface InitOptions {
  /** allow a repository without Git */
  noGit?: boolean;
}

export interface InitResult {
  root: string;
  created: boolean;
  git: boolean;
}

/** What `.tdvc/.gitignore` keeps out of Git: the cache, scratch space and machine-local settings. */
const TDVC_GITIGNORE = '/cache\n/tmp\n/config.local\n';

/** `tdvc init`: makes `dir` (the root of a Git working tree) a tdvc repository. Idempotent. */
export async function init(dir: string = process.cwd(), opts: InitOptions = {}): Promise<InitResult> {
  const root = resolve(dir);
  const gitRoot = findGitDir(root);
  if (!gitRoot && !opts.noGit) throw new NotAGitRepositoryError(root);
  if (gitRoot && gitRoot !== root) {
    throw new TdvcError('ENOTROOT', `${root} is inside the Git repository ${gitRoot}, not at its root`, {
      path: root,
      hint: `run it at the root of the Git repository: cd ${shellQuote(gitRoot)} && tdvc init`,
    });
  }
  const existing = findRoot(root);
  if (existing && existing !== root) {
    throw new TdvcError('ENESTED', `${root} is inside the tdvc repository ${existing}`, { path: root, hint: `use the repository at ${existing}` });
  }
  const tdvcDir = join(root, TDVC_DIR);
  const created = !existsSync(tdvcDir);
  await mkdir(tdvcDir, { recursive: true });
  if (!existsSync(join(tdvcDir, '.gitignore'))) await writeFileAtomic(join(tdvcDir, '.gitignore'), TDVC_GITIGNORE);
  if (!existsSync(Config.fileFor(tdvcDir, 'project'))) await writeFileAtomic(Config.fileFor(tdvcDir, 'project'), '');
  return { root, created, git: gitRoot !== undefined };
}
