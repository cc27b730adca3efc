import { readdirSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { isErrno } from '../errors.js';
import { hashFile } from '../hash/blake3.js';
import { isOid, type Oid } from '../hash/oid.js';
import { writeFileAtomic } from '../util/fs.js';

/** Pulled objects at least this large are moved into the workspace rather than copied (see HeldObjects). */
export const HAND_OVER_MIN_SIZE = 64 << 20;

interface HeldRecord {
  /** the file, relative to the workspace root, with forward slashes */
  path: string;
  /** written before the move: the file's identity is not known yet (see `expect`) */
  pending?: true;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

async function identity(path: string): Promise<Omit<HeldRecord, 'path'> | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    if (!st.isFile()) return undefined;
    return { ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs) };
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}

/**
 * The records of objects whose only local copy is a workspace file (kept in `.tdvc/tmp/held/`, one
 * per object; LocalObjects is what commands use). Where the workspace cannot share blocks with
 * the cache (no reflinks, e.g. ext4), `pull` moves a large object it has just downloaded into the
 * workspace instead of copying it: the data is written once instead of twice, and takes its size
 * on disk once. A record here lets later commands use that file as the object while it is
 * unchanged, and put it back into the cache (a rename) before a checkout replaces or deletes it.
 *
 * A record holds only while the file keeps the path, inode, size, mtime and ctime it had when it
 * was recorded (not the device number, which some file systems change across mounts). Any write
 * changes the ctime, and no tool can set a ctime back, so a file that passes is still exactly the
 * object; one that fails is the user's edit and is treated as such.
 */
export class HeldObjects {
  constructor(
    private readonly dir: string,
    private readonly workspaceRoot: string,
  ) {}

  /**
   * Notes, before the object is moved, that `absPath` is about to hold `oid`. Should the process
   * be killed before `record`, the next command hashes the file to decide whether it is the object,
   * so the only local copy is never mistaken for a user's change.
   */
  async expect(oid: Oid, absPath: string): Promise<void> {
    await this.write(oid, { path: this.relPath(absPath), pending: true, ino: '', size: '', mtimeNs: '', ctimeNs: '' });
  }

  /** Records that `absPath` now holds `oid` and the cache does not. */
  async record(oid: Oid, absPath: string): Promise<void> {
    const id = await identity(absPath);
    if (id) await this.write(oid, { path: this.relPath(absPath), ...id });
    else await this.release(oid);
  }

  private relPath(absPath: string): string {
    return relative(this.workspaceRoot, absPath).split(sep).join('/');
  }

  private async write(oid: Oid, rec: HeldRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, oid), JSON.stringify(rec));
  }

  async release(oid: Oid): Promise<void> {
    await rm(join(this.dir, oid), { force: true });
  }

  /**
   * The recorded files that are unchanged, as object id → absolute path. Records of changed or
   * vanished files are dropped. (Whether the cache holds the object again is LocalObjects' call.)
   */
  async unchanged(): Promise<Map<Oid, string>> {
    const out = new Map<Oid, string>();
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return out;
      throw err;
    }
    for (const name of names) {
      if (!isOid(name)) continue;
      const path = await this.check(name);
      if (path === undefined) await this.release(name);
      else out.set(name, path);
    }
    return out;
  }

  private async check(oid: Oid): Promise<string | undefined> {
    let rec: HeldRecord;
    try {
      rec = JSON.parse(await readFile(join(this.dir, oid), 'utf8')) as HeldRecord;
    } catch {
      return undefined;
    }
    if (typeof rec?.path !== 'string') return undefined;
    const abs = resolve(this.workspaceRoot, ...rec.path.split('/'));
    const now = await identity(abs);
    if (!now) return undefined;
    if (rec.pending) {
      // a move cut short: the file is the object only if it hashes to it
      if ((await hashFile(abs)).oid !== oid) return undefined;
      await this.record(oid, abs);
      return abs;
    }
    const same = now.ino === rec.ino && now.size === rec.size && now.mtimeNs === rec.mtimeNs && now.ctimeNs === rec.ctimeNs;
    return same ? abs : undefined;
  }
}
