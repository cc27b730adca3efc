import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addFile, CorruptObjectError, FANS, ExitCode, hashBytes, hashWorkspaceFile, LAYOUT, ObjectStore, TdvcError } from '../src/index.js';

function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tdvc-store-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Every file under the store's layout folder, relative to it (temp files included). */
function storeFiles(root: string): string[] {
  const base = join(root, LAYOUT);
  const out: string[] = [];
  let fans: string[] = [];
  try {
    fans = readdirSync(base);
  } catch {
    return out;
  }
  for (const fan of fans) for (const name of readdirSync(join(base, fan))) out.push(`${fan}/${name}`);
  return out.sort();
}

function pseudoRandom(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    b.writeUInt32LE(x, i >= size - 3 ? size - 4 : i);
  }
  return b;
}

test('store: putBytes is idempotent and stores the object read-only under its hash', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    const data = Buffer.from('hello tdvc\n');
    const first = await store.putBytes(data);
    assert.equal(first.oid, hashBytes(data));
    assert.equal(first.size, data.length);
    assert.equal(first.created, true);
    const path = store.pathOf(first.oid);
    const st1 = statSync(path);
    assert.equal(st1.mode & 0o777, 0o444, 'objects are read-only');
    const second = await store.putBytes(Buffer.from('hello tdvc\n'));
    assert.deepEqual(second, { ...first, created: false });
    assert.equal(statSync(path).ino, st1.ino, 'the existing object was not rewritten');
    assert.deepEqual(storeFiles(store.root), [`${first.oid.slice(0, 2)}/${first.oid.slice(2)}`], 'no temp files left');
    assert.deepEqual(readFileSync(path), data);
    assert.equal(await store.has(first.oid), true);
    assert.deepEqual(await store.read(first.oid), data);
    assert.equal(await store.has(hashBytes(Buffer.from('other'))), false);
  } finally {
    cleanup();
  }
});

test('store: addFile stores small and large (streamed) files read-only with the right hash', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    for (const size of [0, 100, 9 * 1024 * 1024 + 5]) {
      const data = pseudoRandom(size, size + 1);
      const src = join(dir, `src-${size}`);
      writeFileSync(src, data);
      const res = await addFile(store, src);
      assert.equal(res.oid, hashBytes(data), `hash of ${size} B`);
      assert.equal(res.size, size);
      assert.equal(res.created, true);
      assert.equal(statSync(store.pathOf(res.oid)).mode & 0o777, 0o444, `${size} B object is read-only`);
      assert.equal(hashBytes(readFileSync(store.pathOf(res.oid))), res.oid);
      assert.equal((await addFile(store, src)).created, false, 'adding the same file again is a no-op');
    }
    assert.equal(storeFiles(store.root).filter((n) => n.includes('.tmp')).length, 0, 'no temp files left');
  } finally {
    cleanup();
  }
});

test('store: read() of a corrupted object throws CorruptObjectError with expected and found', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    const { oid } = await store.putBytes(Buffer.from('original content'));
    const path = store.pathOf(oid);
    chmodSync(path, 0o644);
    writeFileSync(path, 'tampered content');
    chmodSync(path, 0o444);
    await assert.rejects(store.read(oid), (err: unknown) => {
      assert.ok(err instanceof CorruptObjectError, String(err));
      assert.equal(err.code, 'ECORRUPT');
      assert.equal(err.exitCode, ExitCode.integrity);
      assert.equal(err.data['expected'], oid);
      assert.equal(err.data['found'], hashBytes(Buffer.from('tampered content')));
      assert.match(err.message, new RegExp(oid));
      return true;
    });
    assert.equal(await store.rehash(oid), hashBytes(Buffer.from('tampered content')));
    // a truncated object is corrupt as well
    chmodSync(path, 0o644);
    writeFileSync(path, '');
    await assert.rejects(store.read(oid), CorruptObjectError);
    rmSync(path);
    await assert.rejects(store.read(oid), (err: unknown) => err instanceof TdvcError && err.code === 'EMISSING');
  } finally {
    cleanup();
  }
});

