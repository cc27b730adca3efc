// A Lambda deployment package (scripts/lambda-bundle.mjs): the example handler bundled into one ES
// module plus the BLAKE3 WASM file, copied alone into a read-only folder with no node_modules above
// it, and run in a process with no git reachable, only a temp folder writable and no home. It reads
// one file of a dataset version from a Git URL (smart HTTP) and its folder remote, hashing with WASM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { hashBytes } from '@tdvc/core';
import { startGitHttp } from '@tdvc/test-utils';
import { git, makeRepo, snapshot, tdvc, tempDir, writeTree } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const WORKSPACE = join(here, '..', '..', '..', '..');
const BUNDLER = join(WORKSPACE, 'scripts', 'lambda-bundle.mjs');
const HANDLER = join(WORKSPACE, 'examples', 'lambda', 'handler.mjs');
// --zip is tried where zip is installed (the script's own optional step)
const HAS_ZIP = (process.env['PATH'] ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, 'zip')));

/** Runs a command to its end without blocking this process (the Git HTTP server in it must keep answering). */
async function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

function chmodTree(path: string, dirMode: number, fileMode: number): void {
  for (const name of readdirSync(path)) {
    const p = join(path, name);
    if (statSync(p).isDirectory()) chmodTree(p, dirMode, fileMode);
    else chmodSync(p, fileMode);
  }
  chmodSync(path, dirMode);
}

test('Lambda package: the bundled example handler reads a dataset file from a Git URL in a bare, read-only sandbox, hashing with WASM', async (t) => {
  const { root, cleanup } = await makeRepo();
  const store = tempDir('tdvc-lambda-remote-');
  const work = tempDir('tdvc-lambda-work-');
  const build = tempDir('tdvc-lambda-build-');
  const sandbox = tempDir('tdvc-lambda-sandbox-');
  try {
    // a dataset version pushed to a folder remote; several 4 MiB chunks for the streaming hashers
    const big = Buffer.alloc(9 * 1048576 + 12345);
    for (let i = 0; i + 4 <= big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
    const r0 = await tdvc(root, ['remote', 'add', '-d', 'store', store.path]);
    assert.equal(r0.code, 0, r0.stderr);
    writeTree(root, { 'data/big.bin': big, 'data/notes.txt': 'v1\n' });
    const added = await tdvc(root, ['add', 'data']);
    assert.equal(added.code, 0, added.stderr);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v1');
    git(root, 'tag', 'v1');
    writeTree(root, { 'data/big.bin': 'replaced at v2\n' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'v2');
    const pushed = await tdvc(root, ['push', '--all-commits']);
    assert.equal(pushed.code, 0, pushed.stderr);
    git(work.path, 'clone', '-q', '--bare', root, 'repo.git');
    const v1 = git(root, 'rev-parse', 'v1').trim();

    const v2 = git(root, 'rev-parse', 'main').trim();

    // the package, plain and minified with a source map (zipped, as it is uploaded)
    const bin = join(sandbox.path, 'bin');
    mkdirSync(bin);
    // PATH holds node alone: no git to fall back on (node's own folder, /usr/bin, may hold git)
    symlinkSync(process.execPath, join(bin, 'node'));
    const tmp = join(sandbox.path, 'tmp');
    mkdirSync(tmp);
    const packages: Array<{ name: string; task: string; before: Map<string, string> }> = [];
    for (const [name, flags] of [['plain', []], ['minified', ['--minify', '--sourcemap']]] as const) {
      const outDir = join(build.path, name);
      const zip = join(build.path, `${name}.zip`);
      const bundled = await run(process.execPath, [BUNDLER, '--entry', HANDLER, '--out', outDir, ...flags, ...(HAS_ZIP ? ['--zip', zip] : [])], { cwd: WORKSPACE });
      assert.equal(bundled.code, 0, bundled.stderr);
      assert.match(bundled.stdout, /index\.mjs +\d+\.\d\d MiB/);
      if (HAS_ZIP) {
        assert.match(bundled.stdout, new RegExp(`${name}\\.zip +\\d+\\.\\d\\d MiB`));
        assert.ok(statSync(zip).size > 0);
      }
      t.diagnostic(`${name}: ${bundled.stdout.trim().split('\n').join('; ')}`);
      assert.deepEqual(readdirSync(outDir).sort(), ['blake3_js_bg.wasm', 'index.mjs', ...(name === 'minified' ? ['index.mjs.map'] : [])]);

      // only the package, in a read-only folder with no node_modules anywhere above it
      const task = join(sandbox.path, name, 'var', 'task');
      mkdirSync(dirname(task), { recursive: true });
      cpSync(outDir, task, { recursive: true });
      for (let d = task; d !== dirname(d); d = dirname(d)) assert.ok(!existsSync(join(d, 'node_modules')), `${d} has a node_modules folder`);
      assert.deepEqual(
        readdirSync(task, { recursive: true }).filter((n) => String(n).endsWith('.node')),
        [],
        'no native module in the package',
      );
      chmodTree(task, 0o555, 0o444);
      packages.push({ name, task, before: snapshot(task) });
    }

    const server = await startGitHttp(work.path);
    try {
      const invoke = async (task: string, event: Record<string, unknown>): Promise<Record<string, unknown>> => {
        const index = pathToFileURL(join(task, 'index.mjs')).href;
        const ran = await run(
          join(bin, 'node'),
          ['--enable-source-maps', '--input-type=module', '-e', `import(${JSON.stringify(index)}).then((m) => m.handler(${JSON.stringify(event)})).then((r) => console.log(JSON.stringify(r)))`],
          { cwd: task, env: { PATH: bin, TMPDIR: tmp, TMP: tmp, HOME: join(sandbox.path, 'home-not-there') } },
        );
        assert.equal(ran.code, 0, `the handler failed: ${ran.stderr}`);
        return JSON.parse(ran.stdout) as Record<string, unknown>;
      };
      const repo = `${server.url}/repo.git`;
      for (const { name, task, before } of packages) {
        const started = Date.now();
        assert.deepEqual(await invoke(task, { repo, rev: 'v1', path: 'data/big.bin' }), {
          path: 'data/big.bin',
          commit: v1,
          size: big.length,
          oid: hashBytes(big),
          sha256: createHash('sha256').update(big).digest('hex'),
          backend: 'wasm',
        });
        t.diagnostic(`${name}: handler run (a cold start, 9 MiB read and hashed): ${Date.now() - started} ms`);
        // no rev: the default branch
        const notes = Buffer.from('v1\n');
        assert.deepEqual(await invoke(task, { repo, path: 'data/notes.txt' }), {
          path: 'data/notes.txt',
          commit: v2,
          size: notes.length,
          oid: hashBytes(notes),
          sha256: createHash('sha256').update(notes).digest('hex'),
          backend: 'wasm',
        });
        assert.deepEqual(snapshot(task), before, 'nothing written into the package folder');
      }
      assert.ok(server.requests.some((r) => r.includes('git-upload-pack')), 'the revisions came over smart HTTP');
      assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('tdvc-git-')), [], 'each fetched revision removed at close');
    } finally {
      await server.close();
    }
  } finally {
    for (const name of ['plain', 'minified']) {
      const task = join(sandbox.path, name, 'var', 'task');
      if (existsSync(task)) chmodTree(task, 0o755, 0o644);
    }
    sandbox.cleanup();
    build.cleanup();
    work.cleanup();
    store.cleanup();
    cleanup();
  }
});
