// tdvc unprotect (links to cache objects replaced by verified private copies, the cache never
// touched) and tdvc du (sizes from manifests: logical and after deduplication), on real repositories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, readFileSync, readlinkSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes } from '@tdvc/core';
import { assertOneClearError, git, makeRepo, snapshot, tdvc, tempDir, writeTree, type RunResult } from './helpers.js';

async function ok(root: string, args: string[]): Promise<RunResult> {
  const r = await tdvc(root, args);
  assert.equal(r.code, 0, `tdvc ${args.join(' ')}: ${r.stderr}`);
  return r;
}

function objectPath(root: string, content: string): string {
  const oid = hashBytes(Buffer.from(content));
  return join(root, '.tdvc', 'cache', 'b3v1', oid.slice(0, 2), oid.slice(2));
}

function files(root: string): Map<string, string> {
  return new Map([...snapshot(root)].filter(([k]) => !k.startsWith('.tdvc/tmp')));
}

async function refused(root: string, args: string[], names: RegExp, codeWanted: string, exit?: number): Promise<void> {
  const before = files(root);
  const r = await tdvc(root, args);
  assertOneClearError(r, names);
  if (exit !== undefined) assert.equal(r.code, exit, r.stderr);
  const j = await tdvc(root, [...args, '--json']);
  assert.equal(JSON.parse(j.stdout).error.code, codeWanted, j.stdout);
  assert.deepEqual(files(root), before, `tdvc ${args.join(' ')} changed nothing`);
}

async function cleanStatus(root: string): Promise<void> {
  const st = JSON.parse((await ok(root, ['status', '--json'])).stdout);
  assert.equal(st.clean, true, JSON.stringify(st));
}

const DATA = { 'data/a.txt': 'alpha', 'data/sub/b.txt': 'beta', 'data/sub/b-copy.txt': 'beta', 'data/run.sh': '#!/bin/sh\n' };

test('unprotect with cache.type hardlink: linked files become writable private copies, the cache objects stay read-only and unchanged, status stays clean', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    await ok(root, ['config', 'cache.type', 'hardlink']);
    // data/sub.txt sorts right after the folder data/sub: outside it all the same
    writeTree(root, { ...DATA, 'data/sub.txt': 'near' });
    chmodSync(join(root, 'data', 'run.sh'), 0o755);
    await ok(root, ['add', 'data']);
    const obj = objectPath(root, 'alpha');
    assert.equal(statSync(join(root, 'data', 'a.txt')).ino, statSync(obj).ino, 'add linked the file to the cache');
    const objMode = statSync(obj).mode & 0o777;
    assert.equal(objMode & 0o222, 0, 'cache objects are read-only');

    const r = await ok(root, ['unprotect', 'data/sub']);
    assert.match(r.stdout, /data: 2 file\(s\) now writable copies/);
    assert.equal(statSync(join(root, 'data', 'a.txt')).ino, statSync(obj).ino, 'outside the path asked for: still linked');
    assert.equal(statSync(join(root, 'data', 'sub.txt')).ino, statSync(objectPath(root, 'near')).ino, 'a near name outside the path: still linked');
    const b = statSync(join(root, 'data', 'sub', 'b.txt'));
    assert.equal(b.nlink, 1);
    assert.notEqual(b.ino, statSync(objectPath(root, 'beta')).ino);
    assert.ok((b.mode & 0o200) !== 0, 'writable');

    const all = JSON.parse((await ok(root, ['unprotect', 'data.tdvc', '--json'])).stdout).datasets[0];
    assert.equal(all.copied, 3);
    assert.equal(all.alreadyCopies, 2);
    assert.ok((statSync(join(root, 'data', 'run.sh')).mode & 0o100) !== 0, 'an executable stays executable');
    // the first command after unprotect
    const readd = JSON.parse((await ok(root, ['add', 'data', '--json'])).stdout).added[0];
    assert.equal(readd.hashed, 0, 'the stat index knows the copies: nothing is read again');
    assert.equal(readd.changed, false);
    await cleanStatus(root);
    await ok(root, ['unprotect', 'data']);

    // an edit after unprotect never reaches the cache
    writeFileSync(join(root, 'data', 'a.txt'), 'edited');
    assert.equal(readFileSync(obj, 'utf8'), 'alpha');
    assert.equal(statSync(obj).mode & 0o777, objMode, 'the object is still read-only');
    assert.equal(statSync(objectPath(root, 'beta')).mode & 0o777, objMode);
  } finally {
    cleanup();
  }
});

