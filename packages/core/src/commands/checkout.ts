import { mkdir, rm } from 'node:fs/promises';
import type { Oid } from '../hash/oid.js';
import { MissingObjectError, WouldLoseDataError, TypeMismatchError, MissingManifestError } from '../errors.js';
import { RejectedObjectError } from '../odb/object-file.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { pathBelow } from '../objects/paths.js';
import { applyCheckout } from '../checkout/apply.js';
import { Linker } from '../checkout/link.js';
import { PlanBuilder, type CheckoutAction, type PlanCounts } from '../checkout/plan.js';
import { checkoutJournalDir, clearJournal, JournalWriter, loadPartialCheck, readJournal } from '../checkout/journal.js';
import { sep } from 'node:path';
import { StatIndex } from '../index/stat-index.js';
import type { ScannedFile } from '../index/scan.js';
import { repoPathOf, selectDatasets, type Dataset } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import type { LinkType } from '../workspace/config.js';
import { uniqueTempName, writeFileAtomic } from '../util/fs.js';
import { datasetsAt } from '../dataset/revision.js';
import { baseDirOf, streamWorkspace, type WorkspaceStream } from '../dataset/state.js';
import { joinByPath, streamEntriesIn } from '../dataset/join.js';
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
  counts: PlanCounts;
  /** target files whose object is not in the cache: cannot be written */
  missing: ManifestEntry[];
  /** the plan's changes, spooled in order while planning (none on a dry run) */
  journal: JournalWriter | undefined;
  /** the stat index as the planning scan left it (none when the workspace could not be read) */
  index: StatIndex | undefined;
  /** the workspace holds the wrong kind of thing (a file where a folder belongs, or the reverse) */
  typeClash: boolean;
  /** the whole dataset is checked out, not a path inside it */
  whole: boolean;
}

/** Everything a checkout will do, decided before anything is touched. */
export interface CheckoutPlanSet {
  planned: Planned[];
  missingManifests: string[];
  /** held files (see LocalObjects) this checkout replaces or deletes: back into the cache first */
  heldBack: Array<[Oid, string]>;
  /** held objects written elsewhere while their file stays: copied into the cache first */
  heldCopied: Oid[];
  /** of the hand-over candidates, those written exactly once (a second file would need a copy anyway) */
  handOver: Set<Oid>;
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
  const datasets = set.planned.map(({ ds, counts, missing }) => ({
    path: ds.dataPath,
    written: counts.write,
    removed: counts.remove,
    unchanged: counts.unchanged,
    missing: missing.map((e) => repoPathOf(ds, e.path)),
  }));
  for (const p of set.missingManifests) datasets.push({ path: p, written: 0, removed: 0, unchanged: 0, missing: [p] });
  return { datasets, linkTypes: [], fellBack: [] };
}

/**
 * The planning half of checkout: reads the workspace once, throws WouldLoseDataError unless --force.
 * The target tree and the workspace scan are joined as sorted streams; the changes go to each
 * dataset's journal as they are decided, so memory holds only counts and exceptions.
 * `among`: the datasets to choose from instead of the pointer files (checkout --ours/--theirs plans
 * with the pointers it has not written yet).
 */
