import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';
import { parseIni, serializeIni, type IniData } from './ini.js';

export type ConfigLevel = 'repo' | 'local';

import { LINK_TYPES, type LinkType } from '../util/link-support.js';
import { jobsRange, parseJobs } from '../util/concurrency.js';

export { LINK_TYPES, type LinkType };

/** Settings tdvc knows, with a validator each. `remote.NAME.KEY` is validated by the remote. */
const KNOWN: Record<string, (v: string) => string | undefined> = {
  'cache.type': (v) => {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.length === 0 || parts.some((p) => !(LINK_TYPES as readonly string[]).includes(p))) {
      return `must be a comma-separated list of ${LINK_TYPES.join(', ')}`;
    }
    return new Set(parts).size === parts.length ? undefined : 'lists a link type twice';
  },
  'cache.dir': (v) => (v.trim() === '' ? 'must be a path' : undefined),
  'cache.shared': (v) => (v === 'group' || v === 'none' ? undefined : 'must be "group" or "none"'),
  'cache.fsync': (v) => (v === 'true' || v === 'false' ? undefined : 'must be true or false'),
  'cache.verify': (v) => (v === 'true' || v === 'false' ? undefined : 'must be true or false'),
  'pull.move_large_files': (v) => (v === 'true' || v === 'false' ? undefined : 'must be true or false'),
  'core.remote': (v) => (/^[A-Za-z0-9_.-]+$/.test(v) ? undefined : 'must be a remote name'),
  'core.jobs': (v) => jobsProblem(v),
};

function jobsProblem(v: string): string | undefined {
  return parseJobs(v, 'operations') === undefined ? `must be ${jobsRange('operations')}` : undefined;
}

/** A setting's value in a message: shown when short and printable (a committed one may hold anything). */
function shown(value: string): string {
  return /^[\x20-\x7e]{0,40}$/.test(value) ? `"${value}"` : `(a value of ${value.length} characters, not shown)`;
}

export function validateSetting(key: string, value: string): void {
  const m = /^([a-z]+)\.(?:([A-Za-z0-9_.-]+)\.)?([a-z_]+)$/.exec(key);
  if (!m) throw new ConfigError(`bad setting name "${key}"`, 'settings are named SECTION.KEY, e.g. cache.type, or remote.NAME.KEY');
  if (m[1] === 'remote' && m[2]) {
    // the one remote setting core reads itself; the rest are checked by the remote
    const problem = m[3] === 'jobs' ? jobsProblem(value) : undefined;
    if (problem) throw new ConfigError(`${key} ${problem} (got ${shown(value)})`);
    return;
  }
  const check = KNOWN[key];
  if (!check) throw new ConfigError(`unknown setting "${key}"`, `known settings: ${Object.keys(KNOWN).join(', ')}, remote.NAME.KEY`);
  const problem = check(value);
  if (problem) throw new ConfigError(`${key} ${problem} (got ${shown(value)})`);
}

function splitKey(key: string): { section: string; option: string } {
  const last = key.lastIndexOf('.');
  return { section: key.slice(0, last), option: key.slice(last + 1) };
}

/**
 * Repository config: `.tdvc/config` is committed; `.tdvc/config.local` is git-ignored and wins.
 * Secrets never belong in either; credentials come from each tool's own provider chain.
 */
export class Config {
  private constructor(
    private readonly dir: string,
    private readonly levels: Record<ConfigLevel, IniData>,
  ) {}

  static fileFor(tdvcDir: string, level: ConfigLevel): string {
    return join(tdvcDir, level === 'repo' ? 'config' : 'config.local');
  }

  static async load(tdvcDir: string): Promise<Config> {
    const read = async (level: ConfigLevel): Promise<IniData> => {
      const file = Config.fileFor(tdvcDir, level);
      // committed by whoever wrote the repository: bounded, never through a link
      const text = await readSmallText(file, 'config file');
      return text === undefined ? new Map() : parseIni(text, file);
    };
    return new Config(tdvcDir, { repo: await read('repo'), local: await read('local') });
  }

