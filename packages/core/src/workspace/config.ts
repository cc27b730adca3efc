import { mkdir, stat } from 'node:fs/promises';
import { dirname, isAbsolute } from 'node:path';
import { ConfigError, isErrno, TdvcError } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';
import { parseIni, serializeIni, type IniData } from './ini.js';
import { CONFIG_LEVELS, configFileOf, levelFlag, type ConfigLevel } from './config-scopes.js';
import { credentialWarning } from './config-secrets.js';

export { CONFIG_LEVELS, type ConfigLevel };

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

/**
 * Creates a config folder and its missing parents one by one (Node's recursive mkdir never returns
 * on some file systems, /proc for one): an error is the first mkdir's that fails.
 */
async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      await stat(d);
      break;
    } catch (err) {
      if (!isErrno(err, 'ENOENT') || dirname(d) === d) throw err;
      missing.unshift(d);
    }
  }
  for (const d of missing) {
    try {
      await mkdir(d);
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
  }
}

function splitKey(key: string): { section: string; option: string } {
  const last = key.lastIndexOf('.');
  return { section: key.slice(0, last), option: key.slice(last + 1) };
}

const WHAT: Record<ConfigLevel, string> = {
  system: 'system config file',
  global: 'global config file',
  project: 'config file',
  local: 'config file',
};

/** A setting's value and the scope it comes from. */
export interface ConfigValue {
  value: string;
  level: ConfigLevel;
  file: string;
}

/**
 * The settings: four scopes (see config-scopes.ts), merged. A later scope wins (system < global <
 * project < local), with three exceptions, because the project's `.tdvc/config` comes from a
 * clone and may be a stranger's: where the cache lives (`cache.dir`) is the user's choice first
 * (local, global, system, and the project only when none of them says); `cache.shared` from the
 * project is ignored for the user's default cache folder (global or system `cache.dir`); and a remote that the user's or the
 * machine's config defines is taken from those files (and local) alone: a project cannot add an
 * `endpoint_url` to the user's own remote. `cache.verify` off counts only from a trusted scope
 * (Repo.verifyObjects). Secrets belong in none of them; credentials come from each tool's own
 * provider chain.
 */
export class Config {
  private constructor(
    private readonly tdvcDir: string | undefined,
    private readonly levels: Record<ConfigLevel, IniData>,
    private readonly files: Partial<Record<ConfigLevel, string>>,
  ) {}

  /** The file of a repository's own scope (`.tdvc/config`, `.tdvc/config.local`). */
  static fileFor(tdvcDir: string, level: 'project' | 'local'): string {
    return configFileOf(level, tdvcDir)!;
  }

  /** The file of a scope (the project ones of this repository). */
  fileFor(level: ConfigLevel): string {
    const file = this.files[level] ?? configFileOf(level, this.tdvcDir);
    if (file === undefined) throw new ConfigError(`no ${level} config outside a tdvc repository`, "run it inside a repository, or use --global or --system");
    return file;
  }

  /**
   * Loads every scope; `tdvcDir` undefined (outside a repository) loads the system and global ones
   * only. Each file is read bounded and never through a link, the user's own too (as the committed
   * one: a FIFO must not hang every command).
   */
  static async load(tdvcDir: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
    const levels = {} as Record<ConfigLevel, IniData>;
    const files: Partial<Record<ConfigLevel, string>> = {};
    for (const level of CONFIG_LEVELS) {
      const file = configFileOf(level, tdvcDir, env);
      levels[level] = new Map();
      if (file === undefined) continue;
      files[level] = file;
      const text = await readSmallText(file, WHAT[level]);
      if (text !== undefined) levels[level] = parseIni(text, file);
    }
    return new Config(tdvcDir, levels, files);
  }

  /** A committed config as text (read from a revision): `where` names it in messages; no other scope. */
  static fromText(text: string | undefined, where: string): Config {
    const empty = (): IniData => new Map();
    return new Config(undefined, { system: empty(), global: empty(), project: text === undefined ? empty() : parseIni(text, where), local: empty() }, { project: where });
  }

