import { once } from 'node:events';
import { PassThrough, type Readable } from 'node:stream';
import { createHasher } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { CorruptObjectError, TdvcError, NotTrackedError } from '../errors.js';
import type { RemoteOpener } from '../transfer/remote.js';
import type { Repo } from '../workspace/repo.js';
import { selectDatasets } from '../workspace/datasets.js';
import { openRemote } from './remote.js';
import { datasetsAt, filesOf } from '../dataset/revision.js';

export interface ResolvedFile {
  path: string;
  oid: Oid;
  size: number;
}

/** The files (with object ids) a path names at a revision: a dataset, a folder inside one, or one file. */
export async function resolveFiles(repo: Repo, path: string, opts: { rev?: string; cwd?: string } = {}): Promise<ResolvedFile[]> {
  const rel = repo.relPath(path, opts.cwd);
  const among = await datasetsAt(repo, opts.rev);
  const [picked] = await selectDatasets(repo, [rel], among);
  if (!picked) throw new NotTrackedError(`${path} is not tracked`, { path });
  const target = rel.endsWith('.tdvc') ? rel.slice(0, -5) : rel;
  const files = (await filesOf(repo, picked.dataset)).filter((f) => f.path === target || f.path.startsWith(target + '/') || target === picked.dataset.dataPath);
  if (files.length === 0) throw new NotTrackedError(`${path} is not in the dataset ${picked.dataset.dataPath}${opts.rev ? ` at ${opts.rev}` : ''}`, { path });
  return files.map((f) => ({ path: f.path, oid: f.oid, size: f.size }));
}

/**
 * `tdvc get-url PATH [--rev REV] [--presign SECONDS]`: where each file of PATH lives on the remote,
 * so a job (a Lambda function, a training task) can read an exact dataset version without tdvc.
 */
export async function getUrls(
  repo: Repo,
  opener: RemoteOpener,
  path: string,
  opts: { rev?: string; remote?: string; presignSeconds?: number; cwd?: string } = {},
): Promise<Array<ResolvedFile & { url: string }>> {
  const files = await resolveFiles(repo, path, opts);
  const remote = await openRemote(repo, opener, opts.remote);
  try {
    if (!remote.urlFor) throw new TdvcError('EUNSUPPORTED', `remote ${remote.name} cannot give object URLs`);
    const out = [];
    for (const f of files) out.push({ ...f, url: await remote.urlFor(f.oid, opts.presignSeconds !== undefined ? { presignSeconds: opts.presignSeconds } : {}) });
    return out;
  } finally {
    await remote.close?.();
  }
}

/**
 * Opens one tracked file at a revision as a stream straight from the remote, with no checkout and
 * no cache. The bytes are hashed as they pass; a mismatch ends the stream with CorruptObjectError,
 * so a reader never silently consumes corrupt data.
 */
export async function openRemoteFile(
  repo: Repo,
  opener: RemoteOpener,
  path: string,
  opts: { rev?: string; remote?: string; cwd?: string } = {},
): Promise<Readable & { size: number; oid: Oid }> {
  const files = await resolveFiles(repo, path, opts);
  if (files.length !== 1 || files[0]!.path !== repo.relPath(path, opts.cwd)) {
    throw new TdvcError('EISDIR', `${path} is a folder; open one file`, { path });
  }
  const file = files[0]!;
  const remote = await openRemote(repo, opener, opts.remote);
  const stream = new PassThrough() as PassThrough & { size: number; oid: Oid };
  stream.size = file.size;
  stream.oid = file.oid;
  const hasher = createHasher();
  remote
    .download(file.oid, async (chunk) => {
      hasher.update(chunk);
      // respect the reader's pace: a slow consumer must not make a large file pile up in memory
      if (!stream.write(chunk)) await once(stream, 'drain');
    })
    .then(() => {
      const found = hasher.digestHex();
      if (found !== file.oid) stream.destroy(new CorruptObjectError(file.oid, found, `${remote.name}:${file.path}`));
      else stream.end();
    })
    .catch((err: unknown) => stream.destroy(err as Error))
    .finally(() => void remote.close?.());
  return stream;
}
