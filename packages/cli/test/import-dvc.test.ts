// tdvc import-dvc: DVC repositories built here in DVC's documented formats (`.dvc` YAML with
// `outs: - md5, size, nfiles, path, hash: md5`, `.dir` JSON lists, dvc.lock schema 2.0, the 2.x
// `ab/cdef…` and 3.x `files/md5/ab/cdef…` cache layouts) with the real git and the real CLI.
// DVC itself is not installed here (no PyPI access): the files are written as DVC writes them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertOneClearError, git, snapshot, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

type Layout = '2' | '3';

const md5 = (b: string | Buffer): string => createHash('md5').update(b).digest('hex');
/** DVC 2's md5 of a text file: CRLF turned into LF first */
const md5Dos2unix = (s: string): string => md5(s.replace(/\r\n/g, '\n'));

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/** Where DVC keeps an object in a cache (or remote) folder of `layout`. */
function objectPath(cacheDir: string, layout: Layout, id: string): string {
  const tail = [id.slice(0, 2), id.slice(2)];
  return layout === '3' ? join(cacheDir, 'files', 'md5', ...tail) : join(cacheDir, ...tail);
}

function putObject(cacheDir: string, layout: Layout, id: string, bytes: string | Buffer): string {
  const p = objectPath(cacheDir, layout, id);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, bytes);
  return p;
}

/** A `.dvc` file as DVC writes it for a file. */
function dvcFileText(layout: Layout, name: string, content: string | Buffer, id = md5(content)): string {
  const size = Buffer.byteLength(content);
  return layout === '3' ? `outs:\n- md5: ${id}\n  size: ${size}\n  hash: md5\n  path: ${name}\n` : `outs:\n- md5: ${id}\n  size: ${size}\n  path: ${name}\n`;
}

/** A folder's objects (files and its `.dir` list) in `cacheDir`; returns its `.dvc` text. */
function putFolder(cacheDir: string, layout: Layout, name: string, files: Record<string, string>): string {
  const entries = Object.keys(files)
    .sort()
    .map((relpath) => ({ md5: md5(files[relpath]!), relpath }));
  for (const e of entries) putObject(cacheDir, layout, e.md5, files[e.relpath]!);
  // json.dumps(sort_keys=True) as DVC writes it
  const listing = '[' + entries.map((e) => `{"md5": "${e.md5}", "relpath": "${e.relpath}"}`).join(', ') + ']';
  const id = md5(listing);
  putObject(cacheDir, layout, id + '.dir', listing);
  const size = Object.values(files).reduce((n, c) => n + Buffer.byteLength(c), 0);
  return `outs:\n- md5: ${id}.dir\n  size: ${size}\n  nfiles: ${entries.length}\n${layout === '3' ? '  hash: md5\n' : ''}  path: ${name}\n`;
}

/** A Git repository that `dvc init` made: `.dvc/config`, `.dvc/.gitignore`, a cache. */
function dvcRepo(config = ''): { root: string; cache: string; cleanup: () => void } {
  const t = tempDir('tdvc-dvcrepo-');
  git(t.path, 'init', '-q', '-b', 'main');
  writeTree(t.path, { '.dvc/config': config, '.dvc/.gitignore': '/config.local\n/tmp\n/cache\n', '.dvcignore': '' });
  return { root: t.path, cache: join(t.path, '.dvc', 'cache'), cleanup: t.cleanup };
}

