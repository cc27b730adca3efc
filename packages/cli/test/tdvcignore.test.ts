// .tdvcignore: gitignore syntax, one file per folder (the repository root, folders above a dataset,
// folders inside it), honoured by add, status, diff and checkout, explained by check-ignore.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WALK_THREAD_MIN_FILES } from '@tdvc/core';
import { assertOneClearError, git, makeRepo, snapshot, tdvc, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

interface Status {
  clean: boolean;
  datasets: Array<{ path: string; added: string[]; modified: string[]; deleted: string[] }>;
}

async function status(root: string): Promise<Status> {
  return JSON.parse((await tdvc(root, ['status', '--json'])).stdout) as Status;
}

async function lsPaths(root: string, rev?: string): Promise<string[]> {
  return (await ok(root, ['ls', ...(rev ? ['--rev', rev] : [])])).stdout.trim().split('\n').filter((l) => l !== '');
}

test('add, status and diff leave out what root, nested and above-dataset rules ignore; negation and folder rules', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, {
      '.tdvcignore': '.DS_Store\n*.tmp\n!keep.tmp\n',
      'proj/.tdvcignore': '/data/raw/scratch/\n',
      'proj/data/.tdvcignore': '__pycache__/\n',
      'proj/data/a.txt': 'a',
      'proj/data/.DS_Store': 'finder',
      'proj/data/x.tmp': 'temp',
      'proj/data/keep.tmp': 'kept',
      'proj/data/m/__pycache__/c.pyc': 'bytecode',
      'proj/data/m/y.py': 'y',
      'proj/data/raw/scratch/s.bin': 's',
      'proj/data/raw/r.bin': 'r',
      'proj/data/sub/.tdvcignore': '*.bin\n!want.bin\n',
      'proj/data/sub/drop.bin': 'd',
      'proj/data/sub/want.bin': 'w',
    });
    await ok(root, ['add', 'proj/data']);
    const tracked = ['.tdvcignore', 'a.txt', 'keep.tmp', 'm/y.py', 'raw/r.bin', 'sub/.tdvcignore', 'sub/want.bin'];
    assert.deepEqual(await lsPaths(root), tracked.map((p) => `proj/data/${p}`));
    assert.equal((await status(root)).clean, true);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');

    // new ignored files are neither added nor modified; new tracked ones are
    writeTree(root, {
      'proj/data/sub/.DS_Store': 'again',
      'proj/data/y.tmp': 'temp',
      'proj/data/m/__pycache__/d.pyc': 'more',
      'proj/data/raw/scratch/t.bin': 't',
      'proj/data/sub/more.bin': 'm',
      'proj/data/new.txt': 'n',
    });
    const st = await status(root);
    assert.deepEqual(st.datasets[0]!.added, ['proj/data/new.txt']);
    assert.deepEqual(st.datasets[0]!.modified, []);
    assert.deepEqual(st.datasets[0]!.deleted, []);
    const d = JSON.parse((await ok(root, ['diff', '--json'])).stdout) as { datasets: Array<{ added: Array<{ path: string }>; deleted: unknown[] }> };
    assert.deepEqual(d.datasets[0]!.added.map((f) => f.path), ['proj/data/new.txt']);
    assert.deepEqual(d.datasets[0]!.deleted, []);

    // a rule added after a file was committed: the file is ignored like any other (status: deleted),
    // and the next version drops it, as DVC does
    writeFileSync(join(root, 'proj/data/.tdvcignore'), '__pycache__/\n*.py\n');
    const st2 = await status(root);
    assert.deepEqual(st2.datasets[0]!.deleted, ['proj/data/m/y.py']);
    await ok(root, ['add', 'proj/data']);
    assert.ok(!(await lsPaths(root)).includes('proj/data/m/y.py'));
    assert.ok(existsSync(join(root, 'proj/data/m/y.py')), 'the ignored file stays in the workspace');
  } finally {
    cleanup();
  }
});

