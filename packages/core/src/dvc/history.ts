import { spawnSync } from 'node:child_process';
import { TdvcError } from '../errors.js';

/** A DVC file committed at some revision. */
export interface CommittedDvcFile {
  path: string;
  blob: string;
  kind: 'dvc' | 'lock' | 'yaml';
}

function git(root: string, args: string[], maxBuffer = 256 << 20): string {
  const r = spawnSync('git', ['-c', 'core.hooksPath=/dev/null', ...args], { cwd: root, encoding: 'utf8', maxBuffer });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new TdvcError('EGIT', 'import-dvc --history reads commits with the git command, which is not installed');
  if (r.status !== 0) throw new TdvcError('EGIT', `git ${args[0]} failed: ${(r.stderr ?? '').trim().slice(0, 300)}`, { path: root });
  return r.stdout;
}

/** Every commit reachable from HEAD, newest first (none in a repository without commits). */
export function commitsFromHead(root: string): string[] {
  const head = spawnSync('git', ['rev-parse', '--verify', '-q', 'HEAD'], { cwd: root, encoding: 'utf8' });
  if (head.status !== 0) return [];
  return git(root, ['rev-list', 'HEAD']).split('\n').filter((l) => /^[0-9a-f]{40,64}$/.test(l));
}

/** The `.dvc`, `dvc.lock` and `dvc.yaml` files of a commit (not under `.dvc/`). */
export function dvcFilesAt(root: string, commit: string): CommittedDvcFile[] {
  const out: CommittedDvcFile[] = [];
  for (const rec of git(root, ['ls-tree', '-r', '-z', '--full-tree', commit]).split('\0')) {
    const m = /^(\d+) blob ([0-9a-f]{40,64})\t(.+)$/s.exec(rec);
    if (!m || m[1] === '120000') continue; // links: never read as DVC files
    const path = m[3]!;
    if (path === '.dvc' || path.startsWith('.dvc/')) continue;
    const name = path.slice(path.lastIndexOf('/') + 1);
    const kind = name === 'dvc.lock' ? 'lock' : name === 'dvc.yaml' ? 'yaml' : name.endsWith('.dvc') && name.length > 4 ? 'dvc' : undefined;
    if (kind) out.push({ path, blob: m[2]!, kind });
  }
  return out;
}

/** A committed file's text, or undefined when it is larger than `limit` (the caller reports it). */
export function readBlob(root: string, blob: string, limit: number): string | undefined {
  const size = Number(git(root, ['cat-file', '-s', blob]).trim());
  if (!Number.isFinite(size) || size > limit) return undefined;
  return git(root, ['cat-file', 'blob', blob], limit + 1024);
}
