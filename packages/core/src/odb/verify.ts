import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Oid } from '../hash/oid.js';
import { isFanName, layoutDir, oidOfEntry } from '../objects/layout.js';
import { forEachLimit, isTempName, removeStaleTemp, STALE_TEMP_AGE_MS } from '../util/fs.js';
import { PROJECTS_DIR, type ObjectStore } from './store.js';
import { RejectedObjectError } from './object-file.js';
import { CACHE_VERIFY_AT_ONCE } from '../util/concurrency.js';

export interface VerifyReport {
  checked: number;
  corrupt: Array<{ oid: Oid; found: string; quarantinedAs: string }>;
  /** temp files of writers that died (same host, process gone) or older than the age limit */
  removedTemps: string[];
  /**
   * Entries tdvc did not make, left in place and not checked: a folder under an object's name, a
   * link or file where one of the cache's own folders belongs. Each is a problem (fsck fails): the
   * objects they stand for cannot be used until the user moves them away.
   */
  skipped?: string[];
}

export interface VerifyOptions {
  /** temp files of other hosts older than this are treated as abandoned */
  tempMaxAgeMs?: number;
  jobs?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * fsck of a store: re-hashes every object, moves corrupt ones to `<root>/quarantine/` (never
 * deletes them: they may be the only copy someone can still partly use), and removes temp files
 * left behind by killed writers. The cache folder comes from a possibly committed config and may
 * be any folder of the user's: only exact `uniqueTempName()` files are ever deleted, and only
 * exact object names are touched.
 */
export async function verifyStore(odb: ObjectStore, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, corrupt: [], removedTemps: [], skipped: [] };
  const base = layoutDir(odb.root);
  const maxAge = opts.tempMaxAgeMs ?? STALE_TEMP_AGE_MS;
  const objects: Oid[] = [];
  const sweep = async (dir: string, name: string): Promise<void> => {
    const p = join(dir, name);
    if (await removeStaleTemp(p, maxAge)) report.removedTemps.push(p);
  };
  // tdvc makes the folders below the root itself: one that is a symlink (or a file) is not its,
  // and is not entered, so nothing is moved or deleted wherever it points
  const ownDir = async (dir: string): Promise<boolean> => {
    const st = await lstat(dir).catch(() => undefined);
    if (st && !st.isDirectory()) report.skipped!.push(dir);
    return st?.isDirectory() === true;
  };
  // large files a killed writer was streaming in (written in the layout folder before their id is
  // known), and project registrations and config it was writing (writeFileAtomic)
  const layoutIsOwn = await ownDir(base);
  for (const dir of [odb.root, ...(layoutIsOwn ? [base] : []), join(odb.root, PROJECTS_DIR)]) {
    if (dir !== odb.root && dir !== base && !(await ownDir(dir))) continue;
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (isTempName(name)) await sweep(dir, name);
    }
  }
  for (const fan of layoutIsOwn ? await readdir(base).catch(() => [] as string[]) : []) {
    if (!isFanName(fan)) continue;
    const fanDir = join(base, fan);
    if (!(await ownDir(fanDir))) continue;
    const names = await readdir(fanDir).catch(() => [] as string[]);
    for (const name of names) {
      const oid = oidOfEntry(fan, name);
      if (oid) objects.push(oid);
      else if (isTempName(name)) await sweep(fanDir, name);
    }
  }
  let done = 0;
  await forEachLimit(objects, opts.jobs ?? CACHE_VERIFY_AT_ONCE, async (oid) => {
    // a folder under an object's name is not tdvc's and may hold anything: it is left where it is
    // and reported as a problem (quarantining would move all of it). A link, FIFO, socket or
    // device is quarantined by check():
    // moved as itself, never read through
    const st = await lstat(odb.pathOf(oid)).catch(() => undefined);
    if (st?.isDirectory()) report.skipped!.push(odb.pathOf(oid));
    else if (st) await check(oid);
    done++;
    if ((done & 63) === 0 || done === objects.length) opts.onProgress?.(done, objects.length);
  });
  return report;

  async function check(oid: Oid): Promise<void> {
    let found: string;
    try {
      found = await odb.rehash(oid);
    } catch (err) {
      // a link, FIFO or device under an object's name (never read through, never waited on)
      if (!(err instanceof RejectedObjectError)) throw err;
      found = `(${err.reason})`;
    }
    if (found !== oid) report.corrupt.push({ oid, found, quarantinedAs: await odb.quarantine(oid) });
    report.checked++;
  }
}
