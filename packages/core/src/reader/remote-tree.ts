import { createHasher } from '../hash/blake3.js';
import type { Oid } from '../hash/oid.js';
import { CorruptObjectError, MalformedFileError, MissingManifestError } from '../errors.js';
import { parseTreeNode, type TreeNode } from '../objects/tree-format.js';
import type { ObjectStore } from '../odb/store.js';
import type { Remote } from '../transfer/remote.js';
import { MAX_MANIFEST_BYTES, readingAhead, storeSource, type TreeSource } from '../tree/source.js';

/**
 * Tree nodes for a reader without a workspace: from `cache` when it holds them, else downloaded
 * from `remote`, bounded (MAX_MANIFEST_BYTES) and verified against their ids before they are
 * parsed, then kept in `cache` (when there is one) for the next reader.
 */
export function remoteTreeSource(remote: Remote, cache: ObjectStore | undefined, where: string): TreeSource {
  const local = cache ? storeSource(cache, where) : undefined;
  const loadNow = async (oid: Oid): Promise<TreeNode> => {
    if (local) {
      try {
        return await local.load(oid);
      } catch (err) {
        if (!(err instanceof MissingManifestError)) throw err;
      }
    }
    const data = await downloadVerified(remote, oid, MAX_MANIFEST_BYTES, `manifest ${oid} of ${where}`);
    if (cache) await cache.putBytes(data);
    return parseTreeNode(data.toString('utf8'), `manifest ${oid} of ${where}`);
  };
  return readingAhead(where, loadNow);
}

/** A whole object from a remote, at most `maxBytes`, checked against its id. */
export async function downloadVerified(remote: Remote, oid: Oid, maxBytes: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const hasher = createHasher();
  await remote.download(oid, async (chunk) => {
    size += chunk.byteLength;
    if (size > maxBytes) throw new MalformedFileError(`${what} on ${remote.name}`, `more than ${maxBytes} bytes, more than it can be`);
    hasher.update(chunk);
    chunks.push(Buffer.from(chunk));
  });
  const found = hasher.digestHex();
  if (found !== oid) throw new CorruptObjectError(oid, found, `${remote.name}: ${what}`);
  return Buffer.concat(chunks, size);
}
