import { chmodSync, closeSync, constants, copyFileSync, existsSync, fstatSync, linkSync, lstatSync, openSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import { hashBytes } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { hashFdSync, openObjectSync, readAllSync, RejectedObjectError } from '../odb/object-file.js';
import type { LinkType } from '../util/link-support.js';

/** The error for a file that could not be put in its place in the workspace. */
export function placeError(err: unknown, dest: string): unknown {
  if (err instanceof TdvcError) return err;
  if (isErrno(err, 'EEXIST') && !isFolder(dest)) {
    // a file the workspace scan did not report: one a .tdvcignore rule hides (files are only ever
    // created exclusively, so it is never overwritten), or one made while the checkout ran
    return new TdvcError('EBLOCKED', `cannot write ${dest}: a file the checkout did not expect is there (ignored by a .tdvcignore rule, or new)`, {
      path: dest,
      hint: 'tdvc never overwrites a file it did not see: move it away (or drop the rule) and run the checkout again',
    });
  }
  if (isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) {
    return new TdvcError('EBLOCKED', `cannot write ${dest}: a folder is in the way`, {
      path: dest,
      hint: 'move the folder away, or run the checkout on the whole dataset with --force',
    });
  }
  return fromSystemError(err, dest);
}

const SMALL = 8 << 20;
/**
 * The bytes of the file being copied, when they fit: one buffer per thread instead of one per file
 * (a checkout of 100,000 small files allocated and collected 100,000 buffers).
 */
const SCRATCH_BYTES = 1 << 20;
let scratch: Buffer | undefined;

/** One file to place: the object, where it goes, and how. */
export interface PlaceItem {
  oid: Oid;
  objectPath: string;
  dest: string;
  exec: boolean;
  /** an older version is there (its content is in the cache) and goes first */
  replace: boolean;
  /** the size the manifest records */
  size: number;
  /** hash the object's bytes as they are placed (cache.verify) */
  verify: boolean;
}

/**
 * Puts a cache object at `dest` directly (no scratch file and rename: on ext4 a rename across
 * folders costs several times the copy). A checkout journal, written before the first file, lets
 * a re-run recognise a file this left half-written if the process was killed.
 *
 * The object is opened without following links or blocking, must be a regular file of the
 * recorded size, and with `verify` must hash to its name; otherwise RejectedObjectError, and the
 * workspace keeps no file with its bytes (a copy is checked before it is written where it fits in
 * memory, and removed when the check fails at its end). The link is made from the descriptor that
 * was checked (`/proc/self/fd`), so a cache entry swapped meanwhile is never what is placed.
 * Errors are raw system errors (the Linker tells "not supported here" by their codes).
 * Returns the new file's inode and mtime for the stat index.
 */
export function placeRaw(type: LinkType, it: PlaceItem): [ino: number, mtimeMs: number] {
  const { fd, st } = openObjectSync(it.oid, it.objectPath, it.size);
  const src = fdPath(fd, it.objectPath);
  const reject = (reason: string): never => {
    throw new RejectedObjectError(it.oid, it.objectPath, reason);
  };
  const mode = it.exec ? 0o755 : 0o644;
  try {
    if (type === 'copy' && it.size <= SMALL) {
      // small files: one read (checked before anything is written), and a create with the right mode
      scratch ??= Buffer.allocUnsafe(SCRATCH_BYTES);
      const data = readAllSync(fd, it.size, it.oid, it.objectPath, scratch);
      if (it.verify && hashBytes(data) !== it.oid) reject('its bytes do not hash to its name');
      if (it.replace) unlinkIfThere(it.dest);
      const out = openSync(it.dest, 'wx', mode);
      try {
        let off = 0;
        while (off < data.byteLength) off += writeSync(out, data, off, data.byteLength - off);
        const got = fstatSync(out);
        return [got.ino, got.mtimeMs];
      } finally {
        closeSync(out);
      }
    }
    if (type === 'hardlink' || type === 'symlink') {
      if (it.verify && hashFdSync(fd) !== it.oid) reject('its bytes do not hash to its name');
      if (it.replace) unlinkIfThere(it.dest);
      if (type === 'hardlink') linkSync(it.objectPath, it.dest);
      else symlinkSync(it.objectPath, it.dest);
      // the name was linked, not the descriptor: it must still be the entry that was checked
      const got = lstatSync(it.dest);
      const now = type === 'hardlink' ? got : statSync(it.dest);
      if (now.ino !== st.ino || now.dev !== st.dev) {
        unlinkIfThere(it.dest);
        reject('it was replaced while it was being linked');
      }
      return [got.ino, got.mtimeMs];
    }
    if (it.replace) unlinkIfThere(it.dest);
    copyFileSync(src, it.dest, type === 'reflink' ? constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL : constants.COPYFILE_EXCL);
    chmodSync(it.dest, mode);
    const got = statSync(it.dest);
    if (got.size !== it.size) {
      unlinkIfThere(it.dest);
      reject(`its copy has ${got.size} bytes`);
    }
    if (it.verify) {
      // the copy (or clone) is this checkout's own file: hashing it checks exactly what the
      // workspace got, and costs a read from the page cache after the kernel's copy (measured on
      // a 1 GiB file, 5 alternating runs: 1.66 s against 3.17 s for read, hash and write in one
      // pass on one thread)
      const check = openSync(it.dest, 'r');
      try {
        if (hashFdSync(check) !== it.oid) {
          unlinkIfThere(it.dest);
          reject('its bytes do not hash to its name');
        }
      } finally {
        closeSync(check);
      }
    }
    return [got.ino, got.mtimeMs];
  } finally {
    closeSync(fd);
  }
}

/** placeRaw with errors named for the user (worker threads and the planned-type path use this). */
export function placeFileSync(type: LinkType, it: PlaceItem): [ino: number, mtimeMs: number] {
  try {
    return placeRaw(type, it);
  } catch (err) {
    throw placeError(err, it.dest);
  }
}

/** Row of a placement whose object was rejected (see RejectedObjectError): the caller quarantines it. */
export const REJECTED: [ino: number, mtimeMs: number] = [-1, 0];

/** placeFileSync, with a rejected object as a REJECTED row instead of an error (one bad object must not stop the rest). */
export function placeOrReject(type: LinkType, it: PlaceItem): [ino: number, mtimeMs: number] {
  try {
    return placeFileSync(type, it);
  } catch (err) {
    if (err instanceof RejectedObjectError) return REJECTED;
    throw err;
  }
}

/** The open descriptor as a path (Linux), so copyFile copies exactly the file that was checked. */
function fdPath(fd: number, fallback: string): string {
  procFd ??= existsSync('/proc/self/fd');
  return procFd ? `/proc/self/fd/${fd}` : fallback;
}

let procFd: boolean | undefined;

function unlinkIfThere(p: string): void {
  try {
    unlinkSync(p);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
}

function isFolder(p: string): boolean {
  try {
    return lstatSync(p).isDirectory();
  } catch {
    return false;
  }
}
