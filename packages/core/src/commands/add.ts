import type { Oid } from '../hash/oid.js';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { lstatSync, statSync } from 'node:fs';
import type FastGlob from 'fast-glob';
import { createRequire } from 'node:module';
import { TdvcError, InvalidPathError } from '../errors.js';
import { serializePointer, POINTER_SUFFIX, POINTER_VERSION, type Pointer } from '../objects/pointer.js';
import { TreeBuilder } from '../tree/builder.js';
import { storePut } from '../tree/source.js';
import { StatIndex } from '../index/stat-index.js';
import { scanStream, type ScanCounts, type ScanProgress, type ScannedFile } from '../index/scan.js';
import { Linker } from '../checkout/link.js';
import { ensureIgnored } from '../workspace/gitignore.js';
import { ignoreSetupFor } from '../workspace/tdvcignore.js';
import { registerProject } from '../workspace/projects.js';
import { findPointerFiles, dataPathOf } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import type { LinkType } from '../workspace/config.js';
import { entryExists, uniqueTempName, writeFileAtomic } from '../util/fs.js';
import { shellQuote } from '../util/shell-quote.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface AddOptions {
  cwd?: string;
  jobs?: number;
  onProgress?: (p: ScanProgress & { path: string }) => void;
}

export interface AddedDataset {
  path: string;
  pointerPath: string;
  type: 'file' | 'dir';
  oid: string;
  size: number;
  files: number;
  /** files read and hashed this time (the rest were vouched for by the stat index) */
  hashed: number;
  /** objects newly written to the cache */
  stored: number;
  linkType: LinkType;
  /** link types that did not work here and what was used instead (e.g. no reflink on ext4, no hardlink across file systems) */
  fellBack: Array<{ from: LinkType; to: LinkType; reason: string }>;
  changed: boolean;
}

/**
 * `tdvc add PATH...`: hashes files and folders into the cache, writes `PATH.tdvc`, git-ignores
 * PATH and links the workspace copy to the cache. Arguments may be glob patterns.
 */
export async function add(repo: Repo, paths: string[], opts: AddOptions = {}): Promise<AddedDataset[]> {
  // locked from before the cache is listed until the pointer files are written: see gc.ts
  return withCacheWriterLock(repo, 'add', () => addUnlocked(repo, paths, opts));
}

async function addUnlocked(repo: Repo, paths: string[], opts: AddOptions): Promise<AddedDataset[]> {
  if (paths.length === 0) throw new TdvcError('EUSAGE', 'nothing to add', { hint: 'name one or more files or folders' });
  const cwd = opts.cwd ?? process.cwd();
  const targets = expandArgs(repo, paths, cwd);
  const tracked = findPointerFiles(repo).map(dataPathOf);
  for (const rel of targets) checkAddable(repo, rel, tracked);
  await repo.sweepScratchDirs();
  await registerProject(repo);
  const out: AddedDataset[] = [];
  for (const rel of targets) out.push(await addOne(repo, rel, opts));
  return out;
}

/** Characters without which no argument is a pattern (fast-glob is loaded only when one has them). */
const GLOB_CHARS = /[*?[\]{}()!+@]/;
let fastGlobModule: typeof FastGlob | undefined;
function fastGlob(): typeof FastGlob {
  fastGlobModule ??= createRequire(import.meta.url)('fast-glob') as typeof FastGlob;
  return fastGlobModule;
}

function expandArgs(repo: Repo, paths: string[], cwd: string): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const arg = p.endsWith(POINTER_SUFFIX) ? p.slice(0, -POINTER_SUFFIX.length) : p;
    if (GLOB_CHARS.test(arg) && fastGlob().isDynamicPattern(arg) && !entryExists(join(cwd, arg))) {
      const matches = fastGlob().sync(arg, { cwd, onlyFiles: false, dot: false, followSymbolicLinks: false, ignore: ['**/.git/**', '**/.tdvc/**', '**/*.tdvc'] });
      if (matches.length === 0) throw new TdvcError('ENOMATCH', `no files match ${arg}`, { path: arg });
      for (const m of matches.sort()) out.push(repo.relPath(m, cwd));
    } else {
      out.push(repo.relPath(arg, cwd));
    }
  }
  return [...new Set(out)];
}



function checkAddable(repo: Repo, rel: string, tracked: string[]): void {
  if (rel === '') throw new InvalidPathError('.', 'the repository root itself cannot be a dataset', 'add the folders inside it instead');
  const parent = tracked.find((t) => rel.startsWith(t + '/'));
  if (parent) {
    throw new InvalidPathError(rel, `it is inside the tracked dataset ${parent}`, `to record changes inside it, run: tdvc add ${shellQuote(parent)}`);
  }
  const child = tracked.find((t) => t.startsWith(rel + '/'));
  if (child) {
    throw new InvalidPathError(rel, `it contains the tracked dataset ${child}`, `remove ${child}${POINTER_SUFFIX} first, or add the datasets separately`);
  }
  if (!entryExists(repo.abs(rel))) {
    throw new TdvcError('ENOENT', `no such file or folder: ${rel}`, { path: rel });
  }
}

