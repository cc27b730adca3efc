import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { TdvcError, WouldLoseDataError } from '../errors.js';
import type { Repo } from '../workspace/repo.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { checkout, type CheckoutResult } from './checkout.js';
import { mergePointerTexts } from './merge-driver.js';
import { gitOf } from './revision.js';

export interface MergeResult {
  branch: string;
  commit: string | undefined;
  fastForward: boolean;
  alreadyMerged: boolean;
  /** dataset paths with file-level conflicts, and the messages explaining them */
  conflicts: Array<{ path: string; message: string }>;
  checkout: CheckoutResult | undefined;
}

/**
 * `tdvc merge BRANCH` without the Git CLI: isomorphic-git's merge with tdvc's manifest merge as
 * the driver for pointer files, then a data checkout of the result.
 */
export async function merge(repo: Repo, branch: string, opts: { author?: { name: string; email: string } } = {}): Promise<MergeResult> {
  const g = gitOf(repo);
  const dirty = await g.changedTrackedFiles();
  if (dirty.length > 0) {
    throw new WouldLoseDataError(`cannot merge with uncommitted changes to tracked files:\n${dirty.map((p) => `  ${p}`).join('\n')}`, dirty, 'commit or stash them first');
  }
  const ours = await g.currentBranch();
  if (!ours) throw new TdvcError('EDETACHED', 'HEAD is detached: check out the branch to merge into first');
  const conflicts: Array<{ path: string; message: string }> = [];
  const author = opts.author ?? authorFromEnv();
  let res;
  try {
    res = await git.merge({
      fs,
      dir: repo.root,
      gitdir: g.gitdir,
      ours,
      theirs: branch,
      abortOnConflict: false,
      cache: g.cache,
      ...(author ? { author, committer: author } : {}),
      mergeDriver: async ({ contents, path }) => {
        const [base, oursText, theirsText] = contents as [string, string, string];
        if (!path.endsWith(POINTER_SUFFIX)) {
          // not a pointer file: leave it to Git's line merge semantics (conflict if both changed)
          const clean = oursText === theirsText || base === oursText || base === theirsText;
          return { cleanMerge: clean, mergedText: base === oursText ? theirsText : oursText };
        }
        const r = await mergePointerTexts(repo, path, base, oursText, theirsText);
        if (!r.clean) conflicts.push({ path: path.slice(0, -POINTER_SUFFIX.length), message: r.message ?? 'conflict' });
        return { cleanMerge: r.clean, mergedText: r.text };
      },
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code === 'MergeConflictError' || e.code === 'MergeNotSupportedError') {
      const co = await checkout(repo, []).catch(() => undefined);
      return { branch, commit: undefined, fastForward: false, alreadyMerged: false, conflicts, checkout: co };
    }
    if (e.code === 'MissingNameError') {
      throw new TdvcError('EGIT', 'git needs an author name and email for the merge commit', { hint: 'set them: git config user.name NAME; git config user.email EMAIL' });
    }
    throw new TdvcError('EGIT', `merge of ${branch} failed: ${e.message ?? String(err)}`);
  }
  // isomorphic-git moves the branch; bring the working tree to the merge result
  await git.checkout({ fs, dir: repo.root, gitdir: g.gitdir, ref: ours, cache: g.cache });
  const co = await checkout(repo, []);
  return { branch, commit: res.oid, fastForward: res.fastForward === true, alreadyMerged: res.alreadyMerged === true, conflicts, checkout: co };
}

function authorFromEnv(): { name: string; email: string } | undefined {
  const name = process.env['GIT_AUTHOR_NAME'];
  const email = process.env['GIT_AUTHOR_EMAIL'];
  return name && email ? { name, email } : undefined;
}
