// Reading an exact dataset version with no working tree (issue 15): RevisionView opens a bare
// repository (or a workspace) at any revision in a process with no `git` on PATH, lists files from
// tree manifests downloaded on demand and verified, and streams files verified from the remote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { git, makeRepo, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';
import { startGitHttp } from '@tdvc/test-utils';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

const here = dirname(fileURLToPath(import.meta.url));
const CORE = pathToFileURL(join(here, '..', '..', '..', 'core', 'dist', 'src', 'index.js')).href;
const CLI = pathToFileURL(join(here, '..', 'src', 'index.js')).href;

/** Runs `body` (an async function's text, given `core`, `cli` and `args`) in a node process whose PATH has no git. */
async function runIsolated(dir: string, body: string, args: Record<string, unknown>): Promise<{ code: number | null; out: unknown; stderr: string }> {
  const script = join(dir, `reader-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    script,
    `const core = await import(${JSON.stringify(CORE)});\nconst cli = await import(${JSON.stringify(CLI)});\nconst args = JSON.parse(process.env.READER_ARGS);\n` +
      `const result = await (async () => {\n${body}\n})();\nprocess.stdout.write(JSON.stringify(result ?? null));\n`,
  );
  // (not spawnSync: a server in this process, the Git one, must keep answering)
  const child = spawn(process.execPath, [script], {
    cwd: dir,
    env: { PATH: join(dir, 'no-bin'), HOME: join(dir, 'home-not-there'), TMPDIR: dir, READER_ARGS: JSON.stringify(args) },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  const r = { status: code, stdout, stderr };
  let out: unknown;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    out = r.stdout;
  }
  return { code: r.status, out, stderr: r.stderr };
}

test('RevisionView: a bare repository read at several revisions with no git on PATH; manifests downloaded on demand into a temp cache; a revision committed before the remote; streams verified; errors named', async () => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-view-remote-');
  const work = tempDir('tdvc-view-work-');
  try {
    // v0: data committed before any remote was configured
    writeTree(root, { 'data/a.txt': 'A0\n', 'data/sub/b.txt': 'B0\n', 'model.bin': 'M0\n' });
    await ok(root, ['add', 'data', 'model.bin']);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v0');
    git(root, 'tag', 'v0');
    await ok(root, ['remote', 'add', '-d', 'store', store.path]);
    writeTree(root, { 'data/a.txt': 'A1\n', 'data/sub/c.txt': 'C1\n' });
    await ok(root, ['add', 'data']);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v1');
    git(root, 'tag', 'v1');
    writeTree(root, { 'data/a.txt': 'A2\n' });
    for (let i = 0; i < 40; i++) writeTree(root, { [`data/many/f${i}.txt`]: `many ${i}\n` });
    await ok(root, ['add', 'data']);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v2');
    await ok(root, ['push', '--all-commits']);
    git(work.path, 'clone', '-q', '--bare', root, 'repo.git');
    const bare = join(work.path, 'repo.git');

    const read = await runIsolated(
      work.path,
      `
      const out = {};
      const { RevisionView } = core;
      for (const rev of ['v0', 'v1', 'HEAD']) {
        const view = await RevisionView.open(args.bare, { rev, opener: cli.openRemoteByUrl, cacheDir: args.cache });
        const files = await view.resolve('data');
        const a = view.openFile(files.find((f) => f.path === 'data/a.txt'));
        let text = '';
        for await (const c of a) text += c;
        out[rev] = { files: files.map((f) => f.path), a: text, datasets: view.datasets.map((d) => d.dataPath) };
        await view.close();
      }
      // many files through one remote, 4 at a time
      const view = await RevisionView.open(args.bare, { opener: cli.openRemoteByUrl, concurrency: 4 });
      const got = {};
      await view.readMany(view.files('data/many'), async (f, s) => { let t = ''; for await (const c of s) t += c; got[f.path] = t; });
      out.many = Object.keys(got).length;
      out.many7 = got['data/many/f7.txt'];
      out.one = (await view.resolve('data/sub/b.txt')).map((f) => f.path);
      out.model = await new Promise((res, rej) => { let t = ''; view.open('model.bin').then((s) => { s.on('data', (c) => (t += c)); s.on('end', () => res(t)); s.on('error', rej); }, rej); });
      out.urls = (await view.urls('data/sub')).map((u) => u.url.slice(0, 7));
      for (const [name, fn] of [['untracked', () => view.resolve('nothing/here')], ['folder', () => view.open('data/sub')], ['bad path', () => view.resolve('../x')]]) {
        try { await fn(); out[name] = 'no error'; } catch (e) { out[name] = e.code + ' ' + e.message; }
      }
      await view.close();
      try { await RevisionView.open(args.work, { opener: cli.openRemoteByUrl }); out.notRepo = 'no error'; } catch (e) { out.notRepo = e.code; }
      return out;
      `,
      { bare, cache: join(work.path, 'tmp-cache'), work: work.path },
    );
    assert.equal(read.code, 0, read.stderr);
    const out = read.out as Record<string, any>;
    assert.equal(out['v0'].a, 'A0\n', 'v0 committed before the remote: HEAD config used');
    assert.deepEqual(out['v0'].files, ['data/a.txt', 'data/sub/b.txt']);
    assert.deepEqual(out['v0'].datasets.sort(), ['data', 'model.bin']);
    assert.equal(out['v1'].a, 'A1\n');
    assert.deepEqual(out['v1'].files, ['data/a.txt', 'data/sub/b.txt', 'data/sub/c.txt']);
    assert.equal(out['HEAD'].a, 'A2\n');
    assert.equal(out['HEAD'].files.length, 43);
    assert.equal(out['many'], 40);
    assert.equal(out['many7'], 'many 7\n');
    assert.deepEqual(out['one'], ['data/sub/b.txt']);
    assert.equal(out['model'], 'M0\n');
    assert.deepEqual(out['urls'], ['file://', 'file://']);
    assert.match(out['untracked'], /^ENOTTRACKED nothing\/here is not tracked at HEAD/);
    assert.match(out['folder'], /^EISDIR data\/sub is a folder/);
    assert.match(out['bad path'], /^EBADPATH/);
    assert.equal(out['notRepo'], 'ENOGIT');
    // the tree nodes came from the remote into the temp cache, verified
    assert.ok(readdirSync(join(work.path, 'tmp-cache', 'b3v1')).length > 0, 'tree nodes kept in the cache folder');

    // the same from a Git URL (smart HTTP, served by git http-backend): shallow, one ref at a time
    const server = await startGitHttp(work.path);
    try {
      const fromUrl = await runIsolated(
        work.path,
        `
        const out = {};
        for (const rev of ['v1', 'v0', undefined]) {
          const view = await core.RevisionView.open(args.url, { ...(rev ? { rev } : {}), opener: cli.openRemoteByUrl });
          const s = await view.open('data/a.txt');
          let t = ''; for await (const c of s) t += c;
          out[rev ?? 'default'] = { a: t, files: (await view.resolve()).length };
          await view.close();
        }
        try { await core.RevisionView.open(args.url, { rev: 'no-such-tag', opener: cli.openRemoteByUrl }); out.bad = 'no error'; } catch (e) { out.bad = e.code; }
        out.left = (await import('node:fs')).readdirSync(args.tmp).filter((n) => n.startsWith('tdvc-git-'));
        return out;
        `,
        { url: `${server.url}/repo.git`, tmp: work.path },
      );
      assert.equal(fromUrl.code, 0, fromUrl.stderr);
      const u = fromUrl.out as Record<string, any>;
      assert.deepEqual(u['v1'], { a: 'A1\n', files: 4 });
      assert.deepEqual(u['v0'], { a: 'A0\n', files: 3 }, 'v0 has no remote in its config: the default branch tip\'s is used');
      assert.deepEqual(u['default'], { a: 'A2\n', files: 44 });
      assert.equal(u['bad'], 'EBADREV');
      assert.deepEqual(u['left'], [], 'the fetched revisions are removed by close');
      assert.ok(server.requests.some((r) => r.includes('git-upload-pack')), 'fetched over smart HTTP');

      // the CLI for data registries: ls and get from a URL, run from a folder that is no repository
      const url = `${server.url}/repo.git`;
      const listed = await ok(work.path, ['ls', url, 'data', '--rev', 'v1']);
      assert.equal(listed.stdout, 'data/a.txt\ndata/sub/b.txt\ndata/sub/c.txt\n');
      await ok(work.path, ['get', url, 'data/sub', '--rev', 'v1', '-o', 'got-sub']);
      assert.deepEqual(readdirSync(join(work.path, 'got-sub')).sort(), ['b.txt', 'c.txt']);
      assert.equal(readFileSync(join(work.path, 'got-sub', 'c.txt'), 'utf8'), 'C1\n');
      await ok(work.path, ['get', url, 'data/a.txt']);
      assert.equal(readFileSync(join(work.path, 'a.txt'), 'utf8'), 'A2\n', 'the default branch');
      const again = await tdvc(work.path, ['get', url, 'data/a.txt']);
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, /a\.txt exists/);
      assert.equal(readFileSync(join(work.path, 'a.txt'), 'utf8'), 'A2\n', 'nothing overwritten');
      // a symbolic link (even a dangling one) at OUT is something there: refused, left as it was
      symlinkSync(join(work.path, 'nowhere'), join(work.path, 'dangling'));
      const viaLink = await tdvc(work.path, ['get', url, 'data/a.txt', '-o', 'dangling']);
      assert.notEqual(viaLink.code, 0);
      assert.match(viaLink.stderr, /dangling exists/);
      assert.ok(lstatSync(join(work.path, 'dangling')).isSymbolicLink());
      const missing = await tdvc(work.path, ['get', url, 'data/none', '-o', 'none']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /data\/none is not tracked/);
      assert.deepEqual(readdirSync(work.path).filter((n) => n.startsWith('.tdvc-get') || n.startsWith('tdvc-get') || n === 'none'), [], 'a failed get leaves nothing');
    } finally {
      await server.close();
    }

    // a remote object whose bytes were changed: the stream ends with an integrity error
    const aOid = /"oid":"([0-9a-f]{64})"/.exec((await ok(root, ['ls', 'data/a.txt', '--json'])).stdout)![1]!;
    const objectFile = join(store.path, 'b3v1', aOid.slice(0, 2), aOid.slice(2));
    const original = readFileSync(objectFile);
    writeFileSync(objectFile, Buffer.from('A9\n'), { flag: 'w' });
    const corrupt = await runIsolated(
      work.path,
      `
      const view = await core.RevisionView.open(args.bare, { opener: cli.openRemoteByUrl, remote: { url: args.store } });
      const s = await view.open('data/a.txt');
      try { for await (const c of s) void c; return 'no error'; } catch (e) { return e.code + ' ' + e.message; } finally { await view.close(); }
      `,
      { bare, store: store.path },
    );
    writeFileSync(objectFile, original);
    assert.equal(corrupt.code, 0, corrupt.stderr);
    assert.match(String(corrupt.out), new RegExp(`^ECORRUPT object ${aOid} is corrupt`));
  } finally {
    cleanup();
    store.cleanup();
    work.cleanup();
  }
});
