import { writeFileAtomic } from '../util/fs.js';
import { readSmallText } from '../util/safe-read.js';

/**
 * Adds `/name` to the .gitignore in `dir` unless an identical line is there. A .gitignore that is a
 * symbolic link is refused, as Git itself refuses to read one: a committed `.gitignore -> ~/.aws/
 * credentials` would otherwise have its target's text copied into the repository.
 */
export async function ensureIgnored(gitignorePath: string, name: string): Promise<boolean> {
  const text = (await readSmallText(gitignorePath, 'ignore file')) ?? '';
  const line = '/' + name.replace(/([*?[\]!#\\ ])/g, '\\$1');
  if (text.split(/\r?\n/).includes(line)) return false;
  const sep = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeFileAtomic(gitignorePath, `${text}${sep}${line}\n`);
  return true;
}
