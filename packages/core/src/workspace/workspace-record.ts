import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { isOid, type Oid } from '../hash/oid.js';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import { GitRepo } from '../git/git-repo.js';
import { parsePointer } from '../objects/pointer.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';
import { loadAllDatasets } from './datasets.js';
import { RecordFolder } from './record-folder.js';
import type { Repo } from './repo.js';

/** Folder of the cache root holding one record per workspace that uses the cache. */
export const WORKSPACES_DIR = 'workspaces';

/** The data versions a workspace references: pointer ids of folders (manifests) and of files. */
export interface RecordRoots {
  dirs: Oid[];
  files: Oid[];
}

/**
 * What a workspace publishes in the cache it uses, so that gc run anywhere keeps its data without
 * opening the workspace (which may be on another machine's disk, or at a path that means
 * something else here). Identified by a random id kept in the workspace's `.tdvc/tmp/`, never by
 * its path; host, user and path are for people reading `tdvc cache status`.
 */
export interface WorkspaceRecord {
  format: 1;
  id: string;
  host: string;
  user: string;
  root: string;
  lastSeen: string;
  /** the working tree's pointer files, HEAD, every local branch and every tag */
  roots: RecordRoots;
  /** per commit already looked at, its roots: a refresh reads only commits it has not seen */
  commits: Record<string, RecordRoots>;
}

const ID = /^[0-9a-f]{16}$/;
/** A record lists pointer ids only (65 bytes each): 16 MiB is far more than any workspace needs. */
const RECORD_LIMIT = 16 << 20;

export function recordsDir(cacheDir: string): string {
  return join(cacheDir, WORKSPACES_DIR);
}

/** `<cache>/workspaces`, never read, written or deleted through a link (see RecordFolder). */
function records(cacheDir: string): RecordFolder {
  return new RecordFolder(cacheDir, WORKSPACES_DIR);
}

/**
 * A record's free text (host, user, path, time) as tdvc prints it: whoever can write the cache
 * wrote it, so control characters become '?' and anything but a string is '?'.
 */
export function printable(v: unknown): string {
  return typeof v === 'string' ? v.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?') : '?';
}

/** This workspace's id: made once, kept in `.tdvc/tmp/workspace.json` (not committed: clones get their own). */
export async function workspaceId(repo: Repo): Promise<string> {
  const known = await savedWorkspaceId(repo);
  if (known !== undefined) return known;
  // none, or unreadable: a new id (an old record then ages and is reported, never silently trusted)
  const id = randomBytes(8).toString('hex');
  await ensureDir(repo.tmpDir);
  await writeFileAtomic(join(repo.tmpDir, 'workspace.json'), JSON.stringify({ id }) + '\n');
  return id;
}

