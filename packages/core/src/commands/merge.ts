import * as fs from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { igit } from '../git/igit.js';
import { TdvcError, WouldLoseDataError } from '../errors.js';
import type { Repo } from '../workspace/repo.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { checkout, type CheckoutResult } from './checkout.js';
import { mergePointerTexts } from './merge-driver.js';
import { gitOf } from '../dataset/revision.js';
import { withCacheWriterLock } from './cache-lock.js';
import { shellQuote } from '../util/shell-quote.js';

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
 *
 * The merge is computed first without touching the index, the working tree or the branch; the
 * result is then applied with a checkout (which updates, creates and deletes files from the index
 * it started from). A conflicted pointer file still holds a valid pointer plus comments, so a
 * merge with dataset conflicts is applied the same way but left unfinished, as `git merge` leaves
 * it: HEAD stays, MERGE_HEAD names the other side, the conflicted pointer files are left unstaged,
 * and `git add` + `git commit` after `tdvc checkout --ours/--theirs` makes the merge commit.
 */
export async function merge(repo: Repo, branch: string, opts: { author?: { name: string; email: string } } = {}): Promise<MergeResult> {
  // merged manifests are stored before any pointer file names them: see gc.ts
  return withCacheWriterLock(repo, 'merge', () => mergeUnlocked(repo, branch, opts));
}

async function mergeUnlocked(repo: Repo, branch: string, opts: { author?: { name: string; email: string } }): Promise<MergeResult> {
  const g = gitOf(repo);
  const dirty = await g.changedTrackedFiles();
  if (dirty.length > 0) {
    throw new WouldLoseDataError(`cannot merge with uncommitted changes to tracked files:\n${dirty.map((p) => `  ${p}`).join('\n')}`, dirty, 'commit or stash them first');
  }
  const ours = await g.currentBranch();
  if (!ours) throw new TdvcError('EDETACHED', 'HEAD is detached: check out the branch to merge into first');
  const theirOid = await g.resolve(branch);
  const conflicts: Array<{ path: string; message: string }> = [];
  const author = opts.author ?? authorFromEnv();
  let res;
  try {
    res = await (await igit()).merge({
      fs,
      dir: repo.root,
      gitdir: g.gitdir,
      ours,
      theirs: theirOid,
      abortOnConflict: true,
      noUpdateBranch: true,
      message: `Merge branch '${branch}'${ours === 'main' || ours === 'master' ? '' : ` into ${ours}`}`,
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
        // the conflicted text is a valid pointer (our side of each conflict) with comments
        return { cleanMerge: true, mergedText: r.text };
      },
    });
  } catch (err) {
    const e = err as { code?: string; message?: string; data?: { filepaths?: string[] } };
    if (e.code === 'MergeConflictError' || e.code === 'MergeNotSupportedError') {
      const files = e.data?.filepaths ?? [];
      throw new TdvcError(
        'ECONFLICT',
        `cannot merge ${branch} here: ${files.length > 0 ? `conflicting changes to ${files.join(', ')}` : 'the changes need a merge strategy tdvc does not have'} (nothing was changed)`,
        { hint: `merge with Git instead (after 'tdvc install'): git merge ${shellQuote(branch)}` },
      );
    }
    if (e.code === 'MissingNameError') {
      throw new TdvcError('EGIT', 'git needs an author name and email for the merge commit', { hint: 'set them: git config user.name NAME; git config user.email EMAIL' });
    }
    throw new TdvcError('EGIT', `merge of ${branch} failed: ${e.message ?? String(err)}`);
  }
  if (res.alreadyMerged) {
    return { branch, commit: res.oid, fastForward: false, alreadyMerged: true, conflicts, checkout: await checkout(repo, []) };
  }
  const result = res.oid!;
  // bring the working tree and the index to the result; refuses (changing nothing) when an
  // untracked file is in the way
  try {
    await (await igit()).checkout({ fs, dir: repo.root, gitdir: g.gitdir, ref: result, noUpdateHead: true, cache: g.cache });
  } catch (err) {
    const e = err as { code?: string; data?: { filepaths?: string[] }; message?: string };
    if (e.code === 'CheckoutConflictError') {
      const files = e.data?.filepaths ?? [];
      throw new WouldLoseDataError(`merge of ${branch} would overwrite local files:\n${files.map((p) => `  ${p}`).join('\n')}`, files, 'move them away or commit them first');
    }
    throw new TdvcError('EGIT', `merge of ${branch} failed: ${e.message ?? String(err)}`);
  }
  if (conflicts.length > 0) {
    for (const c of conflicts) await (await igit()).resetIndex({ fs, dir: repo.root, gitdir: g.gitdir, filepath: c.path + POINTER_SUFFIX, cache: g.cache });
    await writeFile(join(g.gitdir, 'MERGE_HEAD'), `${theirOid}\n`);
    await writeFile(
      join(g.gitdir, 'MERGE_MSG'),
      `Merge branch '${branch}'${ours === 'main' || ours === 'master' ? '' : ` into ${ours}`}\n\n# Conflicts:\n${conflicts.map((c) => `#\t${c.path}${POINTER_SUFFIX}\n`).join('')}`,
    );
    const co = await checkout(repo, []).catch(() => undefined);
    return { branch, commit: undefined, fastForward: false, alreadyMerged: false, conflicts, checkout: co };
  }
  await (await igit()).writeRef({ fs, gitdir: g.gitdir, ref: `refs/heads/${ours}`, value: result, force: true });
  const co = await checkout(repo, []);
  return { branch, commit: result, fastForward: res.fastForward === true, alreadyMerged: false, conflicts, checkout: co };
}

function authorFromEnv(): { name: string; email: string } | undefined {
  const name = process.env['GIT_AUTHOR_NAME'];
  const email = process.env['GIT_AUTHOR_EMAIL'];
  return name && email ? { name, email } : undefined;
}
