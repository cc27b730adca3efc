import { ConfigError } from '../errors.js';
import type { ConfigLevel } from '../workspace/config.js';
import type { Repo } from '../workspace/repo.js';

/** `tdvc config KEY [VALUE]`, `--unset`, `--list`. */
export async function getSetting(repo: Repo, key: string): Promise<string | undefined> {
  return repo.config.get(key);
}

export async function setSetting(repo: Repo, key: string, value: string, level: ConfigLevel = 'repo'): Promise<void> {
  await repo.config.set(key, value, level);
}

export async function unsetSetting(repo: Repo, key: string, level: ConfigLevel = 'repo'): Promise<void> {
  if (!(await repo.config.unset(key, level))) throw new ConfigError(`${key} is not set${level === 'local' ? ' locally' : ''}`);
}

export function listSettings(repo: Repo): Array<[string, string]> {
  return repo.config.entries();
}