test('store: ObjectWriter.commit with wrong bytes throws and leaves neither the object nor temp files', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    const good = Buffer.from('the expected bytes');
    const oid = hashBytes(good);
    const w = await store.openWriter(oid, 'remote:test');
    await w.write(Buffer.from('the expected '));
    await w.write(Buffer.from('BYTES'));
    await assert.rejects(w.commit(), (err: unknown) => {
      assert.ok(err instanceof CorruptObjectError, String(err));
      assert.equal(err.data['expected'], oid);
      assert.equal(err.data['found'], hashBytes(Buffer.from('the expected BYTES')));
      assert.match(err.message, /remote:test/);
      return true;
    });
    assert.equal(await store.has(oid), false, 'nothing under the final name');
    assert.deepEqual(storeFiles(store.root), [], 'no temp file left');

    // a short write (truncated download) is refused too
    const short = await store.openWriter(oid, 'remote:test');
    await short.write(good.subarray(0, 5));
    await assert.rejects(short.commit(), CorruptObjectError);
    assert.deepEqual(storeFiles(store.root), []);

    // abort leaves nothing either
    const aborted = await store.openWriter(oid, 'remote:test');
    await aborted.write(good);
    await aborted.abort();
    assert.deepEqual(storeFiles(store.root), []);

    // and the right bytes are published read-only
    const ok = await store.openWriter(oid, 'remote:test');
    await ok.write(good.subarray(0, 4));
    await ok.write(good.subarray(4));
    assert.equal(await ok.commit(), true);
    assert.deepEqual(await store.read(oid), good);
    assert.equal(statSync(store.pathOf(oid)).mode & 0o777, 0o444);
    assert.deepEqual(storeFiles(store.root), [`${oid.slice(0, 2)}/${oid.slice(2)}`]);
  } finally {
    cleanup();
  }
});

test('store: addFile of a file that vanished names the path and stores nothing', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    const src = join(dir, 'gone.bin');
    writeFileSync(src, 'soon gone');
    rmSync(src); // deleted between the directory walk and the read
    await assert.rejects(addFile(store, src), (err: unknown) => {
      assert.ok(err instanceof TdvcError, String(err));
      assert.equal(err.code, 'EVANISHED');
      assert.equal(err.path, src);
      assert.match(err.message, /gone\.bin/);
      return true;
    });
    assert.deepEqual(storeFiles(store.root), []);
    // the read-only hashing used by status and checkout says the same
    await assert.rejects(hashWorkspaceFile(src), (err: unknown) => err instanceof TdvcError && err.code === 'EVANISHED' && err.path === src);
  } finally {
    cleanup();
  }
});

test('store: listAll (fan-out folders read several at a time) lists exactly what listAllSync does, and neither enters a link or a non-fan folder', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    const oids = new Set<string>();
    for (let i = 0; i < 300; i++) oids.add((await store.putBytes(Buffer.from(`many ${i}`))).oid);
    // junk an outsider or a killed writer can leave in the layout: none of it is an object
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const planted = hashBytes(Buffer.from('planted'));
    writeFileSync(join(elsewhere, planted.slice(2)), 'x');
    const fans = new Set([...oids].map((o) => o.slice(0, 2)));
    const freeFan = FANS.find((f) => !fans.has(f))!;
    symlinkSync(elsewhere, join(store.root, LAYOUT, freeFan)); // a link where a fan-out folder belongs
    mkdirSync(join(store.root, LAYOUT, 'zz'));
    writeFileSync(join(store.root, LAYOUT, 'zz', planted.slice(2)), 'x'); // not a fan-out folder
    writeFileSync(join(store.root, LAYOUT, [...oids][0]!.slice(0, 2), `${planted.slice(2)}x`), 'x'); // not an object name
    const sync = store.listAllSync();
    const all = await new ObjectStore(join(dir, 'cache')).listAll();
    assert.deepEqual([...all].sort(), [...oids].sort());
    assert.deepEqual([...sync].sort(), [...oids].sort());
    assert.equal(readFileSync(join(elsewhere, planted.slice(2)), 'utf8'), 'x', 'nothing behind the link was touched');
  } finally {
    cleanup();
  }
});

