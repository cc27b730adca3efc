import { existsSync, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError, NotInitializedError, PathOutsideRepositoryError, TdvcError } from '../errors.js';
import { ObjectStore, type SharedMode } from '../odb/store.js';
import { isOwnedByDeadLocalProcess } from '../util/fs.js';
import { NoFollowGuard } from '../util/no-follow.js';
import { readSmallText } from '../util/safe-read.js';
import { reservedName } from '../objects/paths.js';
import { Config } from './config.js';
import { HeldObjects } from './held.js';
import { LocalObjects } from './local-objects.js';

export const TDVC_DIR = '.tdvc';

/**
 * cache.verify on a private cache when it is not set (see Repo.verifyObjects). Off: measured, it
 * costs 1.09x on 100,000 small files (1.31x cp -r against 1.20x, above the 1.3x target) and 3x on
 * a 2 GiB file (BENCHMARKS.md, core run E), while only this user's tdvc writes a private cache and
 * every object entering it was hashed (add) or verified (fetch); type and size are always checked.
 */
const VERIFY_PRIVATE_DEFAULT = false;

/** An opened tdvc repository: where things are, and its settings. */
export class Repo {
  private constructor(
    readonly root: string,
    readonly config: Config,
    readonly hasGit: boolean,
  ) {}

  static async open(cwd: string = process.cwd()): Promise<Repo> {
    const root = findRoot(cwd);
    if (!root) throw new NotInitializedError(cwd);
    // .tdvc and the folders tdvc writes in it must be real folders: a committed `.tdvc -> ~/x`
    // (or `.tdvc/tmp -> ~`) would otherwise make every command write, and clean up, over there
    new NoFollowGuard(root).dir(join(root, TDVC_DIR));
    const config = await Config.load(join(root, TDVC_DIR));
    const repo = new Repo(root, config, existsSync(join(root, '.git')) || findGitDir(root) !== undefined);
    repo.guard.dir(repo.tmpDir);
    if (!config.get('cache.dir')) repo.guard.dir(repo.cacheDir);
    return repo;
  }

  private noFollow: NoFollowGuard | undefined;

  /**
   * Checks write and delete targets in the workspace: no component from the root down may be a
   * symbolic link (see NoFollowGuard).
   */
  get guard(): NoFollowGuard {
    this.noFollow ??= new NoFollowGuard(this.root);
    return this.noFollow;
  }

  get tdvcDir(): string {
    return join(this.root, TDVC_DIR);
  }

  get tmpDir(): string {
    return join(this.tdvcDir, 'tmp');
  }

  get indexDir(): string {
    return join(this.tmpDir, 'index');
  }

  private local: LocalObjects | undefined;

  /** This project's local objects: the cache and the objects only its workspace files hold (see LocalObjects). */
  get objects(): LocalObjects {
    this.local ??= new LocalObjects(this.odb, new HeldObjects(join(this.tmpDir, 'held'), this.root));
    return this.local;
  }

  get cacheDir(): string {
    const configured = this.config.resolve('cache.dir');
    if (!configured?.value) return join(this.tdvcDir, 'cache');
    if (isAbsolute(configured.value)) return configured.value;
    // relative to .tdvc/ in a repository's own files; the user's and the machine's serve every repository
    if (configured.level === 'project' || configured.level === 'local') return resolve(this.tdvcDir, configured.value);
    throw new ConfigError(`cache.dir in ${configured.file} must be an absolute path`, `set it with 'tdvc config --${configured.level} cache.dir /ABSOLUTE/PATH'`, configured.file);
  }

  private store: ObjectStore | undefined;

  get odb(): ObjectStore {
    if (!this.store) {
      const fsync = this.config.get('cache.fsync');
      this.store = new ObjectStore(this.cacheDir, {
        shared: (this.config.get('cache.shared') ?? 'none') as SharedMode,
        ...(fsync === undefined ? {} : { fsync: fsync === 'true' }),
      });
    }
    return this.store;
  }

