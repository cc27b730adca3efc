import { existsSync } from 'node:fs';
import { acquireWriterLock } from '../odb/writer-lock.js';
import { registerProject } from '../workspace/projects.js';
import { checkRecordPath, publishWorkspaceRecord } from '../workspace/workspace-record.js';
import type { Repo } from '../workspace/repo.js';

export interface CacheWriterOptions {
  /**
   * Take no lock when the cache folder does not exist yet (a checkout of a fresh clone): there
   * is nothing in it to link, and a command that only reads must not create a cache.
   */
  ifCacheExists?: boolean;
}

/**
 * Runs `fn` holding this process's shared writer lock on the repository's cache (see
 * odb/writer-lock.ts), so that a `gc --force` cannot delete an object it has just written or is
 * about to link, whatever gc's grace period. The project is registered while the lock is held:
 * once the lock is gone, gc must see the pointer files that now reference those objects.
 * TDVC_WRITER_LOCK_WAIT_MS (for tests) bounds the wait for a running gc.
 */
export async function withCacheWriterLock<T>(repo: Repo, purpose: string, fn: () => Promise<T>, opts: CacheWriterOptions = {}): Promise<T> {
  if (opts.ifCacheExists && !existsSync(repo.cacheDir)) return fn();
  const waitMs = envMs('TDVC_WRITER_LOCK_WAIT_MS');
  const lock = await acquireWriterLock(repo.odb, `${purpose} in ${repo.root}`, waitMs === undefined ? {} : { waitMs });
  try {
    await registerProject(repo);
    // a link where the record goes stops the command now, before it writes anything
    await checkRecordPath(repo);
    const result = await fn();
    // still under the lock: gc must see what this command made the workspace reference
    await publishWorkspaceRecord(repo);
    return result;
  } finally {
    await lock.release();
  }
}

/** A non-negative number of milliseconds from the environment (knobs for tests), or undefined. */
export function envMs(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}
