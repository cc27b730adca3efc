import * as fs from 'node:fs';
import { igit } from '../git/igit.js';
import { WouldLoseDataError } from '../errors.js';
import type { Repo } from '../workspace/repo.js';
import { applyCheckoutSet, planCheckoutSet, type CheckoutResult } from './checkout.js';
import { gitOf } from '../dataset/revision.js';
import { withCacheWriterLock } from './cache-lock.js';

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
  return withCacheWriterLock(repo, `checkout ${rev}`, () => switchUnlocked(repo, rev, opts), { ifCacheExists: true });
}

async function switchUnlocked(repo: Repo, rev: string, opts: { force?: boolean }): Promise<SwitchResult> {
  const g = gitOf(repo);
  const commit = await g.resolve(rev);
  if (!opts.force) {
    const dirty = await g.changedTrackedFiles();
    if (dirty.length > 0) {
      throw new WouldLoseDataError(
        `checkout ${rev} would overwrite uncommitted changes to tracked files:\n${dirty.slice(0, 20).map((p) => `  ${p}`).join('\n')}`,
        dirty,
        'commit or stash them first (git commit / git stash), or use --force to discard them',
      );
    }
  }
  // one read of the workspace: plan against REV's pointer files (refusing here touches nothing),
  // then move Git, then apply that same plan
  const plan = await planCheckoutSet(repo, [], { rev: commit, ...(opts.force ? { force: true } : {}) });
  const branches = await (await igit()).listBranches({ fs, gitdir: g.gitdir });
  const branch = branches.includes(rev) ? rev : undefined;
  await g.switchWorkingTree(branch ?? commit, { detach: branch === undefined, force: opts.force === true, label: rev });
  const co = await applyCheckoutSet(repo, plan, { rev: commit, writePointers: false, ...(opts.force ? { force: true } : {}) });
  return { rev, commit, branch, checkout: co };
}
