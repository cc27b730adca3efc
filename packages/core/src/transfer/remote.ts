import type { Oid } from '../hash/oid.js';

/**
 * What every remote (local folder, EFS/FSx mount, S3) implements. Core never imports a remote
 * package: the caller passes a `RemoteOpener` that builds one from the remote's settings.
 * Objects live under the same relative layout as the cache: `b3v1/<oid[0:2]>/<oid[2:]>`.
 */
export interface Remote {
  readonly name: string;
  readonly url: string;
  /** Which of `oids` the remote holds. Implementations should batch (listing beats one request per object). */
  has(oids: readonly Oid[]): Promise<Set<Oid>>;
  /** Uploads the local file `path` (a verified cache object) as object `oid`. Must be atomic on the remote. */
  upload(oid: Oid, path: string, size: number, progress?: (bytes: number) => void): Promise<void>;
  /**
   * Streams object `oid` to `sink`, in order. The caller verifies the hash before publishing it.
   * `sizeHint` (the size the caller expects) lets a remote fetch a large object as parallel ranges;
   * a caller that gives it must not keep a chunk after the sink's promise settled (its memory may be
   * reused for a later range).
   */
  download(oid: Oid, sink: (chunk: Uint8Array) => Promise<void>, progress?: (bytes: number) => void, sizeHint?: number): Promise<void>;
  /**
   * An address for object `oid` that other tools can read (s3://…, https://… when presigned,
   * file://…). `presignSeconds` asks for a time-limited URL that needs no credentials.
   */
  urlFor?(oid: Oid, opts?: { presignSeconds?: number }): Promise<string>;
  /** Every object on the remote, with its size (for gc --remote and fsck --remote). */
  list?(): AsyncIterable<{ oid: Oid; size: number; mtimeMs?: number }>;
  /**
   * Entries under object names that are not objects (on a folder remote: anything but a regular
   * file), and (without `oid`) folders of the layout that are not real folders. fsck --remote
   * reports them; nothing removes them (tdvc did not write them).
   */
  listRejected?(): AsyncIterable<{ oid?: Oid; path: string; reason: string }>;
  /** Deletes objects (gc --remote). */
  remove?(oids: readonly Oid[]): Promise<void>;
  /** Removes what killed writers left on the remote (fsck --remote); returns what it removed. */
  removeStaleTemps?(): Promise<string[]>;
  /** Frees connections and handles. */
  close?(): Promise<void>;
}

export interface RemoteSettings {
  name: string;
  url: string;
  /** every `remote.NAME.KEY` setting, committed and local */
  options: Record<string, string>;
  /** a workspace folder the remote may keep state in (resumable uploads) */
  stateDir: string;
  jobs?: number;
}

export type RemoteOpener = (settings: RemoteSettings) => Promise<Remote>;

