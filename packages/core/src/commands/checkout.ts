import { mkdir, rm } from 'node:fs/promises';
import type { Oid } from '../hash/oid.js';
import { MissingObjectError, WouldLoseDataError, TypeMismatchError, MissingManifestError } from '../errors.js';
import { RejectedObjectError } from '../odb/object-file.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { applyCheckout } from '../checkout/apply.js';
import { Linker } from '../checkout/link.js';
import { planCheckout, type CheckoutPlan } from '../checkout/plan.js';
import { checkoutJournalDir, clearJournal, loadPartialCheck, writeJournal } from '../checkout/journal.js';
import { join, sep } from 'node:path';
import { StatIndex } from '../index/stat-index.js';
import { repoPathOf, selectDatasets, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import type { LinkType } from '../workspace/config.js';
import { uniqueTempName, writeFileAtomic } from '../util/fs.js';
import { datasetsAt } from '../dataset/revision.js';
import { baseDirOf, readWorkspace, targetEntries, type WorkspaceState } from '../dataset/state.js';
import { withCacheWriterLock } from './cache-lock.js';

export interface CheckoutOptions {
  cwd?: string;
  force?: boolean;
  /** take the data (and, for whole datasets, the pointer file) as of this revision, without moving HEAD */
  rev?: string;
  /** plan only: report what would be written and removed, change nothing */
  dryRun?: boolean;
  jobs?: number;
  onProgress?: (p: { path: string; phase: 'hashing' | 'listing' | 'writing'; done: number; total: number }) => void;
  /**
   * Objects just downloaded by `pull` that may be moved into the workspace rather than copied,
   * where a copy is the only way (see HeldObjects). Only objects the cache did not hold before.
   */
  handOver?: ReadonlySet<Oid>;
}

export interface CheckedOutDataset {
  path: string;
  written: number;
  removed: number;
  unchanged: number;
  /** of the written files, those moved out of the cache (see CheckoutOptions.handOver) */
  handedOver?: number;
  /** files that could not be written because their content is not in the cache */
  missing: string[];
  /** files not written because their cache entry failed its checks (quarantined unless only the manifest's size was wrong) */
  rejected?: RejectedFile[];
}

export interface RejectedFile {
  path: string;
  oid: Oid;
  reason: string;
  /** what the entry hashed to, when it could be read */
  found?: string;
  /** where the entry was moved (`<cache>/quarantine/…`) */
  quarantinedAs?: string;
}

export interface CheckoutResult {
  datasets: CheckedOutDataset[];
  linkTypes: LinkType[];
  fellBack: Array<{ from: LinkType; to: LinkType; reason: string }>;
}

export interface Planned {
  ds: Dataset;
  plan: CheckoutPlan;
  ws: WorkspaceState | undefined;
  /** the workspace holds the wrong kind of thing (a file where a folder belongs, or the reverse) */
  typeClash: boolean;
  /** the whole dataset is checked out, not a path inside it */
  whole: boolean;
}

/** Everything a checkout will do, decided before anything is touched. */
export interface CheckoutPlanSet {
  planned: Planned[];
  missingManifests: string[];
}

/**
 * `tdvc checkout [PATH...]`: makes the workspace match the pointer files. It first plans every
 * dataset and refuses, before touching anything, when a change that is not in the cache would be
 * overwritten or deleted (unless --force).
 */
export async function checkout(repo: Repo, paths: string[] = [], opts: CheckoutOptions = {}): Promise<CheckoutResult> {
  if (opts.dryRun) return checkoutUnlocked(repo, paths, opts);
  // locked from planning (which lists the cache) to the last link: see gc.ts
  return withCacheWriterLock(repo, 'checkout', () => checkoutUnlocked(repo, paths, opts), { ifCacheExists: true });
}

async function checkoutUnlocked(repo: Repo, paths: string[], opts: CheckoutOptions): Promise<CheckoutResult> {
  const set = await planCheckoutSet(repo, paths, opts);
  if (!opts.dryRun) return applyCheckoutSet(repo, set, opts);
  const datasets = set.planned.map(({ ds, plan }) => ({
    path: ds.dataPath,
    written: plan.write.length,
    removed: plan.remove.length,
    unchanged: plan.unchanged,
    missing: plan.missing.map((e) => repoPathOf(ds, e.path)),
  }));
  for (const p of set.missingManifests) datasets.push({ path: p, written: 0, removed: 0, unchanged: 0, missing: [p] });
  return { datasets, linkTypes: [], fellBack: [] };
}

/**
 * The planning half of checkout: reads the workspace once, throws WouldLoseDataError unless --force.
 * `among`: the datasets to choose from instead of the pointer files (checkout --ours/--theirs plans
 * with the pointers it has not written yet).
 */
export async function planCheckoutSet(repo: Repo, paths: string[], opts: CheckoutOptions = {}, among?: Dataset[]): Promise<CheckoutPlanSet> {
  const rels = paths.map((p) => repo.relPath(p, opts.cwd));
  const selected = await selectDatasets(repo, rels, among ?? (opts.rev === undefined ? undefined : await datasetsAt(repo, opts.rev)));
  // a held object counts as cached: the apply step puts it back into the cache before it is needed
  const inCache = await repo.objects.presence();
  const planned: Planned[] = [];
  const wouldLose: string[] = [];
  const missingManifests: string[] = [];

  for (const { dataset: ds, subPaths } of selected) {
    let target;
    try {
      target = await targetEntries(repo, ds.pointer, ds.pointerPath, subPaths);
    } catch (err) {
      if (err instanceof MissingManifestError) {
        missingManifests.push(ds.dataPath);
        continue;
      }
      throw err;
    }
    let ws: WorkspaceState | undefined;
    let typeClash = false;
    try {
      ws = await readWorkspace(repo, ds, opts.onProgress ? { onProgress: (p) => opts.onProgress!({ ...p, path: ds.dataPath }) } : {});
    } catch (err) {
      if (!(err instanceof TypeMismatchError)) throw err;
      typeClash = true;
      if (!opts.force) wouldLose.push(ds.dataPath);
    }
    const leftover = loadPartialCheck(journalDir(repo), ds.dataPath);
    const plan = planCheckout(target, ws?.present ?? new Map(), {
      subPaths,
      inCache,
      isLeftover: (path, have) => leftover(path, have.size ?? Infinity, have.mtimeMs ?? 0),
    });
    for (const p of plan.wouldLose) wouldLose.push(repoPathOf(ds, p));
    planned.push({ ds, plan, ws, typeClash, whole: subPaths.includes('') });
  }

  if (wouldLose.length > 0 && !opts.force) {
    const shown = wouldLose.slice(0, 20).map((p) => `  ${p}`).join('\n');
    const more = wouldLose.length > 20 ? `\n  … and ${wouldLose.length - 20} more` : '';
    throw new WouldLoseDataError(
      `checkout would discard changes that are not saved in the cache:\n${shown}${more}`,
      wouldLose,
      "keep them with 'tdvc add <dataset>' (then commit the pointer file), or discard them with 'tdvc checkout --force'",
    );
  }
  return { planned, missingManifests };
}

/** The applying half of checkout. */
export async function applyCheckoutSet(repo: Repo, set: CheckoutPlanSet, opts: CheckoutOptions & { writePointers?: boolean } = {}): Promise<CheckoutResult> {
  const { planned, missingManifests } = set;
  const linker = await Linker.create(repo.config.linkTypes(), repo.tmpDir, repo.odb.root);
  const scratch = await repo.makeScratchDir(uniqueTempName('scratch-checkout'));
  const results: CheckedOutDataset[] = [];
  const used = new Set<LinkType>();
  const handOver = handOverSet(planned, opts.handOver);
  try {
    await takeBackHeld(repo, set);
    for (const { ds, plan, ws, typeClash, whole } of planned) {
      if (opts.rev !== undefined && opts.writePointers !== false && whole && ds.text !== undefined) await writeFileAtomic(repo.abs(ds.pointerPath), ds.text);
      if (typeClash) await rm(repo.abs(ds.dataPath), { recursive: true, force: true });
      if (ds.pointer.type === 'dir') await mkdir(repo.abs(ds.dataPath), { recursive: true });
      const index = ws?.index ?? StatIndex.load(repo.indexDir, ds.dataPath);
      await writeJournal(journalDir(repo), ds.dataPath, plan.write);
      const res = await applyCheckout(plan, {
        odb: repo.odb,
        linker,
        scratchDir: scratch,
        destRoot: baseDirOf(repo, ds),
        index,
        held: { objects: repo.objects, handOver },
        replacing: new Set(plan.write.filter((e) => ws?.present.has(e.path)).map((e) => e.path)),
        ...(ds.pointer.type === 'file' ? { indexKey: () => '' } : {}),
        verify: repo.verifyObjects,
        ...(opts.jobs ? { jobs: opts.jobs } : {}),
        ...(opts.onProgress ? { onProgress: (done: number, total: number) => opts.onProgress!({ path: ds.dataPath, phase: 'writing', done, total }) } : {}),
      });
      const rejected = await settleRejected(repo, ds, res.rejected);
      await index.save();
      await clearJournal(journalDir(repo), ds.dataPath);
      for (const t of res.linkTypes) used.add(t);
      results.push({
        path: ds.dataPath,
        written: res.written,
        removed: res.removed,
        unchanged: plan.unchanged,
        ...(res.handedOver > 0 ? { handedOver: res.handedOver } : {}),
        missing: plan.missing.map((e) => repoPathOf(ds, e.path)),
        ...(rejected.length > 0 ? { rejected } : {}),
      });
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  for (const p of missingManifests) results.push({ path: p, written: 0, removed: 0, unchanged: 0, missing: [p] });
  return { datasets: results, linkTypes: [...used], fellBack: linker.fellBack };
}

/**
 * What was wrong with the cache entries checkout refused to place. An entry that is not a regular
 * file, or whose bytes do not hash to its name, is quarantined as fsck does (so a pull fetches it
 * again); one that is right but of another size than the manifest records is left alone: then the
 * manifest is what lies, and quarantining a good object would let any manifest evict it.
 */
async function settleRejected(repo: Repo, ds: Dataset, entries: ManifestEntry[]): Promise<RejectedFile[]> {
  const out: RejectedFile[] = [];
  const settled = new Map<Oid, Omit<RejectedFile, 'path'>>();
  for (const e of entries) {
    let s = settled.get(e.oid);
    if (!s) {
      s = await inspectEntry(repo, e);
      settled.set(e.oid, s);
    }
    out.push({ path: repoPathOf(ds, e.path), ...s });
  }
  return out;
}

async function inspectEntry(repo: Repo, e: ManifestEntry): Promise<Omit<RejectedFile, 'path'>> {
  let found: string;
  let size: number;
  try {
    ({ oid: found, size } = await repo.odb.rehashChecked(e.oid));
  } catch (err) {
    if (err instanceof MissingObjectError) return { oid: e.oid, reason: 'it vanished from the cache meanwhile' };
    if (!(err instanceof RejectedObjectError)) throw err;
    const quarantinedAs = await repo.odb.quarantine(e.oid);
    // a folder stays where it is (see ObjectStore.quarantine): the reason says what to do
    if (!quarantinedAs) return { oid: e.oid, reason: `${err.reason}, left in place: ${err.hint ?? ''}` };
    return { oid: e.oid, reason: err.reason, quarantinedAs };
  }
  if (found === e.oid) return { oid: e.oid, reason: `the manifest records ${e.size} bytes, but the object (which is intact) has ${size}` };
  return { oid: e.oid, reason: 'its bytes do not hash to its name', found, quarantinedAs: await repo.odb.quarantine(e.oid) };
}

/** The hand-over candidates that this checkout writes exactly once (a second file would need a copy anyway). */
function handOverSet(planned: Planned[], candidates: ReadonlySet<Oid> | undefined): Set<Oid> {
  const once = new Set<Oid>();
  if (!candidates || candidates.size === 0) return once;
  const seen = new Set<Oid>();
  for (const { plan } of planned) {
    for (const e of plan.write) {
      if (!candidates.has(e.oid)) continue;
      if (seen.has(e.oid)) once.delete(e.oid);
      else once.add(e.oid);
      seen.add(e.oid);
    }
  }
  return once;
}

/**
 * Before anything is written: a held file that this checkout replaces or deletes goes back into
 * the cache (a rename); a held object that is written elsewhere while its file stays is copied in.
 */
async function takeBackHeld(repo: Repo, set: CheckoutPlanSet): Promise<void> {
  const held = await repo.objects.heldFiles();
  if (held.size === 0) return;
  const touched = new Set<string>();
  const clearedRoots: string[] = [];
  const needed = new Set<Oid>();
  for (const { ds, plan, ws, typeClash } of set.planned) {
    const base = baseDirOf(repo, ds);
    const abs = (rel: string): string => join(base, ...rel.split('/'));
    if (typeClash) clearedRoots.push(repo.abs(ds.dataPath));
    for (const rel of plan.remove) touched.add(abs(rel));
    for (const e of plan.write) {
      needed.add(e.oid);
      if (ws?.present.has(e.path)) touched.add(abs(e.path));
    }
  }
  for (const [oid, file] of [...held]) {
    if (touched.has(file) || clearedRoots.some((r) => file === r || file.startsWith(r + sep))) await repo.objects.putBack(oid, file);
    else if (needed.has(oid)) await repo.objects.ensureInCache([oid]);
  }
}

function journalDir(repo: Repo): string {
  return checkoutJournalDir(repo.tmpDir);
}
