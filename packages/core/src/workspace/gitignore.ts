import { readFile } from 'node:fs/promises';
import { isErrno } from '../errors.js';
import { writeFileAtomic } from '../util/fs.js';

/** Adds `/name` to the .gitignore in `dir` unless an identical line is there. */
export async function ensureIgnored(gitignorePath: string, name: string): Promise<boolean> {
  let text = '';
  try {
    text = await readFile(gitignorePath, 'utf8');
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  const line = '/' + name.replace(/([*?[\]!#\\ ])/g, '\\$1');
  if (text.split(/\r?\n/).includes(line)) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(gitignorePath, `${text}${sep}${line}\n`);
  return true;
}
