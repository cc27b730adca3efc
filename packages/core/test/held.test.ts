// LocalObjects over HeldObjects: objects whose only local copy is a workspace file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashBytes, HeldObjects, LocalObjects, ObjectStore } from '../src/index.js';

/** A workspace, its held records and cache, and an object's bytes with the workspace path for them (not written yet). */
function setup(): { ws: string; held: HeldObjects; odb: ObjectStore; view: () => LocalObjects; data: Buffer; oid: string; file: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'tdvc-held-'));
  const ws = join(root, 'ws');
  mkdirSync(ws);
  const data = randomBytes(10_000);
  const held = new HeldObjects(join(root, 'held'), ws);
  const odb = new ObjectStore(join(root, 'cache'));
  return {
    ws,
    held,
    odb,
    // a fresh view reads the records again (a command's view reads them once)
    view: () => new LocalObjects(odb, held),
    data,
    oid: hashBytes(data),
    file: join(ws, 'model.bin'),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

test('a recorded file stands for its object until it is changed; then the record is dropped', async () => {
  const { held, view, data, oid, file, cleanup } = setup();
  try {
    writeFileSync(file, data);
    await held.record(oid, file);
    assert.deepEqual(await view().heldFiles(), new Map([[oid, file]]));
    appendFileSync(file, 'x');
    assert.deepEqual(await view().heldFiles(), new Map());
    // dropped for good: the same bytes again are a new file the record no longer vouches for
    writeFileSync(file, data);
    assert.deepEqual(await view().heldFiles(), new Map());
  } finally {
    cleanup();
  }
});

test('a move cut short after `expect` is settled by hashing the file', async () => {
  const { ws, held, view, data, oid, file, cleanup } = setup();
  try {
    const elsewhere = join(ws, '..', 'moving');
    writeFileSync(elsewhere, data);

    // killed before the rename: nothing at the path, no record survives
    await held.expect(oid, file);
    assert.deepEqual(await view().heldFiles(), new Map());

    // killed after the rename, before `record`: the file hashes to the object, so it is held
    await held.expect(oid, file);
    renameSync(elsewhere, file);
    assert.deepEqual(await view().heldFiles(), new Map([[oid, file]]));
    assert.deepEqual(await view().heldFiles(), new Map([[oid, file]]), 'settled: a normal record now');

    // killed before the rename over an older version: the old file is not the object
    const other = join(ws, 'other.bin');
    writeFileSync(other, 'old version');
    await held.expect(hashBytes(Buffer.from('new version')), other);
    assert.deepEqual([...(await view().heldFiles()).keys()], [oid]);
  } finally {
    cleanup();
  }
});

test('putBack renames the file into the cache, read-only; records of cached objects are dropped', async () => {
  const { ws, held, odb, view, data, oid, file, cleanup } = setup();
  try {
    writeFileSync(file, data);
    const ino = statSync(file).ino;
    await held.record(oid, file);
    await view().putBack(oid, file);
    assert.equal(existsSync(file), false);
    const st = statSync(odb.pathOf(oid));
    assert.equal(st.ino, ino, 'a rename, not a copy');
    assert.equal(st.mode & 0o777, 0o444);
    assert.deepEqual(readFileSync(odb.pathOf(oid)), data);
    assert.deepEqual(await view().heldFiles(), new Map());

    // a record whose object is in the cache again is of no use
    const again = join(ws, 'copy.bin');
    writeFileSync(again, data);
    await held.record(oid, again);
    assert.deepEqual(await view().heldFiles(), new Map());
  } finally {
    cleanup();
  }
});
