import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import { compareUtf8, relPathProblem } from '../objects/paths.js';
import { oidOfTail } from '../objects/layout.js';
import { shownPath } from '../objects/manifest.js';
import { decidingRule, IGNORE_FILE, parseIgnore, readIgnoreFileSync, rulesAbove, type ActiveRules, type IgnoreSetup } from './ignore-rules.js';

export interface WalkedFile {
  /** path relative to the walked folder, '/'-separated */
  rel: string;
  abs: string;
  ino: number;
  size: number;
  mtimeMs: number;
  exec: boolean;
}

export interface WalkOptions {
  onFile?: (count: number) => void;
  /**
   * The cache's object folder (`<cache>/b3v1`): a link to an object there is what a checkout with
   * `cache.type symlink` made, and is read as that object.
   */
  objectsDir?: string;
  /** the .tdvcignore rules from above the walked folder, and how to name the ones inside it */
  ignore?: IgnoreSetup;
}

export type { IgnoreSetup };

/**
 * Every regular file under `dir` with its stat data, in canonical order: paths compared as UTF-8
 * bytes, the order of tree manifests and of the stat index, so a scan can be compared with both
 * as three sorted streams and nothing per file has to be held for the whole dataset. Memory: the
 * names of the folders on the current path (a flat folder of a million files: its names).
 * Synchronous on purpose: one lstat per file on a warm dentry cache costs about a microsecond,
 * far less than a promise round trip.
 *
 * Symbolic links: a link to a cache object (a symlink checkout) and a link to a regular file inside
 * `dir` itself are read as that file; every other link is refused with its path: one that leaves
 * the dataset (a cloned repository can commit `data/x -> ~/.ssh/id_rsa`, and `tdvc add` would store
 * the key in the cache and `tdvc push` send it away), one to a folder (links can loop), a broken one.
 * A name that a manifest cannot hold exactly (a line break, a backslash, bytes that are not UTF-8,
 * `.git`/`.tdvc`) is refused too, so no version is ever recorded that cannot be checked out.
 *
 * .tdvcignore files (in `dir` and below it, and those `opts.ignore` brings from above it) drop
 * what they match before any of that: an ignored name is not stat'ed, checked or descended into.
 */