  /** The scopes `key` is looked up in, strongest first (see the class comment). */
  private order(key: string): ConfigLevel[] {
    if (key === 'cache.dir') return ['local', 'global', 'system', 'project'];
    if (key === 'cache.shared') {
      const dir = this.resolve('cache.dir');
      // a team's committed `cache.shared group` must reach the clone that points its own
      // `cache.dir --local` at the team's mount (else its new folders are not group-writable);
      // the user's default cache for every repository (global, system) is not the project's to share
      return dir && (dir.level === 'global' || dir.level === 'system') ? ['local', 'global', 'system'] : ['local', 'project', 'global', 'system'];
    }
    const remote = /^remote\.(.+)\.[^.]+$/.exec(key);
    if (remote && this.userRemote(remote[1]!)) return ['local', 'global', 'system'];
    return ['local', 'project', 'global', 'system'];
  }

  /** The trusted scope that defines remote NAME (global or system), if any. */
  userRemote(name: string): ConfigLevel | undefined {
    return (['global', 'system'] as const).find((level) => this.levels[level].has(`remote.${name}`));
  }

  /** A setting's effective value and where it comes from. */
  resolve(key: string): ConfigValue | undefined {
    const { section, option } = splitKey(key);
    for (const level of this.order(key)) {
      const value = this.levels[level].get(section)?.get(option);
      if (value !== undefined) return { value, level, file: this.fileFor(level) };
    }
    return undefined;
  }

  get(key: string): string | undefined {
    return this.resolve(key)?.value;
  }

  /** A setting as one scope holds it. */
  getAt(key: string, level: ConfigLevel): string | undefined {
    const { section, option } = splitKey(key);
    return this.levels[level].get(section)?.get(option);
  }

  /** A setting from the user's own scopes only (local, global, system), never from a commit. */
  trusted(key: string): string | undefined {
    for (const level of ['local', 'global', 'system'] as const) {
      const v = this.getAt(key, level);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** The file the value of `key` comes from, or undefined when it is not set. */
  fileOf(key: string): string | undefined {
    return this.resolve(key)?.file;
  }

  /** Every `remote.NAME.KEY` setting but the URL, as `{ KEY: value }`. */
  remoteOptions(name: string): Record<string, string> {
    const out: Record<string, string> = {};
    const prefix = `remote.${name}.`;
    for (const [k, v] of this.entries()) if (k.startsWith(prefix) && k !== `${prefix}url`) out[k.slice(prefix.length)] = v;
    return out;
  }

  /**
   * A count of operations in flight (`core.jobs`, `remote.NAME.jobs`), checked as it is read: the
   * file may be committed by anyone, and a bad value is an error naming the file and the key, not
   * a default used quietly (nor a hundred million workers started).
   */
  jobs(key: string): number | undefined {
    const found = this.resolve(key);
    if (found === undefined) return undefined;
    const n = parseJobs(found.value, 'operations');
    if (n !== undefined) return n;
    const flag = levelFlag(found.level);
    throw new ConfigError(
      `bad setting ${key} in ${found.file}: must be ${jobsRange('operations')} (got ${shown(found.value)})`,
      `fix it with 'tdvc config${flag} ${key} N', or remove it with 'tdvc config${flag} --unset ${key}'`,
      found.file,
    );
  }

  /** Every setting's effective value and origin, sorted by name. */
  resolvedEntries(): Array<[string, ConfigValue]> {
    const keys = new Set<string>();
    for (const level of CONFIG_LEVELS) {
      for (const [section, values] of this.levels[level]) for (const k of values.keys()) keys.add(`${section}.${k}`);
    }
    const out: Array<[string, ConfigValue]> = [];
    for (const key of [...keys].sort()) {
      const found = this.resolve(key);
      if (found) out.push([key, found]);
    }
    return out;
  }

  /** All settings as effective values, flat `section.key` names. */
  entries(): Array<[string, string]> {
    return this.resolvedEntries().map(([k, v]) => [k, v.value]);
  }

  /** One scope's settings, as written in its file. */
  entriesAt(level: ConfigLevel): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [section, values] of this.levels[level]) for (const [k, v] of values) out.push([`${section}.${k}`, v]);
    return out.sort(([a], [b]) => (a < b ? -1 : 1));
  }