  /**
   * Whether checkout hashes every object as it places it (`cache.verify`). Always on a shared cache,
   * where any member of the group can replace an object file, and on any cache outside the
   * workspace unless `cache.verify false` is set locally; on the workspace's own cache the default
   * is chosen by measurement (BENCHMARKS.md, "cost of the checks").
   */
  get verifyObjects(): boolean {
    if (this.odb.shared !== 'none') return true;
    // a cache outside this workspace (cache.dir set, perhaps by someone else's commit) may be
    // shared without saying so: verified unless the user's own config (local, global, system) turns it off
    if (this.config.get('cache.dir')) return this.config.trusted('cache.verify') !== 'false';
    const v = this.config.get('cache.verify');
    return v === undefined ? VERIFY_PRIVATE_DEFAULT : v === 'true';
  }

  /**
   * Resolves a path the user typed (relative to `cwd`) to a path relative to the repository root,
   * with '/' separators. Refuses paths outside the repository and inside `.tdvc` or `.git`.
   */
  relPath(userPath: string, cwd: string = process.cwd()): string {
    const abs = resolve(cwd, userPath);
    let rel = relative(this.root, abs);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      // the repository may have been reached through a symlinked path
      const real = safeRealpath(abs);
      rel = real ? relative(this.root, real) : rel;
      if (rel.startsWith('..') || isAbsolute(rel)) throw new PathOutsideRepositoryError(userPath, this.root);
    }
    rel = rel.split(sep).join('/');
    for (const seg of rel === '' ? [] : rel.split('/')) {
      const reserved = reservedName(seg);
      if (reserved) throw new TdvcError('EBADPATH', `cannot use ${userPath}: it is inside ${reserved}/ (or a name that a file system may take for it)`, { path: userPath, exitCode: 2 });
    }
    return rel;
  }

  abs(relPath: string): string {
    return relPath === '' ? this.root : join(this.root, ...relPath.split('/'));
  }

  /** A private scratch folder on the workspace filesystem; stale ones of killed processes are removed. */
  async makeScratchDir(name: string): Promise<string> {
    await mkdir(this.tmpDir, { recursive: true });
    await this.sweepScratchDirs();
    const dir = join(this.tmpDir, name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Removes the scratch folders of killed processes. Commands that may need no scratch folder this
   * time (an add whose link type is a plain copy) call it anyway, or a folder left by a run killed
   * while it had one would stay forever.
   */
  async sweepScratchDirs(): Promise<void> {
    for (const entry of readdirSafe(this.tmpDir)) {
      // scratch names are uniqueTempName('scratch-<kind>'), with no '-' in <kind>
      const prefix = entry.split('-', 2).join('-');
      if (entry.startsWith('scratch-') && isOwnedByDeadLocalProcess(entry, prefix)) {
        await rm(join(this.tmpDir, entry), { recursive: true, force: true });
      }
    }
  }

  /** A small file of the working tree (a pointer file): bounded, never through a link. Undefined when absent. */
  async readText(relPath: string, what = 'file'): Promise<string | undefined> {
    return readSmallText(this.abs(relPath), what);
  }
}

export function findRoot(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (isDirOrLink(join(dir, TDVC_DIR))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** The folder holding `.git` (a directory, or a file for worktrees and submodules), if any. */
export function findGitDir(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** A link counts, so that Repo.open can refuse it by name instead of looking further up. */
function isDirOrLink(p: string): boolean {
  try {
    const st = lstatSync(p);
    return st.isDirectory() || st.isSymbolicLink();
  } catch {
    return false;
  }
}

function safeRealpath(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    // the path may not exist yet: resolve its parent instead
    try {
      return join(realpathSync(dirname(p)), p.slice(dirname(p).length + 1));
    } catch {
      return undefined;
    }
  }
}

function readdirSafe(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}
