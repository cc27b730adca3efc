// Git integration end to end: revisions (checkout REV, diff, ls), hooks installed by `tdvc install`
// driving real `git merge` / `git rebase` / `git checkout`, the dataset merge driver, and
// `tdvc merge`. Every repository is made with the real `git` binary.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeRepo, tdvc, writeTree, type RunResult } from './helpers.js';

const GIT_ENV = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };

/** Runs git and returns its result whatever the exit status (for commands expected to fail). */
function gitTry(cwd: string, ...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV, GIT_EDITOR: 'true' } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

const read = (root: string, rel: string): string => readFileSync(join(root, rel), 'utf8');

/** Every file under `dir` (relative, sorted) with its content. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (r === '.git/index') continue; // Git and isomorphic-git refresh cached stats in it
      if (statSync(join(dir, r)).isDirectory()) walk(r);
      else out[r] = readFileSync(join(dir, r), 'utf8');
    }
  };
  if (existsSync(dir)) walk('');
  return out;
}

async function statusClean(root: string): Promise<void> {
  const st = await tdvc(root, ['status', '--json']);
  assert.equal(st.code, 0, st.stderr);
  assert.equal((JSON.parse(st.stdout) as { clean: boolean }).clean, true, `tdvc status not clean: ${st.stdout}`);
  assert.equal(git(root, 'status', '--porcelain'), '', 'git status is clean');
}

function commitAll(root: string, msg: string): string {
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', msg);
  return git(root, 'rev-parse', 'HEAD').trim();
}

/** tdvc add DATASET + commit everything. */
async function addCommit(root: string, dataset: string, msg: string): Promise<string> {
  await ok(root, ['add', dataset]);
  return commitAll(root, msg);
}

/** A repository with tdvc set up, `tdvc install` run, and a first commit of data/{a,b,sub/c}. */
async function installedRepo(): Promise<{ root: string; cleanup: () => void }> {
  const repo = await makeRepo();
  git(repo.root, 'config', 'user.name', 't');
  git(repo.root, 'config', 'user.email', 't@example.com');
  git(repo.root, 'config', 'core.autocrlf', 'false');
  writeTree(repo.root, { 'data/a.txt': 'a0', 'data/b.txt': 'b0', 'data/sub/c.txt': 'c0', 'code.txt': 'code0\n' });
  await ok(repo.root, ['install']);
  await addCommit(repo.root, 'data', 'v1');
  return repo;
}

const parents = (root: string, rev = 'HEAD'): string[] => git(root, 'rev-list', '--parents', '-n', '1', rev).trim().split(' ').slice(1);

