import * as fs from 'node:fs';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TdvcError } from '../errors.js';
import { igit } from './igit.js';

/** A revision of a repository fetched from a Git URL into a temp folder: its commit, and the default branch's. */
export interface FetchedRevision {
  gitdir: string;
  commit: string;
  /** the commit at the tip of the remote's default branch (where the newest config is), fetched when first asked */
  newest(): Promise<string | undefined>;
  /** removes the temp folder */
  remove(): void;
}

/**
 * Fetches what a reader needs of the repository at `url` (smart HTTP(S), through isomorphic-git:
 * no `git` binary): the commit `rev` names and, for its config, the default branch's tip — both
 * shallow (depth 1), one ref each, no checkout. A commit id that no ref names costs the default
 * branch's history instead (servers do not hand out unnamed commits). Into a temp folder under `parent`.
 */
export async function fetchRevision(url: string, rev: string | undefined, parent = tmpdir()): Promise<FetchedRevision> {
  const git = await igit();
  const http = (await import('isomorphic-git/http/node')).default;
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'tdvc-git-'));
  const gitdir = join(dir, 'repo.git');
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  const named = (e: unknown): TdvcError => {
    const code = (e as { code?: string }).code;
    return new TdvcError(code === 'NotFoundError' ? 'EBADREV' : 'EGIT', `cannot read ${url}${rev ? ` at ${rev}` : ''}: ${(e as Error).message}`, {
      path: url,
      hint: code === 'NotFoundError' ? 'check the revision (a branch, a tag or a commit)' : 'check the URL and that the server allows reading it',
    });
  };
  try {
    await git.init({ fs, dir: gitdir, bare: true });
    await git.addRemote({ fs, gitdir, remote: 'origin', url });
    const fetchTip = async (ref: string | undefined, depth: number | undefined): Promise<{ commit: string; defaultBranch: string | undefined }> => {
      const r = await git.fetch({ fs, http, gitdir, url, ...(ref ? { ref } : {}), singleBranch: true, ...(depth ? { depth } : {}), tags: false });
      if (!r.fetchHead) throw Object.assign(new Error(`no ref ${ref ?? 'HEAD'}`), { code: 'NotFoundError' });
      return { commit: await peel(r.fetchHead), defaultBranch: r.defaultBranch?.replace(/^refs\/heads\//, '') ?? undefined };
    };
    const peel = async (oid: string): Promise<string> => {
      // an annotated tag names a tag object: the commit is behind it
      for (let i = 0; i < 8; i++) {
        const o = await git.readObject({ fs, gitdir, oid, format: 'parsed' });
        if (o.type !== 'tag') return oid;
        oid = (o.object as { object: string }).object;
      }
      return oid;
    };
    let commit: string;
    let defaultBranch: string | undefined;
    try {
      ({ commit, defaultBranch } = await fetchTip(rev, 1));
    } catch (e) {
      if (!rev || !/^[0-9a-f]{4,40}$/i.test(rev)) throw named(e);
      // a commit id: the default branch's history, then the id in it
      try {
        ({ defaultBranch } = await fetchTip(undefined, undefined));
        commit = await git.expandOid({ fs, gitdir, oid: rev.toLowerCase() });
      } catch (e2) {
        throw named(e2);
      }
    }
    let newest: Promise<string | undefined> | undefined;
    const newestTip = (): Promise<string | undefined> =>
      (newest ??= rev === undefined ? Promise.resolve(commit) : fetchTip(defaultBranch, 1).then((t) => t.commit, () => undefined));
    return { gitdir, commit, newest: newestTip, remove };
  } catch (e) {
    remove();
    throw e;
  }
}
