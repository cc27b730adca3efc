import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSystemError, isErrno } from '../errors.js';
import { removeRegularFile } from '../util/fs.js';
import { NoFollowGuard, SymlinkInPathError } from '../util/no-follow.js';

/**
 * A folder of a cache root where tdvc keeps one small file per workspace or project
 * (`workspaces/`, `projects/`). The cache folder may come from a cloned repository's committed
 * config, and a shared cache is writable by the whole group: a `workspaces -> /elsewhere` link
 * planted there would make `gc --forget-workspace` delete, and every add write, in a folder tdvc
 * does not own. So the folder, and every entry tdvc reads, writes or deletes in it, must not be a
 * link (the rule NoFollowGuard enforces for the object layout); a link stops the command with one
 * ESYMLINK error naming it, before anything is touched.
 *
 * As everywhere in tdvc, this is a check before the operation, not an atomic no-follow one.
 */
export class RecordFolder {
  readonly dir: string;
  private readonly guard: NoFollowGuard;

  constructor(cacheDir: string, name: string) {
    this.dir = join(cacheDir, name);
    this.guard = new NoFollowGuard(cacheDir, { absolute: true, action: 'read, write or delete' });
  }

  /** Refuses the folder (or a folder above it, up to the cache) being a link. */
  check(): void {
    this.guard.dir(this.dir);
  }

  /** The path of entry `name`, once the folder and the entry itself are known not to be links. */
  entry(name: string): string {
    const file = join(this.dir, name);
    this.guard.target(file);
    return file;
  }

  /**
   * The names in the folder; refuses the folder or an entry being a link. [] when it does not exist
   * yet (before any add). One that exists but cannot be listed (permission denied) is an error: gc
   * must never take records it cannot see for no records.
   */
  async list(): Promise<string[]> {
    this.guard.dir(this.dir);
    const entries = await readdir(this.dir, { withFileTypes: true }).catch((err: unknown) => {
      if (isErrno(err, 'ENOENT')) return [];
      throw fromSystemError(err, this.dir);
    });
    const link = entries.find((e) => e.isSymbolicLink());
    if (link) throw new SymlinkInPathError(join(this.dir, link.name), join(this.dir, link.name), 'read, write or delete');
    return entries.map((e) => e.name);
  }

  /** Deletes entry `name` if it is a regular file; whether it did. A link is refused, never followed. */
  async remove(name: string): Promise<boolean> {
    return (await removeRegularFile(this.entry(name))) === 'removed';
  }
}
