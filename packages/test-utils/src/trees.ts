import { existsSync, readFileSync } from 'node:fs';
import { objectPath, parseTreeNode, type ManifestEntry } from '@tdvc/core';

/**
 * A folder version as the cache holds it, read synchronously for assertions: every node of the
 * tree (or the one v1 manifest) under `root`, those the cache lacks, and the files of the nodes
 * it has.
 */
export function readTreeSync(cacheDir: string, root: string): { nodes: string[]; missingNodes: string[]; entries: ManifestEntry[] } {
  const out = { nodes: [] as string[], missingNodes: [] as string[], entries: [] as ManifestEntry[] };
  const visit = (oid: string): void => {
    out.nodes.push(oid);
    const at = objectPath(cacheDir, oid);
    if (!existsSync(at)) {
      out.missingNodes.push(oid);
      return;
    }
    const node = parseTreeNode(readFileSync(at, 'utf8'), `manifest ${oid}`);
    if (node.kind === 'leaf') out.entries.push(...node.entries);
    else for (const c of node.children) visit(c.oid);
  };
  visit(root);
  return out;
}