test('a DVC 3 repository (files/md5 layout): a file, a folder and a dvc.lock output become pointers; remotes and cache type carry over; pipelines reported; checkout gives the same bytes', async () => {
  const remote = tempDir('tdvc-dvcremote-');
  const d = dvcRepo(`[core]\n    remote = storage\n['remote "storage"']\n    url = ${remote.path}\n['remote "s3r"']\n    url = s3://bucket/dvcstore\n    endpointurl = https://s3.example.com\n    access_key_id = AKIAEXAMPLE\n[cache]\n    type = "reflink,copy"\n`);
  try {
    const r = d.root;
    writeTree(r, { 'model.bin': 'weights-v3\n', 'images/a.png': 'PNG-a', 'images/sub/b.png': 'PNG-b', 'out/result.txt': 'result\n', 'metrics.json': '{"acc": 1}' });
    writeFileSync(join(r, 'model.bin.dvc'), dvcFileText('3', 'model.bin', 'weights-v3\n'));
    putObject(d.cache, '3', md5('weights-v3\n'), 'weights-v3\n');
    writeFileSync(join(r, 'images.dvc'), putFolder(d.cache, '3', 'images', { 'a.png': 'PNG-a', 'sub/b.png': 'PNG-b' }));
    putObject(d.cache, '3', md5('result\n'), 'result\n');
    writeFileSync(join(r, 'dvc.yaml'), 'stages:\n  train:\n    cmd: python train.py --lr 0.1\n    deps:\n    - train.py\n    params:\n    - lr\n    outs:\n    - out/result.txt\n    metrics:\n    - metrics.json:\n        cache: false\n');
    writeFileSync(
      join(r, 'dvc.lock'),
      `schema: '2.0'\nstages:\n  train:\n    cmd: python train.py --lr 0.1\n    deps:\n    - path: train.py\n      hash: md5\n      md5: ${md5('x')}\n      size: 1\n    params:\n      params.yaml:\n        lr: 0.1\n    outs:\n    - path: out/result.txt\n      hash: md5\n      md5: ${md5('result\n')}\n      size: 7\n    - path: metrics.json\n      hash: md5\n      md5: ${md5('{"acc": 1}')}\n      size: 10\n    - path: out/scratch.bin\n      hash: md5\n      md5: ${md5('never cached')}\n      size: 12\n`,
    );
    writeFileSync(join(r, '.gitignore'), '/model.bin\n/images\n');
    git(r, 'add', '.');
    git(r, 'commit', '-qm', 'dvc v1');

    const res = JSON.parse((await ok(r, ['import-dvc', '--json'])).stdout);
    assert.deepEqual(
      res.converted.map((c: { path: string; type: string; files: number }) => [c.path, c.type, c.files]),
      [['images', 'dir', 2], ['model.bin', 'file', 1], ['out/result.txt', 'file', 1]],
    );
    assert.ok(existsSync(join(r, 'model.bin.dvc')), 'the .dvc files are kept by default');
    const notes = res.notConverted.join('\n');
    assert.match(notes, /dvc\.lock stage train: the pipeline \(cmd, deps, params\) stays DVC's/);
    assert.match(notes, /metrics\.json is a metric, plot or cache: false output/);
    assert.match(notes, /access_key_id is not copied/);
    assert.match(notes, /out\/scratch\.bin is not in the DVC cache .*it stays DVC's/);
    const config = readFileSync(join(r, '.tdvc', 'config'), 'utf8');
    assert.match(config, new RegExp(`url = ${remote.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(config, /url = s3:\/\/bucket\/dvcstore/);
    assert.match(config, /endpoint_url = https:\/\/s3\.example\.com/);
    assert.doesNotMatch(config, /AKIA/);
    assert.match(config, /remote = storage/);
    assert.match(config, /type = reflink,copy/);
    assert.match(readFileSync(join(r, 'out', '.gitignore'), 'utf8'), /^\/result\.txt$/m);

    // the workspace (as DVC checked it out) is what the pointers say; a checkout rebuilds it from the tdvc cache alone
    const st = JSON.parse((await ok(r, ['status', '--json'])).stdout);
    assert.equal(st.datasets.length, 3);
    for (const ds of st.datasets) assert.deepEqual([ds.added, ds.modified, ds.deleted].flat(), [], JSON.stringify(ds));
    rmSync(join(r, 'images'), { recursive: true });
    rmSync(join(r, 'model.bin'));
    rmSync(join(r, '.dvc', 'cache'), { recursive: true });
    await ok(r, ['checkout']);
    assert.equal(readFileSync(join(r, 'images/sub/b.png'), 'utf8'), 'PNG-b');
    assert.equal(readFileSync(join(r, 'model.bin'), 'utf8'), 'weights-v3\n');

    // converting again is refused: the outputs are tracked now
    assertOneClearError(await tdvc(r, ['import-dvc']), /images|model\.bin|out\/result\.txt/, /already tracked by tdvc/);
  } finally {
    d.cleanup();
    remote.cleanup();
  }
});

test('a DVC 2 repository (ab/cdef layout, no hash key): CRLF text verified by the dos2unix md5, a folder, --remove-dvc-files; an object missing from the cache comes from the DVC folder remote', async () => {
  const remote = tempDir('tdvc-dvcremote-');
  const d = dvcRepo(`[core]\n    remote = old\n['remote "old"']\n    url = ${remote.path}\n`);
  try {
    const r = d.root;
    const crlf = 'a,b\r\n1,2\r\n';
    writeTree(r, { 'data.csv': crlf, 'raw/x.txt': 'x', 'raw/y.txt': 'y' });
    writeFileSync(join(r, 'data.csv.dvc'), dvcFileText('2', 'data.csv', crlf, md5Dos2unix(crlf)));
    putObject(d.cache, '2', md5Dos2unix(crlf), crlf);
    // the folder's objects only on the remote (as after 'dvc push' and a fresh clone)
    writeFileSync(join(r, 'raw.dvc'), putFolder(remote.path, '2', 'raw', { 'x.txt': 'x', 'y.txt': 'y' }));
    git(r, 'add', '.');
    git(r, 'commit', '-qm', 'dvc 2');

    const res = JSON.parse((await ok(r, ['import-dvc', '--remove-dvc-files', '--json'])).stdout);
    assert.deepEqual(res.converted.map((c: { path: string }) => c.path), ['data.csv', 'raw']);
    assert.deepEqual(res.removedDvcFiles, ['data.csv.dvc', 'raw.dvc']);
    assert.ok(!existsSync(join(r, 'raw.dvc')));
    rmSync(join(r, 'data.csv'));
    rmSync(join(r, 'raw'), { recursive: true });
    await ok(r, ['checkout']);
    assert.equal(readFileSync(join(r, 'data.csv'), 'utf8'), crlf, 'the bytes are kept as they were, CRLF included');
    assert.equal(readFileSync(join(r, 'raw/y.txt'), 'utf8'), 'y');
  } finally {
    d.cleanup();
    remote.cleanup();
  }
});

test('import-dvc refuses, with one clear error and nothing converted: no DVC repository, an output outside the repository, a cache object that is a link, a corrupt object, malformed YAML', async () => {
  // not a DVC repository: nothing is created
  const plain = tempDir('tdvc-nodvc-');
  try {
    git(plain.path, 'init', '-q', '-b', 'main');
    const before = snapshot(plain.path);
    const r = await tdvc(plain.path, ['import-dvc']);
    assertOneClearError(r, new RegExp(plain.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /not a DVC repository/);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ENODVC|hint:/);
    assert.deepEqual(snapshot(plain.path), before);
  } finally {
    plain.cleanup();
  }

  const cases: Array<{ name: string; build: (root: string, cache: string) => void; names: RegExp; message: RegExp; code: number }> = [
    {
      name: 'path outside',
      build: (root, cache) => {
        writeFileSync(join(root, 'evil.dvc'), dvcFileText('3', '../../etc/passwd', 'root:x\n'));
        putObject(cache, '3', md5('root:x\n'), 'root:x\n');
      },
      names: /evil\.dvc/,
      message: /outside the repository/,
      code: 2,
    },
    {
      name: 'object is a symlink',
      build: (root, cache) => {
        const secret = join(root, '..', `secret-${process.pid}`);
        writeFileSync(secret, 'secret\n');
        writeFileSync(join(root, 'data.txt.dvc'), dvcFileText('3', 'data.txt', 'secret\n'));
        const p = objectPath(cache, '3', md5('secret\n'));
        mkdirSync(dirname(p), { recursive: true });
        symlinkSync(secret, p);
      },
      names: /files\/md5\//,
      message: /symbolic link/,
      code: 4,
    },
    {
      name: 'corrupt object',
      build: (root, cache) => {
        // a.dvc converts fine first; b.dvc's object is corrupt: no pointer at all may be written
        writeFileSync(join(root, 'a.txt.dvc'), dvcFileText('3', 'a.txt', 'good\n'));
        putObject(cache, '3', md5('good\n'), 'good\n');
        writeFileSync(join(root, 'b.txt.dvc'), dvcFileText('3', 'b.txt', 'original\n'));
        putObject(cache, '3', md5('original\n'), 'tampered\n');
      },
      names: /b\.txt/,
      message: /does not match its md5/,
      code: 4,
    },
    {
      name: '.dir entry leaving the folder',
      build: (root, cache) => {
        putObject(cache, '3', md5('x'), 'x');
        const listing = `[{"md5": "${md5('x')}", "relpath": "../../outside.txt"}]`;
        putObject(cache, '3', md5(listing) + '.dir', listing);
        writeFileSync(join(root, 'data.dvc'), `outs:\n- md5: ${md5(listing)}.dir\n  nfiles: 1\n  hash: md5\n  path: data\n`);
      },
      names: /\.dir/,
      message: /path segment "\.\."/,
      code: 1,
    },
    {
      name: 'malformed YAML',
      build: (root) => {
        writeFileSync(join(root, 'bad.dvc'), 'outs:\n- &anchor\n  md5: *x\n');
      },
      names: /bad\.dvc/,
      message: /malformed .*line 2/,
      code: 1,
    },
    {
      name: 'unknown key',
      build: (root) => {
        writeFileSync(join(root, 'odd.dvc'), `outs:\n- md5: ${md5('z')}\n  path: z\n  surprise: 1\n`);
      },
      names: /odd\.dvc/,
      message: /unknown key "surprise"/,
      code: 1,
    },
  ];
  for (const c of cases) {
    const d = dvcRepo();
    try {
      c.build(d.root, d.cache);
      git(d.root, 'add', '.');
      git(d.root, 'commit', '-qm', c.name);
      const r = await tdvc(d.root, ['import-dvc']);
      assertOneClearError(r, c.names, c.message);
      assert.equal(r.code, c.code, `${c.name}: exit code; ${r.stderr}`);
      assert.equal(git(d.root, 'status', '--porcelain', '--untracked-files=all').split('\n').filter((l) => !l.includes('.tdvc/') && (l.endsWith('.tdvc') || l.endsWith('.gitignore'))).length, 0, `${c.name}: no pointer or .gitignore written`);
    } finally {
      d.cleanup();
      rmSync(join(d.root, '..', `secret-${process.pid}`), { force: true });
    }
  }
});

test('--history: every commit\'s DVC versions go into the cache once; import-dvc at an old revision then reads no DVC data; versions DVC no longer has are reported', async () => {
  const d = dvcRepo();
  try {
    const r = d.root;
    const lost = tempDir('tdvc-dvclost-');
    // v0: an object DVC's gc has since removed (its cache entry is put elsewhere)
    writeFileSync(join(r, 'data.dvc'), putFolder(lost.path, '3', 'data', { 'a.txt': 'A0' }));
    lost.cleanup();
    git(r, 'add', '.');
    git(r, 'commit', '-qm', 'v0');
    const versions: Array<Record<string, string>> = [{ 'a.txt': 'A1', 'b/b.txt': 'B1' }, { 'a.txt': 'A1', 'b/b.txt': 'B2' }, { 'a.txt': 'A1', 'b/b.txt': 'B2', 'c.txt': 'C3' }];
    for (const [i, files] of versions.entries()) {
      rmSync(join(r, 'data'), { recursive: true, force: true });
      writeTree(r, Object.fromEntries(Object.entries(files).map(([k, v]) => [`data/${k}`, v])));
      writeFileSync(join(r, 'data.dvc'), putFolder(d.cache, '3', 'data', files));
      git(r, 'add', 'data.dvc');
      git(r, 'commit', '-qm', `v${i + 1}`);
      git(r, 'tag', `v${i + 1}`);
    }
    const res = JSON.parse((await ok(r, ['import-dvc', '--history', '--json'])).stdout);
    assert.deepEqual(res.history, { commits: 4, outputs: 4, inCache: 3, missing: 1, objectsStored: 1 }, 'v3 was converted at HEAD, v2 holds nothing new, v1 one file (B1)');
    assert.match(res.notConverted.join('\n'), /1 output version\(s\) of older commits are in neither the DVC cache nor its remote/);

    // DVC's cache gone: the old revision converts from the md5 map and the tdvc cache alone
    rmSync(d.cache, { recursive: true });
    rmSync(join(r, 'data.tdvc'));
    git(r, 'checkout', '-q', 'v1', '--', 'data.dvc');
    const old = JSON.parse((await ok(r, ['import-dvc', '--json'])).stdout);
    assert.equal(old.objectsStored, 0, 'nothing read or stored again');
    rmSync(join(r, 'data'), { recursive: true });
    await ok(r, ['checkout']);
    assert.equal(readFileSync(join(r, 'data/b/b.txt'), 'utf8'), 'B1');
    assert.ok(!existsSync(join(r, 'data/c.txt')));
  } finally {
    d.cleanup();
  }
});
