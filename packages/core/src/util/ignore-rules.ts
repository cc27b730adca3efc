import { closeSync, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { oidOfTail } from '../objects/layout.js';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';
import { NO_FOLLOW_READ, NotRegularFileError, SMALL_TEXT_LIMIT, SymlinkRefusedError } from './safe-read.js';

/** The name of the files that keep paths out of a dataset (gitignore syntax, one per folder). */
export const IGNORE_FILE = '.tdvcignore';

/** One pattern line of a .tdvcignore file. */
export interface IgnoreRule {
  /** repository-relative path of the .tdvcignore it comes from */
  source: string;
  line: number;
  /** the pattern as written (without trailing blanks) */
  text: string;
  negate: boolean;
  dirOnly: boolean;
  /** no slash but a trailing one: matched against the name alone, at any depth */
  basename: boolean;
  /** the pattern's segments, each compiled (anchored patterns); one for a basename pattern */
  segs: Seg[];
}

/**
 * A segment of a pattern: a literal name, `**` (any number of folders), or a glob compiled to
 * tokens. Matching is done by hand, not by RegExp: a committed `*a*a*a*a*a*b` against a long name
 * would make a backtracking regex run for hours, while the two-pointer match below is O(n·m).
 */
type Seg = { kind: 'lit'; s: string } | { kind: 'any' } | { kind: 'suffix'; s: string } | { kind: 're'; re: RegExp } | { kind: 'glob'; toks: Tok[] };
type Tok = { t: 'c'; c: string } | { t: '?' } | { t: '*' } | { t: '['; neg: boolean; set: Array<[string, string]> };

/** Parses the text of one .tdvcignore (gitignore syntax). */
export function parseIgnore(text: string, source: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let p = lines[i]!;
    if (p.endsWith('\r')) p = p.slice(0, -1);
    if (p === '' || p.startsWith('#')) continue;
    // trailing blanks go unless escaped
    let end = p.length;
    while (end > 0 && (p[end - 1] === ' ' || p[end - 1] === '\t') && !escapedAt(p, end - 1)) end--;
    p = p.slice(0, end);
    if (p === '') continue;
    const text = p;
    let negate = false;
    if (p.startsWith('!')) {
      negate = true;
      p = p.slice(1);
    } else if (p.startsWith('\\!') || p.startsWith('\\#')) p = p.slice(1);
    let dirOnly = false;
    if (p.endsWith('/') && !escapedAt(p, p.length - 1)) {
      dirOnly = true;
      p = p.replace(/\/+$/, '');
    }
    if (p === '') continue;
    const anchored = p.includes('/');
    if (p.startsWith('/')) p = p.slice(1);
    if (p === '') continue;
    const parts = anchored ? p.split('/').filter((s) => s !== '') : [p];
    // consecutive `**` are one
    const segs: Seg[] = [];
    for (const part of parts) {
      const seg = compileSeg(part);
      if (seg.kind === 'any' && segs.length > 0 && segs[segs.length - 1]!.kind === 'any') continue;
      segs.push(seg);
    }
    rules.push({ source, line: i + 1, text, negate, dirOnly, basename: !anchored, segs });
  }
  return rules;
}

