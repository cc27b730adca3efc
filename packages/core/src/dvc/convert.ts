import { ExitCode, TdvcError } from '../errors.js';
import { DvcFileError } from './dvc-file-error.js';
import type { Oid } from '../hash/oid.js';
import { shownPath } from '../objects/manifest.js';
import { compareUtf8, relPathProblem } from '../objects/paths.js';
import { POINTER_VERSION, type Pointer } from '../objects/pointer.js';
import { SMALL_FILE, type ObjectStore } from '../odb/store.js';
import { TreeBuilder } from '../tree/builder.js';
import { storePut } from '../tree/source.js';
import { forEachLimit } from '../util/fs.js';
import { DVC_DIR_LIMIT, DvcObjects, DvcObjectRejectedError, readOpened, type OpenedDvcObject } from './dvc-cache.js';
import { DvcMd5 } from './md5-check.js';
import { Md5Map } from './md5-map.js';
import { parseDvcDir, type DvcHashKind, type DvcOut } from './parse-dvc-file.js';

/** One DVC output to convert: where DVC recorded it and where its data lives in the repository. */
export interface DvcOutTarget {
  /** the `.dvc` file or `dvc.lock` (repository-relative) */
  source: string;
  out: DvcOut;
  /** the data's path from the repository root */
  dataPath: string;
}

export interface ConvertCounters {
  files: number;
  bytes: number;
  /** objects new to the tdvc cache */
  stored: number;
}

/** An object a DVC output needs that neither the DVC cache nor a DVC folder remote holds. */
export class MissingDvcObjectError extends TdvcError {
  constructor(md5: string, t: DvcOutTarget, what: string, looked: string) {
    super('EMISSING', `${what} of ${t.dataPath} (md5 ${md5}, recorded in ${t.source}) is not in ${looked}`, {
      path: t.dataPath,
      exitCode: ExitCode.integrity,
      data: { md5 },
      hint: "bring it into the DVC cache first ('dvc fetch'), or pass --remote-dir DIR naming a copy of the DVC remote",
    });
  }
}

/** A DVC object whose bytes do not hash to the md5 DVC recorded (or of another size). */
export class DvcMd5MismatchError extends TdvcError {
  constructor(objPath: string, t: DvcOutTarget, file: string, reason: string) {
    super('ECORRUPT', `DVC object ${objPath} (${file} of ${t.dataPath}, recorded in ${t.source}) ${reason}`, {
      path: objPath,
      exitCode: ExitCode.integrity,
      hint: "nothing was converted; repair the DVC cache ('dvc fetch' after removing the object, or 'dvc cache migrate') and run tdvc import-dvc again",
    });
  }
}

/**
 * Reads one DVC object once, checking DVC's md5 (and the recorded size) while storing its bytes in
 * the tdvc cache under their BLAKE3 id: the md5 is compared before the store publishes the object,
 * so bytes that fail never become an object.
 */
async function ingestObject(store: ObjectStore, obj: OpenedDvcObject, md5: string, kind: DvcHashKind, t: DvcOutTarget, file: string, size: number | undefined): Promise<{ oid: Oid; size: number; created: boolean }> {
  try {
    if (size !== undefined && obj.size !== size) throw new DvcMd5MismatchError(obj.path, t, file, `has ${obj.size} bytes where ${size} are recorded`);
    const h = new DvcMd5(kind);
    const mismatch = (): DvcMd5MismatchError => new DvcMd5MismatchError(obj.path, t, file, `does not match its md5 ${md5}: corrupt`);
    if (obj.size <= SMALL_FILE) return storeVerifiedSync(store, await readOpened(obj), obj.path, md5, kind, t, file);
    return await store.putStreamed(async (write) => {
      const buf = Buffer.allocUnsafe(4 << 20);
      let pos = 0;
      for (;;) {
        const { bytesRead } = await obj.fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        const chunk = buf.subarray(0, bytesRead);
        h.update(chunk);
        await write(chunk);
        pos += bytesRead;
      }
      if (pos !== obj.size) throw new DvcObjectRejectedError(obj.path, `it changed size while being read (${pos} bytes, ${obj.size} expected)`);
      // thrown inside the fill: the store removes its temp file and publishes nothing
      if (!h.matches(md5)) throw mismatch();
    });
  } finally {
    await obj.fh.close();
  }
}

/** Bytes read whole, checked against DVC's md5, then stored (bytes that fail never become an object). */
function storeVerifiedSync(store: ObjectStore, data: Buffer, objPath: string, md5: string, kind: DvcHashKind, t: DvcOutTarget, file: string): { oid: Oid; size: number; created: boolean } {
  const h = new DvcMd5(kind);
  h.update(data);
  if (!h.matches(md5)) throw new DvcMd5MismatchError(objPath, t, file, `does not match its md5 ${md5}: corrupt`);
  return store.putBytesSync(data);
}

/** The place DVC objects are looked for, for messages. */
function lookedIn(objs: DvcObjects): string {
  return objs.roots.map((r) => `${r.label} (${r.dir})`).join(' or ');
}

/**
 * Converts one DVC output: its data (a file, or every file of a `.dir` listing) read from the DVC
 * cache or folder remote, verified, stored in the tdvc cache; a folder becomes a tree manifest.
 * Returns the pointer to write (nothing is written here: the caller writes every pointer only once
 * every output converted).
 */