async function addOne(repo: Repo, rel: string, opts: AddOptions): Promise<AddedDataset> {
  const odb = repo.odb;
  const abs = repo.abs(rel);
  // add writes the pointer file and .gitignore beside the data and replaces data files by links:
  // none of it through a symbolic link (the data path itself: statPath in the scan)
  repo.guard.dir(dirname(abs));
  repo.guard.target(abs + POINTER_SUFFIX);
  if (repo.hasGit) repo.guard.target(join(dirname(abs), '.gitignore'));
  const index = StatIndex.load(repo.indexDir, rel);
  const linkTypes = repo.config.linkTypes();
  const scan = await scanStream(abs, index, {
    store: odb,
    reflink: linkTypes[0] === 'reflink',
    // listed only when a file's index row is to be trusted, so the walk runs ahead meanwhile; never
    // before storing: a new object is published after a lookup of its own name, not on the word of
    // a listing (a network file system may list an object another machine's gc just deleted)
    requirePresent: { has: (oid: Oid) => odb.knownObjects().has(oid) },
    objectsDir: odb.objectsDir,
    ignore: ignoreSetupFor(repo, rel),
    ...(opts.jobs ? { jobs: opts.jobs } : {}),
    ...(opts.onProgress ? { onProgress: (p: ScanProgress) => opts.onProgress!({ ...p, path: rel }) } : {}),
  });
  if (scan.kind === 'missing') throw new TdvcError('EVANISHED', `${rel} vanished while it was being added`, { path: rel });

  const name = basename(abs);
  const linker = new WorkspaceLinks(repo, await Linker.create(linkTypes, repo.tmpDir, odb.root), index, scan.kind === 'dir');
  let pointer: Pointer;
  let counts: ScanCounts;
  try {
    if (scan.kind === 'dir') {
      // the files come in canonical order, a window at a time: the tree is built as they come
      const builder = new TreeBuilder(storePut(odb));
      for await (const window of scan.windows) {
        for (const f of window) await builder.add({ path: f.rel, oid: f.oid, size: f.size, exec: f.exec });
        await linker.link(window);
      }
      const tree = await builder.finish();
      pointer = { version: POINTER_VERSION, path: name, type: 'dir', oid: tree.oid, size: tree.bytes, files: tree.files };
      counts = scan.counts;
    } else {
      await linker.link([scan.file]);
      pointer = { version: POINTER_VERSION, path: name, type: 'file', oid: scan.file.oid, size: scan.file.size, exec: scan.file.exec };
      counts = scan;
    }
  } finally {
    await linker.close();
  }
  await index.save();

  const pointerPath = abs + POINTER_SUFFIX;
  const text = serializePointer(pointer);
  const changed = (await repo.readText(rel + POINTER_SUFFIX, 'pointer file')) !== text;
  if (changed) await writeFileAtomic(pointerPath, text);
  if (repo.hasGit) await ensureIgnored(join(dirname(abs), '.gitignore'), name, join(repo.tmpDir, 'locks'));
  return {
    path: rel,
    pointerPath: rel + POINTER_SUFFIX,
    type: pointer.type,
    oid: pointer.oid,
    size: pointer.size,
    files: counts.found,
    hashed: counts.hashed,
    stored: counts.stored,
    linkType: linker.linkType,
    fellBack: linker.fellBack,
    changed,
  };
}

function statOrSelf(f: ScannedFile): ScannedFile {
  // after linking, the workspace file may be a new inode; index what is there now
  try {
    const st = statSync(f.abs);
    return { ...f, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return f;
  }
}

/**
 * Replaces workspace files by links to their cache objects when the link type is not `copy`
 * (a plain copy already holds the same bytes, so there is nothing to do), a window of files at a
 * time as add stores them. Only files read this time can still be separate copies; clones already
 * share the object's blocks. A file that changed since it was hashed is left alone. Files replaced
 * by links are new inodes: the index learns what is there now.
 */
class WorkspaceLinks {
  private scratch: string | undefined;
  private count = 0;
  private cloned = false;
  private copying = false;
  private tried = false;

  constructor(
    private readonly repo: Repo,
    private readonly linker: Linker,
    private readonly index: StatIndex,
    private readonly isDir: boolean,
  ) {
    this.copying = linker.current === 'copy';
  }

  get linkType(): LinkType {
    return this.cloned ? 'reflink' : this.copying || !this.tried ? 'copy' : this.linker.current;
  }

  get fellBack(): Linker['fellBack'] {
    return this.linker.fellBack;
  }

  async link(files: ScannedFile[]): Promise<void> {
    for (const f of files) {
      if (f.cloned) this.cloned = true;
      if (!f.fresh || f.cloned || this.copying) continue;
      this.tried = true;
      this.scratch ??= await this.repo.makeScratchDir(uniqueTempName('scratch-add'));
      const tmp = join(this.scratch, `l${this.count++}`);
      // just stored from this very file: placed without hashing it again
      await this.linker.link({ oid: f.oid, objectPath: this.repo.odb.pathOf(f.oid), dest: tmp, exec: f.exec, replace: false, size: f.size, verify: false });
      if ((this.linker.current as LinkType) === 'copy') {
        // the first type that works here is a plain copy: the workspace is already right
        await rm(tmp, { force: true });
        this.copying = true;
        continue;
      }
      const st = lstatSync(f.abs);
      if (st.ino !== f.ino || st.size !== f.size || st.mtimeMs !== f.mtimeMs) {
        await rm(tmp, { force: true });
        continue;
      }
      await rename(tmp, f.abs);
      this.index.record(this.isDir ? f.rel : '', statOrSelf(f), f.oid);
    }
  }

  async close(): Promise<void> {
    if (this.scratch) await rm(this.scratch, { recursive: true, force: true });
  }
}
