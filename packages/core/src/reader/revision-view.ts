import { existsSync, lstatSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { ConfigError, CorruptObjectError, NotTrackedError, TdvcError } from '../errors.js';
import { GitRepo } from '../git/git-repo.js';
import { fetchRevision, type FetchedRevision } from '../git/fetch-url.js';
import { createHasher } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { relPathProblem } from '../objects/paths.js';
import { ObjectStore } from '../odb/store.js';
import type { Remote, RemoteOpener, RemoteSettings } from '../transfer/remote.js';
import { lookupEntry, walkLeaves } from '../tree/walk.js';
import { forEachLimit } from '../util/fs.js';
import { Config } from '../workspace/config.js';
import { repoPathOf, type Dataset } from '../workspace/datasets.js';
import { datasetFromText } from '../dataset/revision.js';
import { remoteTreeSource } from './remote-tree.js';
import type { TreeSource } from '../tree/source.js';

/** A file of a dataset version: its path in the repository, object id and size. */
export interface ViewFile {
  path: string;
  oid: Oid;
  size: number;
  exec: boolean;
}

export interface OpenRevisionOptions {
  /** branch, tag, commit, `HEAD~2`… (default HEAD) */
  rev?: string;
  /** opens a remote from its settings: `openRemoteByUrl` of `@tdvc/cli`, or a caller's own */
  opener: RemoteOpener;
  /**
   * the remote to read from: a name in the config committed at the revision (default: its
   * `core.remote`), or a URL with settings that replaces the config's (a revision committed before
   * any remote was added; a mirror). A revision whose config names none falls back to the newest
   * config (HEAD's).
   */
  remote?: string | { url: string; name?: string; options?: Record<string, string> };
  /**
   * a cache folder: tree nodes downloaded are kept there, and files already there are read from it
   * (verified). Default: none (only a temp folder for the remote's state is used, under os.tmpdir()).
   */
  cacheDir?: string;
  /** the cache as an open store (a project's own: `tdvc import`); wins over cacheDir */
  cache?: ObjectStore;
  /** transfers at once for `readMany` (default 8) */
  concurrency?: number;
  /** where temp folders go (a Git URL's fetched revision, the remote's state); default os.tmpdir() */
  tmpDir?: string;
}

/**
 * A read-only view of a tdvc repository at one revision, with no working tree and no `git` binary
 * (isomorphic-git reads the Git objects): a workspace or a bare repository. The datasets are the
 * pointer files committed at the revision; their files are listed from the tree manifests (taken
 * from the cache folder when it has them, else downloaded from the remote and verified) and read
 * as streams straight from the remote, each verified against its id as it passes. One remote is
 * opened for the view and shared by every call. This is what a Lambda function, a Step Functions
 * Map task or a training job in another repository uses to read an exact dataset version.
 */
export class RevisionView {
  private constructor(
    /** the commit the revision resolved to */
    readonly commit: string,
    readonly rev: string,
    /** the datasets committed at the revision */
    readonly datasets: readonly Dataset[],
    private readonly remote: Remote,
    private readonly cache: ObjectStore | undefined,
    private readonly concurrency: number,
    private readonly fetched: FetchedRevision | undefined,
  ) {}

  /**
   * Opens `source` at `opts.rev`: a workspace, a bare repository, or a Git URL (http:// or
   * https://: the revision and the default branch's tip are fetched shallow into a temp folder,
   * removed by `close`).
   */
  static async open(source: string, opts: OpenRevisionOptions): Promise<RevisionView> {
    let fetched: FetchedRevision | undefined;
    try {
      let git: GitRepo;
      let commit: string;
      let newest: () => Promise<string | undefined>;
      const rev = opts.rev ?? 'HEAD';
      if (/^https?:\/\//i.test(source)) {
        fetched = await fetchRevision(source, opts.rev, opts.tmpDir);
        git = new GitRepo(fetched.gitdir, fetched.gitdir);
        commit = fetched.commit;
        newest = fetched.newest;
      } else {
        git = gitAt(source);
        commit = await git.resolve(rev);
        newest = () => git.tryResolve('HEAD');
      }
      const committed = await git.listPointers(commit);
      const datasets = committed.map(({ path, text }) => datasetFromText(path, text, `${path} at ${rev}`));
      const settings = await remoteSettings(git, commit, newest, rev, opts);
      const remote = await opts.opener(settings);
      const cache = opts.cache ?? (opts.cacheDir === undefined ? undefined : new ObjectStore(opts.cacheDir));
      return new RevisionView(commit, rev, datasets, remote, cache, opts.concurrency ?? 8, fetched);
    } catch (err) {
      fetched?.remove();
      throw err;
    }
  }

  /**
   * The files a path names, as a stream of batches in path order: a dataset, a folder inside one,
   * one file, or (no path) every dataset. Memory holds a batch, whatever the size of the dataset.
   */
  async *files(path = ''): AsyncGenerator<ViewFile[]> {
    const problem = path === '' ? undefined : relPathProblem(path);
    if (problem) throw new TdvcError('EBADPATH', `cannot read ${path}: ${problem}`, { path, exitCode: 2 });
    const target = path.endsWith('.tdvc') ? path.slice(0, -'.tdvc'.length) : path;
    let found = false;
    for (const ds of this.datasets) {
      const inside = target === '' || target === ds.dataPath || ds.dataPath.startsWith(`${target}/`);
      const below = target.startsWith(`${ds.dataPath}/`);
      if (!inside && !below) continue;
      found = true;
      if (ds.pointer.type === 'file') {
        if (below) continue;
        yield [{ path: ds.dataPath, oid: ds.pointer.oid, size: ds.pointer.size, exec: ds.pointer.exec }];
        continue;
      }
      const src = this.treeOf(ds);
      if (!below) {
        for await (const leaf of walkLeaves(src, ds.pointer.oid)) yield leaf.map((e) => ({ path: repoPathOf(ds, e.path), oid: e.oid, size: e.size, exec: e.exec }));
        continue;
      }
      const sub = target.slice(ds.dataPath.length + 1);
      const one = await lookupEntry(src, ds.pointer.oid, sub);
      if (one) {
        yield [{ path: target, oid: one.oid, size: one.size, exec: one.exec }];
        continue;
      }
      let any = false;
      for await (const leaf of walkLeaves(src, ds.pointer.oid, { from: `${sub}/`, to: `${sub}0` })) {
        any = true;
        yield leaf.map((e) => ({ path: repoPathOf(ds, e.path), oid: e.oid, size: e.size, exec: e.exec }));
      }
      if (!any) found = false;
    }
    if (!found) throw new NotTrackedError(`${path || '.'} is not tracked at ${this.rev}`, { path, hint: "list what is with 'tdvc ls --rev REV'" });
  }

  /** `files`, collected. */
  async resolve(path = ''): Promise<ViewFile[]> {
    const out: ViewFile[] = [];
    for await (const batch of this.files(path)) out.push(...batch);
    return out;
  }

  /** One tracked file as a stream; it ends with CorruptObjectError (ECORRUPT) if its bytes do not hash to its id. */
  async open(path: string): Promise<Readable & ViewFile> {
    // the first entry tells (a file is looked up alone): a folder's listing is not read any further
    for await (const batch of this.files(path)) {
      if (batch[0]?.path === path) return this.openFile(batch[0]);
      break;
    }
    throw new TdvcError('EISDIR', `${path} is a folder at ${this.rev}; open one file`, { path });
  }

  /** A file `files` listed, as a verified stream (from the cache folder when it holds the object). */
  openFile(file: ViewFile): Readable & ViewFile {
    const stream = Object.assign(new PassThrough(), file);
    const hasher = createHasher();
    // (no size hint to the remote: the stream keeps chunks until they are read, which a ranged
    // download that reuses its buffers does not allow)
    const sink = async (chunk: Uint8Array): Promise<void> => {
      hasher.update(chunk);
      // the reader's pace: a slow consumer must not make a large file pile up in memory
      if (!stream.write(chunk)) await once(stream, 'drain');
    };
    const fromCache = this.cache && existsSync(this.cache.pathOf(file.oid));
    const source = fromCache ? `${this.cache!.root}: ${file.path}` : `${this.remote.name}: ${file.path}`;
    (fromCache ? this.cache!.streamObject(file.oid, sink, file.size) : this.remote.download(file.oid, sink))
      .then(() => {
        const found = hasher.digestHex();
        if (found !== file.oid) stream.destroy(new CorruptObjectError(file.oid, found, source));
        else stream.end();
      })
      .catch((err: unknown) => stream.destroy(err as Error));
    return stream;
  }

  /**
   * Reads many files through the view's one remote, `concurrency` at a time (a Map state's slice, a
   * training job's shard): `handle` gets each file's verified stream and must consume it.
   */
  async readMany(files: Iterable<ViewFile> | AsyncIterable<ViewFile[]>, handle: (file: ViewFile, stream: Readable) => Promise<void>): Promise<void> {
    const run = (batch: ViewFile[]): Promise<void> => forEachLimit(batch, this.concurrency, (f) => handle(f, this.openFile(f)));
    if (Symbol.asyncIterator in files) {
      for await (const batch of files) await run(batch);
    } else await run([...files]);
  }

  /**
   * Downloads the objects of `files` that `store` lacks into it, each verified before it is
   * published (`tdvc import`), `concurrency` at a time; returns how many and how many bytes.
   */
  async fetchInto(store: ObjectStore, files: readonly ViewFile[]): Promise<{ fetched: number; bytes: number }> {
    const present = await store.hasMany(files.map((f) => f.oid));
    const todo = new Map<Oid, ViewFile>();
    for (const f of files) if (!present.has(f.oid)) todo.set(f.oid, f);
    let bytes = 0;
    await forEachLimit([...todo.values()], this.concurrency, async (f) => {
      const w = await store.openWriter(f.oid, `${this.remote.name}: ${f.path} at ${this.rev}`);
      try {
        await this.remote.download(f.oid, (chunk) => w.write(chunk));
        await w.commit();
      } catch (err) {
        await w.abort();
        throw err;
      }
      bytes += f.size;
    });
    return { fetched: todo.size, bytes };
  }

  /** Where each file of `path` lives on the remote (s3://…, presigned https://…, file://…). */
  async urls(path: string, opts: { presignSeconds?: number } = {}): Promise<Array<ViewFile & { url: string }>> {
    const urlFor = this.remote.urlFor?.bind(this.remote);
    if (!urlFor) throw new TdvcError('EUNSUPPORTED', `remote ${this.remote.name} cannot give object URLs`);
    const out: Array<ViewFile & { url: string }> = [];
    for await (const batch of this.files(path)) {
      for (const f of batch) out.push({ ...f, url: await urlFor(f.oid, opts.presignSeconds !== undefined ? { presignSeconds: opts.presignSeconds } : {}) });
    }
    return out;
  }

  async close(): Promise<void> {
    try {
      await this.remote.close?.();
    } finally {
      this.fetched?.remove();
    }
  }

  private treeOf(ds: Dataset): TreeSource {
    return remoteTreeSource(this.remote, this.cache, `${ds.pointerPath} at ${this.rev}`);
  }
}

/** Git at `dir`: a workspace (`dir/.git`) or a bare repository (`dir` holds HEAD, objects/, refs/). */
function gitAt(dir: string): GitRepo {
  if (existsSync(join(dir, '.git'))) return new GitRepo(dir);
  const bare = ['HEAD', 'objects', 'refs'].every((n) => existsSync(join(dir, n)));
  if (bare && lstatSync(join(dir, 'objects')).isDirectory()) return new GitRepo(dir, dir);
  throw new TdvcError('ENOGIT', `${dir} is neither a Git workspace nor a bare repository`, { path: dir });
}

/** The remote's settings: the caller's, else the config committed at the revision, else HEAD's. */
async function remoteSettings(git: GitRepo, commit: string, newestCommit: () => Promise<string | undefined>, rev: string, opts: OpenRevisionOptions): Promise<RemoteSettings> {
  const stateDir = join(opts.tmpDir ?? tmpdir(), `tdvc-view-${process.pid}`);
  if (typeof opts.remote === 'object') {
    const name = opts.remote.name ?? 'remote';
    return { name, url: opts.remote.url, options: opts.remote.options ?? {}, stateDir: join(stateDir, name) };
  }
  const atRev = `.tdvc/config at ${rev}`;
  const configs: Array<() => Promise<Config | undefined>> = [
    async () => Config.fromText(await git.readText(commit, '.tdvc/config'), atRev),
    // the newest config only when the revision's names no remote (for a URL, one more fetch)
    async () => {
      const newest = await newestCommit();
      return newest === undefined || newest === commit ? undefined : Config.fromText(await git.readText(newest, '.tdvc/config'), '.tdvc/config at HEAD');
    },
  ];
  for (const load of configs) {
    const config = await load();
    if (!config) continue;
    const name = opts.remote ?? config.get('core.remote');
    if (name === undefined) continue;
    const url = config.get(`remote.${name}.url`);
    if (url === undefined) continue;
    return { name, url, options: config.remoteOptions(name), stateDir: join(stateDir, name) };
  }
  throw new ConfigError(
    `no remote ${opts.remote === undefined ? 'is set' : `named ${opts.remote}`} in ${atRev} or at the newest commit`,
    'pass one: RevisionView.open(dir, { remote: { url } })',
  );
}
