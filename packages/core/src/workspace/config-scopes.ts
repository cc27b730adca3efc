import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * The four config scopes, weakest first: the machine's (`system`), the user's (`global`), the
 * project's committed `.tdvc/config` (`project`) and this clone's git-ignored `.tdvc/config.local`
 * (`local`). A later scope wins, except where a cloned project must not decide for the user (see
 * Config: `cache.dir`, `cache.shared`, `cache.verify` and the remotes the user's own files define).
 */
export type ConfigLevel = 'system' | 'global' | 'project' | 'local';

export const CONFIG_LEVELS: readonly ConfigLevel[] = ['system', 'global', 'project', 'local'];

/** `/etc/tdvc/config`; `TDVC_SYSTEM_CONFIG` overrides it (tests, packagers). */
export function systemConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const set = env['TDVC_SYSTEM_CONFIG'];
  return set ? resolve(set) : '/etc/tdvc/config';
}

/** `$XDG_CONFIG_HOME/tdvc/config`, else `~/.config/tdvc/config`; `TDVC_GLOBAL_CONFIG` overrides both. */
export function globalConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  const set = env['TDVC_GLOBAL_CONFIG'];
  if (set) return resolve(set);
  // the XDG spec ignores a relative XDG_CONFIG_HOME
  const xdg = env['XDG_CONFIG_HOME'];
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.config'), 'tdvc', 'config');
}

/** The file of a scope; the project scopes need the repository's `.tdvc` folder. */
export function configFileOf(level: ConfigLevel, tdvcDir: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (level === 'system') return systemConfigFile(env);
  if (level === 'global') return globalConfigFile(env);
  if (tdvcDir === undefined) return undefined;
  return join(tdvcDir, level === 'project' ? 'config' : 'config.local');
}

/** The option naming a scope, as a hint shows it ('' for the default, the project). */
export function levelFlag(level: ConfigLevel): string {
  return level === 'project' ? '' : ` --${level}`;
}