export async function convertOut(objs: DvcObjects, store: ObjectStore, t: DvcOutTarget, jobs: number, counters: ConvertCounters, memo: Md5Map): Promise<Pointer> {
  const { out } = t;
  const name = t.dataPath.slice(t.dataPath.lastIndexOf('/') + 1);
  const md5 = out.md5!;
  // converted before (another revision, an earlier run) and still in the cache: no DVC object is read
  const known = await knownHere(memo, store, Md5Map.key(md5, out.hashKind, out.dir));
  if (known) {
    counters.files += known.files ?? 1;
    counters.bytes += known.size;
    return out.dir
      ? { version: POINTER_VERSION, path: name, type: 'dir', oid: known.oid, size: known.size, files: known.files ?? 0 }
      : { version: POINTER_VERSION, path: name, type: 'file', oid: known.oid, size: known.size, exec: false };
  }
  if (!out.dir) {
    const obj = await objs.open(md5, out.hashKind, false);
    if (!obj) throw new MissingDvcObjectError(md5, t, 'the data', lookedIn(objs));
    const r = await ingestObject(store, obj, md5, out.hashKind, t, 'the data', out.size);
    counters.files++;
    counters.bytes += r.size;
    if (r.created) counters.stored++;
    memo.set(Md5Map.key(md5, out.hashKind, false), { oid: r.oid, size: r.size });
    return { version: POINTER_VERSION, path: name, type: 'file', oid: r.oid, size: r.size, exec: false };
  }
  const listing = await objs.open(md5, out.hashKind, true);
  if (!listing) throw new MissingDvcObjectError(md5, t, 'the file list (.dir)', lookedIn(objs));
  let bytes: Buffer;
  try {
    if (listing.size > DVC_DIR_LIMIT) throw new DvcObjectRejectedError(listing.path, `${listing.size} bytes, more than a file list can be (${DVC_DIR_LIMIT})`);
    bytes = await readOpened(listing);
  } finally {
    await listing.fh.close();
  }
  const h = new DvcMd5(out.hashKind);
  h.update(bytes);
  if (!h.matches(md5)) throw new DvcMd5MismatchError(listing.path, t, 'the file list', `does not match its md5 ${md5}: corrupt`);
  const entries = parseDvcDir(bytes, listing.path);
  if (out.nfiles !== undefined && out.nfiles !== entries.length) {
    throw new DvcFileError(t.source, `${out.label} records nfiles ${out.nfiles} but its file list holds ${entries.length}`);
  }
  entries.sort((a, b) => compareUtf8(a.relpath, b.relpath));
  const seen = new Set<string>();
  for (const [i, e] of entries.entries()) {
    const problem = relPathProblem(e.relpath);
    if (problem) throw new DvcFileError(listing.path, `${problem}: ${shownPath(e.relpath)}`);
    if (i > 0 && entries[i - 1]!.relpath === e.relpath) throw new DvcFileError(listing.path, `${shownPath(e.relpath)} is listed twice`);
    seen.add(e.relpath);
  }
  for (const e of entries) {
    for (let s = e.relpath.lastIndexOf('/'); s > 0; s = e.relpath.lastIndexOf('/', s - 1)) {
      if (seen.has(e.relpath.slice(0, s))) throw new DvcFileError(listing.path, `${shownPath(e.relpath.slice(0, s))} is both a file and a folder`);
    }
  }
  const stored: Array<{ oid: Oid; size: number }> = new Array(entries.length);
  await forEachLimit(entries.keys(), jobs, async (i) => {
    const e = entries[i]!;
    const key = Md5Map.key(e.md5, out.hashKind, false);
    const prior = await knownHere(memo, store, key);
    if (prior) {
      stored[i] = prior;
      return;
    }
    // small objects (nearly all, in a folder of many files) on this thread, synchronously: see readSmallSync
    const small = objs.readSmallSync(e.md5, out.hashKind, false, SMALL_FILE);
    if (!small) throw new MissingDvcObjectError(e.md5, t, shownPath(e.relpath), lookedIn(objs));
    let r: { oid: Oid; size: number; created: boolean };
    if ('data' in small) r = storeVerifiedSync(store, small.data, small.path, e.md5, out.hashKind, t, e.relpath);
    else {
      const obj = await objs.open(e.md5, out.hashKind, false);
      if (!obj) throw new MissingDvcObjectError(e.md5, t, shownPath(e.relpath), lookedIn(objs));
      r = await ingestObject(store, obj, e.md5, out.hashKind, t, e.relpath, undefined);
    }
    if (r.created) counters.stored++;
    memo.set(key, { oid: r.oid, size: r.size });
    stored[i] = r;
  });
  const builder = new TreeBuilder(storePut(store));
  for (const [i, e] of entries.entries()) await builder.add({ path: e.relpath, oid: stored[i]!.oid, size: stored[i]!.size, exec: false });
  const tree = await builder.finish();
  if (out.size !== undefined && out.size !== tree.bytes) {
    throw new DvcMd5MismatchError(listing.path, t, 'the folder', `holds ${tree.bytes} bytes where ${out.size} are recorded`);
  }
  counters.files += tree.files;
  counters.bytes += tree.bytes;
  memo.set(Md5Map.key(md5, out.hashKind, true), { oid: tree.oid, size: tree.bytes, files: tree.files });
  return { version: POINTER_VERSION, path: name, type: 'dir', oid: tree.oid, size: tree.bytes, files: tree.files };
}

async function knownHere(memo: Md5Map, store: ObjectStore, key: string): Promise<{ oid: Oid; size: number; files?: number } | undefined> {
  const c = memo.get(key);
  return c && (await store.has(c.oid)) ? c : undefined;
}
