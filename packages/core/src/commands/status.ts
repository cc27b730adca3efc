import type { Oid } from '../hash/oid.js';
import type { ScanProgress } from '../index/scan.js';
import { inSubPaths, repoPathOf, selectDatasets } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { MissingManifestError } from '../errors.js';
import { streamWorkspace } from '../dataset/state.js';
import { joinByPath, streamEntries } from '../dataset/join.js';
import { checkoutJournalDir, loadPartialCheck } from '../checkout/journal.js';

export type DatasetState = 'clean' | 'modified' | 'not-in-workspace' | 'manifest-missing';

export interface DatasetStatus {
  path: string;
  pointerPath: string;
  type: 'file' | 'dir';
  state: DatasetState;
  added: string[];
  modified: string[];
  deleted: string[];
  /** files a killed checkout left unfinished (its journal lists them); the next checkout completes them */
  interrupted: string[];
  /** files recorded in the pointer whose content is not in the local cache */
  notInCache: string[];
}

export interface StatusResult {
  clean: boolean;
  datasets: DatasetStatus[];
}

export interface StatusOptions {
  cwd?: string;
  onProgress?: (p: ScanProgress & { path: string }) => void;
}

/**
 * `tdvc status`: how the workspace differs from the pointer files, and what the cache lacks. The
 * workspace scan, the stat index and the dataset's tree are read side by side as sorted streams,
 * so memory does not grow with the dataset; only the differences are collected.
 */
export async function status(repo: Repo, paths: string[] = [], opts: StatusOptions = {}): Promise<StatusResult> {
  const rels = paths.map((p) => repo.relPath(p, opts.cwd));
  // the cache is listed (on a thread when large) while the workspace is walked
  repo.objects.startListing();
  const selected = await selectDatasets(repo, rels);
  let isLocal: ((oid: Oid) => boolean) | undefined;
  const out: DatasetStatus[] = [];
  for (const { dataset: ds, subPaths } of selected) {
    const st: DatasetStatus = { path: ds.dataPath, pointerPath: ds.pointerPath, type: ds.pointer.type, state: 'clean', added: [], modified: [], deleted: [], interrupted: [], notInCache: [] };
    out.push(st);
    const inScope = (p: string): boolean => inSubPaths(subPaths, p);
    const target = streamEntries(repo, ds.pointer, ds.pointerPath);
    try {
      // the walk starts first: it runs ahead while the cache is listed
      const ws = await streamWorkspace(repo, ds, opts.onProgress ? { onProgress: (p) => opts.onProgress!({ ...p, path: ds.dataPath }) } : {});
      isLocal ??= await repo.objects.presence();
      const local = isLocal;
      if (ws.scan.kind === 'missing') {
        st.state = 'not-in-workspace';
        for await (const batch of target) for (const e of batch) if (inScope(e.path) && !local(e.oid)) st.notInCache.push(prefix(ds, e.path));
        continue;
      }
      const leftover = loadPartialCheck(checkoutJournalDir(repo.tmpDir), ds.dataPath);
      const present = ws.scan.kind === 'dir' ? ws.scan.windows : oneBatch({ ...ws.scan.file, rel: ds.pointer.path });
      await joinByPath(target, present, (want, have) => {
        const path = want ? want.path : have!.rel;
        if (!inScope(path)) return;
        if (want && !local(want.oid)) st.notInCache.push(prefix(ds, path));
        if (!have) st.deleted.push(prefix(ds, path));
        else if (!want) st.added.push(prefix(ds, path));
        else if (have.oid !== want.oid || have.exec !== want.exec) {
          if (leftover(path, have.size, have.mtimeMs)) st.interrupted.push(prefix(ds, path));
          else st.modified.push(prefix(ds, path));
        }
      });
      await ws.index.save();
    } catch (err) {
      if (err instanceof MissingManifestError) {
        // a node deep in the tree may be what is missing: what was compared before it is not the answer
        Object.assign(st, { state: 'manifest-missing', added: [], modified: [], deleted: [], interrupted: [], notInCache: [] });
        continue;
      }
      throw err;
    }
    if (st.added.length + st.modified.length + st.deleted.length + st.interrupted.length > 0) st.state = 'modified';
  }
  return { clean: out.every((d) => d.state === 'clean' && d.notInCache.length === 0), datasets: out };
}

async function* oneBatch<T>(item: T): AsyncGenerator<T[]> {
  yield [item];
}

const prefix = repoPathOf;