describe('git history', { concurrency: 3 }, () => {
  test('tdvc install is idempotent and keeps an existing hook', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      const userHook = '#!/bin/sh\n# my own hook\necho user-hook-ran >> "$(git rev-parse --git-dir)/user-hook.log"\n';
      writeFileSync(join(root, '.git/hooks/post-merge'), userHook, { mode: 0o755 });
      writeFileSync(join(root, '.gitattributes'), '*.bin binary');
      const first = await ok(root, ['install']);
      assert.match(first.stdout, /post-merge: appended/);
      assert.match(first.stdout, /post-checkout: created/);
      const names = ['post-checkout', 'post-merge', 'post-rewrite', 'pre-push'];
      const after1 = Object.fromEntries(names.map((n) => [n, read(root, `.git/hooks/${n}`)]));
      for (const n of names) {
        assert.ok(after1[n]!.startsWith('#!/bin/sh\n'), `${n} is a shell script`);
        assert.equal(after1[n]!.split('# >>> tdvc >>>').length, 2, `${n} has one tdvc block`);
        assert.ok((statSync(join(root, '.git/hooks', n)).mode & 0o111) !== 0, `${n} is executable`);
      }
      assert.ok(after1['post-merge']!.startsWith(userHook), 'the user hook is kept, first');
      const attrs1 = read(root, '.gitattributes');
      assert.equal(attrs1, '*.bin binary\n*.tdvc merge=tdvc\n');
      const driver = git(root, 'config', '--get', 'merge.tdvc.driver').trim();
      assert.match(driver, / merge-driver %O %A %B %P$/);

      const second = await ok(root, ['install']);
      for (const n of names) assert.match(second.stdout, new RegExp(`hook ${n}: unchanged`));
      assert.match(second.stdout, /already registered/);
      for (const n of names) assert.equal(read(root, `.git/hooks/${n}`), after1[n], `${n} unchanged by a second install`);
      assert.equal(read(root, '.gitattributes'), attrs1);
      assert.equal(git(root, 'config', '--get-all', 'merge.tdvc.driver').trim(), driver, 'one driver entry');
      assert.equal(read(root, '.git/hooks/post-merge').split('my own hook').length, 2, 'user line kept exactly once');
    } finally {
      cleanup();
    }
  });

  test('git merge of diverged branches after tdvc install: both sides present, status clean', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'feature');
      writeTree(root, { 'data/feat.txt': 'feat', 'data/a.txt': 'a-feature' });
      await addCommit(root, 'data', 'feature data');
      git(root, 'checkout', '-q', 'main');
      assert.equal(existsSync(join(root, 'data/feat.txt')), false, 'post-checkout removed the branch-only file');
      assert.equal(read(root, 'data/a.txt'), 'a0', 'post-checkout restored main data');
      writeTree(root, { 'data/main.txt': 'main', 'data/sub/c.txt': 'c-main' });
      await addCommit(root, 'data', 'main data');

      const m = gitTry(root, 'merge', '--no-edit', 'feature');
      assert.equal(m.status, 0, m.stdout + m.stderr);
      assert.equal(parents(root).length, 2, 'a real merge commit');
      assert.deepEqual(snapshot(join(root, 'data')), {
        'a.txt': 'a-feature',
        'b.txt': 'b0',
        'feat.txt': 'feat',
        'main.txt': 'main',
        'sub/c.txt': 'c-main',
      });
      await statusClean(root);
      const ls = JSON.parse((await ok(root, ['ls', '--rev', 'HEAD', '--json'])).stdout) as Array<{ path: string }>;
      assert.deepEqual(ls.map((f) => f.path), ['data/a.txt', 'data/b.txt', 'data/feat.txt', 'data/main.txt', 'data/sub/c.txt']);
    } finally {
      cleanup();
    }
  });

  test('fast-forward git merge checks out the data and the user post-merge hook still runs', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      writeFileSync(join(root, '.git/hooks/post-merge'), '#!/bin/sh\necho ran >> "$(git rev-parse --git-dir)/user-hook.log"\n', { mode: 0o755 });
      await ok(root, ['install']);
      writeTree(root, { 'data/x': 'x0' });
      await addCommit(root, 'data', 'v1');
      git(root, 'checkout', '-q', '-b', 'ff');
      writeTree(root, { 'data/x': 'x1', 'data/y': 'y1' });
      await addCommit(root, 'data', 'v2');
      git(root, 'checkout', '-q', 'main');
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'x0' });
      const m = gitTry(root, 'merge', '--ff-only', 'ff');
      assert.equal(m.status, 0, m.stderr);
      assert.equal(git(root, 'rev-parse', 'HEAD'), git(root, 'rev-parse', 'ff'));
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'x1', y: 'y1' });
      assert.equal(read(root, '.git/user-hook.log'), 'ran\n');
      await statusClean(root);
    } finally {
      cleanup();
    }
  });

  test('git merge with conflicting changes: driver fails, comments name the files, --theirs/--ours resolve', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'other');
      writeTree(root, { 'data/a.txt': 'a-theirs', 'data/sub/c.txt': 'c-theirs', 'data/t.txt': 'only theirs' });
      await addCommit(root, 'data', 'theirs');
      git(root, 'checkout', '-q', 'main');
      writeTree(root, { 'data/a.txt': 'a-ours', 'data/sub/c.txt': 'c-ours', 'data/b.txt': 'b-ours' });
      await addCommit(root, 'data', 'ours');

      const m = gitTry(root, 'merge', '--no-edit', 'other');
      assert.notEqual(m.status, 0, 'the merge stops');
      assert.match(m.stdout, /CONFLICT \(content\): Merge conflict in data\.tdvc/);
      assert.match(git(root, 'status', '--porcelain'), /^UU data\.tdvc$/m);
      const ptr = read(root, 'data.tdvc');
      assert.match(ptr, /^# tdvc merge conflict in data: 2 file\(s\)/m);
      assert.match(ptr, /^#\s+both-modified\s+data\/a\.txt /m);
      assert.match(ptr, /^#\s+both-modified\s+data\/sub\/c\.txt /m);
      assert.doesNotMatch(ptr, /b\.txt|t\.txt/, 'clean changes are not listed as conflicts');
      assert.doesNotMatch(ptr, /^(<<<<<<<|>>>>>>>|=======)/m, 'no line-merge markers');

      // the conflicted pointer still names the union: our side of each conflict and both sides' other changes
      await ok(root, ['checkout']);
      assert.equal(read(root, 'data/a.txt'), 'a-ours');
      assert.equal(read(root, 'data/t.txt'), 'only theirs');
      assert.equal(read(root, 'data/b.txt'), 'b-ours');

      const theirs = await tdvc(root, ['checkout', '--theirs', '--', 'data/a.txt']);
      assert.equal(theirs.code, 1, 'one conflict is left');
      assert.match(theirs.stdout, /1 left/);
      assert.equal(read(root, 'data/a.txt'), 'a-theirs');
      assert.match(read(root, 'data.tdvc'), /^#\s+data\/sub\/c\.txt$/m);
      assert.doesNotMatch(read(root, 'data.tdvc'), /data\/a\.txt/);
      await ok(root, ['checkout', '--ours', '--', 'data/sub']);
      assert.equal(read(root, 'data/sub/c.txt'), 'c-ours');
      assert.doesNotMatch(read(root, 'data.tdvc'), /merge conflict|data\/sub/, 'no conflict comments left');
      const again = await tdvc(root, ['checkout', '--ours', '--', 'data']);
      assert.notEqual(again.code, 0, 'nothing left to resolve');
      assert.match(again.stderr, /no unresolved tdvc merge conflict/);

      git(root, 'add', 'data.tdvc');
      git(root, 'commit', '-q', '--no-edit');
      assert.equal(parents(root).length, 2);
      assert.deepEqual(snapshot(join(root, 'data')), {
        'a.txt': 'a-theirs',
        'b.txt': 'b-ours',
        'sub/c.txt': 'c-ours',
        't.txt': 'only theirs',
      });
      await statusClean(root);
    } finally {
      cleanup();
    }
  });

  test('modify/delete conflict inside a dataset', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'del');
      rmSync(join(root, 'data/b.txt'));
      writeTree(root, { 'data/sub/c.txt': 'c-del-side' });
      await addCommit(root, 'data', 'delete b');
      git(root, 'checkout', '-q', 'main');
      assert.equal(read(root, 'data/b.txt'), 'b0');
      writeTree(root, { 'data/b.txt': 'b-modified' });
      await addCommit(root, 'data', 'modify b');

      const m = gitTry(root, 'merge', '--no-edit', 'del');
      assert.notEqual(m.status, 0);
      const ptr = read(root, 'data.tdvc');
      assert.match(ptr, /^#\s+modified-deleted\s+data\/b\.txt .*theirs: deleted/m);
      assert.doesNotMatch(ptr, /c\.txt/);
      const r = await ok(root, ['checkout', '--theirs', '--', 'data/b.txt']);
      assert.match(r.stdout, /resolved 1 conflict/);
      assert.equal(existsSync(join(root, 'data/b.txt')), false, 'their side deleted it');
      assert.equal(read(root, 'data/sub/c.txt'), 'c-del-side', 'their clean change is kept');
      git(root, 'add', 'data.tdvc');
      git(root, 'commit', '-q', '--no-edit');
      await statusClean(root);
      const ls = JSON.parse((await ok(root, ['ls', '--rev', 'HEAD', '--json'])).stdout) as Array<{ path: string }>;
      assert.deepEqual(ls.map((f) => f.path), ['data/a.txt', 'data/sub/c.txt']);
    } finally {
      cleanup();
    }
  });

  test('tdvc merge BRANCH: clean merge makes a merge commit and checks out both sides', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'feature');
      writeTree(root, { 'data/feat.txt': 'feat', 'data/a.txt': 'a-feature', 'feature-code.txt': 'new code\n' });
      await addCommit(root, 'data', 'feature');
      git(root, 'checkout', '-q', 'main');
      writeTree(root, { 'data/main.txt': 'main' });
      const mainTip = await addCommit(root, 'data', 'main');

      const r = await tdvc(root, ['merge', 'feature', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const res = JSON.parse(r.stdout) as { commit: string; fastForward: boolean; conflicts: unknown[] };
      assert.equal(res.fastForward, false);
      assert.deepEqual(res.conflicts, []);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), res.commit);
      assert.deepEqual(parents(root), [mainTip, git(root, 'rev-parse', 'feature').trim()]);
      assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'main');
      assert.equal(read(root, 'feature-code.txt'), 'new code\n');
      assert.deepEqual(snapshot(join(root, 'data')), {
        'a.txt': 'a-feature',
        'b.txt': 'b0',
        'feat.txt': 'feat',
        'main.txt': 'main',
        'sub/c.txt': 'c0',
      });
      await statusClean(root);
      const again = await ok(root, ['merge', 'feature']);
      assert.match(again.stdout, /already up to date/);
    } finally {
      cleanup();
    }
  });

  test('tdvc merge BRANCH: fast-forward', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'ff');
      writeTree(root, { 'data/a.txt': 'a-ff', 'data/new.txt': 'new' });
      const tip = await addCommit(root, 'data', 'ff');
      git(root, 'checkout', '-q', 'main');
      const r = await ok(root, ['merge', 'ff']);
      assert.match(r.stdout, /fast-forward/);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), tip);
      assert.equal(read(root, 'data/a.txt'), 'a-ff');
      assert.equal(read(root, 'data/new.txt'), 'new');
      await statusClean(root);
    } finally {
      cleanup();
    }
  });

  test('tdvc merge BRANCH with a conflict: exit code, comments, resolution, merge commit keeps their other changes', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'other');
      writeTree(root, { 'data/a.txt': 'a-theirs', 'data/t.txt': 'theirs only', 'their-code.txt': 'theirs\n' });
      rmSync(join(root, 'code.txt'));
      await addCommit(root, 'data', 'theirs');
      const theirTip = git(root, 'rev-parse', 'HEAD').trim();
      git(root, 'checkout', '-q', 'main');
      writeTree(root, { 'data/a.txt': 'a-ours', 'data/b.txt': 'b-ours' });
      const ourTip = await addCommit(root, 'data', 'ours');

      const r = await tdvc(root, ['merge', 'other']);
      assert.equal(r.code, 1, `conflict exit code: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /tdvc merge conflict in data/);
      assert.match(r.stderr, /data\/a\.txt/);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), ourTip, 'HEAD does not move while conflicted');
      assert.match(read(root, 'data.tdvc'), /^#\s+both-modified\s+data\/a\.txt /m);
      assert.equal(read(root, 'data/a.txt'), 'a-ours', 'our side while the conflict waits');
      assert.equal(read(root, 'data/t.txt'), 'theirs only', 'their clean data change is checked out');
      assert.equal(read(root, 'their-code.txt'), 'theirs\n');
      assert.equal(existsSync(join(root, 'code.txt')), false, 'their deletion of a Git file is applied');

      await ok(root, ['checkout', '--theirs', '--', 'data/a.txt']);
      assert.equal(read(root, 'data/a.txt'), 'a-theirs');
      git(root, 'add', 'data.tdvc');
      const c = gitTry(root, 'commit', '-q', '--no-edit');
      assert.equal(c.status, 0, c.stderr);
      assert.deepEqual(parents(root), [ourTip, theirTip], 'the commit records the merge');
      assert.equal(git(root, 'show', 'HEAD:their-code.txt'), 'theirs\n', 'their new Git file is committed');
      assert.equal(gitTry(root, 'cat-file', '-e', 'HEAD:code.txt').status === 0, false, 'their deletion is committed');
      assert.deepEqual(snapshot(join(root, 'data')), { 'a.txt': 'a-theirs', 'b.txt': 'b-ours', 'sub/c.txt': 'c0', 't.txt': 'theirs only' });
      await statusClean(root);
    } finally {
      cleanup();
    }
  });

  test('checkout REV: annotated and lightweight tags, HEAD~1, short ids, then back to the branch', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      writeTree(root, { 'data/x': 'x1', 'data/d/y': 'y1', 'code.txt': 'one\n' });
      const c1 = await addCommit(root, 'data', 'v1');
      git(root, 'tag', 'light1');
      git(root, 'tag', '-a', 'ann1', '-m', 'annotated v1');
      writeTree(root, { 'data/x': 'x2', 'data/z': 'z2', 'code.txt': 'two\n' });
      rmSync(join(root, 'data/d/y'));
      const c2 = await addCommit(root, 'data', 'v2');
      git(root, 'tag', '-a', 'ann2', '-m', 'annotated v2');
      writeTree(root, { 'data/x': 'x3' });
      await addCommit(root, 'data', 'v3');
      const v1 = { x: 'x1', 'd/y': 'y1' };
      const v2 = { x: 'x2', z: 'z2' };
      const v3 = { x: 'x3', z: 'z2' };

      const cases: Array<[string, string, Record<string, string>, string]> = [
        ['ann1', c1, v1, 'one\n'],
        ['ann2', c2, v2, 'two\n'],
        ['HEAD~1', c1, v1, 'one\n'], // relative to ann2's commit
        [c2.slice(0, 7), c2, v2, 'two\n'],
        ['light1', c1, v1, 'one\n'],
        ['main', '', v3, 'two\n'],
      ];
      for (const [rev, commit, data, code] of cases) {
        const r = await tdvc(root, ['checkout', rev]);
        assert.equal(r.code, 0, `checkout ${rev}: ${r.stderr}`);
        assert.deepEqual(snapshot(join(root, 'data')), data, `data at ${rev}`);
        assert.equal(read(root, 'code.txt'), code, `code at ${rev}`);
        assert.equal(git(root, 'status', '--porcelain'), '', `git status clean at ${rev}`);
        if (commit) {
          assert.equal(git(root, 'rev-parse', 'HEAD').trim(), commit, `HEAD at ${rev}`);
          assert.equal(gitTry(root, 'symbolic-ref', '-q', 'HEAD').status, 1, `detached at ${rev}`);
        } else {
          assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'main');
        }
      }
      await statusClean(root);
      const bad = await tdvc(root, ['checkout', 'no-such-rev']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /no-such-rev/);
    } finally {
      cleanup();
    }
  });

  test('checkout --rev REV -- PATH restores data as of REV without moving HEAD; diff and ls at revisions', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      writeTree(root, { 'data/x': 'x1', 'data/d/y': 'y1', 'data/d/w': 'w1' });
      await addCommit(root, 'data', 'v1');
      git(root, 'tag', 'v1');
      writeTree(root, { 'data/x': 'x2!', 'data/d/y': 'y2', 'data/n': 'n' });
      rmSync(join(root, 'data/d/w'));
      const head = await addCommit(root, 'data', 'v2');
      git(root, 'tag', 'v2');

      const d = JSON.parse((await ok(root, ['diff', 'v1', 'v2', '--json'])).stdout) as {
        from: string;
        to: string;
        datasets: Array<{ path: string; added: Array<{ path: string; size: number }>; deleted: Array<{ path: string }>; modified: Array<{ path: string; oldSize: number; newSize: number }> }>;
      };
      assert.equal(d.from, 'v1');
      assert.equal(d.to, 'v2');
      assert.equal(d.datasets.length, 1);
      assert.deepEqual(d.datasets[0]!.added.map((f) => [f.path, f.size]), [['data/n', 1]]);
      assert.deepEqual(d.datasets[0]!.deleted.map((f) => f.path), ['data/d/w']);
      assert.deepEqual(d.datasets[0]!.modified.map((f) => [f.path, f.oldSize, f.newSize]), [['data/d/y', 2, 2], ['data/x', 2, 3]]);
      const rev = JSON.parse((await ok(root, ['diff', 'v2', 'v1', '--json'])).stdout) as typeof d;
      assert.deepEqual(rev.datasets[0]!.added.map((f) => f.path), ['data/d/w'], 'reversed diff swaps added and deleted');
      assert.match((await ok(root, ['diff'])).stdout, /no data changes/, 'workspace matches HEAD');
      writeTree(root, { 'data/x': 'dirty' });
      const ws = JSON.parse((await ok(root, ['diff', '--json'])).stdout) as typeof d;
      assert.equal(ws.to, 'workspace');
      assert.deepEqual(ws.datasets[0]!.modified.map((f) => f.path), ['data/x']);
      await ok(root, ['checkout', '--force']);

      const ls = (await ok(root, ['ls', '--rev', 'v1'])).stdout;
      assert.equal(ls, 'data/d/w\ndata/d/y\ndata/x\n');
      const lsSub = (await ok(root, ['ls', '--rev', 'v1', '--long', 'data/d'])).stdout.trim().split('\n');
      assert.equal(lsSub.length, 2);
      assert.match(lsSub[0]!, /^[0-9a-f]{64}\s+2\s+data\/d\/w$/);
      assert.equal((await ok(root, ['ls'])).stdout, 'data/d/y\ndata/n\ndata/x\n');
      const missing = await tdvc(root, ['ls', '--rev', 'v1', 'nope']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /nope is not tracked at v1/);

      // a path inside the dataset: only that folder goes back, the pointer file and HEAD stay
      const ptrBefore = read(root, 'data.tdvc');
      await ok(root, ['checkout', '--rev', 'v1', '--', 'data/d']);
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'x2!', 'd/y': 'y1', 'd/w': 'w1', n: 'n' });
      assert.equal(read(root, 'data.tdvc'), ptrBefore);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), head);
      // the whole dataset: the pointer file follows
      await ok(root, ['checkout', '--rev', 'HEAD~1', '--', 'data']);
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'x1', 'd/y': 'y1', 'd/w': 'w1' });
      assert.equal(read(root, 'data.tdvc'), git(root, 'show', 'v1:data.tdvc'));
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), head);
      assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'main');
    } finally {
      cleanup();
    }
  });

  test('checkout REV refuses with uncommitted tracked changes and changes nothing', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      writeTree(root, { 'data/x': 'x1', 'code.txt': 'one\n', 'other.txt': 'o\n' });
      await addCommit(root, 'data', 'v1');
      writeTree(root, { 'data/x': 'x2' });
      const head = await addCommit(root, 'data', 'v2');
      writeTree(root, { 'code.txt': 'edited, not committed\n' });
      git(root, 'add', 'other.txt'); // staged but unchanged: not dirty
      const before = snapshot(root);
      const indexBefore = git(root, 'ls-files', '-s');
      const r = await tdvc(root, ['checkout', 'HEAD~1']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /code\.txt/);
      assert.doesNotMatch(r.stderr, /other\.txt/);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), head);
      assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'main');
      assert.deepEqual(snapshot(root), before, 'no file changed (Git files, pointer files, data, .tdvc)');
      assert.equal(git(root, 'ls-files', '-s'), indexBefore, 'the index is unchanged');
      // staged changes count too
      git(root, 'add', 'code.txt');
      const staged = await tdvc(root, ['checkout', 'HEAD~1']);
      assert.equal(staged.code, 3);
      assert.match(staged.stderr, /code\.txt/);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), head);
    } finally {
      cleanup();
    }
  });

  test('checkout REV refuses when data not in the cache would be lost and changes nothing', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      writeTree(root, { 'data/x': 'x1', 'data/y': 'y1' });
      await addCommit(root, 'data', 'v1');
      git(root, 'tag', 'v1');
      writeTree(root, { 'data/x': 'x2', 'data/y': 'y2' });
      const head = await addCommit(root, 'data', 'v2');
      writeTree(root, { 'data/x': 'unsaved edit', 'data/new': 'unsaved new file' });
      const before = snapshot(root);
      const r = await tdvc(root, ['checkout', 'v1']);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /data\/x/);
      assert.match(r.stderr, /data\/new/);
      assert.doesNotMatch(r.stderr, /data\/y/);
      assert.equal(git(root, 'rev-parse', 'HEAD').trim(), head);
      assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'main');
      assert.deepEqual(snapshot(root), before, 'nothing was touched');
      // once saved to the cache the switch goes through, and the change can come back
      await ok(root, ['add', 'data']);
      git(root, 'commit', '-qam', 'v3');
      await ok(root, ['checkout', 'v1']);
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'x1', y: 'y1' });
      await ok(root, ['checkout', 'main']);
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'unsaved edit', y: 'y2', new: 'unsaved new file' });
    } finally {
      cleanup();
    }
  });

  test('git rebase of a branch with data commits is not broken by the hooks', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      git(root, 'checkout', '-q', '-b', 'topic');
      writeTree(root, { 'data/t1.txt': 't1' });
      await addCommit(root, 'data', 'topic 1');
      writeTree(root, { 'data/t2.txt': 't2', 'data/a.txt': 'a-topic' });
      await addCommit(root, 'data', 'topic 2');
      git(root, 'checkout', '-q', 'main');
      writeTree(root, { 'data/m.txt': 'm', 'data/sub/c.txt': 'c-main' });
      await addCommit(root, 'data', 'main data');
      writeTree(root, { 'code.txt': 'code-main\n' });
      commitAll(root, 'main code');
      git(root, 'checkout', '-q', 'topic');
      assert.deepEqual(snapshot(join(root, 'data')), { 'a.txt': 'a-topic', 'b.txt': 'b0', 'sub/c.txt': 'c0', 't1.txt': 't1', 't2.txt': 't2' });

      const rb = gitTry(root, 'rebase', 'main');
      assert.equal(rb.status, 0, `rebase: ${rb.stdout}${rb.stderr}`);
      assert.equal(existsSync(join(root, '.git/rebase-merge')), false);
      assert.equal(git(root, 'symbolic-ref', '--short', 'HEAD').trim(), 'topic');
      assert.equal(git(root, 'rev-list', '--count', 'main..topic').trim(), '2');
      assert.equal(git(root, 'merge-base', 'main', 'topic').trim(), git(root, 'rev-parse', 'main').trim());
      assert.deepEqual(snapshot(join(root, 'data')), {
        'a.txt': 'a-topic',
        'b.txt': 'b0',
        'm.txt': 'm',
        'sub/c.txt': 'c-main',
        't1.txt': 't1',
        't2.txt': 't2',
      });
      assert.equal(read(root, 'code.txt'), 'code-main\n');
      await statusClean(root);
      // the rewritten first commit has main's data plus t1
      const ls = JSON.parse((await ok(root, ['ls', '--rev', 'HEAD~1', '--json'])).stdout) as Array<{ path: string }>;
      assert.deepEqual(ls.map((f) => f.path), ['data/a.txt', 'data/b.txt', 'data/m.txt', 'data/sub/c.txt', 'data/t1.txt']);
    } finally {
      cleanup();
    }
  });

  test('a repository without commits: diff, ls --rev HEAD and checkout HEAD give clear errors', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      writeTree(root, { 'data/x': 'x' });
      await ok(root, ['add', 'data']);
      for (const args of [['diff'], ['diff', 'HEAD', 'HEAD'], ['ls', '--rev', 'HEAD'], ['checkout', 'HEAD'], ['checkout', '--rev', 'HEAD', '--', 'data']]) {
        const r = await tdvc(root, args);
        assert.ok(r.code > 0 && r.code < 10, `tdvc ${args.join(' ')} exits with an error code, got ${r.code}`);
        assert.match(r.stderr, /^error: .*HEAD/m, `tdvc ${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, /no commits/, `tdvc ${args.join(' ')} says why: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /\n\s+at .*\.js:\d+/, 'no stack trace');
      }
      const j = await tdvc(root, ['ls', '--json', '--rev', 'HEAD']);
      assert.equal((JSON.parse(j.stdout) as { error: { code: string } }).error.code, 'EBADREV');
      assert.equal(read(root, 'data/x'), 'x');
      // without a revision, ls and status still work from the working tree
      assert.equal((await ok(root, ['ls'])).stdout, 'data/x\n');
    } finally {
      cleanup();
    }
  });

  test('a pointer file committed with CRLF line endings is read at a revision', async () => {
    const { root, cleanup } = await makeRepo();
    try {
      git(root, 'config', 'core.autocrlf', 'false');
      writeTree(root, { 'data/x': 'x1', 'data/d/y': 'y1' });
      await ok(root, ['add', 'data']);
      writeFileSync(join(root, 'data.tdvc'), read(root, 'data.tdvc').replace(/\r?\n/g, '\r\n'));
      commitAll(root, 'crlf pointer');
      assert.match(git(root, 'show', 'HEAD:data.tdvc'), /\r\n/, 'committed with CRLF');
      git(root, 'tag', 'crlf');
      assert.equal((await ok(root, ['ls', '--rev', 'crlf'])).stdout, 'data/d/y\ndata/x\n');

      writeTree(root, { 'data/x': 'x2' });
      await addCommit(root, 'data', 'lf pointer');
      const d = JSON.parse((await ok(root, ['diff', 'crlf', 'HEAD', '--json'])).stdout) as { datasets: Array<{ modified: Array<{ path: string }>; added: unknown[] }> };
      assert.deepEqual(d.datasets[0]!.modified.map((m) => m.path), ['data/x']);
      assert.deepEqual(d.datasets[0]!.added, []);
      await ok(root, ['checkout', '--rev', 'crlf', '--', 'data/x']);
      assert.equal(read(root, 'data/x'), 'x1');
      await ok(root, ['checkout', 'crlf']);
      assert.deepEqual(snapshot(join(root, 'data')), { x: 'x1', 'd/y': 'y1' });
      assert.match(read(root, 'data.tdvc'), /\r\n/);
      await statusClean(root);
    } finally {
      cleanup();
    }
  });

  test('git checkout -- FILE (a file checkout) does not trigger a data sync; a branch checkout does', async () => {
    const { root, cleanup } = await installedRepo();
    try {
      writeTree(root, { 'data/a.txt': 'a1', 'data/n.txt': 'n1' });
      await addCommit(root, 'data', 'v2');
      const f = gitTry(root, 'checkout', 'HEAD~1', '--', 'data.tdvc');
      assert.equal(f.status, 0, f.stderr);
      assert.doesNotMatch(f.stderr, /written|removed/, 'the hook did not run tdvc checkout');
      assert.equal(read(root, 'data/a.txt'), 'a1', 'data left as it was');
      assert.equal(read(root, 'data/n.txt'), 'n1');
      git(root, 'checkout', 'HEAD', '--', 'data.tdvc');

      // a branch checkout (second argument of the hook = 1) does sync
      const b = gitTry(root, 'checkout', '-q', 'HEAD~1');
      assert.equal(b.status, 0, b.stderr);
      assert.equal(read(root, 'data/a.txt'), 'a0');
      assert.equal(existsSync(join(root, 'data/n.txt')), false);
      await statusClean(root);
    } finally {
      cleanup();
    }
  });
});
