// Tests of what is particular to the filesystem remote (local folder / EFS / FSx mount), beside the
// contract every remote keeps (contract.test.ts): the layout on disk, modes, progress; uploads are
// atomic (no temp files left, never a partial object under its final name), also when separate
// instances upload the same objects at once; file:// URLs; only regular files are objects (a FIFO,
// socket, link or folder under an object's name is absent, refused and reported, never replaced).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hashBytes, TdvcError, type Oid } from '@tdvc/core';
import { FsRemote, openFsRemote } from '../src/index.js';
import { tempDir } from './helpers.js';

function remoteAt(root: string, url = root): FsRemote {
  return new FsRemote({ name: 'efs', url, options: {}, stateDir: join(root, '..', 'state') });
}

/** Source files named by their content hash, as cache objects are. */
function makeObjects(dir: string, n: number, size = 64): Array<{ oid: Oid; path: string; data: Buffer }> {
  mkdirSync(dir, { recursive: true });
  return Array.from({ length: n }, () => {
    const data = randomBytes(size);
    const oid = hashBytes(data);
    const path = join(dir, oid);
    writeFileSync(path, data);
    return { oid, path, data };
  });
}

/** Every file below `root`, relative. */
function allFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...allFiles(root, r));
    else out.push(r);
  }
  return out.sort();
}

async function downloadAll(remote: FsRemote, oid: Oid): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await remote.download(oid, async (c) => void chunks.push(Buffer.from(c)));
  return Buffer.concat(chunks);
}

test('upload, has, download, list, remove', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    mkdirSync(root);
    const remote = remoteAt(root);
    const objs = makeObjects(join(t.path, 'src'), 5, 3000);
    assert.deepEqual(await remote.has(objs.map((o) => o.oid)), new Set());

    const progress: number[] = [];
    for (const o of objs.slice(0, 3)) await remote.upload(o.oid, o.path, o.data.byteLength, (b) => progress.push(b));
    assert.deepEqual(progress, [3000, 3000, 3000]);
    // same layout as the cache and S3: b3v1/ab/cdef…, read-only
    for (const o of objs.slice(0, 3)) {
      const p = join(root, 'b3v1', o.oid.slice(0, 2), o.oid.slice(2));
      assert.deepEqual(readFileSync(p), o.data);
      assert.equal(statSync(p).mode & 0o777, 0o444);
    }
    assert.deepEqual(await remote.has(objs.map((o) => o.oid)), new Set(objs.slice(0, 3).map((o) => o.oid)));

    for (const o of objs.slice(0, 3)) {
      const seen: number[] = [];
      const chunks: Buffer[] = [];
      await remote.download(o.oid, async (c) => void chunks.push(Buffer.from(c)), (b) => seen.push(b));
      assert.deepEqual(Buffer.concat(chunks), o.data);
      assert.equal(seen.reduce((s, b) => s + b, 0), 3000);
    }

    const listed: Array<{ oid: Oid; size: number }> = [];
    for await (const e of remote.list()) {
      assert.ok(typeof e.mtimeMs === 'number' && Math.abs(Date.now() - e.mtimeMs) < 600_000, 'list() gives each object its time (gc --remote grace period)');
      listed.push({ oid: e.oid, size: e.size });
    }
    assert.deepEqual(
      listed.sort((a, b) => (a.oid < b.oid ? -1 : 1)),
      objs
        .slice(0, 3)
        .map((o) => ({ oid: o.oid, size: 3000 }))
        .sort((a, b) => (a.oid < b.oid ? -1 : 1)),
    );

    await remote.remove([objs[0]!.oid, objs[4]!.oid]); // removing an absent object is not an error
    assert.deepEqual(await remote.has(objs.map((o) => o.oid)), new Set([objs[1]!.oid, objs[2]!.oid]));
    await assert.rejects(downloadAll(remote, objs[0]!.oid), (e: unknown) => e instanceof TdvcError && e.code === 'ENOTONREMOTE');
  } finally {
    t.cleanup();
  }
});

