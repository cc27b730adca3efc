import { realpathSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { Oid } from '../hash/oid.js';
import { ExitCode, TdvcError, MissingDataError } from '../errors.js';
import { GitRepo } from '../git/git-repo.js';
import { acquireLockWaiting, fileSystemNow } from '../odb/lock.js';
import { GC_LOCK, GC_LOCK_STALE_MS, GC_WAIT_MS, waitForWriters } from '../odb/writer-lock.js';
import { envMs } from './cache-lock.js';
import { parsePointer } from '../objects/pointer.js';
import { forEachLimit } from '../util/fs.js';
import { listProjects, registerProject, type RegisteredProject } from '../workspace/projects.js';
import { listWorkspaceRecords, printable, workspaceId, type ListedRecord, type WorkspaceRecord } from '../workspace/workspace-record.js';
import { findPointerFiles, loadDataset } from '../workspace/datasets.js';
import { Repo } from '../workspace/repo.js';
import type { RemoteOpener } from '../transfer/remote.js';
import { storeSource } from '../tree/source.js';
import { markTree } from '../tree/walk.js';
import { OidPrefixSet } from '../util/oid-set.js';
import { openRemote } from './remote.js';
import { commitsInScope } from '../dataset/scope.js';
import { join } from 'node:path';
import { CACHE_OPS_AT_ONCE } from '../util/concurrency.js';

export interface GcScope {
  workspace?: boolean;
  allBranches?: boolean;
  allTags?: boolean;
  allCommits?: boolean;
}

export interface GcOptions extends GcScope {
  /** actually delete; without it gc only reports what it would delete */
  force?: boolean;
  /** objects written more recently than this are kept (a concurrent add may not have committed yet) */
  graceMs?: number;
  /** collect on this remote instead of the cache */
  remote?: string;
  opener?: RemoteOpener;
  /** how long gc --force waits for running writers before it refuses (default 60 s, or TDVC_GC_LOCK_WAIT_MS for tests) */
  writerWaitMs?: number;
}

export interface GcResult {
  dryRun: boolean;
  where: string;
  referenced: number;
  removed: Array<{ oid: Oid; size: number }>;
  bytes: number;
  keptRecent: number;
  projects: string[];
  /** other workspaces whose published records gc kept (cache gc only) */
  workspaces?: Array<{ id: string; host: string; root: string; lastSeen: string }>;
  /** of those, the ids not refreshed for 30 days (kept still; `--forget-workspace ID` drops one) */
  staleWorkspaces?: string[];
}

export const DEFAULT_GRACE_MS = 3600_000;

/**
 * `tdvc gc`: deletes cache (or remote) objects that nothing in scope references. The scope must be
 * explicit. On a shared cache every registered project's references are kept; a project that cannot
 * be read from here makes gc refuse rather than guess.
 *
 * What a concurrent writer uses is safe whatever the grace period, `--grace 0` included. Every
 * command that writes objects or links from the cache (add, checkout, fetch/pull, merge, the merge
 * driver, checkout --ours/--theirs) holds a shared lock in `<cache>/locks/` from before it lists the
 * cache until its pointer files are written (odb/writer-lock.ts), and registers its project.
 * `gc --force` takes the exclusive gc.lock and then, before it reads any reference, and again
 * before it deletes, waits (up to 60 s) until no live writer lock is left, refusing with nothing
 * deleted if one stays; a writer that starts while gc holds gc.lock steps back until gc is done.
 * Both create their own lock before they look for the other's, so one of them always sees the
 * other. The grace period stays, for writers that take no lock (older tdvc versions, the window
 * between the merge driver's exit and git writing its result) and for `--remote`, whose writers
 * (push, from any machine) never lock the cache.
 */
export async function gc(repo: Repo, opts: GcOptions): Promise<GcResult> {
  if (!opts.workspace && !opts.allBranches && !opts.allTags && !opts.allCommits) {
    throw new TdvcError('EUSAGE', 'gc needs an explicit scope of what to keep', {
      exitCode: ExitCode.usage,
      hint: 'use --workspace, --all-branches, --all-tags and/or --all-commits (and --force to delete; without it gc only reports)',
    });
  }
  await registerProject(repo);
  if (opts.force) await repo.odb.ensureDir(repo.cacheDir);
  const waitMs = opts.writerWaitMs ?? envMs('TDVC_GC_LOCK_WAIT_MS') ?? GC_WAIT_MS;
  // a second gc waits for the first (whose deletions it then need not repeat) rather than failing
  const lock = opts.force ? await acquireLockWaiting(join(repo.cacheDir, GC_LOCK), { purpose: `gc from ${repo.root}`, staleMs: GC_LOCK_STALE_MS, waitMs }) : undefined;
  try {
    const local = opts.remote === undefined;
    const deadline = Date.now() + waitMs;
    // writers that started before gc.lock existed finish first; later ones wait for this gc
    if (opts.force && local) await waitForWriters(repo.cacheDir, deadline);
    const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
    for (;;) {
      const { referenced, projects, records } = await collectKept(repo, opts);
      const staleWorkspaces = await staleRecords(repo.cacheDir, records);
      if (!local) return await gcRemote(repo, opts, referenced, projects);
      const started = Date.now();
      const all = await repo.odb.listAll();
      const doomed: GcResult['removed'] = [];
      let keptRecent = 0;
      await forEachLimit(
        [...all].filter((o) => !referenced.has(o)),
        CACHE_OPS_AT_ONCE,
        async (oid) => {
          // lstat, regular files only: a folder or symlink under an object's name is not tdvc's
          const st = await lstat(repo.odb.pathOf(oid)).catch(() => undefined);
          if (!st?.isFile()) return;
          if (started - st.mtimeMs < grace) {
            keptRecent++;
            return;
          }
          doomed.push({ oid, size: st.size });
        },
      );
      // a writer seen only now (a lock its file server showed late) may have written pointer
      // files since the references were read: read them again once it is gone
      if (opts.force && (await waitForWriters(repo.cacheDir, deadline))) continue;
      if (opts.force) await forEachLimit(doomed, CACHE_OPS_AT_ONCE, ({ oid }) => repo.odb.remove(oid));
      return {
        dryRun: !opts.force,
        where: repo.cacheDir,
        referenced: referenced.size,
        removed: doomed.sort((a, b) => (a.oid < b.oid ? -1 : 1)),
        bytes: doomed.reduce((s, r) => s + r.size, 0),
        keptRecent,
        projects: projects.map((p) => p.root),
        workspaces: records.map((r) => ({ id: r.record.id, host: printable(r.record.host), root: printable(r.record.root), lastSeen: printable(r.record.lastSeen) })),
        staleWorkspaces,
      };
    }
  } finally {
    await lock?.release();
  }
}

/** What gc keeps: every object referenced in scope by this project, by the registered projects it can open, and by every other workspace's record. */
export interface KeptObjects {
  /** may say yes for an id not referenced (see OidPrefixSet): then the object is kept */
  referenced: OidPrefixSet;
  /** this project first, then the registered projects opened from here */
  projects: Repo[];
  /** every other workspace's record (not this workspace's own) */
  records: ListedRecord[];
}

/**
 * The references gc keeps, read the way gc reads them. Every other workspace's published record
 * counts whether or not its folder can be opened from here (another machine's disk, or a path that
 * means something else here). Throws EPROJECTS for a registered project it can neither open nor
 * match to a record, EMISSING for a version in scope whose file list is not in the cache.
 */
export async function collectKept(repo: Repo, scope: GcScope): Promise<KeptObjects> {
  const myId = await workspaceId(repo);
  const records = (await listWorkspaceRecords(repo.cacheDir)).filter((r) => r.record.id !== myId);
  const projects = await projectsSharing(repo, records);
  const referenced = new OidPrefixSet();
  // tree nodes marked so far: versions share most subtrees, each is read once
  const seenNodes = new Set<Oid>();
  for (const p of projects) await collectReferences(p, scope, referenced, seenNodes);
  for (const r of records) await collectRecordReferences(repo, r.record, referenced, seenNodes);
  return { referenced, projects, records };
}

/** Records not refreshed for this long are reported by gc (their data is still kept). */
export const STALE_RECORD_MS = 30 * 24 * 3600_000;

/** Ids of records older than STALE_RECORD_MS by the cache file system's clock. */
async function staleRecords(cacheDir: string, records: ListedRecord[]): Promise<string[]> {
  if (records.length === 0) return [];
  const now = await fileSystemNow(cacheDir);
  return records.filter((r) => now - r.mtimeMs > STALE_RECORD_MS).map((r) => r.record.id);
}

/**
 * Adds what another workspace's record references. A folder version whose file list is not in
 * this cache has nothing here to protect through it (no checkout from this cache could use it
 * without fetching the list, and a fetch brings its files too), so it is skipped, not refused.
 */
async function collectRecordReferences(repo: Repo, record: WorkspaceRecord, into: OidPrefixSet, seenNodes: Set<Oid>): Promise<void> {
  for (const oid of record.roots.files) into.add(oid);
  const src = storeSource(repo.odb, `workspace ${record.id} (${printable(record.host)}:${printable(record.root)})`);
  for (const oid of record.roots.dirs) await markTree(src, oid, into, seenNodes);
}

async function gcRemote(repo: Repo, opts: GcOptions, referenced: OidPrefixSet, projects: Repo[]): Promise<GcResult> {
  if (!opts.opener) throw new Error('gc --remote needs a remote opener');
  const remote = await openRemote(repo, opts.opener, opts.remote);
  try {
    if (!remote.list || !remote.remove) {
      throw new TdvcError('EUNSUPPORTED', `remote ${remote.name} cannot list or delete objects`, { hint: 'garbage-collect it with its own tools' });
    }
    const removed: GcResult['removed'] = [];
    const doomed: Oid[] = [];
    // a teammate may have just pushed objects for a commit this cache has never seen: keep
    // anything newer than the grace period (and anything whose age the remote cannot tell)
    const started = Date.now();
    const grace = opts.graceMs ?? DEFAULT_GRACE_MS;
    let keptRecent = 0;
    for await (const { oid, size, mtimeMs } of remote.list()) {
      if (referenced.has(oid)) continue;
      if (grace > 0 && (mtimeMs === undefined || started - mtimeMs < grace)) {
        keptRecent++;
        continue;
      }
      removed.push({ oid, size });
      doomed.push(oid);
    }
    if (opts.force && doomed.length > 0) await remote.remove(doomed);
    return {
      dryRun: !opts.force,
      where: remote.url,
      referenced: referenced.size,
      removed,
      bytes: removed.reduce((s, r) => s + r.size, 0),
      keptRecent,
      projects: projects.map((p) => p.root),
    };
  } finally {
    await remote.close?.();
  }
}

/**
 * This project and every registered project that still uses the same cache folder. A registered
 * project that cannot be opened from here is fine when a workspace record of the same host and
 * path covers it; only one without (registered by a tdvc that published no records) makes gc refuse.
 */
async function projectsSharing(repo: Repo, records: ListedRecord[]): Promise<Repo[]> {
  const mine = realCacheDir(repo);
  const out: Repo[] = [repo];
  const unreachable: RegisteredProject[] = [];
  for (const p of await listProjects(repo.cacheDir)) {
    if (p.root === repo.root) continue;
    let other: Repo;
    try {
      other = await Repo.open(p.root);
    } catch {
      if (!records.some((r) => r.record.root === p.root && r.record.host === p.host)) unreachable.push(p);
      continue;
    }
    if (other.root !== p.root || realCacheDir(other) !== mine) continue;
    out.push(other);
  }
  if (unreachable.length > 0) {
    throw new TdvcError(
      'EPROJECTS',
      `gc cannot see ${unreachable.length} project(s) registered in this cache, so it cannot know what they still need:\n` +
        unreachable.map((p) => `  ${printable(p.id)}  ${printable(p.root)} (host ${printable(p.host)})`).join('\n'),
      {
        hint: "run gc on a machine where those paths are mounted, or if a project is gone for good: 'tdvc gc --forget-project ID'",
        data: { projects: unreachable },
      },
    );
  }
  return out;
}

function realCacheDir(repo: Repo): string {
  try {
    return realpathSync(repo.cacheDir);
  } catch {
    return repo.cacheDir;
  }
}

/** Adds to `into` every object the project references within the scope. */
async function collectReferences(repo: Repo, scope: GcScope, into: OidPrefixSet, seenNodes: Set<Oid>): Promise<void> {
  const seenPointers = new Set<Oid>();
  const missing: string[] = [];
  const addPointer = async (type: 'file' | 'dir', oid: Oid, where: string): Promise<void> => {
    if (seenPointers.has(oid)) return;
    seenPointers.add(oid);
    into.add(oid);
    if (type !== 'dir') return;
    if ((await markTree(storeSource(repo.odb, where), oid, into, seenNodes)) > 0) missing.push(where);
  };
  // the workspace is always kept: it is what people are working on right now
  for (const pointerPath of workspacePointerFiles(repo)) {
    const ds = await loadDataset(repo, pointerPath);
    await addPointer(ds.pointer.type, ds.pointer.oid, `${repo.root}/${ds.pointerPath}`);
  }
  if (repo.hasGit && (scope.allBranches || scope.allTags || scope.allCommits)) {
    const g = new GitRepo(repo.root);
    for (const { commit } of await commitsInScope(g, scope)) {
      for (const cp of await g.listPointers(commit)) {
        const p = parsePointer(cp.text, `${cp.path} at ${commit.slice(0, 12)}`);
        await addPointer(p.type, p.oid, `${repo.root}/${cp.path} at ${commit.slice(0, 12)}`);
      }
    }
  }
  if (missing.length > 0) {
    throw new MissingDataError(`gc cannot tell which files ${missing.length} dataset version(s) need, because their file lists are not in the cache:\n${missing.slice(0, 10).map((m) => `  ${m}`).join('\n')}`, {
      hint: "fetch them first ('tdvc fetch'), or narrow the scope",
    });
  }
}

/**
 * The pointer files in a project's working tree, found as `findPointerFiles` does, except that a
 * folder gc cannot read is an error instead of being skipped: on a shared cache, gc run by one
 * user would otherwise miss the pointer files in another member's private folder and delete the
 * data they reference.
 */
function workspacePointerFiles(repo: Repo): string[] {
  const unreadable: string[] = [];
  const out = findPointerFiles(repo, unreadable);
  if (unreadable.length > 0) {
    throw new TdvcError(
      'EUNREADABLE',
      `gc cannot read ${unreadable.length} folder(s) of the project ${repo.root}, so it cannot know which data their pointer files reference:\n${unreadable
        .slice(0, 10)
        .map((u) => `  ${u}`)
        .join('\n')}`,
      {
        path: repo.root,
        data: { project: repo.root, folders: unreadable },
        hint: 'run gc as a user who can read every project using this cache, or make those folders readable to the team',
      },
    );
  }
  return out.sort();
}

