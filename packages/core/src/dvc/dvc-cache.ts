import { closeSync, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, fromSystemError, isErrno, TdvcError } from '../errors.js';
import { fileKind, NO_FOLLOW_READ } from '../util/safe-read.js';
import type { DvcHashKind } from './parse-dvc-file.js';

/** Where DVC objects are read from: the DVC cache, then a DVC folder remote (same layouts). */
export interface DvcObjectRoot {
  dir: string;
  /** for messages: "the DVC cache", "DVC remote storage" */
  label: string;
}

export interface OpenedDvcObject {
  fh: FileHandle;
  size: number;
  path: string;
  root: DvcObjectRoot;
}

/** DVC's `.dir` listings are read into memory: larger ones are refused. */
export const DVC_DIR_LIMIT = 256 << 20;

/**
 * An entry in a DVC cache or remote that cannot be read as the object its name says: a symbolic
 * link (DVC's `cache.type symlink` links workspace files to the cache, never cache entries
 * elsewhere; a link there can point anywhere on this machine), a folder, FIFO or device, or a
 * link among the folders leading to it.
 */
export class DvcObjectRejectedError extends TdvcError {
  constructor(path: string, reason: string) {
    super('EBADOBJECT', `DVC object ${path} is not usable: ${reason}`, {
      path,
      exitCode: ExitCode.integrity,
      hint: "tdvc reads DVC objects only as regular files, never through links: restore it with 'dvc fetch' or 'dvc cache migrate'",
    });
  }
}

/**
 * Reads objects of DVC caches and folder remotes, both layouts: DVC 3 `files/md5/ab/cdef…` for
 * `hash: md5` outputs, DVC 2 `ab/cdef…` for older ones (each layout tried after the other: a DVC 3
 * cache holds 2.x outputs in the old place). Never through a symbolic link, neither the object
 * nor a folder between the root and it; only regular files.
 */
export class DvcObjects {
  private readonly realDirs = new Set<string>();

  constructor(readonly roots: readonly DvcObjectRoot[]) {}

  /** The relative places an object may be, most likely first. */
  static candidates(md5: string, kind: DvcHashKind, dir: boolean): string[] {
    const tail = [md5.slice(0, 2), md5.slice(2) + (dir ? '.dir' : '')];
    const v3 = ['files', 'md5', ...tail].join('/');
    const v2 = tail.join('/');
    return kind === 'md5' ? [v3, v2] : [v2, v3];
  }

  /** The first copy found, opened; undefined when no root holds it. */
  async open(md5: string, kind: DvcHashKind, dir: boolean): Promise<OpenedDvcObject | undefined> {
    for (const root of this.roots) {
      for (const rel of DvcObjects.candidates(md5, kind, dir)) {
        const got = await this.openAt(root, rel);
        if (got) return got;
      }
    }
    return undefined;
  }

  /**
   * The synchronous twin of `open` for objects read whole: one open, one fstat, reads and a close
   * on the calling thread (no hop to the libuv pool and back per call, which is what 10,000 small
   * objects cost most). The bytes, `{ size }` when larger than `maxBytes` (read them with `open`),
   * or undefined when no root holds the object.
   */
  readSmallSync(md5: string, kind: DvcHashKind, dir: boolean, maxBytes: number): { data: Buffer; path: string } | { size: number; path: string } | undefined {
    for (const root of this.roots) {
      for (const rel of DvcObjects.candidates(md5, kind, dir)) {
        const path = this.pathIfReal(root, rel);
        if (path === undefined) continue;
        let fd: number;
        try {
          fd = openSync(path, NO_FOLLOW_READ);
        } catch (err) {
          if (isErrno(err, 'ENOENT', 'ENOTDIR')) continue;
          if (isErrno(err, 'ELOOP')) throw new DvcObjectRejectedError(path, 'it is a symbolic link');
          if (isErrno(err, 'ENXIO', 'ENODEV')) throw new DvcObjectRejectedError(path, 'it is not a regular file');
          throw fromSystemError(err, path);
        }
        try {
          const st = fstatSync(fd);
          if (!st.isFile()) throw new DvcObjectRejectedError(path, `it is ${fileKind(st)}`);
          if (st.size > maxBytes) return { size: st.size, path };
          const data = Buffer.allocUnsafe(st.size + 1);
          let n = 0;
          for (;;) {
            const r = readSync(fd, data, n, data.length - n, n);
            if (r === 0) break;
            n += r;
            if (n > st.size) break;
          }
          if (n !== st.size) throw new DvcObjectRejectedError(path, `it changed size while being read (${n} bytes, ${st.size} expected)`);
          return { data: data.subarray(0, n), path };
        } finally {
          closeSync(fd);
        }
      }
    }
    return undefined;
  }

  /** The object's path when every folder leading to it is a real folder (never a link); undefined when one is missing. */
  private pathIfReal(root: DvcObjectRoot, rel: string): string | undefined {
    const parts = rel.split('/');
    let cur = root.dir;
    for (const seg of parts.slice(0, -1)) {
      cur = join(cur, seg);
      if (this.realDirs.has(cur)) continue;
      let st: Stats;
      try {
        st = lstatSync(cur);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
        throw fromSystemError(err, cur);
      }
      if (st.isSymbolicLink()) throw new DvcObjectRejectedError(cur, 'a folder on the way to it is a symbolic link');
      if (!st.isDirectory()) return undefined;
      this.realDirs.add(cur);
    }
    return join(root.dir, ...parts);
  }

  private async openAt(root: DvcObjectRoot, rel: string): Promise<OpenedDvcObject | undefined> {
    const path = this.pathIfReal(root, rel);
    if (path === undefined) return undefined;
    let fh: FileHandle;
    try {
      fh = await open(path, NO_FOLLOW_READ);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      if (isErrno(err, 'ELOOP')) throw new DvcObjectRejectedError(path, 'it is a symbolic link');
      if (isErrno(err, 'ENXIO', 'ENODEV')) throw new DvcObjectRejectedError(path, 'it is not a regular file');
      throw fromSystemError(err, path);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new DvcObjectRejectedError(path, `it is ${fileKind(st)}`);
      return { fh, size: st.size, path, root };
    } catch (err) {
      await fh.close();
      throw err;
    }
  }
}

/** The whole content of an opened object whose size was checked; a file that grows or shrinks is refused. */
export async function readOpened(obj: OpenedDvcObject): Promise<Buffer> {
  const data = Buffer.allocUnsafe(obj.size + 1);
  let n = 0;
  for (;;) {
    const { bytesRead } = await obj.fh.read(data, n, data.length - n, n);
    if (bytesRead === 0) break;
    n += bytesRead;
    if (n > obj.size) break;
  }
  if (n !== obj.size) throw new DvcObjectRejectedError(obj.path, `it changed size while being read (${n} bytes, ${obj.size} expected)`);
  return data.subarray(0, n);
}
