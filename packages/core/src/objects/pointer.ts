import { HASH_PREFIX, isOid, type Oid } from '../hash/oid.js';
import { MalformedFileError } from '../errors.js';
import { relPathProblem } from './paths.js';

export const POINTER_SUFFIX = '.tdvc';
/** The version `add` writes: 2 (folders as tree manifests). Version 1 (flat manifests) is still read. */
export const POINTER_VERSION = 2;
export type PointerVersion = 1 | 2;

/**
 * Where imported data comes from (`tdvc import`): another repository's URL, the path there, the
 * revision asked for (none: its default branch) and the commit it resolved to, so the import is
 * reproducible and `tdvc update` can move it.
 */
export interface ImportSource {
  repo: string;
  repoPath: string;
  rev?: string;
  commit: string;
}

/** What a `PATH.tdvc` file records about the data at PATH. */
export type Pointer = (
  | { version: PointerVersion; path: string; type: 'file'; oid: Oid; size: number; exec: boolean }
  | { version: PointerVersion; path: string; type: 'dir'; oid: Oid; size: number; files: number }
) & { source?: ImportSource };

const COMMENT = '# tdvc pointer file: commit it to Git. The data it names lives in the tdvc cache and remotes.';

export function serializePointer(p: Pointer): string {
  const lines = [COMMENT, `tdvc: ${p.version}`, `path: ${p.path}`, `type: ${p.type}`, `hash: ${HASH_PREFIX}${p.oid}`, `size: ${p.size}`];
  if (p.type === 'dir') lines.push(`files: ${p.files}`);
  else if (p.exec) lines.push('exec: true');
  if (p.source) {
    lines.push(`repo: ${p.source.repo}`, `repopath: ${p.source.repoPath}`);
    if (p.source.rev !== undefined) lines.push(`rev: ${p.source.rev}`);
    lines.push(`commit: ${p.source.commit}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Strict parser: unknown keys, a missing key, a wrong hash format or a path that is not a plain
 * name are errors naming the file and line. Windows line endings are accepted. Messages never
 * repeat the file's text (only key names, which are [a-z]+): a "pointer file" may be a stranger's
 * link to /proc/self/environ or a secret, and error output ends up in CI logs.
 */
export function parsePointer(text: string, where: string): Pointer {
  const fields = new Map<string, { value: string; line: number }>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([a-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) throw new MalformedFileError(where, 'expected "key: value"', i + 1);
    const key = m[1]!;
    if (!KNOWN.has(key)) throw new MalformedFileError(where, `unknown key "${key}"`, i + 1);
    if (fields.has(key)) throw new MalformedFileError(where, `duplicate key "${key}"`, i + 1);
    fields.set(key, { value: m[2]!, line: i + 1 });
  }
  const get = (k: string): { value: string; line: number } => {
    const f = fields.get(k);
    if (!f) throw new MalformedFileError(where, `missing "${k}"`);
    return f;
  };
  const version = get('tdvc');
  if (version.value !== '1' && version.value !== '2') {
    const shown = /^\d{1,6}$/.test(version.value) ? `version ${version.value}` : 'this version';
    throw new MalformedFileError(where, `pointer format ${shown} is not supported by this tdvc (it reads versions 1 and 2)`, version.line);
  }
  const v: PointerVersion = version.value === '2' ? 2 : 1;
  const path = get('path');
  if (path.value.includes('/') || relPathProblem(path.value) !== undefined) {
    throw new MalformedFileError(where, '"path" must be the plain name of the data beside this file (not .git or .tdvc)', path.line);
  }
  const hash = get('hash');
  if (!hash.value.startsWith(HASH_PREFIX) || !isOid(hash.value.slice(HASH_PREFIX.length))) {
    throw new MalformedFileError(where, `"hash" must be "${HASH_PREFIX}" and 64 lowercase hex digits`, hash.line);
  }
  const oid = hash.value.slice(HASH_PREFIX.length);
  const size = parseCount(get('size'), where);
  const source = parseSource(fields, where);
  const withSource = <T extends object>(p: T): T & { source?: ImportSource } => (source ? { ...p, source } : p);
  const type = get('type');
  if (type.value === 'dir') {
    if (fields.has('exec')) throw new MalformedFileError(where, '"exec" is only for files', fields.get('exec')!.line);
    return withSource({ version: v, path: path.value, type: 'dir' as const, oid, size, files: parseCount(get('files'), where) });
  }
  if (type.value === 'file') {
    if (fields.has('files')) throw new MalformedFileError(where, '"files" is only for directories', fields.get('files')!.line);
    const exec = fields.get('exec');
    if (exec && exec.value !== 'true' && exec.value !== 'false') throw new MalformedFileError(where, '"exec" must be true or false', exec.line);
    return withSource({ version: v, path: path.value, type: 'file' as const, oid, size, exec: exec?.value === 'true' });
  }
  throw new MalformedFileError(where, '"type" must be "file" or "dir"', type.line);
}

const KNOWN = new Set(['tdvc', 'path', 'type', 'hash', 'size', 'files', 'exec', 'repo', 'repopath', 'rev', 'commit']);

/** An import's source lines: all of repo, repopath and commit (rev optional), or none. */
function parseSource(fields: Map<string, { value: string; line: number }>, where: string): ImportSource | undefined {
  const repo = fields.get('repo');
  const repoPath = fields.get('repopath');
  const rev = fields.get('rev');
  const commit = fields.get('commit');
  if (!repo && !repoPath && !rev && !commit) return undefined;
  if (!repo || !repoPath || !commit) throw new MalformedFileError(where, 'an imported dataset needs "repo", "repopath" and "commit" together');
  // a committed file names the URL update fetches from: only http(s), nothing a shell or terminal could take for more
  if (!/^https?:\/\/[^\s\x00-\x1f\x7f]+$/i.test(repo.value) || repo.value.length > 2048) throw new MalformedFileError(where, '"repo" must be an http:// or https:// URL', repo.line);
  if (relPathProblem(repoPath.value) !== undefined) throw new MalformedFileError(where, '"repopath" must be a relative path in that repository', repoPath.line);
  if (rev && !/^[A-Za-z0-9._\/~^@{}-]{1,256}$/.test(rev.value)) throw new MalformedFileError(where, '"rev" must be a branch, tag or commit name', rev.line);
  if (!/^[0-9a-f]{40}$/.test(commit.value)) throw new MalformedFileError(where, '"commit" must be 40 lowercase hex digits', commit.line);
  return { repo: repo.value, repoPath: repoPath.value, ...(rev ? { rev: rev.value } : {}), commit: commit.value };
}

function parseCount(f: { value: string; line: number }, where: string): number {
  if (!/^\d{1,16}$/.test(f.value)) throw new MalformedFileError(where, 'expected a whole number', f.line);
  return Number(f.value);
}
