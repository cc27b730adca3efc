import { ConfigError, getSetting, listSettings, Repo, setSetting, unsetSetting } from '@tdvc/core';
import { out, printJson, say, type OutputOptions } from '../output.js';

type ConfigOpts = OutputOptions & { local?: boolean; unset?: boolean; list?: boolean };

export async function runConfig(g: ConfigOpts, key: string | undefined, value: string | undefined): Promise<number | void> {
  const repo = await Repo.open();
  const level = g.local ? 'local' : 'repo';
  if (g.list || key === undefined) {
    const entries = listSettings(repo);
    if (g.json) return printJson(Object.fromEntries(entries));
    for (const [k, v] of entries) out(`${k}=${v}`);
    return;
  }
  if (g.unset) return unsetSetting(repo, key, level);
  if (value !== undefined) return setSetting(repo, key, value, level);
  const current = await getSetting(repo, key);
  if (current === undefined) throw new ConfigError(`${key} is not set`);
  if (g.json) return printJson({ [key]: current });
  out(current);
}

export async function runCacheDir(g: ConfigOpts, path: string | undefined): Promise<void> {
  const repo = await Repo.open();
  if (path === undefined) {
    out(repo.cacheDir);
    return;
  }
  await setSetting(repo, 'cache.dir', path, g.local ? 'local' : 'repo');
  say(g, `cache folder set to ${path}`);
}
