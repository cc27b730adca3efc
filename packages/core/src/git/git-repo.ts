import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { igit } from './igit.js';
import { TdvcError } from '../errors.js';
import { POINTER_SUFFIX } from '../objects/pointer.js';
import { SMALL_TEXT_LIMIT } from '../util/safe-read.js';

/** A pointer file committed by anyone is read into memory: one larger than any pointer is refused. */
function pointerText(blob: Uint8Array, path: string, commit: string): string {
  if (blob.byteLength > SMALL_TEXT_LIMIT) {
    throw new TdvcError('ETOOBIG', `pointer file ${path} at ${commit.slice(0, 12)} is too large to be one (${blob.byteLength} bytes)`, {
      path,
      hint: 'tdvc never writes one that large; remove it from the history or narrow the command to other revisions',
    });
  }
  return Buffer.from(blob).toString('utf8');
}

/** A pointer file as committed at some revision. */
export interface CommittedPointer {
  path: string;
  text: string;
}

/**
 * The one place tdvc reads Git: revisions, files at a revision, history. Built on isomorphic-git so
 * it works without the Git CLI; the tests check it against the real `git` binary.
 */
export class GitRepo {
  readonly cache: object = {};

  constructor(
    readonly dir: string,
    readonly gitdir: string = join(dir, '.git'),
  ) {}

  /**
   * Resolves a revision like Git: a full or abbreviated commit id, HEAD, a branch, a tag (annotated
   * tags are peeled), a remote branch, each optionally followed by `~N`, `^N`, `~` or `^`.
   */
  async resolve(rev: string): Promise<string> {
    const oid = await this.tryResolve(rev);
    if (!oid) {
      if (rev !== 'HEAD' && (await this.tryResolve('HEAD')) !== undefined) {
        throw new TdvcError('EBADREV', `unknown revision ${rev}`, { hint: "name a commit, branch or tag ('git log --oneline' lists commits)" });
      }
      throw new TdvcError('EBADREV', `unknown revision ${rev}: this repository has no commits yet`, { hint: 'commit first (git add … && git commit)' });
    }
    return oid;
  }

  async tryResolve(rev: string): Promise<string | undefined> {
    const m = /^(.*?)((?:[~^]\d*)*)$/.exec(rev);
    const baseName = m?.[1] ?? rev;
    const suffix = m?.[2] ?? '';
    if (baseName === '') return undefined;
    let oid = await this.resolveBase(baseName);
    if (!oid) return undefined;
    for (const op of suffix.match(/[~^]\d*/g) ?? []) {
      const n = op.length > 1 ? Number(op.slice(1)) : 1;
      if (op[0] === '~') {
        for (let i = 0; i < n && oid; i++) oid = (await this.parents(oid))[0];
      } else if (n > 0) {
        oid = (await this.parents(oid))[n - 1];
      }
      if (!oid) return undefined;
    }
    return oid;
  }

  private async resolveBase(name: string): Promise<string | undefined> {
    let oid: string | undefined;
    try {
      oid = await (await igit()).resolveRef({ fs, gitdir: this.gitdir, ref: name });
    } catch {
      if (/^[0-9a-f]{4,40}$/.test(name)) {
        try {
          oid = await (await igit()).expandOid({ fs, gitdir: this.gitdir, oid: name, cache: this.cache });
        } catch {
          return undefined;
        }
      } else {
        return undefined;
      }
    }
    return this.peelToCommit(oid);
  }

  private async peelToCommit(oid: string): Promise<string | undefined> {
    for (let i = 0; i < 10; i++) {
      let obj;
      try {
        obj = await (await igit()).readObject({ fs, gitdir: this.gitdir, oid, format: 'parsed', cache: this.cache });
      } catch {
        return undefined;
      }
      if (obj.type === 'commit') return oid;
      if (obj.type !== 'tag') return undefined;
      oid = (obj.object as { object: string }).object;
    }
    return undefined;
  }

  async parents(commit: string): Promise<string[]> {
    const { commit: c } = await (await igit()).readCommit({ fs, gitdir: this.gitdir, oid: commit, cache: this.cache });
    return c.parent;
  }

  async headCommit(): Promise<string | undefined> {
    return this.tryResolve('HEAD');
  }

  async currentBranch(): Promise<string | undefined> {
    return (await (await igit()).currentBranch({ fs, gitdir: this.gitdir, fullname: false })) ?? undefined;
  }

  /** The text of `path` at `commit`, or undefined when it does not exist there. */
  async readText(commit: string, path: string): Promise<string | undefined> {
    try {
      const { blob } = await (await igit()).readBlob({ fs, gitdir: this.gitdir, oid: commit, filepath: path, cache: this.cache });
      return pointerText(blob, path, commit);
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFoundError') return undefined;
      throw err;
    }
  }