/** The id saved in `.tdvc/tmp/workspace.json`, if there is a valid one. */
async function savedWorkspaceId(repo: Repo): Promise<string | undefined> {
  const text = await readSmallText(join(repo.tmpDir, 'workspace.json'), 'workspace id file');
  if (text === undefined) return undefined;
  try {
    const id = (JSON.parse(text) as { id?: unknown }).id;
    return typeof id === 'string' && ID.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes (or refreshes) this workspace's record in its cache. Called by every command that writes
 * the cache, while it holds the writer lock: once the lock is gone, gc sees the new roots.
 */
export async function publishWorkspaceRecord(repo: Repo): Promise<WorkspaceRecord> {
  const { id, file } = await workspaceRecordFile(repo);
  const previous = await readRecord(file).catch(() => undefined);
  const record = await buildWorkspaceRecord(repo, id, previous);
  await repo.odb.ensureDir(recordsDir(repo.cacheDir));
  await writeFileAtomic(file, JSON.stringify(record), repo.odb.shared === 'group' ? 0o664 : 0o644);
  return record;
}

/**
 * This workspace's id and where its record goes, once no link is in the way (`workspaces` or the
 * record itself: see RecordFolder). Commands check it before they write anything, so that such a
 * link stops them with nothing done rather than at the end.
 */
export async function workspaceRecordFile(repo: Repo): Promise<{ id: string; file: string }> {
  const id = await workspaceId(repo);
  return { id, file: records(repo.cacheDir).entry(`${id}.json`) };
}

/**
 * Refuses, before a command writes anything, a link where this workspace's record would go: the
 * records folder, or the record itself once the workspace has an id (a new id is random, so no one
 * can have planted a link under it). Creates nothing.
 */
export async function checkRecordPath(repo: Repo): Promise<void> {
  const folder = records(repo.cacheDir);
  folder.check();
  const id = await savedWorkspaceId(repo);
  if (id !== undefined) folder.entry(`${id}.json`);
}

/**
 * The record this workspace would publish now, without writing it (`tdvc cache status` shows it).
 * `previous` saves reading the pointer files of commits it already lists.
 */
export async function buildWorkspaceRecord(repo: Repo, id: string, previous?: WorkspaceRecord): Promise<WorkspaceRecord> {
  const dirs = new Set<Oid>();
  const files = new Set<Oid>();
  const add = (r: RecordRoots): void => {
    r.dirs.forEach((o) => dirs.add(o));
    r.files.forEach((o) => files.add(o));
  };
  for (const ds of await loadAllDatasets(repo)) (ds.pointer.type === 'dir' ? dirs : files).add(ds.pointer.oid);
  const commits: Record<string, RecordRoots> = {};
  if (repo.hasGit) {
    const g = new GitRepo(repo.root);
    const tips = new Set<string>([...(await g.branchTips()), ...(await g.tagCommits())]);
    const head = await g.headCommit();
    if (head) tips.add(head);
    for (const c of tips) {
      let r = previous?.commits[c];
      if (!r) {
        r = { dirs: [], files: [] };
        for (const cp of await g.listPointers(c)) {
          const p = parsePointer(cp.text, `${cp.path} at ${c.slice(0, 12)}`);
          (p.type === 'dir' ? r.dirs : r.files).push(p.oid);
        }
      }
      commits[c] = r;
      add(r);
    }
  }
  return {
    format: 1,
    id,
    host: hostname(),
    user: process.env['USER'] ?? process.env['LOGNAME'] ?? String(process.getuid?.() ?? ''),
    root: repo.root,
    lastSeen: new Date().toISOString(),
    roots: { dirs: [...dirs].sort(), files: [...files].sort() },
    commits,
  };
}

/** A record with its age as the cache's file system stamps it (its mtime). */
export interface ListedRecord {
  record: WorkspaceRecord;
  mtimeMs: number;
}

/**
 * Every workspace record of a cache. One that cannot be read or parsed stops the caller (gc): the
 * data it protects is unknown, so guessing would delete it.
 */
export async function listWorkspaceRecords(cacheDir: string): Promise<ListedRecord[]> {
  const folder = records(cacheDir);
  const dir = folder.dir;
  const out: ListedRecord[] = [];
  for (const name of await folder.list()) {
    if (!name.endsWith('.json') || !ID.test(name.slice(0, -5))) continue;
    const file = join(dir, name);
    let record: WorkspaceRecord;
    let mtimeMs: number;
    try {
      record = await readRecord(file);
      mtimeMs = (await lstat(file)).mtimeMs;
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      throw err;
    }
    out.push({ record, mtimeMs });
  }
  return out;
}

async function readRecord(file: string): Promise<WorkspaceRecord> {
  let text: string;
  try {
    text = (await readSmallText(file, 'workspace record', RECORD_LIMIT)) ?? '';
    if (text === '') throw Object.assign(new Error('gone'), { code: 'ENOENT' });
  } catch (err) {
    throw fromSystemError(err, file);
  }
  const bad = (): TdvcError =>
    new TdvcError('EBADRECORD', `workspace record ${file} is not one tdvc wrote`, {
      path: file,
      hint: 'gc cannot tell which data that workspace needs; remove the file if no workspace uses it (tdvc gc --forget-workspace ID)',
    });
  let r: WorkspaceRecord;
  try {
    r = JSON.parse(text) as WorkspaceRecord;
  } catch {
    throw bad();
  }
  const oids = (a: unknown): boolean => Array.isArray(a) && a.every((o) => typeof o === 'string' && isOid(o));
  if (r?.format !== 1 || typeof r.id !== 'string' || !ID.test(r.id) || !oids(r.roots?.dirs) || !oids(r.roots?.files) || typeof r.commits !== 'object' || r.commits === null) throw bad();
  return r;
}

/** Drops a workspace's record (one gone for good); only ids of the form tdvc makes. */
export async function forgetWorkspace(cacheDir: string, id: string): Promise<boolean> {
  if (!ID.test(id)) {
    throw new TdvcError('EUSAGE', `not a workspace id: ${JSON.stringify(id)}`, { exitCode: 2, hint: "ids are 16 hex digits, as 'tdvc gc --json' lists them under workspaces" });
  }
  return records(cacheDir).remove(`${id}.json`);
}
