import type { Oid } from '../hash/oid.js';
import type { ScanProgress } from '../index/scan.js';
import { inSubPaths, repoPathOf, selectDatasets } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { MissingManifestError } from '../errors.js';
import { readWorkspace, targetEntries } from '../dataset/state.js';
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

/** `tdvc status`: how the workspace differs from the pointer files, and what the cache lacks. */
export async function status(repo: Repo, paths: string[] = [], opts: StatusOptions = {}): Promise<StatusResult> {
  const rels = paths.map((p) => repo.relPath(p, opts.cwd));
  const selected = await selectDatasets(repo, rels);
  let isLocal: ((oid: Oid) => boolean) | undefined;
  const out: DatasetStatus[] = [];
  for (const { dataset: ds, subPaths } of selected) {
    const st: DatasetStatus = { path: ds.dataPath, pointerPath: ds.pointerPath, type: ds.pointer.type, state: 'clean', added: [], modified: [], deleted: [], interrupted: [], notInCache: [] };
    out.push(st);
    let target;
    try {
      target = await targetEntries(repo, ds.pointer, ds.pointerPath);
    } catch (err) {
      if (err instanceof MissingManifestError) {
        st.state = 'manifest-missing';
        continue;
      }
      throw err;
    }
    const all = subPaths.includes('');
    const inScope = (p: string): boolean => inSubPaths(subPaths, p);
    isLocal ??= await repo.objects.presence();
    for (const e of target) if (inScope(e.path) && !isLocal(e.oid)) st.notInCache.push(prefix(ds, e.path));
    const ws = await readWorkspace(repo, ds, opts.onProgress ? { onProgress: (p) => opts.onProgress!({ ...p, path: ds.dataPath }) } : {});
    await ws.index.save();
    if (ws.scan.kind === 'missing') {
      st.state = 'not-in-workspace';
      continue;
    }
    const leftover = loadPartialCheck(checkoutJournalDir(repo.tmpDir), ds.dataPath);
    let matched = 0;
    for (const e of target) {
      if (!inScope(e.path)) continue;
      const have = ws.present.get(e.path);
      if (!have) st.deleted.push(prefix(ds, e.path));
      else {
        matched++;
        if (have.oid === e.oid && have.exec === e.exec) continue;
        if (leftover(e.path, have.size, have.mtimeMs)) st.interrupted.push(prefix(ds, e.path));
        else st.modified.push(prefix(ds, e.path));
      }
    }
    // every present file matched a target path: nothing was added (the common, cheap case)
    if (!all || matched < ws.present.size) {
      const known = new Set(target.map((e) => e.path));
      for (const p of ws.present.keys()) if (!known.has(p) && inScope(p)) st.added.push(prefix(ds, p));
    }
    st.added.sort();
    if (st.added.length + st.modified.length + st.deleted.length + st.interrupted.length > 0) st.state = 'modified';
  }
  return { clean: out.every((d) => d.state === 'clean' && d.notInCache.length === 0), datasets: out };
}

const prefix = repoPathOf;
