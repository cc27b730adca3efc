import { lstatSync, readlinkSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { fromSystemError, isErrno, TdvcError } from '../errors.js';

export class SymlinkInPathError extends TdvcError {
  /** `action`: what the command would have done through the link (the default: a write path). */
  constructor(shown: string, abs: string, action = 'write or delete') {
    let target = '';
    try {
      target = ` -> ${readlinkSync(abs)}`;
    } catch {
      // gone meanwhile: the name alone identifies it
    }
    super('ESYMLINK', `refusing to ${action} through the symbolic link ${shown}${target}`, {
      path: abs,
      hint: `tdvc never follows a link on a write path (--force neither): replace ${shown} by a real folder, or put the data elsewhere with 'tdvc cache dir'`,
    });
  }
}

export interface NoFollowGuardOptions {
  /** name a refused link by its absolute path (default: relative to the root) */
  absolute?: boolean;
  /** what was refused, for the message (default 'write or delete') */
  action?: string;
}

/**
 * The check Git makes before it writes a file (`has_symlink_leading_path`): no component of the
 * target, from the repository root down, may be a symbolic link, whoever made it (a committed
 * `data -> /elsewhere`, or a link the user made). Folders already checked are remembered for the
 * run, so 100,000 files in a few hundred folders cost a few hundred lstat calls.
 *
 * This is a check followed by a write, not an atomic no-follow open: a process that swaps a folder
 * for a link in between can still win the race, as it can against Git. What it closes is every
 * link that is there when the command starts, which is what a cloned repository can plant.
 */
export class NoFollowGuard {
  private readonly real = new Set<string>();

  constructor(
    readonly root: string,
    private readonly options: NoFollowGuardOptions = {},
  ) {}

  private refuse(abs: string): SymlinkInPathError {
    const shown = this.options.absolute ? abs : relative(this.root, abs).split(sep).join('/');
    return new SymlinkInPathError(shown, abs, this.options.action);
  }

  /** Every existing component of `absDir` below the root (the folder itself included) is a real folder. */
  dir(absDir: string): void {
    const rel = relative(this.root, absDir);
    if (rel === '') return;
    if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`NoFollowGuard: ${absDir} is outside ${this.root}`);
    let cur = this.root;
    for (const seg of rel.split(sep)) {
      cur = join(cur, seg);
      if (this.real.has(cur)) continue;
      let st;
      try {
        st = lstatSync(cur);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return; // nothing below exists yet: the write creates it
        throw fromSystemError(err, cur);
      }
      if (st.isSymbolicLink()) throw this.refuse(cur);
      if (!st.isDirectory()) return; // a file where a folder belongs: the write fails with its own error
      this.real.add(cur);
    }
  }

  /** The folders leading to `abs` are real, and `abs` itself is not a link (it may be missing). */
  target(abs: string): void {
    const parent = join(abs, '..');
    this.dir(parent);
    let st;
    try {
      st = lstatSync(abs);
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw fromSystemError(err, abs);
    }
    if (st.isSymbolicLink()) throw this.refuse(abs);
  }

  /** After this process created or checked a folder itself. */
  noteReal(absDir: string): void {
    this.real.add(absDir);
  }
}