function escapedAt(p: string, at: number): boolean {
  let n = 0;
  for (let i = at - 1; i >= 0 && p[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function compileSeg(part: string): Seg {
  if (part === '**') return { kind: 'any' };
  const toks = tokens(part);
  if (toks.every((t) => t.t === 'c')) return { kind: 'lit', s: toks.map((t) => (t as { c: string }).c).join('') };
  if (toks[0]!.t === '*' && toks.slice(1).every((t) => t.t === 'c')) return { kind: 'suffix', s: toks.slice(1).map((t) => (t as { c: string }).c).join('') };
  // with at most one star a RegExp cannot backtrack more than O(n·m), and V8 runs it several times
  // faster than the loop below (measured: 100,000 names against 8 rules)
  if (toks.filter((t) => t.t === '*').length <= 1) {
    try {
      return { kind: 're', re: new RegExp(`^${toks.map(tokSource).join('')}$`, 's') };
    } catch {
      // a class RegExp refuses (`[z-a]`): the loop matches it as written (nothing in the range)
    }
  }
  return { kind: 'glob', toks };
}

function tokSource(t: Tok): string {
  switch (t.t) {
    case 'c':
      return escapeRe(t.c);
    case '?':
      return '.';
    case '*':
      return '.*';
    case '[':
      return t.set.length === 0 ? (t.neg ? '.' : '(?!)') : `[${t.neg ? '^' : ''}${t.set.map(([lo, hi]) => (lo === hi ? escapeClass(lo) : `${escapeClass(lo)}-${escapeClass(hi)}`)).join('')}]`;
  }
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|\/-]/.test(c) ? `\\${c}` : c;
}

function escapeClass(c: string): string {
  return /[\\\]\[^-]/.test(c) ? `\\${c}` : c;
}

function tokens(part: string): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < part.length; i++) {
    const c = part[i]!;
    if (c === '\\' && i + 1 < part.length) out.push({ t: 'c', c: part[++i]! });
    else if (c === '?') out.push({ t: '?' });
    else if (c === '*') {
      // `**` inside a segment is `*`
      if (out.length === 0 || out[out.length - 1]!.t !== '*') out.push({ t: '*' });
    } else if (c === '[') {
      const cls = charClass(part, i);
      if (cls) {
        out.push(cls.tok);
        i = cls.end;
      } else out.push({ t: 'c', c });
    } else out.push({ t: 'c', c });
  }
  return out;
}

/** `[...]` at `start`: its token and the index of its `]`, or undefined when it is not closed. */
function charClass(part: string, start: number): { tok: Tok; end: number } | undefined {
  let i = start + 1;
  let neg = false;
  if (part[i] === '!' || part[i] === '^') {
    neg = true;
    i++;
  }
  const set: Array<[string, string]> = [];
  let first = true;
  for (; i < part.length; i++) {
    let c = part[i]!;
    if (c === ']' && !first) return { tok: { t: '[', neg, set }, end: i };
    first = false;
    if (c === '\\' && i + 1 < part.length) c = part[++i]!;
    if (part[i + 1] === '-' && i + 2 < part.length && part[i + 2] !== ']') {
      let hi = part[i + 2]!;
      i += 2;
      if (hi === '\\' && i + 1 < part.length) hi = part[++i]!;
      set.push([c, hi]);
    } else set.push([c, c]);
  }
  return undefined;
}

function tokMatches(t: Tok, c: string): boolean {
  if (t.t === 'c') return t.c === c;
  if (t.t === '?') return true;
  if (t.t === '[') {
    let hit = false;
    for (const [lo, hi] of t.set) if (c >= lo && c <= hi) hit = true;
    return hit !== t.neg;
  }
  return false;
}

/** Glob tokens against one name (no '/'): greedy with backtracking to the last star only, O(n·m). */
function globMatch(toks: Tok[], s: string): boolean {
  let ti = 0;
  let si = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    const t = toks[ti];
    if (t !== undefined && t.t === '*') {
      star = ti++;
      mark = si;
    } else if (t !== undefined && tokMatches(t, s[si]!)) {
      ti++;
      si++;
    } else if (star >= 0) {
      ti = star + 1;
      si = ++mark;
    } else return false;
  }
  while (ti < toks.length && toks[ti]!.t === '*') ti++;
  return ti === toks.length;
}

function segMatch(seg: Seg, name: string): boolean {
  switch (seg.kind) {
    case 'lit':
      return seg.s === name;
    case 'suffix':
      return name.endsWith(seg.s);
    case 're':
      return seg.re.test(name);
    case 'glob':
      return globMatch(seg.toks, name);
    case 'any':
      return true;
  }
}

/**
 * Anchored segments against a path given as its folder's segments and its name (no array is built
 * per file). `**` matches any number of segments (backtracking to the last one only, as for `*`).
 */
