import { lstat } from 'node:fs/promises';
import type { Oid } from '../hash/oid.js';
import { TdvcError, MissingManifestError } from '../errors.js';
import { fileSystemNow, type LockInfo } from '../odb/lock.js';
import { liveGcLock, liveWriterLocks } from '../odb/writer-lock.js';
import { forEachLimit } from '../util/fs.js';
import { buildWorkspaceRecord, listWorkspaceRecords, printable, workspaceId, type WorkspaceRecord } from '../workspace/workspace-record.js';
import type { Repo } from '../workspace/repo.js';
import { storeSource } from '../tree/source.js';
import { forEachNode } from '../tree/walk.js';
import { OidPrefixSet } from '../util/oid-set.js';
import { collectKept, DEFAULT_GRACE_MS, STALE_RECORD_MS, type GcScope } from './gc.js';
import { CACHE_OPS_AT_ONCE } from '../util/concurrency.js';

/** One workspace that uses the cache, as its record describes it (free text made printable), with what it references. */
export interface CacheWorkspace extends Pick<WorkspaceRecord, 'id' | 'host' | 'user' | 'root' | 'lastSeen'> {
  /** by the cache file system's clock: how long since the record was last written */
  ageMs: number;
  /** not refreshed for 30 days: gc reports it (and still keeps its data) */
  stale: boolean;
  /** the workspace this command runs in (its figures are as of now, not of its last record) */
  current: boolean;
  /** dataset versions (pointer ids) the record lists */
  versions: number;
  /** distinct objects those versions need, file lists included */
  objects: number;
  bytes: number;
  /** folder versions whose file list is not in this cache (what they need is unknown here) */
  unknownVersions: number;
}

export interface CacheStatus {
  cacheDir: string;
  shared: string;
  objects: number;
  bytes: number;
  workspaces: CacheWorkspace[];
  /** live writer locks: commands writing the cache right now, from any machine */
  writers: LockInfo[];
  /** the gc holding the cache's gc lock, if one runs */
  gc: LockInfo | undefined;
  /**
   * What `tdvc gc --workspace --all-branches --all-tags --force` would delete now. Undefined, with
   * `gcRefusal` saying why, when that gc would refuse.
   */
  gcWouldFree: { objects: number; bytes: number; keptRecent: number; keptRecentBytes: number; graceMs: number } | undefined;
  gcRefusal: string | undefined;
}

/** The scope `cache status` judges gc by: everything a workspace record covers. */
const STATUS_SCOPE: GcScope = { workspace: true, allBranches: true, allTags: true };

/**
 * `tdvc cache status`: who uses this cache, from where, when last seen, how much each references,
 * and what gc would free. Reads only, apart from two kinds of clean-up any cache reader does: lock
 * files and temp files of dead processes on this host.
 */
export async function cacheStatus(repo: Repo, opts: { graceMs?: number } = {}): Promise<CacheStatus> {
  const graceMs = opts.graceMs ?? DEFAULT_GRACE_MS;
  const myId = await workspaceId(repo);
  const listed = await listWorkspaceRecords(repo.cacheDir);
  // the file server's clock, as gc judges staleness; this host's when the cache is read-only to us
  const now = await fileSystemNow(repo.cacheDir).catch(() => Date.now());
  const previousOwn = listed.find((r) => r.record.id === myId)?.record;
  const own = await buildWorkspaceRecord(repo, myId, previousOwn);
  const entries: Array<{ record: WorkspaceRecord; ageMs: number; current: boolean }> = [
    { record: own, ageMs: 0, current: true },
    ...listed.filter((r) => r.record.id !== myId).map((r) => ({ record: r.record, ageMs: Math.max(0, Math.round(now - r.mtimeMs)), current: false })),
  ];
  const workspaces: CacheWorkspace[] = [];
  for (const e of entries) {
    const refs = await referencedBy(repo, e.record);
    workspaces.push({
      id: e.record.id,
      host: printable(e.record.host),
      user: printable(e.record.user),
      root: printable(e.record.root),
      lastSeen: printable(e.record.lastSeen),
      ageMs: e.ageMs,
      stale: e.ageMs > STALE_RECORD_MS,
      current: e.current,
      versions: e.record.roots.dirs.length + e.record.roots.files.length,
      ...refs,
    });
  }

  let referenced: OidPrefixSet | undefined;
  let gcRefusal: string | undefined;
  try {
    referenced = (await collectKept(repo, STATUS_SCOPE)).referenced;
  } catch (err) {
    if (!(err instanceof TdvcError)) throw err;
    gcRefusal = err.message;
  }
  let objects = 0;
  let bytes = 0;
  const free = { objects: 0, bytes: 0, keptRecent: 0, keptRecentBytes: 0 };
  const started = Date.now();
  await forEachLimit(await repo.odb.listAll(), CACHE_OPS_AT_ONCE, async (oid) => {
    const st = await lstat(repo.odb.pathOf(oid)).catch(() => undefined);
    if (!st?.isFile()) return;
    objects++;
    bytes += st.size;
    if (!referenced || referenced.has(oid)) return;
    if (started - st.mtimeMs < graceMs) {
      free.keptRecent++;
      free.keptRecentBytes += st.size;
    } else {
      free.objects++;
      free.bytes += st.size;
    }
  });
  const gcHolder = await liveGcLock(repo.cacheDir, now);
  return {
    cacheDir: repo.cacheDir,
    shared: repo.odb.shared,
    objects,
    bytes,
    workspaces,
    writers: (await liveWriterLocks(repo.cacheDir)).map(({ file: _file, ...info }) => info),
    gc: gcHolder ? gcHolder.holder ?? { owner: '?', host: '?', pid: 0, startedAt: '?', purpose: 'gc' } : undefined,
    gcWouldFree: referenced ? { ...free, graceMs } : undefined,
    gcRefusal,
  };
}

/**
 * Distinct objects (and their bytes) a record's versions need: each version's own object, and for
 * a folder version every file its list names. Sizes come from the lists; a file version's from
 * the cache (0 when it is not there).
 */
async function referencedBy(repo: Repo, record: WorkspaceRecord): Promise<{ objects: number; bytes: number; unknownVersions: number }> {
  const seen = new Set<Oid>();
  let bytes = 0;
  let unknownVersions = 0;
  const count = (oid: Oid, size: number): void => {
    if (seen.has(oid)) return;
    seen.add(oid);
    bytes += size;
  };
  const sizeOf = async (oid: Oid): Promise<number> => (await lstat(repo.odb.pathOf(oid)).catch(() => undefined))?.size ?? 0;
  const src = storeSource(repo.odb, `workspace ${record.id}`);
  for (const oid of record.roots.dirs) {
    if (seen.has(oid)) continue;
    try {
      // every node of the version's tree, a subtree counted once however many versions share it
      await forEachNode(
        src,
        oid,
        async (nodeOid, node) => {
          count(nodeOid, await sizeOf(nodeOid));
          if (node.kind === 'leaf') for (const e of node.entries) count(e.oid, e.size);
        },
        (nodeOid) => !seen.has(nodeOid),
      );
    } catch (err) {
      if (err instanceof MissingManifestError) {
        unknownVersions++;
        continue;
      }
      throw err;
    }
  }
  for (const oid of record.roots.files) {
    if (!seen.has(oid)) count(oid, await sizeOf(oid));
  }
  return { objects: seen.size, bytes, unknownVersions };
}
