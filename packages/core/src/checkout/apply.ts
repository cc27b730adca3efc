import { statSync } from 'node:fs';
import { chmod, mkdir, rename, rm, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import type { StatIndex } from '../index/stat-index.js';
import type { ObjectStore } from '../odb/store.js';
import { forEachLimit } from '../util/fs.js';
import type { LinkType } from '../workspace/config.js';
import type { Linker } from './link.js';
import type { CheckoutPlan } from './plan.js';

export interface ApplyOptions {
  odb: ObjectStore;
  linker: Linker;
  /** private folder on the workspace filesystem for files being written */
  scratchDir: string;
  /** folder the plan's paths are relative to */
  destRoot: string;
  index: StatIndex;
  /** the stat index key of a plan path (a file dataset is indexed under '') */
  indexKey?: (path: string) => string;
  jobs?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface ApplyResult {
  written: number;
  removed: number;
  chmodded: number;
  linkTypes: LinkType[];
}

/**
 * Carries out a checkout plan. Every file is first materialised in the scratch folder and then
 * renamed over its final path, so a killed checkout never leaves a half-written file under a
 * name the user sees; running it again finishes the job.
 */
export async function applyCheckout(plan: CheckoutPlan, opts: ApplyOptions): Promise<ApplyResult> {
  const used = new Set<LinkType>();
  const total = plan.write.length + plan.remove.length + plan.chmod.length;
  let done = 0;
  const tick = (): void => {
    done++;
    if ((done & 255) === 0 || done === total) opts.onProgress?.(done, total);
  };
  const abs = (rel: string): string => join(opts.destRoot, ...rel.split('/'));

  await forEachLimit(plan.remove, 16, async (rel) => {
    try {
      await unlink(abs(rel));
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw fromSystemError(err, abs(rel));
    }
    tick();
  });
  await pruneEmptyDirs(plan.remove.map(abs), opts.destRoot);

  const madeDirs = new Set<string>();
  let seq = 0;
  await forEachLimit(plan.write, opts.jobs ?? 16, async (e) => {
    const dest = abs(e.path);
    const parent = dirname(dest);
    if (!madeDirs.has(parent)) {
      await mkdirReplacingFile(parent, opts.destRoot);
      madeDirs.add(parent);
    }
    const tmp = join(opts.scratchDir, `w${seq++}`);
    const type = await opts.linker.link(opts.odb.pathOf(e.oid), tmp, e.exec);
    used.add(type);
    try {
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      if (isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) {
        throw new TdvcError('EBLOCKED', `cannot write ${dest}: a folder is in the way`, {
          path: dest,
          hint: 'move the folder away, or run the checkout on the whole dataset with --force',
        });
      }
      throw fromSystemError(err, dest);
    }
    const st = statSync(dest);
    opts.index.record(opts.indexKey ? opts.indexKey(e.path) : e.path, st, e.oid);
    tick();
  });

  let chmodded = 0;
  for (const e of plan.chmod) {
    // links share the read-only cache object; only real copies carry their own mode
    const t = opts.linker.current;
    if (t === 'copy' || t === 'reflink') {
      await chmod(abs(e.path), e.exec ? 0o755 : 0o644);
      chmodded++;
    }
    tick();
  }
  return { written: plan.write.length, removed: plan.remove.length, chmodded, linkTypes: [...used] };
}

async function pruneEmptyDirs(removed: string[], root: string): Promise<void> {
  const dirs = new Set<string>();
  for (const f of removed) {
    for (let d = dirname(f); d.length > root.length && d.startsWith(root); d = dirname(d)) dirs.add(d);
  }
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      await rmdir(d);
    } catch (err) {
      if (!isErrno(err, 'ENOTEMPTY', 'EEXIST', 'ENOENT', 'ENOTDIR')) throw fromSystemError(err, d);
    }
  }
}

async function mkdirReplacingFile(dir: string, root: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if (!isErrno(err, 'EEXIST', 'ENOTDIR')) throw fromSystemError(err, dir);
    throw new TdvcError('EBLOCKED', `cannot create folder ${dir}: a file is in the way`, {
      path: dir,
      hint: `the file is not part of the dataset under ${root}; move it away or use --force`,
    });
  }
}
