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
  for (const e of sorted) lines.push(entryLine(e));
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
    const e = parseEntryLine(line, where, i + 1);
    if (prev !== undefined && compareUtf8(prev, e.path) >= 0) {
      throw new MalformedFileError(where, `entries out of order or duplicated at ${shownPath(e.path)}`, i + 1);
    }
    prev = e.path;
    out.push(e);
    files.add(e.path);
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

/**
 * One file line, `<oid> <size> <x|-> <path>` (the same in v1 manifests and v2 tree leaves). Fields
 * are not echoed in errors, paths only escaped and cut short: they identify the entry.
 */
export function parseEntryLine(line: string, where: string, lineNo: number): ManifestEntry {
  const [oid, sizeText, mode, path] = splitLine(line, where, lineNo, '"<hash> <size> <x|-> <path>"');
  if (!isOid(oid)) throw new MalformedFileError(where, 'bad hash', lineNo);
  if (!/^\d{1,16}$/.test(sizeText)) throw new MalformedFileError(where, 'bad size', lineNo);
  if (mode !== 'x' && mode !== '-') throw new MalformedFileError(where, 'bad mode', lineNo);
  const problem = relPathProblem(path);
  if (problem) throw new MalformedFileError(where, `${problem}: ${shownPath(path)}`, lineNo);
  return { path, oid, size: Number(sizeText), exec: mode === 'x' };
}

/**
 * The four fields of a manifest or tree line: three words, then a path that may hold spaces.
 * `shape` names them in the error.
 */
export function splitLine(line: string, where: string, lineNo: number, shape: string): [string, string, string, string] {
  const s1 = line.indexOf(' ');
  const s2 = line.indexOf(' ', s1 + 1);
  const s3 = line.indexOf(' ', s2 + 1);
  if (s1 < 0 || s2 < 0 || s3 < 0) throw new MalformedFileError(where, `expected ${shape}`, lineNo);
  return [line.slice(0, s1), line.slice(s1 + 1, s2), line.slice(s2 + 1, s3), line.slice(s3 + 1)];
}

/** The text line of one file in a manifest or tree leaf. */
export function entryLine(e: ManifestEntry): string {
  return `${e.oid} ${e.size} ${e.exec ? 'x' : '-'} ${e.path}`;
}

/** A path from a file someone else wrote, fit for one line of an error message. */
export function shownPath(p: string): string {
  return JSON.stringify(p.length > 120 ? `${p.slice(0, 120)}…` : p);
}
