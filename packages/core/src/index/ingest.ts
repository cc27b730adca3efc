/**
 * Reading workspace files into the store: what `add` (and putting a held file back) does with a
 * file. The workspace file is opened without following links or blocking, must be a regular file,
 * and must not change while it is read (its stat before and after agree, else FileChangedError
 * and nothing is stored). The bytes then enter the store through its one publish path; on a
 * copy-on-write file system the file is cloned into the store instead and the clone hashed.
 */
import { closeSync, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { FileChangedError, fromSystemError, isErrno, TdvcError } from '../errors.js';
import { hashBytes, hashHandle } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { SMALL_FILE, type ObjectStore, type PutResult } from '../odb/store.js';
import { NotRegularFileError, WORKSPACE_READ } from '../util/safe-read.js';

/** Chunk of the pipelined large-file pass: big enough that each read and write is one long system call. */
const PIPE_CHUNK = 4 << 20;

export type AddedFile = PutResult & { mtimeMs: number; ino: number; cloned: boolean };

function vanished(path: string, verb: 'added' | 'read' = 'added'): TdvcError {
  return new TdvcError('EVANISHED', `file vanished while it was being ${verb}: ${path}`, { path, hint: verb === 'added' ? 'run tdvc add again' : 'run the command again' });
}

function unchanged(before: Stats, after: Stats, size: number): boolean {
  return after.mtimeMs === before.mtimeMs && after.size === before.size && size === before.size;
}

/**
 * Adds a workspace file to the store. `reflink` clones it where copy-on-write works (the object
 * then shares the file's blocks); otherwise a small file is read whole and a large one streamed
 * once (hashed as it is written).
 */
export async function addFile(store: ObjectStore, path: string, opts: { reflink?: boolean } = {}): Promise<AddedFile> {
  const { fh, before } = await openWorkspaceFile(path, 'added');
  try {
    const done = (r: PutResult, cloned = false): AddedFile => ({ ...r, mtimeMs: before.mtimeMs, ino: before.ino, cloned });
    if (opts.reflink === true && store.mayClone) {
      const cloned = await store
        .cloneIn(path, async (size) => {
          const after = await fh.stat();
          if (!unchanged(before, after, size)) throw new FileChangedError(path);
        })
        .catch((err: unknown) => {
          throw isErrno(err, 'ENOENT') ? vanished(path) : fromSystemError(err, path);
        });
      if (cloned) return done(cloned, cloned.cloned);
    }
    if (before.size <= SMALL_FILE) {
      const data = await fh.readFile();
      if (!unchanged(before, await fh.stat(), data.byteLength)) throw new FileChangedError(path);
      return done(await store.putBytes(data));
    }
    // one pass: hash and write each chunk while the next one is read
    const put = await store
      .putStreamed(async (write) => {
        let cur = Buffer.allocUnsafe(PIPE_CHUNK);
        let spare = Buffer.allocUnsafe(PIPE_CHUNK);
        let size = 0;
        let { bytesRead } = await fh.read(cur, 0, PIPE_CHUNK, null);
        while (bytesRead > 0) {
          size += bytesRead;
          const [, next] = await Promise.all([write(cur.subarray(0, bytesRead)), fh.read(spare, 0, PIPE_CHUNK, null)]);
          [cur, spare] = [spare, cur];
          bytesRead = next.bytesRead;
        }
        // before the object is published: a file that changed meanwhile is not stored at all
        if (!unchanged(before, await fh.stat(), size)) throw new FileChangedError(path);
      })
      .catch((err: unknown) => {
        throw fromSystemError(err, path);
      });
    return done(put);
  } finally {
    await fh.close();
  }
}

/** Hashes a workspace file without storing it, refusing it if it changes while being read. */
export async function hashWorkspaceFile(path: string): Promise<{ oid: Oid; size: number; ino: number; mtimeMs: number }> {
  const { fh, before } = await openWorkspaceFile(path, 'read');
  try {
    const { oid, size } = await hashHandle(fh);
    if (!unchanged(before, await fh.stat(), size)) throw new FileChangedError(path);
    return { oid, size, ino: before.ino, mtimeMs: before.mtimeMs };
  } finally {
    await fh.close();
  }
}

/** Opens a workspace file to read it (no links, no blocking), which must be a regular file; its stat before reading. */
async function openWorkspaceFile(path: string, verb: 'added' | 'read'): Promise<{ fh: FileHandle; before: Stats }> {
  let fh: FileHandle;
  try {
    fh = await open(path, WORKSPACE_READ);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw vanished(path, verb);
    throw fromSystemError(err, path);
  }
  try {
    const before = await fh.stat();
    if (!before.isFile()) throw new NotRegularFileError(path, 'file', before);
    return { fh, before };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The synchronous twin of `addFile` for files up to SMALL_FILE bytes: one open, two fstats, one
 * read, and (when the object is new) one exclusive create, write and rename. For 100,000 small
 * files the promise machinery of the async path costs more CPU than the system calls themselves,
 * so batches of small files run through this, on worker threads.
 */
export function addSmallFileSync(store: ObjectStore, path: string, opts: { reflink?: boolean } = {}): AddedFile {
  if (opts.reflink === true && store.mayClone) {
    let before: Stats;
    try {
      before = statSync(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw vanished(path);
      throw fromSystemError(err, path);
    }
    if (!before.isFile()) throw new NotRegularFileError(path, 'file', before);
    let cloned;
    try {
      cloned = store.cloneInSync(path, (size) => {
        const after = statSync(path);
        if (!unchanged(before, after, size) || after.ino !== before.ino) throw new FileChangedError(path);
      });
    } catch (err) {
      throw isErrno(err, 'ENOENT') ? vanished(path) : fromSystemError(err, path);
    }
    if (cloned) return { ...cloned, mtimeMs: before.mtimeMs, ino: before.ino };
  }
  const { data, st } = readSmallFileSync(path);
  // one result object per file, filled in (no spread copy): this runs 100,000 times in a large add
  const r = store.putBytesSync(data) as AddedFile;
  r.mtimeMs = st.mtimeMs;
  r.ino = st.ino;
  r.cloned = false;
  return r;
}

/**
 * Reads a whole small file, refusing it when it changes while being read (size or mtime moved
 * between the fstat before and the one after) or vanishes.
 */
export function readSmallFileSync(path: string): { data: Buffer; st: Stats } {
  let fd: number;
  try {
    fd = openSync(path, WORKSPACE_READ);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw vanished(path, 'read');
    throw fromSystemError(err, path);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(path, 'file', st);
    // one byte more than expected, so a file that grew is noticed without a second read
    const data = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const asked = data.length - n;
      const r = readSync(fd, data, n, asked, n);
      if (r === 0) break;
      n += r;
      // a read of a regular file stops short of what was asked only at its end
      if (n === data.length || r < asked) break;
    }
    const after = fstatSync(fd);
    if (n !== st.size || after.size !== st.size || after.mtimeMs !== st.mtimeMs) throw new FileChangedError(path);
    return { data: data.subarray(0, n), st };
  } catch (err) {
    throw fromSystemError(err, path);
  } finally {
    closeSync(fd);
  }
}

/** Hashes a small workspace file (read whole, refused if it changes meanwhile). */
export function hashSmallFileSync(path: string): { oid: Oid; size: number; mtimeMs: number; ino: number; created: false } {
  const { data, st } = readSmallFileSync(path);
  return { oid: hashBytes(data), size: data.byteLength, mtimeMs: st.mtimeMs, ino: st.ino, created: false };
}
