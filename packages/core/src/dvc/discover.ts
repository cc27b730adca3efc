import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fromSystemError, isErrno } from '../errors.js';

/** The DVC files of a working tree, repository-relative, sorted. */
export interface DvcFiles {
  dvcFiles: string[];
  lockFiles: string[];
  yamlFiles: string[];
}

const SKIP = new Set(['.git', '.dvc', '.tdvc', 'node_modules']);

/**
 * Finds `*.dvc`, `dvc.lock` and `dvc.yaml` files from `root` down, never into links (a directory
 * entry that is a link is not a folder here), nor into a data folder X with X.dvc beside it (its
 * files are DVC's data, not DVC's files: listing 100k of them would cost more than the import).
 */
export function findDvcFiles(root: string): DvcFiles {
  const out: DvcFiles = { dvcFiles: [], lockFiles: [], yamlFiles: [] };
  const stack = [''];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(rel === '' ? root : join(root, ...rel.split('/')), { withFileTypes: true });
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR', 'EACCES', 'EPERM')) continue;
      throw fromSystemError(err, join(root, rel));
    }
    const names = new Set(entries.map((e) => e.name));
    for (const e of entries) {
      const childRel = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!SKIP.has(e.name) && !names.has(`${e.name}.dvc`)) stack.push(childRel);
      } else if (e.name.endsWith('.dvc') && e.name.length > 4) out.dvcFiles.push(childRel);
      else if (e.name === 'dvc.lock') out.lockFiles.push(childRel);
      else if (e.name === 'dvc.yaml') out.yamlFiles.push(childRel);
    }
  }
  out.dvcFiles.sort();
  out.lockFiles.sort();
  out.yamlFiles.sort();
  return out;
}
