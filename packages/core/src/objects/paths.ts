/**
 * Validation of the relative paths stored in manifests and pointer files. A tampered file must
 * never make tdvc write outside the dataset folder.
 */
export function relPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'empty path';
  if (isPlainRelPath(p)) return undefined;
  if (p.includes('\0')) return 'path contains a NUL byte';
  if (p.includes('\n') || p.includes('\r')) return 'path contains a line break';
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return 'absolute path';
  if (p.includes('\\')) return 'path contains a backslash';
  for (const seg of p.split('/')) {
    if (seg === '') return 'empty path segment';
    if (seg === '.' || seg === '..') return `path segment "${seg}"`;
  }
  return undefined;
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
      segStart = i + 1;
    } else if (c === 0 || c === 10 || c === 13 || c === 92) {
      return false;
    }
  }
  return !(p.length >= 2 && p.charCodeAt(1) === 58);
}