  /** A committed config as text (read from a revision): `where` names it in messages; no local level. */
  static fromText(text: string | undefined, where: string): Config {
    return new Config(where, { repo: text === undefined ? new Map() : parseIni(text, where), local: new Map() });
  }

  /** Every `remote.NAME.KEY` setting but the URL, as `{ KEY: value }`. */
  remoteOptions(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    const prefix = `remote.${name}.`;
    for (const [k, v] of this.entries()) if (k.startsWith(prefix) && k !== `${prefix}url`) out[k.slice(prefix.length)] = v;
    return out;
  }

  get(key: string): string | undefined {
    const { section, option } = splitKey(key);
    return this.levels.local.get(section)?.get(option) ?? this.levels.repo.get(section)?.get(option);
  }

  /** A setting as one level holds it (`local`: this clone's own, never from someone else's commit). */
  getAt(key: string, level: ConfigLevel): string | undefined {
    const { section, option } = splitKey(key);
    return this.levels[level].get(section)?.get(option);
  }

  /** The file the value of `key` comes from (config.local wins), or undefined when it is not set. */
  fileOf(key: string): string | undefined {
    const { section, option } = splitKey(key);
    for (const level of ['local', 'repo'] as const) {
      if (this.levels[level].get(section)?.has(option)) return Config.fileFor(this.dir, level);
    }
    return undefined;
  }

  /**
   * A count of operations in flight (`core.jobs`, `remote.NAME.jobs`), checked as it is read: the
   * file may be committed by anyone, and a bad value is an error naming the file and the key, not
   * a default used quietly (nor a hundred million workers started).
   */
  jobs(key: string): number | undefined {
    const value = this.get(key);
    if (value === undefined) return undefined;
    const n = parseJobs(value, 'operations');
    if (n !== undefined) return n;
    const file = this.fileOf(key)!;
    const level = file.endsWith('.local') ? ' --local' : '';
    throw new ConfigError(
      `bad setting ${key} in ${file}: must be ${jobsRange('operations')} (got ${shown(value)})`,
      `fix it with 'tdvc config${level} ${key} N', or remove it with 'tdvc config${level} --unset ${key}'`,
      file,
    );
  }

  /** All settings, local ones overriding, as flat `section.key` names. */
  entries(): Array<[string, string]> {
    const flat = new Map<string, string>();
    for (const level of ['repo', 'local'] as const) {
      for (const [section, values] of this.levels[level]) for (const [k, v] of values) flat.set(`${section}.${k}`, v);
    }
    return [...flat.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
  }

  sections(prefix: string): string[] {
    const names = new Set<string>();
    for (const level of ['repo', 'local'] as const) {
      for (const s of this.levels[level].keys()) if (s.startsWith(prefix + '.')) names.add(s.slice(prefix.length + 1));
    }
    return [...names].sort();
  }

  async set(key: string, value: string, level: ConfigLevel = 'repo'): Promise<void> {
    validateSetting(key, value);
    const { section, option } = splitKey(key);
    const data = this.levels[level];
    const values = data.get(section) ?? new Map<string, string>();
    values.set(option, value);
    data.set(section, values);
    await this.save(level);
  }

  async unset(key: string, level: ConfigLevel = 'repo'): Promise<boolean> {
    const { section, option } = splitKey(key);
    const removed = this.levels[level].get(section)?.delete(option) ?? false;
    if (removed) await this.save(level);
    return removed;
  }

  async removeSection(section: string): Promise<boolean> {
    let removed = false;
    for (const level of ['repo', 'local'] as const) {
      if (this.levels[level].delete(section)) {
        removed = true;
        await this.save(level);
      }
    }
    return removed;
  }

  private async save(level: ConfigLevel): Promise<void> {
    await writeFileAtomic(Config.fileFor(this.dir, level), serializeIni(this.levels[level]));
  }

  linkTypes(): LinkType[] {
    return (this.get('cache.type') ?? 'reflink,copy').split(',').map((s) => s.trim()) as LinkType[];
  }
}