test('unprotect with cache.type symlink: links into the cache become copies (verified against their hash), other links are left alone', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    await ok(root, ['config', 'cache.type', 'symlink']);
    writeTree(root, { ...DATA, 'm.bin': 'weights' });
    await ok(root, ['add', 'data', 'm.bin']);
    assert.ok(lstatSync(join(root, 'data', 'a.txt')).isSymbolicLink());
    // a file dataset
    await ok(root, ['unprotect', 'm.bin.tdvc']);
    assert.ok(lstatSync(join(root, 'm.bin')).isFile());
    assert.equal(readFileSync(join(root, 'm.bin'), 'utf8'), 'weights');
    // a link in the workspace that does not lead to its own object is not tdvc's: left alone
    unlinkSync(join(root, 'data', 'sub', 'b-copy.txt'));
    symlinkSync('../a.txt', join(root, 'data', 'sub', 'b-copy.txt'));
    const res = JSON.parse((await ok(root, ['unprotect', 'data/sub/b-copy.txt', '--json'])).stdout).datasets[0];
    assert.deepEqual(res.otherLinks, ['data/sub/b-copy.txt']);
    assert.equal(res.copied, 0);
    assert.equal(readlinkSync(join(root, 'data', 'sub', 'b-copy.txt')), '../a.txt');
    unlinkSync(join(root, 'data', 'sub', 'b-copy.txt'));
    await ok(root, ['checkout']);
    await ok(root, ['unprotect', 'data/a.txt']);
    assert.ok(lstatSync(join(root, 'data', 'a.txt')).isFile());
    assert.equal(readFileSync(join(root, 'data', 'a.txt'), 'utf8'), 'alpha');
    assert.ok(lstatSync(join(root, 'data', 'sub', 'b.txt')).isSymbolicLink(), 'only the path asked for');
    await cleanStatus(root);

    // a cache object whose bytes no longer match its name is never copied into the workspace
    const obj = objectPath(root, 'beta');
    chmodSync(obj, 0o644);
    writeFileSync(obj, 'BETA');
    chmodSync(obj, 0o444);
    const r = await tdvc(root, ['unprotect', 'data/sub/b.txt']);
    assertOneClearError(r, /b3v1/, /do not hash/);
    assert.ok(lstatSync(join(root, 'data', 'sub', 'b.txt')).isSymbolicLink(), 'the link is left as it was');
    assert.deepEqual(
      [...snapshot(join(root, 'data'))].filter(([k]) => k.includes('.tdvc-unprotect')),
      [],
      'no temp file is left',
    );
  } finally {
    cleanup();
  }
});

test('unprotect in copy mode changes nothing; unknown, outside and untracked paths are refused', async () => {
  const { root, cleanup } = await makeRepo();
  const out = tempDir('tdvc-outside-');
  try {
    await ok(root, ['config', 'cache.type', 'copy']);
    writeTree(root, { ...DATA, 'notes.txt': 'n' });
    await ok(root, ['add', 'data']);
    const before = snapshot(join(root, 'data'));
    const inodes = ['a.txt', 'sub/b.txt'].map((p) => statSync(join(root, 'data', p)).ino);
    const res = JSON.parse((await ok(root, ['unprotect', 'data', '--json'])).stdout).datasets[0];
    assert.equal(res.copied, 0);
    assert.equal(res.alreadyCopies, 4);
    assert.deepEqual(snapshot(join(root, 'data')), before);
    assert.deepEqual(['a.txt', 'sub/b.txt'].map((p) => statSync(join(root, 'data', p)).ino), inodes, 'not even rewritten');
    await cleanStatus(root);

    await refused(root, ['unprotect', 'nope'], /nope/, 'ENOTTRACKED', 1);
    await refused(root, ['unprotect', 'notes.txt'], /notes\.txt/, 'ENOTTRACKED', 1);
    await refused(root, ['unprotect', join(out.path, 'x')], /outside the repository/, 'EOUTSIDE', 2);
    await refused(root, ['unprotect', '../x'], /outside the repository/, 'EOUTSIDE', 2);
  } finally {
    cleanup();
    out.cleanup();
  }
});

