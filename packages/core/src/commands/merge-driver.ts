import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno, MissingManifestError, MissingDataError } from '../errors.js';
import { mergePointers, type MergeConflict } from '../merge/index.js';
import type { ManifestEntry } from '../objects/manifest.js';
import { mergeTrees } from '../tree/merge.js';
import { storePut, storeSource } from '../tree/source.js';
import { parsePointer, serializePointer, POINTER_VERSION, type Pointer } from '../objects/pointer.js';
import { dataPathOf } from '../workspace/datasets.js';
import type { Repo } from '../workspace/repo.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';
import { shellQuote } from '../util/shell-quote.js';
import { withCacheWriterLock } from './cache-lock.js';

/** What a conflicted merge leaves for `tdvc checkout --ours/--theirs` to resolve. */
export interface MergeState {
  pointerPath: string;
  ours: Pointer | undefined;
  theirs: Pointer | undefined;
  /** file-level conflicts of a directory merge (paths relative to the dataset) */
  conflicts: MergeConflict[];
  /** the whole pointer conflicts (files, type changes, delete/modify) */
  whole: string | undefined;
}

export interface PointerMergeResult {
  clean: boolean;
  /** the text to leave in the pointer file: a valid pointer, plus comments explaining any conflict */
  text: string;
  conflicts: MergeConflict[];
  message: string | undefined;
}

function parseOrUndefined(text: string | undefined, where: string): Pointer | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  return parsePointer(text, where);
}

/**
 * Three-way merge of one pointer file's texts (base may be absent). Directory datasets are merged
 * file by file; the merged manifest is stored in the cache so a checkout after the merge
 * materialises it. On conflict the state is saved for `tdvc checkout --ours/--theirs`.
 */
export async function mergePointerTexts(repo: Repo, pointerPath: string, baseText: string | undefined, oursText: string, theirsText: string): Promise<PointerMergeResult> {
  const base = parseOrUndefined(baseText, `${pointerPath} (common ancestor)`);
  const ours = parseOrUndefined(oursText, `${pointerPath} (ours)`);
  const theirs = parseOrUndefined(theirsText, `${pointerPath} (theirs)`);
  const outcome = mergePointers(base, ours, theirs);
  const dataPath = dataPathOf(pointerPath);
  if (outcome.kind === 'take') {
    await clearMergeState(repo, pointerPath);
    return { clean: true, text: outcome.pointer ? serializePointer(outcome.pointer) : '', conflicts: [], message: undefined };
  }
  if (outcome.kind === 'trees') {
    let merged;
    try {
      // both sides diffed against the base, only what changed is read (v1 manifests too)
      merged = await mergeTrees(storeSource(repo.odb, pointerPath), storePut(repo.odb), base?.oid, ours!.oid, theirs!.oid);
    } catch (err) {
      if (err instanceof MissingManifestError) {
        throw new MissingDataError(`cannot merge ${pointerPath}: the file list ${String(err.data['oid'] ?? '').slice(0, 12)}… of one side is not in the local cache`, {
          path: pointerPath,
          hint: "fetch both sides first (e.g. 'tdvc fetch' on each branch), then merge again",
        });
      }
      throw err;
    }
    const outcomeConflicts = merged.conflicts;
    const pointer: Pointer = { version: POINTER_VERSION, path: ours!.path, type: 'dir', oid: merged.tree.oid, size: merged.tree.bytes, files: merged.tree.files };
    if (outcomeConflicts.length === 0) {
      await clearMergeState(repo, pointerPath);
      return { clean: true, text: serializePointer(pointer), conflicts: [], message: undefined };
    }
    await saveMergeState(repo, { pointerPath, ours, theirs, conflicts: outcomeConflicts, whole: undefined });
    const message = conflictText(dataPath, outcomeConflicts);
    return { clean: false, text: commentBlock(message) + serializePointer(pointer), conflicts: outcomeConflicts, message };
  }
  await saveMergeState(repo, { pointerPath, ours, theirs, conflicts: [], whole: outcome.reason });
  const message =
    `tdvc merge conflict in ${dataPath}: ${outcome.reason}.\n` +
    `This file keeps our version. To choose:\n` +
    `  tdvc checkout --ours -- ${shellQuote(dataPath)}     or     tdvc checkout --theirs -- ${shellQuote(dataPath)}\n` +
    `then: git add ${shellQuote(pointerPath)}`;
  const keep = ours ?? theirs;
  return { clean: false, text: commentBlock(message) + (keep ? serializePointer(keep) : ''), conflicts: [], message };
}