export async function planCheckoutSet(repo: Repo, paths: string[], opts: CheckoutOptions = {}, among?: Dataset[]): Promise<CheckoutPlanSet> {
  const rels = paths.map((p) => repo.relPath(p, opts.cwd));
  // the cache is listed (on a thread when large) while the trees are read and the workspace walked
  repo.objects.startListing();
  const selected = await selectDatasets(repo, rels, among ?? (opts.rev === undefined ? undefined : await datasetsAt(repo, opts.rev)));
  // a held object counts as cached: the apply step puts it back into the cache before it is needed
  let listing: Promise<(oid: Oid) => boolean> | undefined;
  const presence = (): Promise<(oid: Oid) => boolean> => (listing ??= repo.objects.presence());
  const held = await repo.objects.heldFiles();
  const heldByFile = new Map<string, Oid>();
  for (const [oid, file] of held) heldByFile.set(file, oid);
  const set: CheckoutPlanSet = { planned: [], missingManifests: [], heldBack: [], heldCopied: [], handOver: new Set() };
  const heldBack = new Map<Oid, string>();
  const heldNeeded = new Set<Oid>();
  const handOverCounts = new Map<Oid, number>();
  const wouldLose: string[] = [];

  try {
    for (const { dataset: ds, subPaths } of selected) {
      const base = baseDirOf(repo, ds);
      const onAction = (a: CheckoutAction): void => {
        if (heldByFile.size > 0 && (a.kind === 'remove' || (a.kind === 'write' && a.replace))) {
          const file = pathBelow(base, a.kind === 'remove' ? a.path : a.entry.path);
          const oid = heldByFile.get(file);
          if (oid !== undefined) heldBack.set(oid, file);
        }
        if (a.kind !== 'write') return;
        if (held.has(a.entry.oid)) heldNeeded.add(a.entry.oid);
        if (opts.handOver?.has(a.entry.oid)) handOverCounts.set(a.entry.oid, (handOverCounts.get(a.entry.oid) ?? 0) + 1);
      };
      const planned = await planDataset(repo, ds, subPaths, { ...opts, presence, onAction });
      if (!planned) {
        set.missingManifests.push(ds.dataPath);
        continue;
      }
      const { wouldLose: losing, ...plan } = planned;
      set.planned.push(plan);
      for (const path of losing) wouldLose.push(repoPathOf(ds, path));
      if (planned.typeClash) {
        if (!opts.force) wouldLose.push(ds.dataPath);
        const root = repo.abs(ds.dataPath);
        for (const [file, oid] of heldByFile) if (file === root || file.startsWith(root + sep)) heldBack.set(oid, file);
      }
    }
    for (const [oid, file] of held) {
      if (heldBack.has(oid)) set.heldBack.push([oid, file]);
      else if (heldNeeded.has(oid)) set.heldCopied.push(oid);
    }
    for (const [oid, n] of handOverCounts) if (n === 1) set.handOver.add(oid);

    if (wouldLose.length > 0 && !opts.force) {
      const shown = wouldLose.slice(0, 20).map((p) => `  ${p}`).join('\n');
      const more = wouldLose.length > 20 ? `\n  … and ${wouldLose.length - 20} more` : '';
      throw new WouldLoseDataError(
        `checkout would discard changes that are not saved in the cache:\n${shown}${more}`,
        wouldLose,
        "keep them with 'tdvc add <dataset>' (then commit the pointer file), or discard them with 'tdvc checkout --force'",
      );
    }
  } catch (err) {
    discardCheckoutPlan(set);
    throw err;
  }
  return set;
}

/** Drops a plan that will not be applied (its spooled journals). */
export function discardCheckoutPlan(set: CheckoutPlanSet): void {
  for (const p of set.planned) p.journal?.discard();
}

/**
 * One dataset's plan: the target's entries (only the sub-paths' parts of the tree) joined with the
 * workspace scan, both in canonical order. Undefined when a manifest of the target is not in the cache.
 */
async function planDataset(
  repo: Repo,
  ds: Dataset,
  subPaths: string[],
  opts: CheckoutOptions & { presence: () => Promise<(oid: Oid) => boolean>; onAction: (a: CheckoutAction) => void },
): Promise<(Planned & { wouldLose: string[] }) | undefined> {
  let ws: WorkspaceStream | undefined;
  let typeClash = false;
  try {
    ws = await streamWorkspace(repo, ds, opts.onProgress ? { onProgress: (p) => opts.onProgress!({ ...p, path: ds.dataPath }) } : {});
  } catch (err) {
    if (!(err instanceof TypeMismatchError)) throw err;
    typeClash = true;
  }
  const inCache = await opts.presence();
  const journal = opts.dryRun ? undefined : JournalWriter.create(journalDir(repo), ds.dataPath);
  try {
    const leftover = loadPartialCheck(journalDir(repo), ds.dataPath);
    const builder = new PlanBuilder(
      { subPaths, inCache, isLeftover: (path, have) => leftover(path, have.size ?? Infinity, have.mtimeMs ?? 0) },
      (a) => {
        journal?.write(a);
        opts.onAction(a);
      },
    );
    const scan = ws?.scan;
    // a dataset folder that is not there holds no file: no row of the index describes one any more
    // (the rows the checkout writes then become the whole index, with no merge: see StatIndex.save)
    if (scan?.kind === 'missing') ws!.index.endVisits();
    const present: AsyncIterable<ScannedFile[]> =
      scan?.kind === 'dir' ? scan.windows : scan?.kind === 'file' ? oneBatch({ ...scan.file, rel: ds.pointer.path }) : oneBatch<ScannedFile>(undefined);
    await joinByPath(streamEntriesIn(repo, ds.pointer, ds.pointerPath, subPaths), present, (want, have) => builder.visit(want ? want.path : have!.rel, want, have));
    return { ds, counts: builder.counts, missing: builder.missing, wouldLose: builder.wouldLose, journal, index: ws?.index, typeClash, whole: subPaths.includes('') };
  } catch (err) {
    journal?.discard();
    if (err instanceof MissingManifestError) return undefined;
    throw err;
  }
}