test('upload is atomic: no temp files are left, a failed copy leaves nothing, re-upload replaces in place', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    mkdirSync(root);
    const remote = remoteAt(root);
    const [o] = makeObjects(join(t.path, 'src'), 1, 5 << 20);
    await remote.upload(o!.oid, o!.path, o!.data.byteLength);
    await remote.upload(o!.oid, o!.path, o!.data.byteLength); // again: overwrites the read-only object atomically
    assert.deepEqual(allFiles(root), [`b3v1/${o!.oid.slice(0, 2)}/${o!.oid.slice(2)}`]);
    assert.deepEqual(await downloadAll(remote, o!.oid), o!.data);

    const missing = hashBytes(Buffer.from('no source file'));
    await assert.rejects(remote.upload(missing, join(t.path, 'src', 'does-not-exist'), 1), /ENOENT/);
    assert.deepEqual(allFiles(root), [`b3v1/${o!.oid.slice(0, 2)}/${o!.oid.slice(2)}`], 'a failed upload leaves no temp file');
    assert.deepEqual(await remote.has([missing]), new Set());
  } finally {
    t.cleanup();
  }
});

test('a reader never sees a partial object under its final name during an upload', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    mkdirSync(root);
    const remote = remoteAt(root);
    const objs = makeObjects(join(t.path, 'src'), 3, 24 << 20);
    let done = false;
    let sawTemp = false;
    const seenSizes: number[] = [];
    const watcher = (async () => {
      while (!done) {
        for (const o of objs) {
          const final = join(root, 'b3v1', o.oid.slice(0, 2), o.oid.slice(2));
          try {
            seenSizes.push(statSync(final).size);
          } catch {
            // not there yet
          }
          const fan = join(root, 'b3v1', o.oid.slice(0, 2));
          if (existsSync(fan) && readdirSync(fan).some((n) => n.startsWith('.tmp-'))) sawTemp = true;
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await Promise.all(objs.map((o) => remote.upload(o.oid, o.path, o.data.byteLength)));
    done = true;
    await watcher;
    assert.ok(seenSizes.length > 0 || sawTemp, 'the watcher ran while uploads were in flight');
    assert.deepEqual(
      seenSizes.filter((s) => s !== 24 << 20),
      [],
      'every object seen under its final name was complete',
    );
    assert.deepEqual(allFiles(root), objs.map((o) => `b3v1/${o.oid.slice(0, 2)}/${o.oid.slice(2)}`).sort());
  } finally {
    t.cleanup();
  }
});

test('concurrent uploads of the same object all succeed and leave one intact object', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    mkdirSync(root);
    const objs = makeObjects(join(t.path, 'src'), 4, 2 << 20);
    // separate instances, as separate processes would be (no shared folder memo)
    const remotes = Array.from({ length: 6 }, () => remoteAt(root));
    const results = await Promise.allSettled(remotes.flatMap((r) => objs.map((o) => r.upload(o.oid, o.path, o.data.byteLength))));
    assert.deepEqual(
      results.filter((r) => r.status === 'rejected'),
      [],
    );
    assert.deepEqual(allFiles(root), objs.map((o) => `b3v1/${o.oid.slice(0, 2)}/${o.oid.slice(2)}`).sort());
    for (const o of objs) assert.equal(hashBytes(await downloadAll(remotes[0]!, o.oid)), o.oid);
  } finally {
    t.cleanup();
  }
});

test('file:// URLs; opening a missing folder or a file is EREMOTE', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'with space');
    mkdirSync(root);
    const url = pathToFileURL(root).href;
    const remote = await openFsRemote({ name: 'efs', url, options: {}, stateDir: join(t.path, 'state') });
    assert.equal(remote.root, root);
    const [o] = makeObjects(join(t.path, 'src'), 1);
    await remote.upload(o!.oid, o!.path, 64);
    assert.ok(existsSync(join(root, 'b3v1', o!.oid.slice(0, 2), o!.oid.slice(2))));

    for (const bad of [join(t.path, 'nope'), o!.path]) {
      await assert.rejects(
        openFsRemote({ name: 'efs', url: bad, options: {}, stateDir: join(t.path, 'state') }),
        (e: unknown) => e instanceof TdvcError && e.code === 'EREMOTE',
      );
    }
  } finally {
    t.cleanup();
  }
});

