import { createHasher } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { verifyStore, type VerifyReport } from '../odb/verify.js';
import { removeDeadWriterLocks } from '../odb/writer-lock.js';
import type { RemoteOpener } from '../transfer/remote.js';
import { forEachLimit } from '../util/fs.js';
import type { Repo } from '../workspace/repo.js';
import { openRemote } from './remote.js';
import { TdvcError } from '../errors.js';
import { REMOTE_VERIFY_AT_ONCE } from '../util/concurrency.js';

export interface FsckResult extends VerifyReport {
  where: string;
  ok: boolean;
  /** on a remote: entries under object names that are not objects (left in place: tdvc did not write them) */
  rejected?: Array<{ oid?: Oid; path: string; reason: string }>;
}

/**
 * `tdvc fsck [--remote NAME]`: re-hashes every object. Locally, corrupt objects are quarantined and
 * temp files of killed writers removed; on a remote, corrupt objects are reported and the remote
 * removes what killed pushes left, where it can tell (a folder remote's temp files, an S3 remote's
 * week-old unfinished multipart uploads).
 */
export async function fsck(
  repo: Repo,
  opts: { remote?: string; opener?: RemoteOpener; jobs?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<FsckResult> {
  if (opts.remote === undefined) {
    // the locks of killed writers on this host mean nothing any more (not damage: not reported)
    await removeDeadWriterLocks(repo.odb.root);
    const report = await verifyStore(repo.odb, { ...(opts.jobs ? { jobs: opts.jobs } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    // an entry left in place (a folder under an object's name) is damage too: the object it
    // stands for cannot be used until the user moves it away
    return { ...report, where: repo.cacheDir, ok: report.corrupt.length === 0 && (report.skipped?.length ?? 0) === 0 };
  }
  if (!opts.opener) throw new Error('fsck --remote needs a remote opener');
  const remote = await openRemote(repo, opts.opener, opts.remote);
  try {
    if (!remote.list) throw new TdvcError('EUNSUPPORTED', `remote ${remote.name} cannot list its objects`);
    const oids: Oid[] = [];
    for await (const { oid } of remote.list()) oids.push(oid);
    const corrupt: VerifyReport['corrupt'] = [];
    let done = 0;
    await forEachLimit(oids, opts.jobs ?? REMOTE_VERIFY_AT_ONCE, async (oid) => {
      const h = createHasher();
      await remote.download(oid, async (chunk) => h.update(chunk));
      const found = h.digestHex();
      if (found !== oid) corrupt.push({ oid, found, quarantinedAs: '' });
      done++;
      opts.onProgress?.(done, oids.length);
    });
    const rejected: NonNullable<FsckResult['rejected']> = [];
    if (remote.listRejected) for await (const r of remote.listRejected()) rejected.push(r);
    const removedTemps = (await remote.removeStaleTemps?.()) ?? [];
    return { checked: oids.length, corrupt, removedTemps, rejected, where: remote.url, ok: corrupt.length === 0 && rejected.length === 0 };
  } finally {
    await remote.close?.();
  }
}
