import { lstatSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { ConfigError, ExitCode, isErrno, fromSystemError, TdvcError } from '../errors.js';
import { shownPath } from '../objects/manifest.js';
import { datasetPathProblem } from '../objects/paths.js';
import { POINTER_SUFFIX, serializePointer, type Pointer } from '../objects/pointer.js';
import { CACHE_OPS_AT_ONCE } from '../util/concurrency.js';
import { entryExists, removeRegularFile, writeFileAtomic } from '../util/fs.js';
import { readSmallText, SymlinkRefusedError } from '../util/safe-read.js';
import { loadAllDatasets } from '../workspace/datasets.js';
import { ensureIgnored } from '../workspace/gitignore.js';
import { findGitDir, findRoot, Repo } from '../workspace/repo.js';
import { convertOut, type ConvertCounters, type DvcOutTarget } from '../dvc/convert.js';
import { commitsFromHead, dvcFilesAt, readBlob } from '../dvc/history.js';
import { Md5Map } from '../dvc/md5-map.js';
import { DvcObjects, type DvcObjectRoot } from '../dvc/dvc-cache.js';
import { mergeDvcConfig, parseDvcConfig, type DvcConfig } from '../dvc/dvc-config.js';
import { findDvcFiles } from '../dvc/discover.js';
import { dvcLocalRemoteDir, planSettings } from '../dvc/map-settings.js';
import { DVC_FILE_LIMIT, DVC_LOCK_LIMIT, dvcYamlKeptPaths, parseDvcFile, parseDvcLock, type DvcOut } from '../dvc/parse-dvc-file.js';
import { init } from './init.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface ImportDvcOptions {
  /** delete the `.dvc` files whose outputs were all converted (default: keep them, DVC keeps working) */
  removeDvcFiles?: boolean;
  /** a folder holding a copy of the DVC remote (either layout), read when the DVC cache lacks an object */
  remoteDir?: string;
  jobs?: number;
  /** convert the outputs of every commit reachable from HEAD into the cache too (see convertHistory) */
  history?: boolean;
  cwd?: string;
}

export interface ConvertedDataset {
  path: string;
  pointerPath: string;
  type: 'file' | 'dir';
  files: number;
  bytes: number;
  /** the `.dvc` file or `dvc.lock` (stage) it came from */
  from: string;
}

export interface ImportDvcResult {
  root: string;
  converted: ConvertedDataset[];
  files: number;
  bytes: number;
  /** objects new to the tdvc cache */
  objectsStored: number;
  settings: Array<{ key: string; value: string; level: 'project' | 'local' }>;
  /** what stays DVC's, each with the reason */
  notConverted: string[];
  removedDvcFiles: string[];
  /** with --history */
  history?: HistoryResult;
}

export interface HistoryResult {
  commits: number;
  /** distinct DVC output versions found in them */
  outputs: number;
  /** of those, converted into the tdvc cache (now or by an earlier run) */
  inCache: number;
  /** in neither the DVC cache nor its remote */
  missing: number;
  /** objects (files and tree nodes' files) new to the tdvc cache */
  objectsStored: number;
}

