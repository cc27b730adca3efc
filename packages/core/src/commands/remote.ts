import { join } from 'node:path';
import { ConfigError, TdvcError } from '../errors.js';
import type { ConfigLevel } from '../workspace/config.js';
import type { Repo } from '../workspace/repo.js';
import type { Remote, RemoteOpener, RemoteSettings } from '../transfer/remote.js';

export interface RemoteInfo {
  name: string;
  url: string;
  isDefault: boolean;
  options: Record<string, string>;
}

const NAME_RE = /^[A-Za-z0-9_-]+$/;

/** `tdvc remote add [-d] NAME URL` */
export async function addRemote(repo: Repo, name: string, url: string, opts: { makeDefault?: boolean; level?: ConfigLevel } = {}): Promise<void> {
  if (!NAME_RE.test(name)) throw new ConfigError(`bad remote name "${name}"`, 'use letters, digits, - and _');
  if (repo.config.get(`remote.${name}.url`) !== undefined) {
    throw new ConfigError(`remote ${name} already exists`, `change it with 'tdvc remote modify ${name} url URL' or remove it first`);
  }
  await repo.config.set(`remote.${name}.url`, url, opts.level ?? 'repo');
  if (opts.makeDefault || repo.config.sections('remote').length === 1) await repo.config.set('core.remote', name, opts.level ?? 'repo');
}

/** `tdvc remote modify [--local] NAME KEY VALUE` */
export async function modifyRemote(repo: Repo, name: string, key: string, value: string, level: ConfigLevel = 'repo'): Promise<void> {
  requireRemote(repo, name);
  if (!/^[a-z_]+$/.test(key)) throw new ConfigError(`bad remote setting "${key}"`);
  await repo.config.set(`remote.${name}.${key}`, value, level);
}

export async function removeRemote(repo: Repo, name: string): Promise<void> {
  requireRemote(repo, name);
  await repo.config.removeSection(`remote.${name}`);
  if (repo.config.get('core.remote') === name) {
    await repo.config.unset('core.remote', 'repo');
    await repo.config.unset('core.remote', 'local');
  }
}

export async function setDefaultRemote(repo: Repo, name: string): Promise<void> {
  requireRemote(repo, name);
  await repo.config.set('core.remote', name);
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


function requireRemote(repo: Repo, name: string): string {
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
