import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Oid } from '../hash/oid.js';
import { forEachLimit, isStaleTemp, STALE_TEMP_AGE_MS } from '../util/fs.js';
import { LAYOUT, PROJECTS_DIR, type ObjectStore } from './store.js';

export interface VerifyReport {
  checked: number;
  corrupt: Array<{ oid: Oid; found: string; quarantinedAs: string }>;
  /** temp files of writers that died (same host, process gone) or older than the age limit */
  removedTemps: string[];
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
 * left behind by killed writers.
 */
export async function verifyStore(odb: ObjectStore, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const report: VerifyReport = { checked: 0, corrupt: [], removedTemps: [] };
  const base = join(odb.root, LAYOUT);
  const maxAge = opts.tempMaxAgeMs ?? STALE_TEMP_AGE_MS;
  const objects: Oid[] = [];
  // folders a killed writer was creating on a shared cache (temp name, chmod, rename: see ensureDir),
  // large files it was streaming in (written in the layout folder before their id is known), and
  // project registrations it was writing (caught by the shared-cache kill test)
  for (const dir of [odb.root, base, join(odb.root, PROJECTS_DIR)]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (!name.startsWith('.tmp-')) continue;
      const p = join(dir, name);
      const st = await stat(p).catch(() => undefined);
      if (!st) continue;
      if (isStaleTemp(name, st.mtimeMs, maxAge)) {
        await rm(p, { recursive: true, force: true });
        report.removedTemps.push(p);
      }
    }
  }
  for (const fan of await readdir(base).catch(() => [] as string[])) {
    if (fan.length !== 2) continue;
    for (const name of await readdir(join(base, fan))) {
      if (name.length === 62 && !name.startsWith('.')) {
        objects.push(fan + name);
        continue;
      }
      if (!name.startsWith('.tmp-')) continue;
      const p = join(base, fan, name);
      const st = await stat(p).catch(() => undefined);
      if (isStaleTemp(name, st?.mtimeMs, maxAge)) {
        await rm(p, { force: true });
        report.removedTemps.push(p);
      }
    }
  }
  let done = 0;
  await forEachLimit(objects, opts.jobs ?? 4, async (oid) => {
    const found = await odb.rehash(oid);
    if (found !== oid) {
      const qdir = join(odb.root, 'quarantine');
      await odb.ensureDir(qdir);
      const dest = join(qdir, `${oid}.${Date.now()}`);
      await rename(odb.pathOf(oid), dest);
      odb.forget(oid);
      report.corrupt.push({ oid, found, quarantinedAs: dest });
    }
    report.checked++;
    done++;
    if ((done & 63) === 0 || done === objects.length) opts.onProgress?.(done, objects.length);
  });
  return report;
}