/** `tdvc import-dvc`: converts the DVC repository at the current Git root to tdvc, in place (see README). */
export async function importDvc(opts: ImportDvcOptions = {}): Promise<ImportDvcResult> {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const root = findRoot(cwd) ?? findGitDir(cwd) ?? cwd;
  const dvcDir = join(root, '.dvc');
  requireDvcRepo(root, dvcDir);
  const dvcRepoConfig = await readDvcConfig(join(dvcDir, 'config'));
  const dvcLocalConfig = await readDvcConfig(join(dvcDir, 'config.local'));
  const dvcConfig = mergeDvcConfig(dvcRepoConfig, dvcLocalConfig);
  const notConverted: string[] = [];

  // read and check everything before anything is written: a bad file stops the import untouched
  const found = findDvcFiles(root);
  const targets: DvcOutTarget[] = [];
  const lockTargets = new Set<DvcOutTarget>();
  for (const file of found.dvcFiles) {
    const parsed = parseDvcFile((await readDvcText(root, file, DVC_FILE_LIMIT)) ?? '', file);
    if (parsed.hasDeps) notConverted.push(`${file}: made by dvc import / import-url; its data is converted, its source (deps) stays DVC's`);
    for (const out of parsed.outs) {
      const t = target(file, out, notConverted);
      if (t) targets.push(t);
    }
  }
  for (const lock of found.lockFiles) {
    const folder = posix.dirname(lock) === '.' ? '' : posix.dirname(lock);
    const yamlPath = folder === '' ? 'dvc.yaml' : `${folder}/dvc.yaml`;
    let kept = new Set<string>();
    if (found.yamlFiles.includes(yamlPath)) {
      const k = dvcYamlKeptPaths((await readDvcText(root, yamlPath, DVC_LOCK_LIMIT)) ?? '', yamlPath);
      if (k) kept = k;
      else notConverted.push(`${yamlPath}: beyond the YAML tdvc reads, so its metrics and plots are not known apart (outputs the DVC cache lacks are left out)`);
    }
    for (const stage of parseDvcLock((await readDvcText(root, lock, DVC_LOCK_LIMIT)) ?? '', lock)) {
      notConverted.push(`${lock} stage ${stage.name}: the pipeline (cmd, deps${stage.hasParams ? ', params' : ''}) stays DVC's: keep running dvc repro`);
      for (const out of stage.outs) {
        if (kept.has(out.path)) {
          notConverted.push(`${lock} stage ${stage.name}: ${out.path} is a metric, plot or cache: false output in ${yamlPath}: it stays DVC's`);
          continue;
        }
        const t = target(lock, { ...out, label: `stage ${stage.name} ${out.label}` }, notConverted);
        if (t) {
          targets.push(t);
          lockTargets.add(t);
        }
      }
    }
  }
  for (const y of found.yamlFiles) {
    const lock = y.replace(/dvc\.yaml$/, 'dvc.lock');
    if (!found.lockFiles.includes(lock)) notConverted.push(`${y}: a pipeline with no dvc.lock (never run): nothing to convert; it stays DVC's`);
  }
  checkOverlaps(targets);

  if (!findRoot(root)) await init(root);
  const repo = await Repo.open(root);
  const tracked = await loadAllDatasets(repo);
  for (const t of targets) {
    const abs = repo.abs(t.dataPath);
    repo.guard.dir(dirname(abs));
    repo.guard.target(abs + POINTER_SUFFIX);
    if (repo.hasGit) repo.guard.target(join(dirname(abs), '.gitignore'));
    if (entryExists(abs + POINTER_SUFFIX)) {
      throw new TdvcError('EBLOCKED', `${t.dataPath} is already tracked by tdvc (${t.dataPath}${POINTER_SUFFIX} exists; DVC output of ${t.source})`, {
        path: t.dataPath + POINTER_SUFFIX,
        hint: `nothing was converted; to convert it from DVC again, remove ${t.dataPath}${POINTER_SUFFIX} first`,
      });
    }
    const inside = tracked.find((d) => t.dataPath.startsWith(`${d.dataPath}/`) || d.dataPath.startsWith(`${t.dataPath}/`));
    if (inside) {
      throw new TdvcError('EBLOCKED', `${t.dataPath} (DVC output of ${t.source}) overlaps the tdvc dataset ${inside.dataPath}`, { path: t.dataPath, hint: 'nothing was converted' });
    }
  }

  const roots = objectRoots(root, dvcDir, dvcConfig, opts.remoteDir, cwd);
  const objs = new DvcObjects(roots);
  const jobs = opts.jobs ?? CACHE_OPS_AT_ONCE;
  const counters: ConvertCounters = { files: 0, bytes: 0, stored: 0 };
  const pointers = new Map<DvcOutTarget, Pointer>();
  const mapPath = md5MapPath(root, repo);
  const memo = mapPath === undefined ? new Md5Map() : await Md5Map.load(mapPath);
  let history: HistoryResult | undefined;
  await withCacheWriterLock(repo, 'import-dvc', async () => {
    try {
      for (const t of targets) {
        if (lockTargets.has(t)) {
          // a pipeline output DVC never cached (or whose cache was cleared) is left to DVC, not an error
          const probe = await objs.open(t.out.md5!, t.out.hashKind, t.out.dir);
          if (!probe) {
            notConverted.push(`${t.source}: ${t.dataPath} is not in the DVC cache (a cache: false, metric or plot output, or one never pushed): it stays DVC's`);
            continue;
          }
          await probe.fh.close();
        }
        pointers.set(t, await convertOut(objs, repo.odb, t, jobs, counters, memo));
      }

      // every output converted: now the pointers, .gitignore lines and settings are written
      for (const [t, p] of pointers) {
        const abs = repo.abs(t.dataPath);
        await writeFileAtomic(abs + POINTER_SUFFIX, serializePointer(p));
        if (repo.hasGit) await ensureIgnored(join(dirname(abs), '.gitignore'), basename(abs), join(repo.tmpDir, 'locks'));
      }
      if (opts.history) history = await convertHistory(root, repo, objs, jobs, memo, notConverted);
    } finally {
      // what was converted stays known even when a later output failed: a re-run reads it no more
      if (mapPath !== undefined) await memo.save(mapPath);
    }
  });

  const settings: ImportDvcResult['settings'] = [];
  for (const [level, cfg] of [['project', dvcRepoConfig], ['local', dvcLocalConfig]] as const) {
    // a setting the project (or this clone) already has is left alone; the user's own defaults do not count
    const plan = planSettings(cfg, dvcDir, (key) => repo.config.getAt(key, 'project') !== undefined || repo.config.getAt(key, 'local') !== undefined);
    for (const s of plan.settings) {
      try {
        await repo.config.set(s.key, s.value, level);
        settings.push({ ...s, level });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        notConverted.push(`setting ${s.key}: ${err.message}`);
      }
    }
    notConverted.push(...plan.skipped);
  }

  const removedDvcFiles: string[] = [];
  if (opts.removeDvcFiles) {
    const done = new Set([...pointers.keys()].map((t) => t.source));
    const incomplete = new Set(targets.filter((t) => !pointers.has(t)).map((t) => t.source));
    for (const file of found.dvcFiles) {
      if (!done.has(file) || incomplete.has(file)) continue;
      repo.guard.target(repo.abs(file));
      if ((await removeRegularFile(repo.abs(file))) === 'removed') removedDvcFiles.push(file);
    }
  }

  return {
    root,
    converted: [...pointers].map(([t, p]) => ({
      path: t.dataPath,
      pointerPath: t.dataPath + POINTER_SUFFIX,
      type: p.type,
      files: p.type === 'dir' ? p.files : 1,
      bytes: p.size,
      from: t.source,
    })),
    files: counters.files,
    bytes: counters.bytes,
    objectsStored: counters.stored,
    settings,
    notConverted,
    removedDvcFiles,
    ...(history ? { history } : {}),
  };
}

