import { basename, dirname, join } from 'node:path';
import { NotTrackedError, TdvcError, WouldLoseDataError } from '../errors.js';
import { POINTER_SUFFIX, POINTER_VERSION, serializePointer, type ImportSource, type Pointer } from '../objects/pointer.js';
import { RevisionView, type ViewFile } from '../reader/revision-view.js';
import { TreeBuilder } from '../tree/builder.js';
import { storePut } from '../tree/source.js';
import type { RemoteOpener } from '../transfer/remote.js';
import { entryExists, writeFileAtomic } from '../util/fs.js';
import { loadAllDatasets } from '../workspace/datasets.js';
import { ensureIgnored } from '../workspace/gitignore.js';
import type { Repo } from '../workspace/repo.js';
import { withCacheWriterLock } from './cache-lock.js';
import { checkout, type CheckoutResult } from './checkout.js';
import { status } from './status.js';

export interface ImportOptions {
  /** branch, tag or commit in the source repository (default: its default branch) */
  rev?: string;
  /** where the data goes in this repository (default: the last part of the path, in `cwd`) */
  out?: string;
  cwd?: string;
}

export interface ImportResult {
  path: string;
  pointerPath: string;
  type: 'file' | 'dir';
  files: number;
  bytes: number;
  /** objects downloaded (the rest were in the cache already) */
  fetched: number;
  source: ImportSource;
  /** false when `update` found the import at the same version */
  changed: boolean;
  checkout: CheckoutResult;
}

/**
 * `tdvc import URL PATH`: tracks data of another repository (a data registry) at a revision. The
 * revision is fetched shallow over smart HTTP(S), the path's file list read from its tree and its
 * objects downloaded into the cache (verified); the pointer written here records the source URL,
 * path, revision and resolved commit (reproducible: `tdvc update` moves it), and the data is
 * checked out. A whole dataset keeps its tree id (trees are canonical); a folder inside one gets a
 * tree of its own. An output path that exists is refused.
 */
export async function importData(repo: Repo, opener: RemoteOpener, url: string, path: string, opts: ImportOptions = {}): Promise<ImportResult> {
  const outRel = repo.relPath(opts.out ?? basename(path.replace(/\.tdvc$/, '')), opts.cwd);
  if (entryExists(repo.abs(outRel)) || entryExists(repo.abs(outRel + POINTER_SUFFIX))) {
    throw new TdvcError('EBLOCKED', `${outRel} (or its pointer file) exists: import writes new data only`, {
      path: outRel,
      hint: "choose another place with -o, or move an existing import with 'tdvc update'",
    });
  }
  if ((await loadAllDatasets(repo)).some((d) => outRel === d.dataPath || outRel.startsWith(`${d.dataPath}/`))) {
    throw new TdvcError('EBLOCKED', `${outRel} is inside a tracked dataset`, { path: outRel });
  }
  return bring(repo, opener, url, path.replace(/\.tdvc$/, ''), outRel, opts.rev, undefined);
}

/**
 * `tdvc update [PATH...] [--rev REV]`: moves imports to the newest commit of the revision they
 * follow (or to `rev`), downloading what changed, and checks them out (refusing, as checkout does,
 * to discard local changes). Without PATH, every import of the repository.
 */
export async function updateImports(repo: Repo, opener: RemoteOpener, paths: string[] = [], opts: { rev?: string; cwd?: string } = {}): Promise<ImportResult[]> {
  const rels = paths.map((p) => repo.relPath(p, opts.cwd).replace(/\.tdvc$/, ''));
  const all = await loadAllDatasets(repo);
  const chosen = rels.length === 0 ? all.filter((d) => d.pointer.source) : rels.map((r) => all.find((d) => d.dataPath === r));
  const out: ImportResult[] = [];
  for (const [i, ds] of chosen.entries()) {
    if (!ds) throw new NotTrackedError(`${rels[i]} is not tracked by tdvc`, { path: rels[i]! });
    const src = ds.pointer.source;
    if (!src) throw new TdvcError('EUSAGE', `${ds.dataPath} was not imported (its pointer names no source repository)`, { path: ds.pointerPath, exitCode: 2 });
    const rev = opts.rev ?? src.rev;
    // changed files would be lost by the checkout of the new version: refused before the pointer is touched
    const [st] = (await status(repo, [ds.dataPath])).datasets;
    const changed = st ? [...st.added, ...st.modified, ...st.deleted] : [];
    if (changed.length > 0) {
      throw new WouldLoseDataError(`cannot update ${ds.dataPath}: ${changed.length} file(s) changed here would be lost (first: ${changed[0]})`, changed, `'tdvc add ${ds.dataPath}' makes the data your own; 'tdvc checkout ${ds.dataPath}' discards the changes`);
    }
    out.push(await bring(repo, opener, src.repo, src.repoPath, ds.dataPath, rev, ds.pointer));
  }
  return out;
}

async function bring(repo: Repo, opener: RemoteOpener, url: string, srcPath: string, outRel: string, rev: string | undefined, old: Pointer | undefined): Promise<ImportResult> {
  return withCacheWriterLock(repo, 'import', async () => {
    const view = await RevisionView.open(url, { ...(rev ? { rev } : {}), opener, cache: repo.odb, tmpDir: repo.tmpDir });
    let pointer: Pointer;
    let fetched = 0;
    let bytes = 0;
    try {
      const owner = view.datasets.find((d) => srcPath === d.dataPath || srcPath.startsWith(`${d.dataPath}/`));
      if (!owner) {
        throw new NotTrackedError(`${srcPath} is not tracked in ${url} at ${view.rev}`, {
          path: srcPath,
          hint: `import a dataset or a path inside one ('tdvc ls ${url} --rev ${view.rev}' lists them)`,
        });
      }
      const name = basename(outRel);
      const source: ImportSource = { repo: url, repoPath: srcPath, ...(rev ? { rev } : {}), commit: view.commit };
      let single: ViewFile | undefined;
      // the files in canonical order, a batch at a time: the tree is built as they come
      const builder = new TreeBuilder(storePut(repo.odb));
      for await (const batch of view.files(srcPath)) {
        const got = await view.fetchInto(repo.odb, batch);
        fetched += got.fetched;
        for (const f of batch) {
          if (f.path === srcPath) single = f;
          else await builder.add({ path: f.path.slice(srcPath.length + 1), oid: f.oid, size: f.size, exec: f.exec });
          bytes += f.size;
        }
      }
      if (single) {
        pointer = { version: POINTER_VERSION, path: name, type: 'file', oid: single.oid, size: single.size, exec: single.exec, source };
      } else {
        const tree = await builder.finish();
        pointer = { version: POINTER_VERSION, path: name, type: 'dir', oid: tree.oid, size: tree.bytes, files: tree.files, source };
      }
    } finally {
      await view.close();
    }
    const pointerPath = outRel + POINTER_SUFFIX;
    const text = serializePointer(pointer);
    const changed = old === undefined || serializePointer(old) !== text;
    if (changed) await writeFileAtomic(repo.abs(pointerPath), text);
    if (repo.hasGit) await ensureIgnored(join(dirname(repo.abs(outRel)), '.gitignore'), basename(outRel), join(repo.tmpDir, 'locks'));
    const co = await checkout(repo, [outRel]);
    return {
      path: outRel,
      pointerPath,
      type: pointer.type,
      files: pointer.type === 'dir' ? pointer.files : 1,
      bytes,
      fetched,
      source: pointer.source!,
      changed,
      checkout: co,
    };
  });
}
