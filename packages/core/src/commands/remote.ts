import { join } from 'node:path';
import { ConfigError, TdvcError } from '../errors.js';
import type { ConfigLevel } from '../workspace/config.js';
import { levelFlag } from '../workspace/config-scopes.js';
import type { Repo } from '../workspace/repo.js';
import type { Remote, RemoteOpener, RemoteSettings } from '../transfer/remote.js';

export interface RemoteInfo {
  name: string;
  url: string;
  isDefault: boolean;
  options: Record<string, string>;
}

/** What the remote settings commands need: a repository, or the user's config outside one. */
export type Settings = Pick<Repo, 'config'>;

const NAME_RE = /^[A-Za-z0-9_-]+$/;

/**
 * `tdvc remote add [-d] [--local|--global|--system] NAME URL`; returns warnings (Config.set). A
 * remote added to the global or system config is this user's (or machine's) in every repository,
 * and the first one there becomes that scope's default.
 */
export async function addRemote(repo: Settings, name: string, url: string, opts: { makeDefault?: boolean; level?: ConfigLevel } = {}): Promise<string[]> {
  if (!NAME_RE.test(name)) throw new ConfigError(`bad remote name "${name}"`, 'use letters, digits, - and _');
  const level = opts.level ?? 'project';
  const existing = repo.config.resolve(`remote.${name}.url`);
  if (existing !== undefined) {
    throw new ConfigError(`remote ${name} already exists (in ${existing.file})`, `change it with 'tdvc remote modify${levelFlag(existing.level)} ${name} url URL' or remove it first`);
  }
  const warnings = await repo.config.set(`remote.${name}.url`, url, level);
  // a scope's first remote is its default; project and local count together, as one repository's
  const counted: ConfigLevel[] = level === 'project' || level === 'local' ? ['project', 'local'] : [level];
  if (opts.makeDefault || repo.config.sections('remote', counted).length === 1) warnings.push(...(await repo.config.set('core.remote', name, level)));
  return warnings;
}

/** `tdvc remote modify [--local|--global|--system] NAME KEY VALUE`; returns warnings (Config.set). */
export async function modifyRemote(repo: Settings, name: string, key: string, value: string, level: ConfigLevel = 'project'): Promise<string[]> {
  requireRemote(repo, name);
  if (!/^[a-z_]+$/.test(key)) throw new ConfigError(`bad remote setting "${key}"`);
  return repo.config.set(`remote.${name}.${key}`, value, level);
}

/**
 * Removes a remote from the repository's files (project and local), or from the one scope given;
 * a remote that only the user's or the machine's config defines needs that scope named.
 */
export async function removeRemote(repo: Settings, name: string, level?: ConfigLevel): Promise<void> {
  requireRemote(repo, name);
  const levels: ConfigLevel[] = level ? [level] : ['project', 'local'];
  if (!(await repo.config.removeSection(`remote.${name}`, levels))) {
    const owner = repo.config.userRemote(name);
    throw new ConfigError(
      `remote ${name} is not in the ${level ?? 'project or local'} config`,
      owner ? `it is defined in ${repo.config.fileFor(owner)}: 'tdvc remote remove --${owner} ${name}'` : undefined,
    );
  }
  for (const l of levels) if (repo.config.getAt('core.remote', l) === name) await repo.config.unset('core.remote', l);
}

export async function setDefaultRemote(repo: Settings, name: string, level: ConfigLevel = 'project'): Promise<string[]> {
  requireRemote(repo, name);
  return repo.config.set('core.remote', name, level);
}

export function listRemotes(repo: Repo): RemoteInfo[] {
  const def = repo.config.get('core.remote');
  return repo.config.sections('remote').map((name) => ({
    name,
    url: repo.config.get(`remote.${name}.url`) ?? '',
    isDefault: name === def,
    options: repo.config.remoteOptions(name),
  }));
}


function requireRemote(repo: Settings, name: string): string {
  const url = repo.config.get(`remote.${name}.url`);
  if (url === undefined) throw new ConfigError(`no remote named ${name}`, "list them with 'tdvc remote list'");
  return url;
}

/** Opens the named remote, or the default one. */
export async function openRemote(repo: Repo, opener: RemoteOpener, name?: string, jobs?: number): Promise<Remote> {
  const chosen = name ?? repo.config.get('core.remote');
  if (!chosen) {
    throw new TdvcError('ENOREMOTE', 'no remote given and no default remote set', {
      hint: "add one with 'tdvc remote add -d NAME URL' or pass -r NAME",
    });
  }
  const url = requireRemote(repo, chosen);
  // both read (a bad one is an error even when -j or the other wins: it would bite the next run)
  const remoteJobs = repo.config.jobs(`remote.${chosen}.jobs`);
  const coreJobs = repo.config.jobs('core.jobs');
  const configuredJobs = remoteJobs ?? coreJobs;
  const settings: RemoteSettings = {
    name: chosen,
    url,
    options: repo.config.remoteOptions(chosen),
    stateDir: join(repo.tmpDir, 'remotes', chosen),
    ...(jobs !== undefined ? { jobs } : configuredJobs !== undefined ? { jobs: configuredJobs } : {}),
  };
  return opener(settings);
}