test('checkout never deletes or overwrites an ignored file: a checkpoint in progress survives switching versions', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'models/.tdvcignore': '*.partial\nrun-*/tmp/\n', 'models/v.bin': 'v1' });
    await ok(root, ['add', 'models']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    writeTree(root, { 'models/v.bin': 'v2', 'models/run-1/final.bin': 'f' });
    await ok(root, ['add', 'models']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v2');

    // training writes a checkpoint next to the data, and scratch files inside a folder v1 lacks
    writeTree(root, { 'models/run-1/ckpt-0042.partial': 'half a checkpoint', 'models/run-1/tmp/s': 'scratch' });
    await ok(root, ['checkout', 'HEAD~1']);
    assert.equal(readFileSync(join(root, 'models/v.bin'), 'utf8'), 'v1');
    assert.ok(!existsSync(join(root, 'models/run-1/final.bin')), 'the tracked file of v2 is gone');
    assert.equal(readFileSync(join(root, 'models/run-1/ckpt-0042.partial'), 'utf8'), 'half a checkpoint');
    assert.equal(readFileSync(join(root, 'models/run-1/tmp/s'), 'utf8'), 'scratch');
    assert.equal((await status(root)).clean, true);

    // --force discards changes, never ignored files
    writeFileSync(join(root, 'models/v.bin'), 'local edit');
    await ok(root, ['checkout', '--force']);
    assert.equal(readFileSync(join(root, 'models/v.bin'), 'utf8'), 'v1');
    assert.equal(readFileSync(join(root, 'models/run-1/ckpt-0042.partial'), 'utf8'), 'half a checkpoint');
    await ok(root, ['checkout', 'main']);
    assert.equal(readFileSync(join(root, 'models/run-1/final.bin'), 'utf8'), 'f');
    assert.equal(readFileSync(join(root, 'models/run-1/ckpt-0042.partial'), 'utf8'), 'half a checkpoint');

    // a checked-out version brings its rules: a clone's workspace ignores what the commit says
    assert.equal(readFileSync(join(root, 'models/.tdvcignore'), 'utf8'), '*.partial\nrun-*/tmp/\n');
  } finally {
    cleanup();
  }
});

test('a version that tracks a file the workspace ignores: checkout does not overwrite the ignored file', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/a': 'a', 'data/state.tmp': 'committed' });
    await ok(root, ['add', 'data']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    // (a rule above the dataset: a new .tdvcignore inside it would be an uncommitted change of the data)
    writeTree(root, { '.tdvcignore': '*.tmp\n' });
    writeFileSync(join(root, 'data/state.tmp'), 'precious local state');
    assert.deepEqual((await status(root)).datasets[0]!.deleted, ['data/state.tmp']);
    for (const args of [['checkout'], ['checkout', '--force']]) {
      const r = await tdvc(root, args);
      assertOneClearError(r, /data\/state\.tmp/, /\.tdvcignore/);
      assert.equal(readFileSync(join(root, 'data/state.tmp'), 'utf8'), 'precious local state');
    }
    // out of the way, the checkout restores the committed file
    rmSync(join(root, 'data/state.tmp'));
    await ok(root, ['checkout']);
    assert.equal(readFileSync(join(root, 'data/state.tmp'), 'utf8'), 'committed');
  } finally {
    cleanup();
  }
});

test('cache.type symlink: the .tdvcignore a checkout links to its cache object is read through that link only', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    await ok(root, ['config', 'cache.type', 'symlink']);
    writeTree(root, { 'data/.tdvcignore': '*.tmp\n', 'data/a': 'a' });
    await ok(root, ['add', 'data']);
    assert.ok(lstatSync(join(root, 'data/.tdvcignore')).isSymbolicLink(), 'add linked it to the cache');
    writeTree(root, { 'data/x.tmp': 'scratch' });
    assert.equal((await status(root)).clean, true);
    assert.equal((await tdvc(root, ['check-ignore', 'data/x.tmp'])).code, 0);
    await ok(root, ['add', 'data']);
    assert.deepEqual(await lsPaths(root), ['data/.tdvcignore', 'data/a']);
  } finally {
    cleanup();
  }
});

test('check-ignore: exit codes, -v SOURCE:LINE:PATTERN, --json, paths outside the repository', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, {
      '.tdvcignore': '# editor files\n*.swp\n__pycache__/\n',
      'data/.tdvcignore': '*.log\n!keep.log\n',
      'data/a.txt': 'a',
      'data/x.log': 'x',
      'data/keep.log': 'k',
      'data/.a.swp': 's',
      'data/m/__pycache__/c.pyc': 'c',
    });
    await ok(root, ['add', 'data']);
    const yes = await tdvc(root, ['check-ignore', 'data/x.log', 'data/a.txt', 'data/m/__pycache__/c.pyc']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.deepEqual(yes.stdout.trim().split('\n'), ['data/x.log', 'data/m/__pycache__/c.pyc']);
    const no = await tdvc(root, ['check-ignore', 'data/a.txt', 'data/keep.log']);
    assert.equal(no.code, 1, no.stderr);
    assert.equal(no.stdout, '');
    assert.equal(no.stderr, '');
    const v = await tdvc(root, ['check-ignore', '-v', 'data/.a.swp', 'data/keep.log', 'data/a.txt', 'data/m/__pycache__/c.pyc']);
    assert.equal(v.code, 0);
    assert.deepEqual(v.stdout.trim().split('\n'), ['.tdvcignore:2:*.swp\tdata/.a.swp', 'data/.tdvcignore:2:!keep.log\tdata/keep.log', '.tdvcignore:3:__pycache__/\tdata/m/__pycache__/c.pyc']);
    // relative to the current folder, as typed
    const sub = await tdvc(join(root, 'data'), ['check-ignore', 'x.log']);
    assert.equal(sub.stdout.trim(), 'x.log');
    const j = JSON.parse((await tdvc(root, ['check-ignore', '--json', 'data/x.log', 'data/a.txt'])).stdout) as Array<{ path: string; ignored: boolean; rule?: { source: string; line: number; pattern: string } }>;
    assert.deepEqual(j[0], { path: 'data/x.log', repoPath: 'data/x.log', ignored: true, rule: { source: 'data/.tdvcignore', line: 1, pattern: '*.log' } });
    assert.deepEqual(j[1], { path: 'data/a.txt', repoPath: 'data/a.txt', ignored: false });
    // what check-ignore says is what add did
    assert.deepEqual(await lsPaths(root), ['data/.tdvcignore', 'data/a.txt', 'data/keep.log']);
    const out = await tdvc(root, ['check-ignore', '/etc/passwd']);
    assertOneClearError(out, /\/etc\/passwd/);
    assert.equal(out.code, 2);
  } finally {
    cleanup();
  }
});

