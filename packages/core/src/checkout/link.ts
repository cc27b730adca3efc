import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';
import { isUnsupportedHere, type LinkType } from '../util/link-support.js';
import { placeRaw, type PlaceItem } from './place.js';

/**
 * Materialises cache objects in the workspace with the first link type of `cache.type` that
 * works here. A type that fails with a "not supported" error is dropped for the rest of the run,
 * and the type that worked is remembered in `.tdvc/tmp` so the next run starts with it.
 * Hardlinks and symlinks point at read-only objects, so editing them cannot corrupt the cache.
 */
export class Linker {
  private types: LinkType[];
  private remembered = false;
  readonly fellBack: Array<{ from: LinkType; to: LinkType; reason: string }> = [];

  private constructor(
    types: LinkType[],
    private readonly memoFile: string | undefined,
    private readonly memoKey: string,
  ) {
    this.types = [...types];
  }

  static async create(types: LinkType[], stateDir?: string, cacheDir = ''): Promise<Linker> {
    const memoFile = stateDir ? join(stateDir, 'link-type.json') : undefined;
    const memoKey = `${types.join(',')}@${cacheDir}`;
    const linker = new Linker(types, memoFile, memoKey);
    if (memoFile) {
      try {
        const memo = JSON.parse(await readFile(memoFile, 'utf8')) as Record<string, LinkType>;
        const known = memo[memoKey];
        if (known && types.includes(known)) {
          linker.types = types.slice(types.indexOf(known));
          linker.remembered = true;
        }
      } catch {
        // no memo yet, or an unreadable one: probe again
      }
    }
    return linker;
  }

  /** The link type that will be tried first. */
  get current(): LinkType {
    return this.types[0] ?? 'copy';
  }

  /** Creates `it.dest` (which must not exist) as a link to / copy of the object; returns the type used. */
  async link(it: PlaceItem): Promise<LinkType> {
    for (;;) {
      const type = await this.tryCurrent(it);
      if (type) return type;
    }
  }

  /**
   * Like `link`, but where only a full copy is left it creates nothing and returns undefined, so
   * the caller can move the object itself into place instead.
   */
  async linkUnlessCopy(it: PlaceItem): Promise<LinkType | undefined> {
    while (this.current !== 'copy') {
      const type = await this.tryCurrent(it);
      if (type) return type;
    }
    return undefined;
  }

  /** One attempt with the current type; undefined when that type is not supported here (and dropped). */
  private async tryCurrent(it: PlaceItem): Promise<LinkType | undefined> {
    const type = this.current;
    try {
      // the same placement as checkout's worker threads: one switch over link types, not two
      placeRaw(type, { ...it, replace: false });
      await this.remember(type);
      return type;
    } catch (err) {
      if (!isUnsupportedHere(type, err)) throw err;
      await rm(it.dest, { force: true });
      // concurrent links may all fail with the same type; only the first one drops it
      if (this.types[0] === type) {
        if (this.types.length <= 1) throw err;
        this.types.shift();
        this.fellBack.push({ from: type, to: this.current, reason: (err as NodeJS.ErrnoException).code ?? 'error' });
      }
      return undefined;
    }
  }

  private async remember(type: LinkType): Promise<void> {
    if (this.remembered || !this.memoFile) return;
    this.remembered = true;
    let memo: Record<string, LinkType> = {};
    try {
      memo = JSON.parse(await readFile(this.memoFile, 'utf8')) as Record<string, LinkType>;
    } catch {
      // start a new memo
    }
    memo[this.memoKey] = type;
    await writeFileAtomic(this.memoFile, JSON.stringify(memo)).catch(() => {});
  }
}