export function* walkSorted(dir: string, opts: WalkOptions = {}): Generator<WalkedFile> {
  const links = new LinkPolicy(dir, opts.objectsDir);
  const onFile = opts.onFile;
  const datasetPrefix = opts.ignore && opts.ignore.datasetPath !== '' ? `${opts.ignore.datasetPath}/` : '';
  let count = 0;
  function* walkDir(absDir: string, relDir: string, active: ActiveRules[]): Generator<WalkedFile> {
    let dirents: Dirent[];
    try {
      dirents = readdirSync(absDir, { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT') && relDir !== '') return; // vanished meanwhile
      throw fromSystemError(err, absDir);
    }
    // a folder sorts as its name followed by '/', as its files' paths do
    let keys: string[] = new Array(dirents.length);
    for (let i = 0; i < dirents.length; i++) {
      const d = dirents[i]!;
      keys[i] = d.isDirectory() ? `${d.name}/` : d.name;
    }
    dirents = [];
    keys.sort(compareUtf8);
    const prefix = relDir === '' ? '' : `${relDir}/`;
    const absPrefix = `${absDir}/`;
    // .tdvcignore: found by two binary searches of the sorted names, so a folder without one costs
    // nothing per file; with rules in force, ignored names are dropped before they are stat'ed,
    // checked or descended into
    if (hasKey(keys, IGNORE_FILE) || hasKey(keys, `${IGNORE_FILE}/`)) {
      const source = `${datasetPrefix}${prefix}${IGNORE_FILE}`;
      const text = readIgnoreFileSync(absPrefix + IGNORE_FILE, { absentOk: true, objectsDir: opts.objectsDir });
      const rules = text === undefined ? [] : parseIgnore(text, source);
      if (rules.length > 0) active = [...active, { rules, dir: [] }];
    }
    if (active.length > 0) keys = keys.filter((key) => !isIgnored(active, key));
    for (const key of keys) {
      const name = key.endsWith('/') ? key.slice(0, -1) : key;
      const problem = relPathProblem(name);
      if (problem) throw badName(absDir, name, prefix + name, problem);
    }
    for (const key of keys) {
      const name = key.endsWith('/') ? key.slice(0, -1) : key;
      const abs = absPrefix + name;
      const rel = prefix + name;
      let st: Stats | undefined;
      try {
        st = lstatSync(abs, { throwIfNoEntry: false });
      } catch (err) {
        throw fromSystemError(err, abs);
      }
      if (!st) continue; // vanished meanwhile
      if (st.isSymbolicLink()) st = links.follow(abs);
      if (st.isDirectory()) {
        // a folder that was a file when listed (or the other way round) is read where it sorts now
        if (key.endsWith('/')) yield* walkDir(abs, rel, active.length === 0 ? active : active.map((a) => ({ rules: a.rules, dir: [...a.dir, name] })));
        else throw changedType(abs);
      } else if (st.isFile()) {
        if (key.endsWith('/')) throw changedType(abs);
        yield { rel, abs, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, exec: (st.mode & 0o100) !== 0 };
        if (onFile && (++count & 1023) === 0) onFile(count);
      } else {
        throw new TdvcError('EBADFILE', `not a regular file or folder: ${abs}`, {
          path: abs,
          hint: 'tdvc tracks regular files; move sockets, pipes and devices out of the dataset',
        });
      }
    }
  }
  yield* walkDir(dir, '', opts.ignore ? rulesAbove(opts.ignore) : []);
}

function isIgnored(active: readonly ActiveRules[], key: string): boolean {
  const isDir = key.endsWith('/');
  const rule = decidingRule(active, isDir ? key.slice(0, -1) : key, isDir);
  return rule !== undefined && !rule.negate;
}

/** Binary search of names sorted by compareUtf8. */
function hasKey(keys: readonly string[], key: string): boolean {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareUtf8(keys[mid]!, key);
    if (c === 0) return true;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** `walkSorted` collected into one array (for callers that need every file at once). */
export function walkFiles(dir: string, opts: WalkOptions | ((count: number) => void) = {}): WalkedFile[] {
  return [...walkSorted(dir, typeof opts === 'function' ? { onFile: opts } : opts)];
}

function changedType(abs: string): TdvcError {
  return new TdvcError('ECHANGED', `${abs} changed between a file and a folder while it was read`, { path: abs, hint: 'run the command again' });
}

/** The error for a file name a manifest cannot hold; names that were not UTF-8 are shown as bytes. */
function badName(absDir: string, name: string, rel: string, problem: string): TdvcError {
  let shown = shownPath(rel);
  if (name.includes('\uFFFD')) {
    const raw = readdirSync(absDir, { encoding: 'buffer' }).find((b) => b.toString('utf8') === name && !Buffer.from(name, 'utf8').equals(b));
    if (raw) {
      shown = `${rel.slice(0, rel.length - name.length)}<bytes ${raw.toString('hex')}>`;
      problem = 'the name is not valid UTF-8';
    } else {
      return new TdvcError('EBADNAME', `cannot track ${shown}: it contains U+FFFD`, { path: join(absDir, name) });
    }
  }
  return new TdvcError('EBADNAME', `cannot track ${shown} in ${absDir}: ${problem}`, {
    path: join(absDir, name),
    hint: 'a dataset manifest could not record this name exactly, so the version could not be checked out again: rename or remove it',
  });
}

/** A link as a `cache.type symlink` checkout makes it: the absolute path of an object in `objectsDir`. */
function isObjectLink(target: string, objectsDir: string | undefined): objectsDir is string {
  return objectsDir !== undefined && isAbsolute(target) && target.startsWith(objectsDir + '/') && oidOfTail(target.slice(objectsDir.length + 1)) !== undefined;
}

/** The stat of the cache object a link points at, which must be a regular file (never followed further). */
function statObjectTarget(abs: string, target: string): Stats {
  let st: Stats;
  try {
    st = lstatSync(target);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw new TdvcError('EBROKENLINK', `broken symlink: ${abs} (its cache object is gone)`, { path: abs, hint: "run 'tdvc checkout --force' (or 'tdvc pull') to restore it" });
    throw fromSystemError(err, abs);
  }
  if (!st.isFile()) throw new TdvcError('EBADOBJECT', `${abs} links to a cache entry that is not a regular file: ${target}`, { path: abs, hint: "run 'tdvc fsck'" });
  return st;
}

/** Which symbolic links inside a dataset are read, and as what (see walkFiles). */
class LinkPolicy {
  private realRoot: string | undefined;

  constructor(
    private readonly root: string,
    private readonly objectsDir: string | undefined,
  ) {}

  follow(abs: string): Stats {
    let target: string;
    try {
      target = readlinkSync(abs);
    } catch (err) {
      throw fromSystemError(err, abs);
    }
    if (isObjectLink(target, this.objectsDir)) return statObjectTarget(abs, target);
    const st = followLink(abs);
    this.realRoot ??= realpathSync(this.root);
    const real = realpathSync(abs);
    if (!real.startsWith(this.realRoot + sep)) {
      throw new TdvcError('ELINKOUT', `symbolic link leaves the dataset: ${abs} -> ${target}`, {
        path: abs,
        hint: 'tdvc reads links only to files inside the dataset: replace the link by a copy of the file (cp --remove-destination TARGET LINK), or remove it',
      });
    }
    return st;
  }
}

function followLink(abs: string): Stats {
  let st: Stats;
  try {
    st = statSync(abs);
  } catch (err) {
    if (isErrno(err, 'ELOOP')) {
      throw new TdvcError('ELOOP', `symlink loop at ${abs}`, { path: abs, hint: 'remove or fix the symlink' });
    }
    if (isErrno(err, 'ENOENT')) {
      throw new TdvcError('EBROKENLINK', `broken symlink: ${abs}`, { path: abs, hint: 'remove or fix the symlink' });
    }
    throw fromSystemError(err, abs);
  }
  if (st.isDirectory()) {
    throw new TdvcError('ELINKDIR', `symlink to a folder inside a dataset: ${abs}`, {
      path: abs,
      hint: 'tdvc does not follow folder symlinks (they can loop); replace it with the folder or add the target separately',
    });
  }
  return st;
}

/**
 * stat of the path of a dataset itself. A folder dataset must be a real folder; a file dataset may
 * be a link only to a cache object (a symlink checkout). Any other link is refused: writes through
 * it would land wherever it points.
 */
export function statPath(abs: string, objectsDir?: string): Stats | undefined {
  let st: Stats;
  try {
    st = lstatSync(abs);
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw fromSystemError(err, abs);
  }
  if (!st.isSymbolicLink()) return st;
  let target = '';
  try {
    target = readlinkSync(abs);
  } catch {
    // gone meanwhile
  }
  if (isObjectLink(target, objectsDir)) return statObjectTarget(abs, target);
  throw new TdvcError('ESYMLINK', `${abs} is a symbolic link (-> ${target}); tdvc does not read or write a dataset through a link`, {
    path: abs,
    hint: 'replace the link by the folder or file itself; to keep data on another disk, move the cache there instead (tdvc cache dir PATH)',
  });
}
