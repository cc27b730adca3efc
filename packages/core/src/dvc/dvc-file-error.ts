import { TdvcError } from '../errors.js';

/** A DVC file (`.dvc`, `dvc.lock`, `.dvc/config`, a `.dir` list) tdvc cannot read: EMALFORMED, with a hint for DVC's files. */
export class DvcFileError extends TdvcError {
  constructor(path: string, reason: string, line?: number) {
    super('EMALFORMED', `malformed ${path}${line === undefined ? '' : ` (line ${line})`}: ${reason}`, {
      path,
      data: line === undefined ? {} : { line },
      hint: "nothing was converted; tdvc reads DVC's files as DVC 2 and 3 write them: restore this one from Git (git checkout -- FILE) or fix it, then run tdvc import-dvc again",
    });
  }
}