/** Puts each kind of non-regular entry under an object's name: a FIFO, a socket, a link to a regular file, a folder. */
function plantNonObjects(root: string, oids: Oid[], outside: string): Array<{ oid: Oid; path: string; kind: string }> {
  writeFileSync(join(outside, 'secret'), 'not an object');
  const makers: Array<[string, (p: string) => void]> = [
    ['named pipe', (p) => assert.equal(spawnSync('mkfifo', [p]).status, 0)],
    ['socket', (p) => assert.equal(spawnSync(process.execPath, ['-e', "require('node:net').createServer().listen(process.argv[1], () => process.exit(0))", p]).status, 0)],
    ['symbolic link', (p) => symlinkSync(join(outside, 'secret'), p)],
    ['folder', (p) => (mkdirSync(p), writeFileSync(join(p, 'keep.txt'), 'mine'))],
  ];
  return makers.map(([kind, make], i) => {
    const oid = oids[i]!;
    const path = join(root, 'b3v1', oid.slice(0, 2), oid.slice(2));
    mkdirSync(join(path, '..'), { recursive: true });
    make(path);
    return { oid, path, kind };
  });
}

function isRejected(oid: Oid, path: string, kind: string): (e: unknown) => boolean {
  return (e) => e instanceof TdvcError && e.code === 'EBADOBJECT' && e.data['oid'] === oid && e.path === path && e.message.includes(kind) && e.message.includes('remote efs');
}

test('only regular files are objects: has (one by one and by listing) and list skip FIFOs, sockets, links and folders; listRejected names them', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    mkdirSync(root);
    mkdirSync(join(t.path, 'outside'));
    const remote = remoteAt(root);
    const objs = makeObjects(join(t.path, 'src'), 6);
    for (const o of objs.slice(4)) await remote.upload(o.oid, o.path, o.data.byteLength);
    const planted = plantNonObjects(root, objs.slice(0, 4).map((o) => o.oid), join(t.path, 'outside'));
    const real = objs.slice(4).map((o) => o.oid).sort();
    assert.deepEqual([...(await remote.has(objs.map((o) => o.oid)))].sort(), real, 'one by one');
    // 64 or more ids: has() lists the fan-out folders instead
    const many = [...objs.map((o) => o.oid), ...Array.from({ length: 70 }, (_, i) => hashBytes(Buffer.from(`absent ${i}`)))];
    assert.deepEqual([...(await remote.has(many))].sort(), real, 'by listing');
    const listed: Oid[] = [];
    for await (const e of remote.list()) listed.push(e.oid);
    assert.deepEqual(listed.sort(), real);
    const rejected: Array<{ oid?: Oid; path: string; reason: string }> = [];
    for await (const r of remote.listRejected()) rejected.push(r);
    assert.deepEqual(
      rejected.sort((a, b) => a.path.localeCompare(b.path)),
      planted.map((p) => ({ oid: p.oid, path: p.path, reason: `it is a ${p.kind}` })).sort((a, b) => a.path.localeCompare(b.path)),
    );
  } finally {
    t.cleanup();
  }
});