function pathMatch(segs: Seg[], dir: readonly string[], name: string): boolean {
  const n = dir.length + 1;
  const at = (i: number): string => (i < dir.length ? dir[i]! : name);
  let pi = 0;
  let si = 0;
  let star = -1;
  let mark = 0;
  while (si < n) {
    const p = segs[pi];
    if (p !== undefined && p.kind === 'any') {
      star = pi++;
      mark = si;
    } else if (p !== undefined && segMatch(p, at(si))) {
      pi++;
      si++;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else return false;
  }
  // a trailing `/**` needs something inside: `foo/**` does not match `foo` itself
  if (pi === segs.length - 1 && segs[pi]!.kind === 'any') return false;
  return pi === segs.length;
}

/** Does `rule` match the entry `name` in the folder `dir` (segments from the rule's own folder)? */
export function ruleMatches(rule: IgnoreRule, dir: readonly string[], name: string, isDir: boolean): boolean {
  if (rule.dirOnly && !isDir) return false;
  if (rule.basename) return segMatch(rule.segs[0]!, name);
  return pathMatch(rule.segs, dir, name);
}

/** The rules of one .tdvcignore, with the segments from its folder down to the folder being listed. */
export interface ActiveRules {
  rules: IgnoreRule[];
  dir: string[];
}

/**
 * The rule that decides the entry `name` of the folder being listed: the deepest .tdvcignore with
 * a matching pattern, and in it the last one (gitignore's precedence). A negated rule means "not
 * ignored"; undefined means no rule matches.
 */
export function decidingRule(active: readonly ActiveRules[], name: string, isDir: boolean): IgnoreRule | undefined {
  for (let f = active.length - 1; f >= 0; f--) {
    const a = active[f]!;
    for (let r = a.rules.length - 1; r >= 0; r--) {
      const rule = a.rules[r]!;
      if (ruleMatches(rule, a.dir, name, isDir)) return rule;
    }
  }
  return undefined;
}

/**
 * What a walk needs to apply .tdvcignore rules (structured-cloneable: it goes to the walk thread):
 * the walked folder's path from the repository root, which names the .tdvcignore files found
 * inside it, and the text of those in the folders above it (root first), each with its own path.
 */
export interface IgnoreSetup {
  datasetPath: string;
  above: Array<{ source: string; text: string }>;
}

/** The rules of the .tdvcignore files above a dataset, each with the path from its folder down to the dataset. */
export function rulesAbove(setup: IgnoreSetup): ActiveRules[] {
  const out: ActiveRules[] = [];
  for (const { source, text } of setup.above) {
    const rules = parseIgnore(text, source);
    if (rules.length === 0) continue;
    const folder = source.includes('/') ? source.slice(0, source.lastIndexOf('/')) : '';
    const below = folder === '' ? setup.datasetPath : setup.datasetPath.slice(folder.length + 1);
    out.push({ rules, dir: below === '' ? [] : below.split('/') });
  }
  return out;
}

/**
 * Reads a .tdvcignore, which may have been committed by anyone: never through a link, only a
 * regular file (a FIFO is not waited on), at most 1 MiB; every error names it.
 */
export function readIgnoreFileSync(abs: string, opts: { absentOk?: boolean; objectsDir?: string | undefined } = {}): string | undefined {
  const what = 'ignore file';
  let fd: number;
  try {
    fd = openSync(abs, NO_FOLLOW_READ);
  } catch (err) {
    if (opts.absentOk && isErrno(err, 'ENOENT')) return undefined;
    if (isErrno(err, 'ELOOP')) {
      // a checkout with `cache.type symlink` links every file of a dataset, this one too, to its
      // cache object: read that (never followed further); any other link is refused
      const object = objectLinkTarget(abs, opts.objectsDir);
      if (object !== undefined) return readIgnoreFileSync(object);
      throw new SymlinkRefusedError(abs, what);
    }
    throw fromSystemError(err, abs);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new NotRegularFileError(abs, what, st);
    if (st.size > SMALL_TEXT_LIMIT) throw tooLarge(abs, st.size);
    const buf = Buffer.allocUnsafe(st.size + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
      if (n > st.size) throw tooLarge(abs, n);
    }
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

function objectLinkTarget(abs: string, objectsDir: string | undefined): string | undefined {
  if (objectsDir === undefined) return undefined;
  let target: string;
  try {
    target = readlinkSync(abs);
  } catch {
    return undefined;
  }
  return isAbsolute(target) && target.startsWith(objectsDir + '/') && oidOfTail(target.slice(objectsDir.length + 1)) !== undefined ? target : undefined;
}

function tooLarge(abs: string, size: number): TdvcError {
  return new TdvcError('ETOOBIG', `ignore file ${abs} is too large (${size} bytes; the limit is ${SMALL_TEXT_LIMIT})`, {
    path: abs,
    hint: 'a .tdvcignore holds a few patterns: shorten it, or remove it',
  });
}
