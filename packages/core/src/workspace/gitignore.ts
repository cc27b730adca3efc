import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { acquireLockWaiting } from '../odb/lock.js';
import { ensureDir, writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';

/**
 * Adds `/name` to the .gitignore in `dir` unless an identical line is there. A .gitignore that is a
 * symbolic link is refused, as Git itself refuses to read one: a committed `.gitignore -> ~/.aws/
 * credentials` would otherwise have its target's text copied into the repository.
 *
 * Several tdvc processes may add datasets in one folder at once: the read-modify-write is done
 * under a lock per .gitignore in `lockDir` (the workspace's private tmp folder), or two adds would
 * each write the file with only their own line and one dataset would show up in `git status`,
 * ready to be committed into Git.
 */
export async function ensureIgnored(gitignorePath: string, name: string, lockDir?: string): Promise<boolean> {
  if (lockDir === undefined) return addLine(gitignorePath, name);
  await ensureDir(lockDir);
  const lock = await acquireLockWaiting(join(lockDir, `gitignore-${createHash('sha1').update(gitignorePath).digest('hex').slice(0, 16)}.lock`), {
    purpose: `update ${gitignorePath}`,
    staleMs: 60_000,
  });
  try {
    return await addLine(gitignorePath, name);
  } finally {
    await lock.release();
  }
}

/**
 * Removes the `/name` line `ensureIgnored` wrote (tdvc remove, tdvc move), under the same lock;
 * other lines are kept as they are, and a .gitignore left empty is deleted. A link is refused.
 */
export async function removeIgnored(gitignorePath: string, name: string, lockDir?: string): Promise<boolean> {
  if (lockDir === undefined) return dropLine(gitignorePath, name);
  await ensureDir(lockDir);
  const lock = await acquireLockWaiting(join(lockDir, `gitignore-${createHash('sha1').update(gitignorePath).digest('hex').slice(0, 16)}.lock`), {
    purpose: `update ${gitignorePath}`,
    staleMs: 60_000,
  });
  try {
    return await dropLine(gitignorePath, name);
  } finally {
    await lock.release();
  }
}

async function dropLine(gitignorePath: string, name: string): Promise<boolean> {
  const text = await readSmallText(gitignorePath, 'ignore file');
  if (text === undefined) return false;
  const line = ignoreLine(name);
  const lines = text.split(/\r?\n/);
  if (!lines.includes(line)) return false;
  const kept = lines.filter((l) => l !== line);
  const rest = kept.join('\n').replace(/\n+$/, '');
  if (rest.trim() === '') await rm(gitignorePath, { force: true });
  else await writeFileAtomic(gitignorePath, rest + '\n');
  return true;
}

function ignoreLine(name: string): string {
  return '/' + name.replace(/([*?[\]!#\\ ])/g, '\\$1');
}

async function addLine(gitignorePath: string, name: string): Promise<boolean> {
  const text = (await readSmallText(gitignorePath, 'ignore file')) ?? '';
  const line = ignoreLine(name);
  if (text.split(/\r?\n/).includes(line)) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(gitignorePath, `${text}${sep}${line}\n`);
  return true;
}
