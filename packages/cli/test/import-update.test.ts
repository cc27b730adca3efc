// tdvc import / update: tracking data of another repository (a data registry served over smart
// HTTP by git http-backend, its data on a folder remote) in a project with a cache of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGitHttp } from '@tdvc/test-utils';
import { assertOneClearError, git, makeRepo, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(cwd: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(cwd, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

test('import a dataset, a folder inside one and one file at a revision; the pointer records the source; update follows the branch; bad uses refused, nothing written', async () => {
  const registry = await makeRepo();
  const project = await makeRepo();
  const store = tempDir('tdvc-registry-remote-');
  const served = tempDir('tdvc-served-');
  const server = await startGitHttp(served.path);
  try {
    const reg = registry.root;
    await ok(reg, ['remote', 'add', '-d', 'store', store.path]);
    writeTree(reg, { 'data/a.txt': 'A1\n', 'data/sub/b.txt': 'B1\n', 'data/sub/c.sh': '#!/bin/sh\n', 'model.bin': 'M1\n' });
    const { chmodSync } = await import('node:fs');
    chmodSync(join(reg, 'data/sub/c.sh'), 0o755);
    await ok(reg, ['add', 'data', 'model.bin']);
    git(reg, 'add', '.');
    git(reg, 'commit', '-qm', 'v1');
    git(reg, 'tag', 'v1');
    await ok(reg, ['push']);
    git(served.path, 'clone', '-q', '--bare', reg, 'registry.git');
    const url = `${server.url}/registry.git`;

    const p = project.root;
    const imported = JSON.parse((await ok(p, ['import', url, 'data', '--rev', 'v1', '--json'])).stdout);
    assert.equal(imported.files, 3);
    assert.equal(readFileSync(join(p, 'data/sub/b.txt'), 'utf8'), 'B1\n');
    assert.equal((await import('node:fs')).statSync(join(p, 'data/sub/c.sh')).mode & 0o111, 0o111, 'the executable bit came along');
    const pointer = readFileSync(join(p, 'data.tdvc'), 'utf8');
    assert.match(pointer, new RegExp(`^repo: ${url.replace(/[.]/g, '\\.')}$`, 'm'));
    assert.match(pointer, /^repopath: data$/m);
    assert.match(pointer, /^rev: v1$/m);
    assert.match(pointer, new RegExp(`^commit: ${git(reg, 'rev-parse', 'v1').trim()}$`, 'm'));
    // the same tree id as in the registry: trees are canonical
    assert.equal(/^hash: (.*)$/m.exec(pointer)![1], /^hash: (.*)$/m.exec(readFileSync(join(reg, 'data.tdvc'), 'utf8'))![1]);
    assert.equal((await ok(p, ['status'])).stdout, 'data and pointer files are up to date\n');
    assert.match(readFileSync(join(p, '.gitignore'), 'utf8'), /^\/data$/m);

    await ok(p, ['import', url, 'data/sub', '-o', 'sub-only', '--rev', 'v1']);
    assert.deepEqual(readdirSync(join(p, 'sub-only')).sort(), ['b.txt', 'c.sh']);
    await ok(p, ['import', url, 'model.bin']);
    assert.equal(readFileSync(join(p, 'model.bin'), 'utf8'), 'M1\n');
    assert.match(readFileSync(join(p, 'model.bin.tdvc'), 'utf8'), /^type: file$/m);
    git(p, 'add', '.');
    git(p, 'commit', '-qm', 'imports');

    // the registry moves on: update follows the default branch for model.bin, stays on v1 for data
    writeTree(reg, { 'model.bin': 'M2\n', 'data/a.txt': 'A2\n' });
    await ok(reg, ['add', 'model.bin', 'data']);
    git(reg, 'commit', '-qam', 'v2');
    await ok(reg, ['push']);
    git(reg, 'push', '-q', join(served.path, 'registry.git'), 'HEAD:main');
    const upd = JSON.parse((await ok(p, ['update', '--json'])).stdout) as Array<{ path: string; changed: boolean }>;
    assert.deepEqual(upd.map((u) => [u.path, u.changed]).sort(), [['data', false], ['model.bin', true], ['sub-only', false]]);
    assert.equal(readFileSync(join(p, 'model.bin'), 'utf8'), 'M2\n');
    assert.equal(readFileSync(join(p, 'data/a.txt'), 'utf8'), 'A1\n', 'data follows v1');
    // a local change would be lost: refused before anything is touched
    const pointerBefore = readFileSync(join(p, 'data.tdvc'), 'utf8');
    writeTree(p, { 'data/a.txt': 'mine\n' });
    assertOneClearError(await tdvc(p, ['update', 'data', '--rev', 'main']), /data\/a\.txt/, /would be lost/);
    assert.equal(readFileSync(join(p, 'data.tdvc'), 'utf8'), pointerBefore);
    assert.equal(readFileSync(join(p, 'data/a.txt'), 'utf8'), 'mine\n');
    await ok(p, ['checkout', '--force', 'data']);
    // and to another revision on request
    await ok(p, ['update', 'data', '--rev', 'main']);
    assert.equal(readFileSync(join(p, 'data/a.txt'), 'utf8'), 'A2\n');
    assert.match(readFileSync(join(p, 'data.tdvc'), 'utf8'), /^rev: main$/m);

    // refused, nothing written
    const before = readdirSync(p).sort();
    assertOneClearError(await tdvc(p, ['import', url, 'data']), /data/, /exists/);
    assertOneClearError(await tdvc(p, ['import', url, 'nothing/here', '-o', 'x']), /nothing\/here/, /not tracked/);
    assertOneClearError(await tdvc(p, ['import', url, 'data', '--rev', 'no-such-tag', '-o', 'y']), /no-such-tag/);
    assertOneClearError(await tdvc(p, ['import', join(p, 'data'), 'data', '-o', 'z']), /URL/);
    writeTree(p, { 'own/f.txt': 'F\n' });
    await ok(p, ['add', 'own']);
    assertOneClearError(await tdvc(p, ['update', 'own']), /own/, /not imported/);
    assert.deepEqual(readdirSync(p).sort(), [...before, 'own', 'own.tdvc'].sort());
  } finally {
    await server.close();
    registry.cleanup();
    project.cleanup();
    store.cleanup();
    served.cleanup();
  }
});
