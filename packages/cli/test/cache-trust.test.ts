// Which caches checkout verifies by hash as it places objects: every cache but the workspace's own
// private one, whatever a committed config says. A committed `cache.dir` may name a folder other
// people write (or one the repository itself ships), so `cache.verify false` is honoured for such
// a cache only from this clone's own local config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { makeRepo, tdvc, tempDir, writeTree } from './helpers.js';

test('a cache outside the workspace is verified on checkout even when a committed config says cache.verify false; the local config can opt out', async () => {
  const { root, cleanup } = await makeRepo();
  const cache = tempDir('tdvc-cache-');
  try {
    for (const args of [['cache', 'dir', cache.path], ['config', 'cache.verify', 'false']]) assert.equal((await tdvc(root, args)).code, 0);
    writeTree(root, { 'data/a.txt': 'alpha', 'data/b.txt': 'bravo' });
    assert.equal((await tdvc(root, ['add', 'data'])).code, 0);
    // someone who can write the cache replaces an object by other bytes of the same size
    const oid = hashBytes(Buffer.from('bravo'));
    const obj = join(cache.path, 'b3v1', oid.slice(0, 2), oid.slice(2));
    chmodSync(obj, 0o644);
    writeFileSync(obj, 'EVIL!');
    rmSync(join(root, 'data'), { recursive: true });

    const r = await tdvc(root, ['checkout']);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, new RegExp(`data/b.txt: expected ${oid}`));
    assert.equal(readFileSync(join(root, 'data', 'a.txt'), 'utf8'), 'alpha', 'the intact file is placed');
    assert.throws(() => readFileSync(join(root, 'data', 'b.txt')), 'the corrupt bytes never reach the workspace');

    // this clone's own choice: no hashing (type and size are still checked)
    writeFileSync(obj, 'EVIL!');
    assert.equal((await tdvc(root, ['config', '--local', 'cache.verify', 'false'])).code, 0);
    const unverified = await tdvc(root, ['checkout']);
    assert.equal(unverified.code, 0, unverified.stderr);
    assert.equal(readFileSync(join(root, 'data', 'b.txt'), 'utf8'), 'EVIL!');
  } finally {
    cleanup();
    cache.cleanup();
  }
});
