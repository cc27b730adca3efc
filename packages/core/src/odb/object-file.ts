import { closeSync, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';
import { createHasher } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { ExitCode, fromSystemError, isErrno, MissingObjectError, TdvcError } from '../errors.js';
import { fileKind, NO_FOLLOW_READ } from '../util/safe-read.js';

/**
 * A cache entry that cannot be used as the object its name says: not a regular file (a link, a
 * FIFO, a device: anyone in a shared cache's group can put one there), not of the size the
 * manifest records, or bytes that do not hash to its name. Thrown where the entry is read; the
 * caller decides whether to quarantine it (see ObjectStore.quarantine).
 */
export class RejectedObjectError extends TdvcError {
  constructor(
    readonly oid: Oid,
    path: string,
    readonly reason: string,
    hint = "run 'tdvc fsck' to quarantine it, then fetch it again ('tdvc pull') or re-add the original file",
  ) {
    super('EBADOBJECT', `cache entry ${path} is not usable as object ${oid}: ${reason}`, {
      path,
      exitCode: ExitCode.integrity,
      data: { oid, reason },
      hint,
    });
  }
}

/**
 * What to do about a folder under an object's name: tdvc never moves or deletes a folder it did not
 * make (it may hold anything), so neither checkout nor fsck quarantines it; the user must.
 */
export const FOREIGN_FOLDER_HINT =
  "tdvc never moves or deletes a folder it did not make: look at what it holds, move it out of the cache yourself, then run 'tdvc pull' (or re-add the original file)";

/**
 * Opens a cache object for reading: never through a symbolic link, never blocking on a FIFO
 * (O_NONBLOCK), only a regular file, and of `expectedSize` bytes when given. The checks are made
 * on the open descriptor, so the file read is the file checked.
 */
export function openObjectSync(oid: Oid, path: string, expectedSize?: number): { fd: number; st: Stats } {
  let fd: number;
  try {
    fd = openSync(path, NO_FOLLOW_READ);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new MissingObjectError(oid, 'object');
    if (isErrno(err, 'ELOOP')) throw new RejectedObjectError(oid, path, 'it is a symbolic link');
    if (isErrno(err, ...UNOPENABLE)) throw new RejectedObjectError(oid, path, unopenableKind(lstatSafeSync(path)));
    throw fromSystemError(err, path);
  }
  try {
    const st = fstatSync(fd);
    checkEntry(oid, path, st, expectedSize);
    return { fd, st };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** The promise twin of openObjectSync. */
export async function openObject(oid: Oid, path: string, expectedSize?: number): Promise<{ fh: FileHandle; st: Stats }> {
  let fh: FileHandle;
  try {
    fh = await open(path, NO_FOLLOW_READ);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) throw new MissingObjectError(oid, 'object');
    if (isErrno(err, 'ELOOP')) throw new RejectedObjectError(oid, path, 'it is a symbolic link');
    if (isErrno(err, ...UNOPENABLE)) throw new RejectedObjectError(oid, path, unopenableKind(await lstat(path).catch(() => undefined)));
    throw fromSystemError(err, path);
  }
  try {
    const st = await fh.stat();
    checkEntry(oid, path, st, expectedSize);
    return { fh, st };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * What open(2) answers for entries that are never regular files: a UNIX socket (ENXIO), a device
 * node without a driver (ENXIO, ENODEV). A FIFO opens at once with O_NONBLOCK and is refused by
 * checkEntry; these are refused here, the same way (an error the caller quarantines, not a raw
 * system error that stops a whole checkout or fsck).
 */
const UNOPENABLE = ['ENXIO', 'ENODEV'] as const;

function unopenableKind(st: Stats | undefined): string {
  return st ? `it is ${fileKind(st)}` : 'it cannot be opened as a file';
}

function lstatSafeSync(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function checkEntry(oid: Oid, path: string, st: Stats, expectedSize: number | undefined): void {
  if (st.isDirectory()) throw new RejectedObjectError(oid, path, 'it is a folder', FOREIGN_FOLDER_HINT);
  if (!st.isFile()) throw new RejectedObjectError(oid, path, `it is ${fileKind(st)}`);
  if (expectedSize !== undefined && st.size !== expectedSize) {
    throw new RejectedObjectError(oid, path, `it has ${st.size} bytes where ${expectedSize} are recorded`);
  }
}

/** Reads a whole object from an open descriptor (size known from its fstat); a file that grows is refused. */
export function readAllSync(fd: number, size: number, oid: Oid, path: string, scratch?: Buffer): Buffer {
  // `scratch`, when it is large enough, holds the bytes instead of a new buffer (the result is
  // then a view of it, valid until the caller's next use of it)
  const data = scratch && scratch.length > size ? scratch : Buffer.allocUnsafe(size + 1);
  let n = 0;
  for (;;) {
    const asked = data.length - n;
    const r = readSync(fd, data, n, asked, n);
    if (r === 0) break;
    n += r;
    if (n > size) break;
    // a read of a regular file stops short of what was asked only at its end: no second read to see it
    if (n === size && r < asked) break;
  }
  if (n !== size) throw new RejectedObjectError(oid, path, `it changed size while being read (${n} bytes)`);
  return data.subarray(0, n);
}

const CHUNK = 4 << 20;

/** Feeds every chunk an open descriptor holds, from offset 0, to `onChunk`; returns the byte count. */
export function readChunksSync(fd: number, onChunk: (chunk: Buffer) => void): number {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  for (;;) {
    const r = readSync(fd, buf, 0, CHUNK, pos);
    if (r === 0) return pos;
    onChunk(buf.subarray(0, r));
    pos += r;
  }
}

/** BLAKE3 of everything an open descriptor holds, read from offset 0. */
export function hashFdSync(fd: number): string {
  const h = createHasher();
  readChunksSync(fd, (chunk) => h.update(chunk));
  return h.digestHex();
}