  /** Every `*.tdvc` pointer file committed at `commit`. */
  async listPointers(commit: string): Promise<CommittedPointer[]> {
    const { commit: c } = await (await igit()).readCommit({ fs, gitdir: this.gitdir, oid: commit, cache: this.cache });
    const found: Array<{ path: string; oid: string }> = [];
    const walk = async (treeOid: string, prefix: string): Promise<void> => {
      const { tree } = await (await igit()).readTree({ fs, gitdir: this.gitdir, oid: treeOid, cache: this.cache });
      for (const e of tree) {
        const path = prefix ? `${prefix}/${e.path}` : e.path;
        if (e.type === 'tree') await walk(e.oid, path);
        else if (e.type === 'blob' && e.path.endsWith(POINTER_SUFFIX) && e.path.length > POINTER_SUFFIX.length) {
          if (e.mode === '120000') {
            throw new TdvcError('ESYMLINK', `pointer file ${path} at ${commit.slice(0, 12)} is committed as a symbolic link; tdvc does not follow links to pointer files`, {
              path,
              hint: 'replace it by the pointer file itself (git rm it, then tdvc add the data)',
            });
          }
          found.push({ path, oid: e.oid });
        }
      }
    };
    await walk(c.tree, '');
    return Promise.all(
      found.map(async (f) => {
        const { blob } = await (await igit()).readBlob({ fs, gitdir: this.gitdir, oid: f.oid, cache: this.cache });
        return { path: f.path, text: pointerText(blob, f.path, commit) };
      }),
    );
  }

  async branchTips(): Promise<string[]> {
    return (await this.branches()).map((b) => b.commit);
  }

  async tagCommits(): Promise<string[]> {
    return (await this.tags()).map((t) => t.commit);
  }

  /** Every branch with the commit at its tip. */
  async branches(): Promise<Array<{ name: string; commit: string }>> {
    return this.refsUnder('refs/heads', await (await igit()).listBranches({ fs, gitdir: this.gitdir }));
  }

  /** Every tag with the commit it names (annotated tags peeled). */
  async tags(): Promise<Array<{ name: string; commit: string }>> {
    return this.refsUnder('refs/tags', await (await igit()).listTags({ fs, gitdir: this.gitdir }));
  }

  private async refsUnder(prefix: string, names: string[]): Promise<Array<{ name: string; commit: string }>> {
    const out: Array<{ name: string; commit: string }> = [];
    for (const name of names) {
      const commit = await this.tryResolve(`${prefix}/${name}`);
      if (commit) out.push({ name, commit });
    }
    return out;
  }

  /** Every commit reachable from all branches and tags (for gc and pull --all-commits). */
  async allCommits(): Promise<string[]> {
    const refs = [
      ...(await (await igit()).listBranches({ fs, gitdir: this.gitdir })).map((b) => `refs/heads/${b}`),
      ...(await (await igit()).listTags({ fs, gitdir: this.gitdir })).map((t) => `refs/tags/${t}`),
    ];
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const r of refs) {
      const oid = await this.tryResolve(r);
      if (oid) stack.push(oid);
    }
    while (stack.length > 0) {
      const oid = stack.pop()!;
      if (seen.has(oid)) continue;
      seen.add(oid);
      stack.push(...(await this.parents(oid)));
    }
    return [...seen];
  }

  /**
   * Runs the Git CLI when it is installed (undefined when it is not). Hooks are switched off: tdvc
   * itself does the data side of what it asks Git to do.
   */
  runGitCli(args: string[]): { status: number; stdout: string; stderr: string } | undefined {
    const r = spawnSync('git', ['-c', 'core.hooksPath=/dev/null', ...args], { cwd: this.dir, encoding: 'utf8', maxBuffer: 256 << 20 });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { status: r.status ?? 1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }

  /**
   * Moves HEAD and the working tree to a branch or commit. The Git CLI is preferred where it is
   * installed: isomorphic-git walks every file of the working tree, git-ignored data included.
   */
  async switchWorkingTree(ref: string, opts: { detach: boolean; force: boolean; label: string }): Promise<void> {
    const cli = this.runGitCli(['checkout', '-q', ...(opts.force ? ['--force'] : []), ...(opts.detach ? ['--detach'] : []), ref]);
    if (cli) {
      if (cli.status !== 0) {
        throw new TdvcError('EGIT', `git checkout ${opts.label} failed: ${cli.stderr.trim()}`, { hint: 'commit, stash or move away the files git names, then try again' });
      }
      return;
    }
    try {
      await (await igit()).checkout({ fs, dir: this.dir, gitdir: this.gitdir, ref, force: opts.force, cache: this.cache });
    } catch (err) {
      const e = err as { code?: string; data?: { filepaths?: string[] }; message?: string };
      if (e.code === 'CheckoutConflictError') {
        const files = e.data?.filepaths ?? [];
        throw new TdvcError('EWOULDLOSE', `checkout ${opts.label} would overwrite local files:\n${files.map((p) => `  ${p}`).join('\n')}`, {
          exitCode: 3,
          data: { paths: files },
          hint: 'move them away or commit them first',
        });
      }
      throw new TdvcError('EGIT', `git checkout ${opts.label} failed: ${e.message ?? String(err)}`);
    }
  }

  /** Paths of tracked files whose working-tree or index state differs from HEAD. */
  async changedTrackedFiles(): Promise<string[]> {
    const cli = this.runGitCli(['status', '--porcelain=v1', '-z', '--untracked-files=no']);
    if (cli && cli.status === 0) {
      return cli.stdout
        .split('\0')
        .filter((e) => e.length > 3)
        .map((e) => e.slice(3));
    }
    const rows = await (await igit()).statusMatrix({ fs, dir: this.dir, gitdir: this.gitdir, cache: this.cache });
    return rows.filter(([, head, work, stage]) => head === 1 && (work !== 1 || stage !== 1)).map(([p]) => p);
  }
}
