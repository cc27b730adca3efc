import { resolve } from 'node:path';
import { Config, ConfigError, findRoot, getSetting, listSettings, Repo, setSetting, unsetSetting, type ConfigLevel, type ConfigValue } from '@tdvc/core';
import { out, printJson, say, warn, type OutputOptions } from '../output.js';

export type ScopeOpts = { system?: boolean; global?: boolean; project?: boolean; local?: boolean };
type ConfigOpts = OutputOptions & ScopeOpts & { unset?: boolean; list?: boolean; showOrigin?: boolean };

/** The one scope the options name, or undefined for none (reads: merged; writes: the project). */
export function scopeOf(g: ScopeOpts): ConfigLevel | undefined {
  const named = (['system', 'global', 'project', 'local'] as const).filter((l) => g[l]);
  if (named.length > 1) throw new ConfigError(`choose one scope, not ${named.map((l) => `--${l}`).join(' and ')}`);
  return named[0];
}

/**
 * The settings to work on: the repository's (all four scopes), or outside a repository the user's
 * and the machine's alone, when the command names one of them (or only lists).
 */
export async function openConfig(level: ConfigLevel | undefined, listing = false): Promise<Config> {
  if (findRoot(process.cwd()) === undefined && (level === 'global' || level === 'system' || (listing && level === undefined))) {
    return Config.load(undefined);
  }
  return (await Repo.open()).config;
}

export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) warn(w);
}

function originJson(key: string, v: ConfigValue): Record<string, string> {
  return { key, value: v.value, scope: v.level, file: v.file };
}

export async function runConfig(g: ConfigOpts, key: string | undefined, value: string | undefined): Promise<number | void> {
  const level = scopeOf(g);
  const listing = g.list === true || key === undefined;
  const config = await openConfig(level, listing);
  if (listing) {
    const entries = listSettings(config, level);
    if (g.json) return printJson(g.showOrigin ? entries.map(([k, v]) => originJson(k, v)) : Object.fromEntries(entries.map(([k, v]) => [k, v.value])));
    for (const [k, v] of entries) out(g.showOrigin ? `file:${v.file}\t${k}=${v.value}` : `${k}=${v.value}`);
    return;
  }
  if (g.unset) return unsetSetting(config, key, level);
  if (value !== undefined) return printWarnings(await setSetting(config, key, value, level));
  const current = getSetting(config, key, level);
  if (current === undefined) throw new ConfigError(`${key} is not set${level ? ` in the ${level} config (${config.fileFor(level)})` : ''}`);
  if (g.json) return printJson(g.showOrigin ? originJson(key, current) : { [key]: current.value });
  out(g.showOrigin ? `file:${current.file}\t${current.value}` : current.value);
}

/**
 * `tdvc cache dir [PATH]`: a relative PATH is relative to .tdvc/ in the project and local scopes;
 * with --global or --system it is taken relative to where the command runs and stored absolute.
 */
export async function runCacheDir(g: ConfigOpts, path: string | undefined): Promise<void> {
  const level = scopeOf(g);
  if (path === undefined) {
    out((await Repo.open()).cacheDir);
    return;
  }
  const config = await openConfig(level);
  const stored = level === 'global' || level === 'system' ? resolve(path) : path;
  printWarnings(await setSetting(config, 'cache.dir', stored, level));
  say(g, `cache folder set to ${stored}${level && level !== 'project' ? ` (${level} config)` : ''}`);
}
