import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, fromSystemError, isErrno, TdvcError } from '../errors.js';
import { PROJECTS_DIR } from '../odb/store.js';
import { writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';
import { RecordFolder } from './record-folder.js';
import type { Repo } from './repo.js';

/** A project that uses a cache, as recorded in `<cache>/projects/`. */
export interface RegisteredProject {
  id: string;
  root: string;
  host: string;
  registeredAt: string;
}

function projectsDir(cacheDir: string): string {
  return join(cacheDir, PROJECTS_DIR);
}

/** `<cache>/projects`, never read, written or deleted through a link (see RecordFolder). */
function registrations(cacheDir: string): RecordFolder {
  return new RecordFolder(cacheDir, PROJECTS_DIR);
}

/** A registration is a few hundred bytes. */
const REGISTRATION_LIMIT = 64 << 10;

export function projectId(root: string): string {
  return createHash('sha1').update(root).digest('hex').slice(0, 16);
}

const PROJECT_ID_RE = /^[0-9a-f]{16}$/;

/**
 * Records that this project uses the cache, so that gc run from any project sharing the cache keeps
 * what this one references. Cheap and idempotent: a few lstat calls when already registered.
 */
export async function registerProject(repo: Repo): Promise<void> {
  const id = projectId(repo.root);
  const file = registrations(repo.cacheDir).entry(`${id}.json`);
  try {
    await lstat(file);
    return;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await repo.odb.ensureDir(projectsDir(repo.cacheDir));
  const entry: RegisteredProject = { id, root: repo.root, host: hostname(), registeredAt: new Date().toISOString() };
  await writeFileAtomic(file, JSON.stringify(entry, null, 2), repo.odb.shared === 'group' ? 0o664 : 0o644);
}

export async function listProjects(cacheDir: string): Promise<RegisteredProject[]> {
  const folder = registrations(cacheDir);
  const out: RegisteredProject[] = [];
  for (const name of await folder.list()) {
    if (!name.endsWith('.json')) continue;
    const file = join(folder.dir, name);
    let text: string | undefined;
    try {
      text = await readSmallText(file, 'project registration', REGISTRATION_LIMIT);
      if (text === undefined) continue;
    } catch (err) {
      // an unreadable registration must stop gc, not be skipped: that project's data would go
      throw fromSystemError(err, file);
    }
    try {
      out.push(JSON.parse(text) as RegisteredProject);
    } catch {
      // not JSON: not a registration tdvc wrote
    }
  }
  return out;
}

/** Unregisters a project. `id` must be one `projectId` makes: it becomes part of a path to delete. */
export async function forgetProject(cacheDir: string, id: string): Promise<boolean> {
  if (!PROJECT_ID_RE.test(id)) {
    throw new TdvcError('EUSAGE', `not a project id: ${JSON.stringify(id)} (a project id is 16 hex digits)`, {
      exitCode: ExitCode.usage,
      hint: 'use an id as gc prints it for a registered project it cannot see',
    });
  }
  return registrations(cacheDir).remove(`${id}.json`);
}
