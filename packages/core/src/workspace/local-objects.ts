import { chmod } from 'node:fs/promises';
import { CorruptObjectError } from '../errors.js';
import type { Oid } from '../hash/oid.js';
import type { ObjectStore } from '../odb/store.js';
import { addFile } from '../index/ingest.js';
import type { HeldObjects } from './held.js';

/**
 * This project's view of the objects it has locally: the cache (which may be shared with other
 * projects and machines) plus the objects only one of its own workspace files holds (see
 * HeldObjects: `pull` moves large downloads into the workspace where a copy is the only way).
 * Held records belong to a project, the store may not, so the view is per project. Every "is it
 * local?" question, and every move of object bytes between the workspace and the cache, goes
 * through here: commands never rename files into or out of the store themselves.
 *
 * The held files are read once per instance (Repo keeps one per command) and kept up to date by
 * the moves made through it.
 */
export class LocalObjects {
  private held: Map<Oid, string> | undefined;

  constructor(
    readonly store: ObjectStore,
    private readonly records: HeldObjects,
  ) {}

  /**
   * The objects only an unchanged workspace file holds, object → file. Records of changed files,
   * and of objects the cache holds again, are dropped.
   */
  async heldFiles(): Promise<ReadonlyMap<Oid, string>> {
    if (!this.held) {
      const held = new Map<Oid, string>();
      for (const [oid, file] of await this.records.unchanged()) {
        if (await this.store.has(oid)) await this.records.release(oid);
        else held.set(oid, file);
      }
      this.held = held;
    }
    return this.held;
  }

  /**
   * Starts listing the cache (on a thread when it is large: see ObjectStore.listing) for a
   * `presence` asked later; a failure shows there. Only while this process writes no objects.
   */
  startListing(): void {
    this.store.listing().catch(() => {});
  }

  /** A membership test for planners that ask per entry: the cache's listing and the held files. */
  async presence(): Promise<(oid: Oid) => boolean> {
    const cached = await this.store.listing();
    const held = await this.heldFiles();
    return (oid) => cached.has(oid) || held.has(oid);
  }

  /** Which of `oids` are local. */
  async hasMany(oids: Iterable<Oid>): Promise<Set<Oid>> {
    const list = [...oids];
    const present = await this.store.hasMany(list);
    const held = await this.heldFiles();
    for (const oid of list) if (held.has(oid)) present.add(oid);
    return present;
  }

  /**
   * Makes every one of `oids` that only a workspace file holds a cache object too, copied and
   * hashed as it is read: a file edited meanwhile is refused, never stored under the object's name
   * (and never uploaded as it). The file stays where it is, an ordinary workspace file.
   */
  async ensureInCache(oids: Iterable<Oid>): Promise<void> {
    const held = await this.heldFiles();
    for (const oid of new Set(oids)) {
      const file = held.get(oid);
      if (file !== undefined) await this.copyIn(oid, file);
    }
  }

  /**
   * Before a checkout replaces or deletes a held file: it becomes the cache object again, by a
   * rename (the bytes are not written again; killed midway, the object is either still the file or
   * already in the cache). Copied when the cache is on another file system by now.
   */
  async putBack(oid: Oid, file: string): Promise<void> {
    if ((await this.store.adoptFile(oid, file)) === 'other-fs') return this.copyIn(oid, file);
    await this.dropRecord(oid);
  }

  /**
   * pull's hand-over: moves an object just downloaded out of the cache to `dest`, which becomes its
   * only local copy. Recorded before the move (a kill in between is settled by hashing the file)
   * and after it. False, with nothing changed, when `dest` is on another file system.
   */
  async handOver(oid: Oid, dest: string, mode: number): Promise<boolean> {
    await this.records.expect(oid, dest);
    let moved: 'moved' | 'other-fs';
    try {
      moved = await this.store.moveOut(oid, dest);
    } catch (err) {
      await this.records.release(oid);
      throw err;
    }
    if (moved === 'other-fs') {
      await this.records.release(oid);
      return false;
    }
    await chmod(dest, mode);
    await this.records.record(oid, dest);
    // a view loaded later reads the record; one loaded already learns it here
    this.held?.set(oid, dest);
    return true;
  }

  /** After a chmod of a held file (which changes its ctime): it still holds its object. */
  async touchedHeldFile(oid: Oid, file: string): Promise<void> {
    if ((await this.heldFiles()).get(oid) === file) await this.records.record(oid, file);
  }

  private async copyIn(oid: Oid, file: string): Promise<void> {
    const put = await addFile(this.store, file);
    if (put.oid !== oid) throw new CorruptObjectError(oid, put.oid, file);
    await this.dropRecord(oid);
  }

  private async dropRecord(oid: Oid): Promise<void> {
    await this.records.release(oid);
    this.held?.delete(oid);
  }
}
