import { ConfigError } from '../errors.js';
import type { Config, ConfigLevel, ConfigValue } from '../workspace/config.js';
import { levelFlag } from '../workspace/config-scopes.js';

/**
 * `tdvc config [--system|--global|--project|--local] KEY [VALUE]`, `--unset`, `--list`. They take
 * the Config (a repository's, or only the user's and the machine's outside one).
 */
export function getSetting(config: Config, key: string, level?: ConfigLevel): ConfigValue | undefined {
  if (level === undefined) return config.resolve(key);
  const value = config.getAt(key, level);
  return value === undefined ? undefined : { value, level, file: config.fileFor(level) };
}

/** Returns warnings for the user (see Config.set). */
export async function setSetting(config: Config, key: string, value: string, level: ConfigLevel = 'project'): Promise<string[]> {
  return config.set(key, value, level);
}

export async function unsetSetting(config: Config, key: string, level: ConfigLevel = 'project'): Promise<void> {
  if (!(await config.unset(key, level))) {
    const elsewhere = config.resolve(key);
    throw new ConfigError(
      `${key} is not set in the ${level} config (${config.fileFor(level)})`,
      elsewhere ? `it comes from ${elsewhere.file}: 'tdvc config${levelFlag(elsewhere.level)} --unset ${key}'` : undefined,
    );
  }
}

/** Effective settings with their origin, or one scope's settings as written. */
export function listSettings(config: Config, level?: ConfigLevel): Array<[string, ConfigValue]> {
  if (level === undefined) return config.resolvedEntries();
  const file = config.fileFor(level);
  return config.entriesAt(level).map(([key, value]) => [key, { value, level, file }]);
}