async function* oneBatch<T>(item: T | undefined): AsyncGenerator<T[]> {
  if (item !== undefined) yield [item];
}

/** How many changes of a plan are read from its journal and carried out at a time. */
const APPLY_WINDOW = 8192;

/** The applying half of checkout. */
export async function applyCheckoutSet(repo: Repo, set: CheckoutPlanSet, opts: CheckoutOptions & { writePointers?: boolean } = {}): Promise<CheckoutResult> {
  const { planned, missingManifests } = set;
  const results: CheckedOutDataset[] = [];
  const used = new Set<LinkType>();
  let linker: Linker | undefined;
  let scratch: string | undefined;
  try {
    linker = await Linker.create(repo.config.linkTypes(), repo.tmpDir, repo.odb.root);
    scratch = await repo.makeScratchDir(uniqueTempName('scratch-checkout'));
    await takeBackHeld(repo, set);
    for (const p of planned) {
      const { ds, typeClash, whole } = p;
      if (opts.rev !== undefined && opts.writePointers !== false && whole && ds.text !== undefined) await writeFileAtomic(repo.abs(ds.pointerPath), ds.text);
      if (typeClash) await rm(repo.abs(ds.dataPath), { recursive: true, force: true });
      if (ds.pointer.type === 'dir') await mkdir(repo.abs(ds.dataPath), { recursive: true });
      const index = p.index ?? StatIndex.load(repo.indexDir, ds.dataPath);
      const journal = p.journal!.install();
      const res = await applyCheckout(
        { counts: p.counts, windows: (kinds) => readJournal(journal, APPLY_WINDOW, kinds) },
        {
          odb: repo.odb,
          linker,
          scratchDir: scratch,
          destRoot: baseDirOf(repo, ds),
          index,
          held: { objects: repo.objects, handOver: set.handOver },
          ...(ds.pointer.type === 'file' ? { indexKey: () => '' } : {}),
          verify: repo.verifyObjects,
          ...(opts.jobs ? { jobs: opts.jobs } : {}),
          ...(opts.onProgress ? { onProgress: (done: number, total: number) => opts.onProgress!({ path: ds.dataPath, phase: 'writing', done, total }) } : {}),
        },
      );
      const rejected = await settleRejected(repo, ds, res.rejected);
      await index.save();
      await clearJournal(journalDir(repo), ds.dataPath);
      for (const t of res.linkTypes) used.add(t);
      results.push({
        path: ds.dataPath,
        written: res.written,
        removed: res.removed,
        unchanged: p.counts.unchanged,
        ...(res.handedOver > 0 ? { handedOver: res.handedOver } : {}),
        missing: p.missing.map((e) => repoPathOf(ds, e.path)),
        ...(rejected.length > 0 ? { rejected } : {}),
      });
    }
  } finally {
    discardCheckoutPlan(set);
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
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

/**
 * Before anything is written: a held file that this checkout replaces or deletes goes back into
 * the cache (a rename); a held object that is written elsewhere while its file stays is copied in.
 */
async function takeBackHeld(repo: Repo, set: CheckoutPlanSet): Promise<void> {
  for (const [oid, file] of set.heldBack) await repo.objects.putBack(oid, file);
  if (set.heldCopied.length > 0) await repo.objects.ensureInCache(set.heldCopied);
}

function journalDir(repo: Repo): string {
  return checkoutJournalDir(repo.tmpDir);
}
