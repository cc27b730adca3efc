import { fmix32 } from '../hash/mix.js';
import type { Oid } from '../hash/oid.js';

/** What marking needs of a set of ids. */
export interface OidSink {
  add(oid: Oid): unknown;
  has(oid: Oid): boolean;
}

/**
 * A set of object ids that costs ~12 bytes per id instead of ~100 for a `Set<string>`: it keeps
 * the first 64 bits of each id in an open-addressing table. Two ids sharing their first 64 bits
 * count as one, so `has` may say yes for an id never added (about n² / 2⁶⁵: 3·10⁻⁶ at ten
 * million ids). That is safe only where a false yes errs on the side of keeping: gc's set of
 * referenced objects (an object wrongly counted as referenced is kept), never a set that decides
 * what to skip.
 */
export class OidPrefixSet implements OidSink {
  private table = new Uint32Array(2 * 1024);
  private mask = 1023;
  private count = 0;
  /** the one key that cannot live in the table (it marks empty slots) */
  private zero = false;
  /** the longest run of slots an insert has walked (the table's health: stays small) */
  longestProbe = 0;

  get size(): number {
    return this.count + (this.zero ? 1 : 0);
  }

  add(oid: Oid): this {
    const hi = parseInt(oid.slice(0, 8), 16) >>> 0;
    const lo = parseInt(oid.slice(8, 16), 16) >>> 0;
    if (hi === 0 && lo === 0) {
      this.zero = true;
      return this;
    }
    if ((this.count + 1) * 10 > (this.mask + 1) * 7) this.grow();
    if (this.insert(hi, lo)) this.count++;
    return this;
  }

  has(oid: Oid): boolean {
    const hi = parseInt(oid.slice(0, 8), 16) >>> 0;
    const lo = parseInt(oid.slice(8, 16), 16) >>> 0;
    if (hi === 0 && lo === 0) return this.zero;
    const t = this.table;
    for (let i = slotOf(hi, lo) & this.mask; ; i = (i + 1) & this.mask) {
      const h = t[2 * i]!;
      const l = t[2 * i + 1]!;
      if (h === 0 && l === 0) return false;
      if (h === hi && l === lo) return true;
    }
  }

  private insert(hi: number, lo: number): boolean {
    const t = this.table;
    for (let i = slotOf(hi, lo) & this.mask, walked = 1; ; i = (i + 1) & this.mask, walked++) {
      const h = t[2 * i]!;
      const l = t[2 * i + 1]!;
      if (walked > this.longestProbe) this.longestProbe = walked;
      if (h === 0 && l === 0) {
        t[2 * i] = hi;
        t[2 * i + 1] = lo;
        return true;
      }
      if (h === hi && l === lo) return false;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    this.mask = this.mask * 2 + 1;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0 || old[i + 1] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}

/**
 * Spreads a key over the table. Ids are hashes, but the table must not rely on that: ids that
 * share bits (made up ones, or a hostile cache's) would otherwise fill one run of slots and make
 * every probe walk it (linear probing turns quadratic).
 */
function slotOf(hi: number, lo: number): number {
  return fmix32(lo ^ fmix32(hi ^ 0x9e3779b9));
}