function requireDvcRepo(root: string, dvcDir: string): void {
  let st;
  try {
    st = lstatSync(dvcDir);
  } catch (err) {
    if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw fromSystemError(err, dvcDir);
  }
  if (st?.isSymbolicLink()) throw new SymlinkRefusedError(dvcDir, 'DVC folder');
  if (!st?.isDirectory()) {
    throw new TdvcError('ENODVC', `${root} is not a DVC repository (no .dvc folder at its root)`, {
      path: root,
      exitCode: ExitCode.usage,
      hint: "run 'tdvc import-dvc' at the root of a DVC repository (where 'dvc init' made .dvc/)",
    });
  }
}

async function readDvcConfig(path: string): Promise<DvcConfig> {
  const text = await readSmallText(path, 'DVC config file');
  return text === undefined ? new Map() : parseDvcConfig(text, path);
}

async function readDvcText(root: string, rel: string, limit: number): Promise<string | undefined> {
  return readSmallText(join(root, ...rel.split('/')), 'DVC file', limit);
}

/** The output's data path from the repository root, checked; undefined (reported) for outputs DVC did not cache. */
function target(source: string, out: DvcOut, notConverted: string[], file = source): DvcOutTarget | undefined {
  const folder = posix.dirname(file);
  if (out.path.startsWith('/') || /^[A-Za-z]:[\\/]/.test(out.path) || out.path.includes('\\') || /^[a-z][a-z0-9+.-]*:\/\//i.test(out.path)) {
    throw new TdvcError('EOUTSIDE', `${source}: ${out.label} names ${shownPath(out.path)}, outside the repository`, {
      path: source,
      exitCode: ExitCode.usage,
      hint: 'nothing was converted; tdvc converts outputs inside the repository only (fix or remove that .dvc file)',
    });
  }
  const dataPath = posix.normalize(folder === '.' ? out.path : `${folder}/${out.path}`).replace(/\/$/, '');
  if (dataPath === '..' || dataPath.startsWith('../') || dataPath === '.' || dataPath === '') {
    throw new TdvcError('EOUTSIDE', `${source}: ${out.label} names ${shownPath(out.path)}, outside the repository`, {
      path: source,
      exitCode: ExitCode.usage,
      hint: 'nothing was converted; tdvc converts outputs inside the repository only (fix or remove that .dvc file)',
    });
  }
  const problem = datasetPathProblem(dataPath);
  if (problem) {
    throw new TdvcError('EBADPATH', `${source}: ${out.label} names ${shownPath(out.path)}, which tdvc cannot track: ${problem}`, { path: source, exitCode: ExitCode.usage, hint: 'nothing was converted' });
  }
  if (!out.cached) {
    notConverted.push(`${source}: ${dataPath} has cache: false (DVC never stored it): it stays DVC's`);
    return undefined;
  }
  if (out.md5 === undefined) {
    notConverted.push(`${source}: ${dataPath} has no md5 recorded (not committed to DVC's cache): run 'dvc commit' first to convert it`);
    return undefined;
  }
  return { source, out, dataPath };
}

