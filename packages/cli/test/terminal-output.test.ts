// Names and settings from someone else's repository must not drive the victim's terminal: a file
// name, manifest path or committed setting holding ESC / BEL / CR / C1 controls is refused where
// tdvc records or reads it (datasets), and escaped wherever it is printed (everything else).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ObjectStore, serializeManifest, serializePointer, type ManifestEntry } from '@tdvc/core';
import { assertOneClearError, makeRepo, tdvc, writeTree } from './helpers.js';

const EVIL = 'e\x1b]0;PWNED\x07\x1b[31mRED\x9b2J';
/** No raw control character but tab and line break reaches the terminal. */
function assertNoControls(text: string, what: string): void {
  assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, `${what} carries raw control characters: ${JSON.stringify(text)}`);
}

test('add refuses a file name holding terminal control characters, naming it escaped', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    writeTree(root, { 'data/good.txt': 'good', [`data/${EVIL}`]: 'x' });
    const r = await tdvc(root, ['add', 'data']);
    assertOneClearError(r, /control character/);
    assertNoControls(r.stderr, 'the error');
    assert.equal(existsSync(join(root, 'data.tdvc')), false, 'nothing recorded');
  } finally {
    cleanup();
  }
});

test('a hand-written manifest with control characters in a path is refused by ls, status and checkout without echoing them', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    const odb = new ObjectStore(join(root, '.tdvc', 'cache'));
    const entries: ManifestEntry[] = [];
    for (const path of ['ok.txt', `sub/${EVIL}`]) {
      const { oid, size } = await odb.putBytes(Buffer.from(path));
      entries.push({ path, oid, size, exec: false });
    }
    const m = await odb.putBytes(Buffer.from(serializeManifest(entries)));
    writeFileSync(join(root, 'data.tdvc'), serializePointer({ version: 1, path: 'data', type: 'dir', oid: m.oid, size: 10, files: 2 }));
    for (const args of [['ls'], ['status'], ['checkout', '--force']]) {
      const r = await tdvc(root, args);
      assert.notEqual(r.code, 0, `tdvc ${args.join(' ')} refused`);
      assert.match(r.stderr, /control character/);
      assertNoControls(r.stdout + r.stderr, `tdvc ${args.join(' ')}`);
    }
    assert.equal(existsSync(join(root, 'data', 'sub')), false, 'nothing written');
  } finally {
    cleanup();
  }
});

test('committed settings holding control characters are printed escaped (remote list, config --list, errors)', async () => {
  const { root, cleanup } = await makeRepo();
  try {
    // what a hostile committed .tdvc/config can hold: no tdvc command writes these
    writeFileSync(join(root, '.tdvc', 'config'), `[core]\n\tremote = r\n[remote "r"]\n\turl = /tmp/${EVIL}\n`);
    for (const args of [['remote', 'list'], ['config', '--list'], ['push']]) {
      const r = await tdvc(root, args);
      assertNoControls(r.stdout + r.stderr, `tdvc ${args.join(' ')}`);
      assert.match(r.stdout + r.stderr, /\\x1b\]0;PWNED\\x07/, `tdvc ${args.join(' ')} shows the name, escaped`);
    }
  } finally {
    cleanup();
  }
});