test('a hostile .tdvcignore (link to /etc/passwd, 10 MB, FIFO, folder) is refused with one error naming it, nothing written', { timeout: 180_000 }, async () => {
  const cases: Array<[string, (p: string) => void, RegExp]> = [
    ['symlink', (p) => symlinkSync('/etc/passwd', p), /symbolic link/],
    ['10 MB', (p) => writeFileSync(p, Buffer.alloc(10 << 20, 0x61)), /too large/],
    ['FIFO', (p) => execFileSync('mkfifo', [p]), /named pipe/],
    ['folder', (p) => mkdirSync(p), /folder/],
  ];
  for (const [what, plant, message] of cases) {
    for (const where of ['data/.tdvcignore', '.tdvcignore', 'data/sub/.tdvcignore']) {
      const { root, cleanup } = await makeRepo();
      try {
        writeTree(root, { 'data/a': 'a', 'data/sub/b': 'b' });
        // the snapshot leaves the planted entry out (reading a FIFO would block the test itself)
        const before = snapshot(root);
        plant(join(root, where));
        const r = await tdvc(root, ['add', 'data']);
        assertOneClearError(r, new RegExp(where.replace(/\./g, '\\.')), message);
        rmSync(join(root, where), { recursive: true });
        assert.deepEqual(snapshot(root), before, `${what} at ${where}: nothing written`);
        plant(join(root, where));
        const s = await tdvc(root, ['check-ignore', 'data/sub/b']);
        assertOneClearError(s, new RegExp(where.replace(/\./g, '\\.')), message);
        assert.doesNotMatch(r.stderr + s.stderr, /root:x:0/, 'the content of the target is never shown');
      } finally {
        cleanup();
      }
    }
  }
});

test('the threaded walk (a dataset of more than WALK_THREAD_MIN_FILES files) honours the same rules', { timeout: 300_000 }, async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const n = WALK_THREAD_MIN_FILES + 500;
    mkdirSync(join(root, 'data'));
    for (let d = 0; d < 41; d++) mkdirSync(join(root, 'data', `d${d}`));
    for (let i = 0; i < n; i++) writeFileSync(join(root, 'data', `d${i % 41}`, `f${i}`), `${i}`);
    writeTree(root, { '.tdvcignore': '*.tmp\n', 'data/d7/.tdvcignore': 'cache/\n' });
    await ok(root, ['add', 'data']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    // from now on the stat index knows > WALK_THREAD_MIN_FILES files: the scans walk on a thread
    writeTree(root, { 'data/d3/x.tmp': 't', 'data/d7/cache/c': 'c', 'data/d8/cache/c': 'c', 'data/zz.tmp': 'z' });
    const st = await status(root);
    assert.deepEqual(st.datasets[0]!.added, ['data/d8/cache/c']);
    assert.deepEqual(st.datasets[0]!.deleted, []);
    const j = JSON.parse((await ok(root, ['add', 'data', '--json'])).stdout) as { added: Array<{ files: number }> };
    assert.equal(j.added[0]!.files, n + 2, 'the data, the nested .tdvcignore and d8/cache/c');
    rmSync(join(root, 'data/d8/cache'), { recursive: true });
    await ok(root, ['checkout', '--force']);
    assert.ok(existsSync(join(root, 'data/d7/cache/c')) && existsSync(join(root, 'data/zz.tmp')), 'ignored files survive checkout');
  } finally {
    cleanup();
  }
});

