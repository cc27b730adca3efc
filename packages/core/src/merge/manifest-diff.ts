import type { ManifestEntry } from '../objects/manifest.js';
import { compareUtf8 } from '../objects/paths.js';

export interface ManifestDiff {
  added: ManifestEntry[];
  deleted: ManifestEntry[];
  modified: Array<{ path: string; before: ManifestEntry; after: ManifestEntry }>;
}

/** Pure, linear: both inputs are in canonical (sorted) order, as parseManifest returns them. */
export function diffManifests(before: readonly ManifestEntry[], after: readonly ManifestEntry[]): ManifestDiff {
  const out: ManifestDiff = { added: [], deleted: [], modified: [] };
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    const a = before[i];
    const b = after[j];
    const c = a === undefined ? 1 : b === undefined ? -1 : compareUtf8(a.path, b.path);
    if (c < 0) {
      out.deleted.push(a!);
      i++;
    } else if (c > 0) {
      out.added.push(b!);
      j++;
    } else {
      if (a!.oid !== b!.oid || a!.exec !== b!.exec) out.modified.push({ path: a!.path, before: a!, after: b! });
      i++;
      j++;
    }
  }
  return out;
}