  /** The names below `prefix` (e.g. remote names), from every scope. */
  sections(prefix: string, levels: readonly ConfigLevel[] = CONFIG_LEVELS): string[] {
    const names = new Set<string>();
    for (const level of levels) {
      for (const s of this.levels[level].keys()) if (s.startsWith(prefix + '.')) names.add(s.slice(prefix.length + 1));
    }
    return [...names].sort();
  }

  /**
   * Writes a setting into one scope; returns warnings for the user (a credential-looking setting
   * in the committed file; a project setting that the user's own config overrides).
   */
  async set(key: string, value: string, level: ConfigLevel = 'project'): Promise<string[]> {
    validateSetting(key, value);
    const file = this.fileFor(level);
    if (key === 'cache.dir' && (level === 'global' || level === 'system') && !isAbsolute(value)) {
      throw new ConfigError(`cache.dir in the ${level} config must be an absolute path (got ${shown(value)})`, 'a relative one is relative to .tdvc/ and only the project and local scopes have one', file);
    }
    const remote = /^remote\.(.+)\.[^.]+$/.exec(key)?.[1];
    const owner = remote === undefined || level !== 'project' ? undefined : this.userRemote(remote);
    if (owner) {
      throw new ConfigError(
        `remote ${remote} is defined in your ${owner} config (${this.fileFor(owner)}); a project config cannot change it`,
        `use 'tdvc remote modify --${owner} ${remote} ...' (or --local), or give the project's remote another name`,
      );
    }
    const warnings: string[] = [];
    const warning = credentialWarning(key, value, level, file);
    if (warning) warnings.push(warning);
    const { section, option } = splitKey(key);
    const data = this.levels[level];
    const values = data.get(section) ?? new Map<string, string>();
    values.set(option, value);
    data.set(section, values);
    await this.save(level);
    const winner = this.resolve(key);
    if (winner && winner.level !== level && CONFIG_LEVELS.indexOf(winner.level) < CONFIG_LEVELS.indexOf(level)) {
      warnings.push(`${key} from the ${winner.level} config (${winner.file}) wins over the ${level} one: a project config cannot change it for you`);
    }
    return warnings;
  }

  async unset(key: string, level: ConfigLevel = 'project'): Promise<boolean> {
    const { section, option } = splitKey(key);
    const removed = this.levels[level].get(section)?.delete(option) ?? false;
    if (removed) await this.save(level);
    return removed;
  }

  /** Removes a section from the given scopes; true when any held it. */
  async removeSection(section: string, levels: readonly ConfigLevel[] = ['project', 'local']): Promise<boolean> {
    let removed = false;
    for (const level of levels) {
      if (this.levels[level].delete(section)) {
        removed = true;
        await this.save(level);
      }
    }
    return removed;
  }

  private async save(level: ConfigLevel): Promise<void> {
    const file = this.fileFor(level);
    try {
      // the user's and the machine's config folders may not exist yet (the project's does)
      if (level === 'global' || level === 'system') await makeFolders(dirname(file));
      await writeFileAtomic(file, serializeIni(this.levels[level]));
    } catch (err) {
      const cause = err instanceof TdvcError ? err.cause : err;
      if (isErrno(cause, 'EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR')) {
        const code = (cause as NodeJS.ErrnoException).code;
        const why = code === 'EROFS' ? 'read-only file system' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : 'its folder cannot be created there';
        throw new TdvcError('EACCES', `cannot write the ${level} config ${file}: ${why}`, {
          path: file,
          hint: level === 'system' ? 'the system config is the administrator\'s: run as root (sudo), or write your own with --global' : 'check the permissions of the file and its folder',
        });
      }
      throw err;
    }
  }

  linkTypes(): LinkType[] {
    return (this.get('cache.type') ?? 'reflink,copy').split(',').map((s) => s.trim()) as LinkType[];
  }
}
