import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { TdvcError, WouldLoseDataError } from '../errors.js';
import type { Repo } from '../workspace/repo.js';
import { checkout, type CheckoutResult } from './checkout.js';
import { gitOf } from './revision.js';

export interface SwitchResult {
  rev: string;
  commit: string;
  branch: string | undefined;
  checkout: CheckoutResult;
}

/**
 * `tdvc checkout REV`: switches the Git working tree to REV (branch, tag or commit) and
 * materialises the data recorded there, in one command. It refuses before changing anything when
 * tracked Git files have uncommitted changes, or when workspace data that is not in the cache would
 * be overwritten.
 */
export async function switchTo(repo: Repo, rev: string, opts: { force?: boolean } = {}): Promise<SwitchResult> {
  const g = gitOf(repo);
  const commit = await g.resolve(rev);
  if (!opts.force) {
    const dirty = await g.changedTrackedFiles();
    if (dirty.length > 0) {
      throw new WouldLoseDataError(
        `checkout ${rev} would overwrite uncommitted changes to tracked files:\n${dirty.slice(0, 20).map((p) => `  ${p}`).join('\n')}`,
        dirty,
        "commit or stash them first (git commit / git stash), or use --force to discard them",
      );
    }
    // dry run of the data side against REV's pointer files: throws WouldLoseDataError, touches nothing
    await checkout(repo, [], { rev: commit, dryRun: true });
  }
  const branches = await git.listBranches({ fs, gitdir: g.gitdir });
  const branch = branches.includes(rev) ? rev : undefined;
  try {
    await git.checkout({ fs, dir: repo.root, gitdir: g.gitdir, ref: branch ?? commit, force: opts.force === true, cache: g.cache });
  } catch (err) {
    const e = err as { code?: string; data?: { filepaths?: string[] }; message?: string };
    if (e.code === 'CheckoutConflictError') {
      const files = e.data?.filepaths ?? [];
      throw new WouldLoseDataError(`checkout ${rev} would overwrite local files:\n${files.map((p) => `  ${p}`).join('\n')}`, files, 'move them away or commit them first');
    }
    throw new TdvcError('EGIT', `git checkout ${rev} failed: ${e.message ?? String(err)}`);
  }
  const co = await checkout(repo, [], opts.force ? { force: true } : {});
  return { rev, commit, branch, checkout: co };
}
