import { fromSystemError, isErrno, TdvcError } from '../errors.js';

/** The error for a file that could not be renamed into its place in the workspace. */
export function placeError(err: unknown, dest: string): unknown {
  if (isErrno(err, 'EISDIR', 'ENOTEMPTY', 'EEXIST')) {
    return new TdvcError('EBLOCKED', `cannot write ${dest}: a folder is in the way`, {
      path: dest,
      hint: 'move the folder away, or run the checkout on the whole dataset with --force',
    });
  }
  return fromSystemError(err, dest);
}