test('store: listAllSync and hasMany ignore temp files', async () => {
  const { dir, cleanup } = tmp();
  try {
    const store = new ObjectStore(join(dir, 'cache'));
    const oids: string[] = [];
    for (let i = 0; i < 5; i++) oids.push((await store.putBytes(Buffer.from(`obj ${i}`))).oid);
    const stray = hashBytes(Buffer.from('never stored'));
    // a crashed writer's temp file in a fan-out folder
    writeFileSync(join(store.root, LAYOUT, oids[0]!.slice(0, 2), '.tmp-host-1-abcdefabcdef'), 'partial');
    assert.deepEqual([...store.listAllSync()].sort(), [...oids].sort());
    assert.deepEqual([...(await store.hasMany([...oids, stray]))].sort(), [...oids].sort());
  } finally {
    cleanup();
  }
});

test('a manifest object larger than any file list can be is refused before it is read (a hostile 600 MB "leaf")', async () => {
  const { storeSource, MAX_MANIFEST_BYTES } = await import('../src/index.js');
  const { dir, cleanup } = tmp();
  try {
    const odb = new ObjectStore(dir);
    const oid = 'ab'.repeat(32);
    mkdirSync(join(odb.pathOf(oid), '..'), { recursive: true });
    writeFileSync(odb.pathOf(oid), '');
    const { truncateSync } = await import('node:fs');
    truncateSync(odb.pathOf(oid), MAX_MANIFEST_BYTES + 1); // sparse: costs no disk
    const before = process.memoryUsage().rss;
    await assert.rejects(storeSource(odb, 'data').load(oid), (err: TdvcError) => err.code === 'EMALFORMED' && err.message.includes(oid) && /more than a file list can be/.test(err.message));
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'not read into memory');
  } finally {
    cleanup();
  }
});

test('listing: a large cache is listed on a thread, with the same ids as listing it here, and the set is kept', async () => {
  const { dir, cleanup } = tmp();
  try {
    const root = join(dir, 'cache');
    const writer = new ObjectStore(root);
    const oids: string[] = [];
    for (let i = 0; i < 30_000; i++) oids.push(writer.putBytesSync(Buffer.from(`object ${i}`)).oid);
    const expected = new ObjectStore(root).listAllSync();
    assert.equal(expected.size, 30_000);

    const store = new ObjectStore(root);
    const run = store.listing();
    // written while the thread lists: the listing must still know it
    const late = store.putBytesSync(Buffer.from('written during the listing')).oid;
    const known = await run;
    assert.ok(known.has(late), 'the object written during the listing');
    for (const oid of oids) assert.ok(known.has(oid), oid);
    assert.equal(known.has(hashBytes(Buffer.from('never written'))), false);
    assert.equal(store.knownObjects(), known, 'one listing, kept');

    // nothing written meanwhile: the thread's set is the one kept
    const quiet = new ObjectStore(root);
    const set = await quiet.listing();
    for (const oid of [...oids, late]) assert.ok(set.has(oid), oid);
    assert.equal(await quiet.listing(), set);
  } finally {
    cleanup();
  }
});

test('lookup before trust: an object the listing shows but another machine deleted is written again by every write path', async () => {
  const { dir, cleanup } = tmp();
  try {
    const root = join(dir, 'cache');
    const datas = ['by putBytes', 'by putBytesSync', 'by putStreamed'].map((s) => Buffer.from(`${s}\n`.repeat(50)));
    const seed = new ObjectStore(root);
    const oids = datas.map((d) => seed.putBytesSync(d).oid);
    const store = new ObjectStore(root);
    const listed = await store.listing();
    for (const oid of oids) assert.ok(listed.has(oid));
    // another machine's gc deletes the objects; this process's listing still shows them
    for (const oid of oids) {
      chmodSync(store.pathOf(oid), 0o644);
      rmSync(store.pathOf(oid));
    }
    assert.equal((await store.putBytes(datas[0]!)).created, true);
    assert.equal(store.putBytesSync(datas[1]!).created, true);
    const streamed = await store.putStreamed(async (write) => write(datas[2]!));
    assert.equal(streamed.created, true);
    for (const [i, oid] of oids.entries()) assert.deepEqual(readFileSync(store.pathOf(oid)), datas[i], `object ${i} is back`);
    // and an object the listing shows and that is there is not written again
    const again = store.putBytesSync(datas[1]!);
    assert.equal(again.created, false);
  } finally {
    cleanup();
  }
});