test('du: per dataset files and bytes, unique bytes after deduplication within and across datasets, at a revision, for a path inside one', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { ...DATA, 'more/x.txt': 'alpha', 'more/y.txt': 'gamma!', 'more/y.txt.bak': 'gamma!', 'm.bin': 'beta' });
    await ok(root, ['add', 'data', 'more', 'm.bin']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    const j = JSON.parse((await ok(root, ['du', '--json'])).stdout);
    const by = Object.fromEntries(j.datasets.map((d: { path: string }) => [d.path, d]));
    assert.deepEqual(by['data'], { path: 'data', dataset: 'data', files: 4, bytes: 5 + 4 + 4 + 10, uniqueBytes: 5 + 4 + 10 });
    assert.deepEqual(by['more'], { path: 'more', dataset: 'more', files: 3, bytes: 17, uniqueBytes: 11 });
    assert.deepEqual(by['m.bin'], { path: 'm.bin', dataset: 'm.bin', files: 1, bytes: 4, uniqueBytes: 4 });
    assert.equal(j.files, 8);
    assert.equal(j.bytes, 23 + 17 + 4);
    assert.equal(j.uniqueBytes, 5 + 4 + 10 + 6, 'alpha and beta are counted once across datasets');
    assert.equal(j.objects, 4);

    const sub = JSON.parse((await ok(root, ['du', 'data/sub', '--json'])).stdout);
    assert.deepEqual(sub.datasets, [{ path: 'data/sub', dataset: 'data', files: 2, bytes: 8, uniqueBytes: 4 }]);
    const one = JSON.parse((await ok(root, ['du', 'more/y.txt', '--json'])).stdout);
    assert.deepEqual(one.datasets, [{ path: 'more/y.txt', dataset: 'more', files: 1, bytes: 6, uniqueBytes: 6 }], 'y.txt.bak is not under y.txt');
    const text = (await ok(root, ['du', 'data'])).stdout;
    assert.match(text, /4 files\s+data \(19 B unique\)/);

    // a new version in the workspace; the committed one from manifests
    writeFileSync(join(root, 'more', 'z.txt'), 'zeta');
    await ok(root, ['add', 'more']);
    assert.equal(JSON.parse((await ok(root, ['du', 'more', '--json'])).stdout).files, 4);
    const old = JSON.parse((await ok(root, ['du', 'more', '--rev', 'HEAD', '--json'])).stdout);
    assert.equal(old.files, 3);
    assert.equal(old.rev, 'HEAD');
  } finally {
    cleanup();
  }
});

test('du: unknown, outside and untracked paths, and an unknown revision, are refused', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { ...DATA, 'notes.txt': 'n' });
    await ok(root, ['add', 'data']);
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'v1');
    await refused(root, ['du', 'nope'], /nope/, 'ENOTTRACKED', 1);
    await refused(root, ['du', 'notes.txt'], /notes\.txt/, 'ENOTTRACKED', 1);
    await refused(root, ['du', 'data/missing'], /data\/missing/, 'ENOTTRACKED', 1);
    await refused(root, ['du', '../x'], /outside the repository/, 'EOUTSIDE', 2);
    await refused(root, ['du', '--rev', 'no-such-rev'], /no-such-rev/, 'EBADREV');
    assert.equal(existsSync(join(root, 'data')), true);
  } finally {
    cleanup();
  }
});