test('upload, urlFor and download refuse a non-regular entry under the object name (EBADOBJECT naming it) and leave it as it is', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    mkdirSync(root);
    const outside = join(t.path, 'outside');
    mkdirSync(outside);
    const remote = remoteAt(root);
    const objs = makeObjects(join(t.path, 'src'), 5);
    const planted = plantNonObjects(root, objs.slice(0, 4).map((o) => o.oid), outside);
    const kinds = (): string[] => planted.map((p) => `${p.path} ${lstatSync(p.path).mode}`);
    const before = kinds();
    for (const [i, p] of planted.entries()) {
      const o = objs[i]!;
      await assert.rejects(remote.upload(o.oid, o.path, o.data.byteLength), isRejected(o.oid, p.path, p.kind), `upload over a ${p.kind}`);
      await assert.rejects(remote.urlFor(o.oid), isRejected(o.oid, p.path, p.kind), `URL of a ${p.kind}`);
      await assert.rejects(downloadAll(remote, o.oid), isRejected(o.oid, p.path, p.kind), `download of a ${p.kind}`);
    }
    assert.deepEqual(kinds(), before, 'nothing replaced or removed');
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'not an object', 'nothing written through the link');
    assert.equal(readFileSync(join(planted[3]!.path, 'keep.txt'), 'utf8'), 'mine');
    assert.deepEqual(
      readdirSync(join(root, 'b3v1'), { recursive: true }).filter((n) => String(n).includes('.tmp-')),
      [],
      'no temp file left behind',
    );
    // a regular object, and one not uploaded yet, still get their URL
    const o = objs[4]!;
    assert.equal(await remote.urlFor(o.oid), pathToFileURL(join(root, 'b3v1', o.oid.slice(0, 2), o.oid.slice(2))).href);
    await remote.upload(o.oid, o.path, o.data.byteLength);
    assert.equal(await remote.urlFor(o.oid), pathToFileURL(join(root, 'b3v1', o.oid.slice(0, 2), o.oid.slice(2))).href);
  } finally {
    t.cleanup();
  }
});

test('a layout or fan-out folder that is a link: nothing is counted, listed, read, written or deleted through it; listRejected names it', async () => {
  const t = tempDir('tdvc-fsremote-');
  try {
    const root = join(t.path, 'remote');
    const outside = join(t.path, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    const objs = makeObjects(join(t.path, 'src'), 2);
    const [a, b] = objs as [(typeof objs)[number], (typeof objs)[number]];
    // the fan-out folder of `a` links to a folder holding a file under a's name (a look-alike)
    mkdirSync(join(root, 'b3v1'));
    symlinkSync(outside, join(root, 'b3v1', a.oid.slice(0, 2)));
    writeFileSync(join(outside, a.oid.slice(2)), a.data);
    const outsideNow = (): string => JSON.stringify(readdirSync(outside, { recursive: true }).map(String).sort());
    const check = async (remote: FsRemote, linked: string): Promise<void> => {
      const before = outsideNow();
      const refused = (e: unknown): boolean => e instanceof TdvcError && e.code === 'ESYMLINK' && e.path === linked;
      assert.deepEqual(await remote.has([a.oid]), new Set(), 'one by one');
      const many = [a.oid, ...Array.from({ length: 70 }, (_, i) => hashBytes(Buffer.from(`absent ${i}`)))];
      assert.deepEqual(await remote.has(many), new Set(), 'by listing');
      const listed: Oid[] = [];
      for await (const e of remote.list()) listed.push(e.oid);
      assert.equal(listed.includes(a.oid), false);
      await assert.rejects(remote.upload(a.oid, a.path, a.data.byteLength), refused, 'upload');
      await assert.rejects(remote.urlFor(a.oid), refused, 'urlFor');
      await assert.rejects(downloadAll(remote, a.oid), refused, 'download');
      await remote.remove([a.oid]);
      const rejected: Array<{ oid?: Oid; path: string; reason: string }> = [];
      for await (const r of remote.listRejected()) rejected.push(r);
      assert.deepEqual(rejected, [{ path: linked, reason: "it is a symbolic link where the remote's own folder belongs" }]);
      assert.equal(outsideNow(), before, 'nothing written or deleted over there');
    };
    await check(remoteAt(root), join(root, 'b3v1', a.oid.slice(0, 2)));

    // the whole layout folder a link (to a folder holding b's fan-out folder): not even created through
    rmSync(join(root, 'b3v1'), { recursive: true });
    symlinkSync(outside, join(root, 'b3v1'));
    mkdirSync(join(outside, a.oid.slice(0, 2)));
    writeFileSync(join(outside, a.oid.slice(0, 2), a.oid.slice(2)), a.data);
    const before = outsideNow();
    const remote = remoteAt(root);
    await check(remote, join(root, 'b3v1'));
    await assert.rejects(remote.upload(b.oid, b.path, b.data.byteLength), (e: unknown) => e instanceof TdvcError && e.code === 'ESYMLINK');
    assert.equal(outsideNow(), before, 'no fan-out folder made over there');
  } finally {
    t.cleanup();
  }
});
