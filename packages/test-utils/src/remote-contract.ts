/**
 * The contract every remote keeps, as tests each remote package runs against a real instance of
 * itself (a folder, a Ceph RGW bucket): round trips of empty, small and multi-MiB objects, missing
 * objects, `has` answered the same by its per-object path and by its listing, things under the
 * layout that are not objects ignored, `list` and `remove` exact, concurrent uploads of one object.
 * What is particular to a remote (S3 multipart and retries, a folder's atomic renames) stays in
 * that package's own tests.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashBytes, objectKey, TdvcError, type Oid, type Remote } from '@tdvc/core';
import { tempDir } from './run.js';

/** A remote under test, freshly made empty, and a way to put raw bytes under its root. */
export interface ContractRemote {
  remote: Remote;
  /** writes `bytes` at `key` below the remote's root (`b3v1/…`), as an outsider or a killed writer could */
  plant(key: string, bytes: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface ContractOptions {
  /** a reason to skip (printed), or false */
  skip?: string | false;
  /** how many objects a `has` batch needs before this remote lists instead of asking one by one */
  listingFrom: number;
}

/** Registers the contract's tests for the remote `open` makes (a new, empty one per test). */
export function remoteContract(label: string, open: () => Promise<ContractRemote>, opts: ContractOptions): void {
  describe(`${label}: the remote contract`, { skip: opts.skip ?? false }, () => {
    const withRemote = async (fn: (r: ContractRemote, src: string) => Promise<void>): Promise<void> => {
      const src = tempDir('tdvc-contract-src-');
      const r = await open();
      try {
        await fn(r, src.path);
      } finally {
        await r.close();
        src.cleanup();
      }
    };
    /** A cache-like file: content-addressed by its BLAKE3 digest. */
    const object = (dir: string, bytes: Buffer): { oid: Oid; path: string; size: number; bytes: Buffer } => {
      mkdirSync(dir, { recursive: true });
      const oid = hashBytes(bytes);
      const path = join(dir, oid);
      writeFileSync(path, bytes);
      return { oid, path, size: bytes.length, bytes };
    };
    const read = async (remote: Remote, oid: Oid, sizeHint?: number): Promise<Buffer> => {
      const chunks: Buffer[] = [];
      await remote.download(oid, async (c) => void chunks.push(Buffer.from(c)), undefined, sizeHint);
      return Buffer.concat(chunks);
    };

    test('round trips: empty, small and 3 MiB objects come back byte for byte; uploading one again changes nothing', async () => {
      await withRemote(async ({ remote }, src) => {
        const objs = [Buffer.alloc(0), Buffer.from('hello remote'), randomBytes(3 << 20)].map((b) => object(src, b));
        for (const o of objs) await remote.upload(o.oid, o.path, o.size);
        assert.deepEqual([...(await remote.has(objs.map((o) => o.oid)))].sort(), objs.map((o) => o.oid).sort());
        for (const o of objs) {
          assert.ok((await read(remote, o.oid)).equals(o.bytes), `object of ${o.size} bytes`);
          assert.ok((await read(remote, o.oid, o.size)).equals(o.bytes), `object of ${o.size} bytes, with its size given`);
        }
        await remote.upload(objs[1]!.oid, objs[1]!.path, objs[1]!.size);
        assert.ok((await read(remote, objs[1]!.oid)).equals(objs[1]!.bytes));
        if (remote.list) {
          const listed = [];
          for await (const e of remote.list()) listed.push(`${e.oid} ${e.size}`);
          assert.deepEqual(listed.sort(), objs.map((o) => `${o.oid} ${o.size}`).sort(), 'each object listed once, with its size');
        }
      });
    });

    test('a missing object: has() leaves it out, download is ENOTONREMOTE naming it, and the sink gets nothing', async () => {
      await withRemote(async ({ remote }) => {
        const missing = hashBytes(Buffer.from(`never uploaded ${Math.random()}`));
        assert.deepEqual(await remote.has([missing]), new Set());
        let got = 0;
        await assert.rejects(
          remote.download(missing, async (c) => void (got += c.byteLength)),
          (err: unknown) => err instanceof TdvcError && err.code === 'ENOTONREMOTE' && err.message.includes(missing),
        );
        assert.equal(got, 0);
      });
    });

    test('has() answers the same one by one and by listing, and nothing that is not an object counts or is listed', async () => {
      await withRemote(async ({ remote, plant }, src) => {
        const objs = Array.from({ length: 5 }, (_, i) => object(src, Buffer.from(`object ${i}`)));
        for (const o of objs) await remote.upload(o.oid, o.path, o.size);
        const fake = hashBytes(Buffer.from('planted'));
        // what an outsider or a killed writer can leave under the layout: none of it is an object
        await plant(`${objectKey(fake)}.tmp-host-1-abc`, Buffer.from('x'));
        await plant(`${objectKey(fake).slice(0, -1)}`, Buffer.from('x')); // one character short
        await plant(`b3v1/zz/${fake.slice(2)}`, Buffer.from('x')); // not a fan-out folder
        await plant(`b3v1/${fake}`, Buffer.from('x')); // not inside a fan-out folder
        const absent = Array.from({ length: opts.listingFrom + 10 }, (_, i) => hashBytes(Buffer.from(`absent ${i}`)));
        const few = [objs[0]!.oid, objs[1]!.oid, fake];
        const many = [...objs.map((o) => o.oid), fake, ...absent];
        assert.ok(few.length < opts.listingFrom && many.length >= opts.listingFrom);
        assert.deepEqual([...(await remote.has(few))].sort(), [objs[0]!.oid, objs[1]!.oid].sort(), 'one by one');
        assert.deepEqual([...(await remote.has(many))].sort(), objs.map((o) => o.oid).sort(), 'by listing');
        if (remote.list) {
          const listed: string[] = [];
          for await (const e of remote.list()) listed.push(e.oid);
          assert.deepEqual(listed.sort(), objs.map((o) => o.oid).sort(), 'list() yields objects only');
        }
      });
    });

    test('remove() deletes exactly the objects named', async (t) => {
      await withRemote(async ({ remote }, src) => {
        if (!remote.remove || !remote.list) {
          t.skip('this remote cannot list or delete');
          return;
        }
        const objs = Array.from({ length: 6 }, (_, i) => object(src, Buffer.from(`removable ${i}`)));
        for (const o of objs) await remote.upload(o.oid, o.path, o.size);
        await remote.remove(objs.slice(0, 4).map((o) => o.oid));
        const left: string[] = [];
        for await (const e of remote.list()) left.push(e.oid);
        assert.deepEqual(left.sort(), objs.slice(4).map((o) => o.oid).sort());
        assert.deepEqual([...(await remote.has(objs.map((o) => o.oid)))].sort(), objs.slice(4).map((o) => o.oid).sort());
      });
    });

    test('concurrent uploads of one object all succeed and leave it intact', async () => {
      await withRemote(async ({ remote }, src) => {
        const o = object(src, randomBytes(256 << 10));
        await Promise.all(Array.from({ length: 6 }, () => remote.upload(o.oid, o.path, o.size)));
        assert.ok((await read(remote, o.oid)).equals(o.bytes));
        assert.deepEqual(await remote.has([o.oid]), new Set([o.oid]));
      });
    });
  });
}
