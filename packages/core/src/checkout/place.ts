import { chmodSync, closeSync, constants, copyFileSync, fstatSync, linkSync, openSync, readFileSync, statSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import type { LinkType } from '../workspace/config.js';

/** The error for a file that could not be put in its place in the workspace. */
export function placeError(err: unknown, dest: string): unknown {
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
 * Puts a cache object at `dest` directly (no scratch file and rename: on ext4 a rename across
 * folders costs several times the copy). A checkout journal, written before the first file, lets
 * a re-run recognise a file this left half-written if the process was killed.
 * `replace`: an older version is there (its content is in the cache) and goes first.
 * Returns the new file's inode and mtime for the stat index.
 */
export function placeFileSync(type: LinkType, objectPath: string, dest: string, exec: boolean, replace: boolean, size: number): [ino: number, mtimeMs: number] {
  try {
    if (replace) {
      try {
        unlinkSync(dest);
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) throw err;
      }
    }
    const mode = exec ? 0o755 : 0o644;
    switch (type) {
      case 'copy': {
        if (size > SMALL) {
          copyFileSync(objectPath, dest, constants.COPYFILE_EXCL);
          chmodSync(dest, mode);
          const out = statSync(dest);
          return [out.ino, out.mtimeMs];
        }
        // small files: one read, and a create with the right mode (no chmod, fstat instead of stat)
        const data = readFileSync(objectPath);
        const fd = openSync(dest, 'wx', mode);
        try {
          let off = 0;
          while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
          const out = fstatSync(fd);
          return [out.ino, out.mtimeMs];
        } finally {
          closeSync(fd);
        }
      }
      case 'reflink': {
        copyFileSync(objectPath, dest, constants.COPYFILE_FICLONE_FORCE | constants.COPYFILE_EXCL);
        chmodSync(dest, mode);
        const out = statSync(dest);
        return [out.ino, out.mtimeMs];
      }
      case 'hardlink': {
        linkSync(objectPath, dest);
        const out = statSync(dest);
        return [out.ino, out.mtimeMs];
      }
      case 'symlink': {
        symlinkSync(objectPath, dest);
        const out = statSync(dest);
        return [out.ino, out.mtimeMs];
      }
    }
  } catch (err) {
    throw placeError(err, dest);
  }
}