/** Two outputs at one path, or one inside another: refused (DVC refuses them too). */
function checkOverlaps(targets: DvcOutTarget[]): void {
  const sorted = [...targets].sort((a, b) => (a.dataPath < b.dataPath ? -1 : a.dataPath > b.dataPath ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (a.dataPath === b.dataPath || b.dataPath.startsWith(`${a.dataPath}/`)) {
      throw new TdvcError('EBLOCKED', `${b.dataPath} (output of ${b.source}) overlaps ${a.dataPath} (output of ${a.source})`, { path: b.source, hint: 'nothing was converted; DVC itself refuses overlapping outputs: remove one of them' });
    }
  }
}

/** Where DVC objects are read: the DVC cache, then `--remote-dir`, then the default remote when it is a folder. */
function objectRoots(root: string, dvcDir: string, dvc: DvcConfig, remoteDir: string | undefined, cwd: string): DvcObjectRoot[] {
  const configured = dvc.get('cache')?.get('dir');
  const cacheDir = configured === undefined ? join(dvcDir, 'cache') : resolve(dvcDir, configured);
  if (configured === undefined) {
    // inside the repository: a committed `.dvc/cache -> ~` must not be read through
    let st;
    try {
      st = lstatSync(cacheDir);
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink()) throw new SymlinkRefusedError(cacheDir, 'DVC cache folder');
  }
  const roots: DvcObjectRoot[] = [{ dir: cacheDir, label: 'the DVC cache' }];
  if (remoteDir !== undefined) roots.push({ dir: resolve(cwd, remoteDir), label: 'the DVC remote folder' });
  const def = dvc.get('core')?.get('remote');
  const url = def === undefined ? undefined : dvc.get(`remote.${def}`)?.get('url');
  const dir = url === undefined ? undefined : dvcLocalRemoteDir(url, dvcDir);
  if (dir !== undefined) roots.push({ dir, label: `the DVC remote ${def}` });
  void root;
  return roots;
}

/** Errors of an older commit's DVC files that are reported, not fatal: that revision just stays DVC's. */
const HISTORY_REPORTED = new Set(['EMALFORMED', 'EOUTSIDE', 'EBADPATH', 'ETOOBIG', 'EMISSING']);

/**
 * `--history`: the outputs of every commit reachable from HEAD converted into the tdvc cache (each
 * distinct DVC output version once; objects already converted, per the md5 map, not read again),
 * so that `tdvc import-dvc` at any of those revisions later reads no data. Pointers are written for
 * the working tree only: Git history is never rewritten. Integrity errors (a corrupt object, a
 * link in the cache) stop it as they stop the import of the current revision.
 */
async function convertHistory(root: string, repo: Repo, objs: DvcObjects, jobs: number, memo: Md5Map, notConverted: string[]): Promise<HistoryResult> {
  const commits = commitsFromHead(root);
  const seenFiles = new Set<string>();
  const keys = new Set<string>();
  const targets: DvcOutTarget[] = [];
  const reported = (err: unknown): err is TdvcError => err instanceof TdvcError && HISTORY_REPORTED.has(err.code);
  for (const commit of commits) {
    for (const f of dvcFilesAt(root, commit)) {
      if (f.kind === 'yaml' || seenFiles.has(`${f.blob} ${f.path}`)) continue;
      seenFiles.add(`${f.blob} ${f.path}`);
      const at = `${f.path} at ${commit.slice(0, 12)}`;
      try {
        const text = readBlob(root, f.blob, f.kind === 'dvc' ? DVC_FILE_LIMIT : DVC_LOCK_LIMIT);
        if (text === undefined) {
          notConverted.push(`${at}: larger than a DVC file can be: skipped`);
          continue;
        }
        const outs = f.kind === 'dvc' ? parseDvcFile(text, at).outs : parseDvcLock(text, at).flatMap((s) => s.outs.map((o) => ({ ...o, label: `stage ${s.name} ${o.label}` })));
        for (const out of outs) {
          const t = target(at, out, [], f.path);
          if (!t) continue;
          const key = Md5Map.key(t.out.md5!, t.out.hashKind, t.out.dir);
          if (keys.has(key)) continue;
          keys.add(key);
          targets.push(t);
        }
      } catch (err) {
        if (!reported(err)) throw err;
        notConverted.push(`${at}: ${err.message}`);
      }
    }
  }
  const counters: ConvertCounters = { files: 0, bytes: 0, stored: 0 };
  let inCache = 0;
  const missing: string[] = [];
  for (const t of targets) {
    try {
      await convertOut(objs, repo.odb, t, jobs, counters, memo);
      inCache++;
    } catch (err) {
      if (!(err instanceof TdvcError && err.code === 'EMISSING')) throw err;
      missing.push(`${t.dataPath} (${t.source})`);
    }
  }
  if (missing.length > 0) {
    notConverted.push(`--history: ${missing.length} output version(s) of older commits are in neither the DVC cache nor its remote (removed by dvc gc?); those revisions stay DVC's: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}`);
  }
  return { commits: commits.length, outputs: targets.length, inCache, missing: missing.length, objectsStored: counters.stored };
}

/**
 * Where the md5 map is kept: inside `.git/` (as Git LFS keeps `.git/lfs`), the one place of a
 * clone no commit can write. A map is trusted (its BLAKE3 ids become pointers without the DVC data
 * being read), so a map committed by a stranger must never be read. Without a `.git` folder
 * (a worktree's `.git` file, no Git) it lives only for the run.
 */
function md5MapPath(root: string, repo: Repo): string | undefined {
  const gitDir = join(root, '.git');
  let st;
  try {
    st = lstatSync(gitDir);
  } catch {
    return undefined;
  }
  if (!st.isDirectory()) return undefined;
  repo.guard.dir(join(gitDir, 'tdvc'));
  mkdirSync(join(gitDir, 'tdvc'), { recursive: true });
  return join(gitDir, 'tdvc', 'dvc-md5-map');
}
