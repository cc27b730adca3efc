import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';

/**
 * Opening flags for files a stranger may have committed or planted: a symlink is refused by the
 * kernel (ELOOP) instead of followed, and a FIFO opens at once instead of blocking until a writer
 * comes (the type is then checked with fstat on the open descriptor, so nothing can be swapped in
 * between the check and the read).
 */
export const NO_FOLLOW_READ = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Opening flags for workspace files being added or hashed: links were vetted by the walk (see
 * walkFiles), but a file swapped for a FIFO since then must not block the command.
 */
export const WORKSPACE_READ = constants.O_RDONLY | constants.O_NONBLOCK;

/** Small files tdvc reads from a repository: pointer files, config, .gitignore, hooks. */
export const SMALL_TEXT_LIMIT = 1 << 20;

export class SymlinkRefusedError extends TdvcError {
  constructor(path: string, what: string) {
    super('ESYMLINK', `${what} ${path} is a symbolic link; tdvc does not follow links there`, {
      path,
      hint: 'replace the link by a regular file (or folder); a link committed by someone else can point anywhere on this machine',
    });
  }
}

export class NotRegularFileError extends TdvcError {
  constructor(path: string, what: string, st: Stats) {
    super('EBADFILE', `${what} ${path} is not a regular file (${fileKind(st)})`, { path, hint: 'remove it, or restore it from Git' });
  }
}

export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * Reads a small text file that may come from someone else: never through a symlink, only a regular
 * file, at most `limit` bytes (a pointer file is a few hundred). Undefined when it does not exist.
 */
export async function readSmallText(path: string, what: string, limit = SMALL_TEXT_LIMIT): Promise<string | undefined> {
  let fh;
  try {
    fh = await open(path, NO_FOLLOW_READ);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    if (isErrno(err, 'ELOOP')) throw new SymlinkRefusedError(path, what);
    throw fromSystemError(err, path);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new NotRegularFileError(path, what, st);
    if (st.size > limit) throw tooBig(path, what, st.size, limit);
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > st.size) throw tooBig(path, what, n, limit);
    }
    return buf.toString('utf8', 0, n);
  } finally {
    await fh.close();
  }
}

function tooBig(path: string, what: string, size: number, limit: number): TdvcError {
  return new TdvcError('ETOOBIG', `${what} ${path} is too large to be one (${size} bytes; the limit is ${limit})`, {
    path,
    hint: 'restore it from Git; tdvc never writes one that large',
  });
}
