import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ExitCode, fromSystemError, isErrno, TdvcError } from '../errors.js';
import { PROJECTS_DIR } from '../odb/store.js';
import { writeFileAtomic } from '../util/fs.js';
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

export function projectId(root: string): string {
  return createHash('sha1').update(root).digest('hex').slice(0, 16);
}

const PROJECT_ID_RE = /^[0-9a-f]{16}$/;

/**
 * Records that this project uses the cache, so that gc run from any project sharing the cache keeps
 * what this one references. Cheap and idempotent: one stat when already registered.
 */
export async function registerProject(repo: Repo): Promise<void> {
  const id = projectId(repo.root);
  const file = join(projectsDir(repo.cacheDir), `${id}.json`);
  try {
    await stat(file);
    return;
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  await repo.odb.ensureDir(projectsDir(repo.cacheDir));
  const entry: RegisteredProject = { id, root: repo.root, host: hostname(), registeredAt: new Date().toISOString() };
  await writeFileAtomic(file, JSON.stringify(entry, null, 2), repo.odb.shared === 'group' ? 0o664 : 0o644);
}

export async function listProjects(cacheDir: string): Promise<RegisteredProject[]> {
  const dir = projectsDir(cacheDir);
  const out: RegisteredProject[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) continue;
      // an unreadable registration must stop gc, not be skipped: that project's data would go
      throw fromSystemError(err, join(dir, name));
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
  const file = join(projectsDir(cacheDir), `${id}.json`);
  try {
    await rm(file);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}
