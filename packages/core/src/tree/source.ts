import type { Oid } from '../hash/oid.js';
import { MalformedFileError, MissingManifestError, MissingObjectError } from '../errors.js';
import { shownPath } from '../objects/manifest.js';
import { parseTreeNode, type ChildRef, type TreeNode } from '../objects/tree-format.js';
import type { ObjectStore } from '../odb/store.js';

/**
 * Where tree nodes come from: the cache, or (for readers without a workspace) a remote. `where`
 * names the dataset in messages.
 */
export interface TreeSource {
  readonly where: string;
  load(oid: Oid): Promise<TreeNode>;
  /** starts loading a node that will be asked for soon (walks read ahead so reads overlap) */
  prefetch?(oid: Oid): void;
}

/**
 * No manifest object is larger: a tree node holds at most 128 KiB of text, a flat (v1) manifest of
 * a million files about 100 MB, and V8 cannot hold a string beyond 512 MiB. A larger object under
 * a manifest's name is refused before it is read into memory.
 */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

/** Reads started ahead of need, at most this many at once per source. */
export const TREE_READ_AHEAD = 16;

/** Nodes read from the cache, each verified against its id as it is read. */
export function storeSource(odb: ObjectStore, where: string): TreeSource {
  const loadNow = async (oid: Oid): Promise<TreeNode> => {
    let data: Buffer;
    try {
      data = await odb.read(oid, {
        maxBytes: MAX_MANIFEST_BYTES,
        tooBig: (size) => new MalformedFileError(`manifest ${oid} of ${where}`, `${size} bytes, more than a file list can be (${MAX_MANIFEST_BYTES})`),
      });
    } catch (err) {
      if (err instanceof MissingObjectError) throw new MissingManifestError(oid, where, err.exitCode);
      throw err;
    }
    return parseTreeNode(data.toString('utf8'), `manifest ${oid} of ${where}`);
  };
  return readingAhead(where, loadNow);
}

/** A source over `loadNow` whose `prefetch` starts up to 2 × TREE_READ_AHEAD loads early. */
export function readingAhead(where: string, loadNow: (oid: Oid) => Promise<TreeNode>): TreeSource {
  const ahead = new Map<Oid, Promise<TreeNode>>();
  return {
    where,
    load(oid) {
      const p = ahead.get(oid);
      if (p === undefined) return loadNow(oid);
      ahead.delete(oid);
      return p;
    },
    prefetch(oid) {
      if (ahead.has(oid) || ahead.size >= 2 * TREE_READ_AHEAD) return;
      const p = loadNow(oid);
      // a failure is reported when the node is asked for, not here
      p.catch(() => {});
      ahead.set(oid, p);
    },
  };
}

/** The level of a node: leaves (and v1 manifests) are 0. */
export function levelOf(node: TreeNode): number {
  return node.kind === 'leaf' ? 0 : node.level;
}

/**
 * Loads the child `ref` of a node of `parentLevel` and checks that it is what the parent says:
 * one level down, a tree node (not a v1 manifest), starting at the recorded first path.
 */
export async function loadChild(src: TreeSource, ref: ChildRef, parentLevel: number): Promise<TreeNode> {
  const node = await src.load(ref.oid);
  const where = `manifest ${ref.oid} of ${src.where}`;
  if (node.kind === 'leaf' ? node.v1 === true || parentLevel !== 1 : node.level !== parentLevel - 1) {
    throw new MalformedFileError(where, `not the node of level ${parentLevel - 1} its parent names`);
  }
  const first = node.kind === 'leaf' ? node.entries[0]?.path : node.children[0]?.first;
  if (first !== ref.first) throw new MalformedFileError(where, `its first file is not ${shownPath(ref.first)} as its parent records`);
  return node;
}

/** Nodes written into the cache (an existing node is not written again). */
export function storePut(odb: ObjectStore): (text: string) => Promise<Oid> {
  return async (text) => (await odb.putBytes(Buffer.from(text, 'utf8'))).oid;
}
