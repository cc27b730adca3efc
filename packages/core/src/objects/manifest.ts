import { isOid, type Oid } from '../hash/oid.js';
import { MalformedFileError } from '../errors.js';
import { compareUtf8, relPathProblem } from './paths.js';

/** One file of a directory dataset. */
export interface ManifestEntry {
  path: string;
  oid: Oid;
  size: number;
  exec: boolean;
}

export const MANIFEST_HEADER = 'tdvc-manifest 1';

/**
 * Canonical text form: a header line, then one line per file sorted by path (UTF-8 byte order):
 * `<oid> <size> <x|-> <path>`. The same set of files always gives the same bytes and so the same id.
 */
export function serializeManifest(entries: readonly ManifestEntry[]): string {
  const sorted = [...entries].sort((a, b) => compareUtf8(a.path, b.path));
  const lines = [MANIFEST_HEADER];
  for (const e of sorted) lines.push(`${e.oid} ${e.size} ${e.exec ? 'x' : '-'} ${e.path}`);
  return lines.join('\n') + '\n';
}

export function parseManifest(text: string, where: string): ManifestEntry[] {
  const lines = text.split('\n');
  if (lines[0]?.replace(/\r$/, '') !== MANIFEST_HEADER) {
    throw new MalformedFileError(where, `not a tdvc manifest (expected "${MANIFEST_HEADER}")`, 1);
  }
  const out: ManifestEntry[] = [];
  const files = new Set<string>();
  let prev: string | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') {
      if (i === lines.length - 1) break;
      throw new MalformedFileError(where, 'empty line', i + 1);
    }
    const s1 = line.indexOf(' ');
    const s2 = line.indexOf(' ', s1 + 1);
    const s3 = line.indexOf(' ', s2 + 1);
    if (s1 < 0 || s2 < 0 || s3 < 0) throw new MalformedFileError(where, 'expected "<hash> <size> <x|-> <path>"', i + 1);
    const oid = line.slice(0, s1);
    const sizeText = line.slice(s1 + 1, s2);
    const mode = line.slice(s2 + 1, s3);
    const path = line.slice(s3 + 1);
    // fields are not echoed, paths only escaped and cut short: they identify the entry
    if (!isOid(oid)) throw new MalformedFileError(where, 'bad hash', i + 1);
    if (!/^\d{1,16}$/.test(sizeText)) throw new MalformedFileError(where, 'bad size', i + 1);
    if (mode !== 'x' && mode !== '-') throw new MalformedFileError(where, 'bad mode', i + 1);
    const problem = relPathProblem(path);
    if (problem) throw new MalformedFileError(where, `${problem}: ${shownPath(path)}`, i + 1);
    if (prev !== undefined && compareUtf8(prev, path) >= 0) {
      throw new MalformedFileError(where, `entries out of order or duplicated at ${shownPath(path)}`, i + 1);
    }
    prev = path;
    out.push({ path, oid, size: Number(sizeText), exec: mode === 'x' });
    files.add(path);
  }
  for (const e of out) {
    let slash = e.path.lastIndexOf('/');
    while (slash > 0) {
      const parent = e.path.slice(0, slash);
      if (files.has(parent)) throw new MalformedFileError(where, `${shownPath(parent)} is both a file and a folder`);
      slash = parent.lastIndexOf('/');
    }
  }
  return out;
}

/** A path from a file someone else wrote, fit for one line of an error message. */
export function shownPath(p: string): string {
  return JSON.stringify(p.length > 120 ? `${p.slice(0, 120)}…` : p);
}
