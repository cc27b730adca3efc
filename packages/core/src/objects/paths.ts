/**
 * Validation of the relative paths stored in manifests and pointer files. A tampered file must
 * never make tdvc write outside the dataset folder.
 */
export function relPathProblem(p: string): string | undefined {
  if (p.length === 0) return 'empty path';
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
