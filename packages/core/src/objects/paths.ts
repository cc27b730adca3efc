import { join, sep } from 'node:path';

/**
 * The absolute path of `rel` (a canonical '/'-separated relative path, see relPathProblem) below
 * the folder `root`. A string join where the platform separates with '/' (path.join normalises
 * every segment again, which cost a checkout of 100,000 files ~0.1 s of its busiest thread).
 */
export function pathBelow(root: string, rel: string): string {
  if (rel === '') return root;
  if (sep !== '/') return join(root, ...rel.split('/'));
  return root.endsWith('/') ? root + rel : `${root}/${rel}`;
}

/**
 * Validation of the relative paths stored in manifests and pointer files. A tampered file must
 * never make tdvc write outside the dataset folder.
 */
export function relPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'empty path';
  if (isPlainRelPath(p)) return undefined;
  if (p.includes('\0')) return 'path contains a NUL byte';
  if (p.includes('\n') || p.includes('\r')) return 'path contains a line break';
  // ESC, BEL, C1 controls…: printed by ls, status or diff, such a name could drive the terminal
  if (CONTROL.test(p)) return 'path contains a control character';
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return 'absolute path';
  if (p.includes('\\')) return 'path contains a backslash';
  if (p.includes('\uFFFD')) return 'path contains U+FFFD (a name that was not valid UTF-8?)';
  for (const seg of p.split('/')) {
    if (seg === '') return 'empty path segment';
    if (seg === '.' || seg === '..') return `path segment "${seg}"`;
    const reserved = reservedName(seg);
    if (reserved) return `path segment ${JSON.stringify(seg)} is reserved (it names ${reserved}/)`;
  }
  return undefined;
}

/**
 * Git's rule for `.git` (verify_path with core.protectNTFS and core.protectHFS, which tdvc applies
 * on every platform, since a repository is cloned everywhere), extended to `.tdvc`: a name that a
 * file system may treat as `.git` or `.tdvc`. Case-insensitive; trailing dots and spaces and an
 * NTFS stream suffix (`.git::$INDEX_ALLOCATION`) ignored; the NTFS short names `git~1`, `tdvc~1`;
 * and the zero-width code points HFS+ ignores. Returns which folder it names, or undefined.
 */
export function reservedName(segment: string): '.git' | '.tdvc' | undefined {
  const c0 = segment.charCodeAt(0);
  // fast path: every reserved spelling starts with '.', 'g', 't' (any case) or an HFS-ignorable code point
  if (c0 !== 46 && c0 !== 103 && c0 !== 71 && c0 !== 116 && c0 !== 84 && c0 < 0x200c) return undefined;
  let s = segment.replace(HFS_IGNORABLE, '').toLowerCase();
  const colon = s.indexOf(':');
  if (colon >= 0) s = s.slice(0, colon);
  s = s.replace(/[. ]+$/, '');
  if (s === '.git' || s === 'git~1') return '.git';
  if (s === '.tdvc' || s === 'tdvc~1') return '.tdvc';
  return undefined;
}

/** Cheap pre-check on the first two characters ('.g', '.t', 'gi', 'td' in any case), no allocation. */
function mayBeReserved(p: string, at: number): boolean {
  const a = p.charCodeAt(at) | 0x20;
  const b = p.charCodeAt(at + 1) | 0x20;
  if (a === 0x2e) return b === 0x67 || b === 0x74; // '.' then g or t
  return (a === 0x67 && b === 0x69) || (a === 0x74 && b === 0x64);
}

/** C0 controls but tab, DEL and C1 controls. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;

/** Code points that HFS+ drops when it compares names (git's is_hfs_dotgit list). */
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/**
 * Why a dataset path (relative to the repository root, '/'-separated) cannot be used: the rules of
 * relPathProblem (so no `.git` or `.tdvc` component: a dataset there would let a pointer file
 * write Git's config or hooks).
 */
export function datasetPathProblem(p: string): string | undefined {
  return relPathProblem(p);
}

/** Canonical order: byte-wise UTF-8 order (the same as code-point order). */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // UTF-16 orders surrogates (astral code points) below U+E000..U+FFFF; UTF-8 orders them above.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys && (x >= 0xe000 || y >= 0xe000)) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Fast path for the common case, one pass and no allocation: true only for paths that certainly
 * pass every check of relPathProblem (segments of ordinary characters, none of them '.' or '..').
 */
function isPlainRelPath(p: string): boolean {
  let segStart = 0;
  for (let i = 0; i <= p.length; i++) {
    const c = i === p.length ? 47 : p.charCodeAt(i);
    if (c === 47) {
      const len = i - segStart;
      if (len === 0) return false;
      if (p.charCodeAt(segStart) === 46 && (len === 1 || (len === 2 && p.charCodeAt(segStart + 1) === 46))) return false;
      // a name that may spell `.git` / `.tdvc` (or their NTFS short names): checked the slow way
      if (len >= 4 && mayBeReserved(p, segStart) && reservedName(p.slice(segStart, i)) !== undefined) return false;
      segStart = i + 1;
    } else if ((c < 0x20 && c !== 9) || c === 92 || (c >= 0x7f && c <= 0x9f) || c >= 0x200c) {
      // >= U+200C: HFS-ignorable code points (which may hide a `.git`) and U+FFFD go the slow way
      return false;
    }
  }
  return !(p.length >= 2 && p.charCodeAt(1) === 58);
}