function conflictText(dataPath: string, conflicts: MergeConflict[]): string {
  const lines = [`tdvc merge conflict in ${dataPath}: ${conflicts.length} file(s) changed on both sides:`];
  const describe = (e: ManifestEntry | undefined): string => (e ? `${e.oid.slice(0, 10)}… ${e.size} B` : 'deleted');
  for (const c of conflicts.slice(0, 50)) lines.push(`  ${c.kind.padEnd(16)} ${dataPath}/${c.path}  (ours: ${describe(c.ours)}, theirs: ${describe(c.theirs)})`);
  if (conflicts.length > 50) lines.push(`  … and ${conflicts.length - 50} more ('tdvc status' lists them)`);
  lines.push('The merged data keeps both sides\' other changes and our version of each conflicting file.');
  lines.push('To choose per path (a file or a folder inside the dataset):');
  lines.push(`  tdvc checkout --theirs -- ${shellQuote(`${dataPath}/PATH`)}     or     tdvc checkout --ours -- ${shellQuote(`${dataPath}/PATH`)}`);
  lines.push(`or edit the files, then: tdvc add ${shellQuote(dataPath)} && git add ${shellQuote(`${dataPath}.tdvc`)} && git commit`);
  return lines.join('\n');
}

function commentBlock(message: string): string {
  return message
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n') + '\n';
}

function stateFile(repo: Repo, pointerPath: string): string {
  return join(repo.tmpDir, 'merge', createHash('sha1').update(pointerPath).digest('hex').slice(0, 16) + '.json');
}

export async function saveMergeState(repo: Repo, state: MergeState): Promise<void> {
  await ensureDir(join(repo.tmpDir, 'merge'));
  await writeFileAtomic(stateFile(repo, state.pointerPath), JSON.stringify(state));
}

export async function loadMergeState(repo: Repo, pointerPath: string): Promise<MergeState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(repo, pointerPath), 'utf8')) as MergeState;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

export async function clearMergeState(repo: Repo, pointerPath: string): Promise<void> {
  await rm(stateFile(repo, pointerPath), { force: true });
}

/**
 * `tdvc merge-driver ANCESTOR OURS THEIRS [PATH]`, as Git calls it: merges into the OURS file and
 * returns false on conflict (the CLI then exits non-zero so Git marks the file conflicted).
 */
export async function runMergeDriver(repo: Repo, ancestorFile: string, oursFile: string, theirsFile: string, pointerPath: string): Promise<PointerMergeResult> {
  // git writes the pointer file naming the merged manifest only after the driver exits, a window
  // no lock of tdvc's can cover: the grace period of gc is what protects that manifest
  return withCacheWriterLock(repo, 'merge-driver', () => runMergeDriverUnlocked(repo, ancestorFile, oursFile, theirsFile, pointerPath));
}

async function runMergeDriverUnlocked(repo: Repo, ancestorFile: string, oursFile: string, theirsFile: string, pointerPath: string): Promise<PointerMergeResult> {
  const read = (f: string): Promise<string | undefined> => readSmallText(f, 'merge input');
  const [base, ours, theirs] = await Promise.all([read(ancestorFile), read(oursFile), read(theirsFile)]);
  const res = await mergePointerTexts(repo, pointerPath, base, ours ?? '', theirs ?? '');
  await writeFileAtomic(oursFile, res.text);
  return res;
}
