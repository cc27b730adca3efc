/** Characters a POSIX shell never treats specially inside a word (no glob, expansion or separator). */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/**
 * Quotes one argument for a POSIX shell, so a command printed in a hint can be pasted as it is even
 * when a path has spaces, quotes or `$` in it. Plain words (`data/images`) stay as they are; anything
 * else is put in single quotes, inside which only `'` itself needs care (`'\''`).
 */
export function shellQuote(arg: string): string {
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
