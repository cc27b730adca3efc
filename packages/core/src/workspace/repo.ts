import { existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { NotInitializedError, PathOutsideRepositoryError, TdvcError } from '../errors.js';
import { HeldObjects } from '../checkout/held.js';
import { ObjectStore, type SharedMode } from '../odb/store.js';
import { isOwnedByDeadLocalProcess } from '../util/fs.js';
import { Config } from './config.js';

export const TDVC_DIR = '.tdvc';

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
    const config = await Config.load(join(root, TDVC_DIR));
    return new Repo(root, config, existsSync(join(root, '.git')) || findGitDir(root) !== undefined);
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

  /** objects whose only local copy is a workspace file (see HeldObjects) */
  get held(): HeldObjects {
    return new HeldObjects(join(this.tmpDir, 'held'), this.root);
  }

  get cacheDir(): string {
    const configured = this.config.get('cache.dir');
    if (!configured) return join(this.tdvcDir, 'cache');
    return isAbsolute(configured) ? configured : resolve(this.tdvcDir, configured);
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
    const first = rel.split('/')[0];
    if (first === TDVC_DIR || first === '.git') {
      throw new TdvcError('EBADPATH', `cannot track ${userPath}: it is inside ${first}/`, { path: userPath });
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

  async readText(relPath: string): Promise<string> {
    return readFile(this.abs(relPath), 'utf8');
  }
}

export function findRoot(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (isDir(join(dir, TDVC_DIR))) return dir;
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

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
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
