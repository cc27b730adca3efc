/**
 * Every user-facing failure is a TdvcError with a stable string `code`, an exit code,
 * the path or object it concerns, and a hint saying what to do next.
 * Programmer errors stay plain `Error`s.
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  usage: 2,
  wouldLoseData: 3,
  integrity: 4,
  transfer: 5,
  internal: 70,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * The catalogue: every code a TdvcError carries, and what it means. Codes are stable (scripts
 * branch on `--json` output's `error.code`); the README's "Error codes" table lists the same set,
 * and a test checks both ways and that every code is used.
 */
export const ERROR_CODES = {
  EUSAGE: 'bad usage: an unknown option, a missing or wrong argument',
  ECONFIG: 'a setting is missing or invalid',
  ENOTINIT: 'not inside a tdvc repository',
  ENOGIT: 'not inside a Git repository',
  ENOTROOT: 'tdvc init run below the root of a Git repository',
  ENESTED: 'tdvc init run inside another tdvc repository',
  EOUTSIDE: 'a path outside the repository',
  EBADPATH: 'a path tdvc cannot track or write (reserved names such as .git, bad components)',
  EBADNAME: 'a file name a manifest cannot record exactly (line break, backslash, not UTF-8)',
  ENOMATCH: 'a pattern that matches no file',
  ENOTTRACKED: 'a path that no pointer file tracks',
  EEXISTS: 'a file, folder or dataset already where a command would put one (tdvc move)',
  EMALFORMED: 'a pointer file, manifest or setting file that does not parse',
  ETOOBIG: 'a committed file (pointer, config) larger than such a file can be',
  EBADFILE: 'something that must be a regular file (or folder) is not',
  ESYMLINK: 'a symbolic link where tdvc never follows one',
  ELINKOUT: 'a symbolic link inside a dataset that leaves the dataset',
  ELINKDIR: 'a symbolic link to a folder inside a dataset',
  EBROKENLINK: 'a link to a cache object that is gone',
  ETYPE: 'a dataset whose file or folder type differs from what its pointer records',
  EVANISHED: 'a file that vanished while it was being added',
  ECHANGED: 'a file that changed while it was being added',
  EBLOCKED: 'a file or folder in the way of one a checkout must write',
  EWOULDLOSE: 'refused: it would discard changes that are not in the cache',
  EMISSING: 'an object or file list that is not in the cache',
  ECORRUPT: 'an object whose content does not hash to its id',
  EBADOBJECT: 'a cache or folder-remote entry that is not a usable object (a link, FIFO, socket, device, folder, or of the wrong size)',
  EBADRECORD: "a workspace record in a shared cache that tdvc did not write",
  ELOCKED: 'a lock another live process holds (gc, or a file being updated)',
  EPROJECTS: 'gc cannot see projects registered in the cache',
  EUNREADABLE: 'gc cannot read folders of a project using the cache',
  EBADREV: 'an unknown Git revision',
  EDETACHED: 'a merge with HEAD detached',
  ECONFLICT: 'a merge tdvc cannot make (conflicting changes outside datasets)',
  ENOCONFLICT: 'checkout --ours/--theirs on a dataset without a conflict',
  EGIT: 'a git command tdvc ran failed',
  ENODVC: 'tdvc import-dvc run where there is no DVC repository (no .dvc folder)',
  ENOREMOTE: 'no remote given and no default remote set',
  EREMOTE: 'a remote that is not usable (its folder is not a folder, its URL is wrong)',
  ENOTONREMOTE: 'an object that is not on the remote',
  EUNSUPPORTED: 'an operation the remote cannot do (list, delete, URLs)',
  ENOBUCKET: 'an S3 bucket that does not exist',
  ENOCREDENTIALS: 'no AWS credentials found',
  ES3CREDENTIALS: 'S3 rejected the credentials',
  ES3DENIED: 'S3 denied access',
  ES3REGION: 'the bucket is in another region',
  ES3THROTTLED: 'S3 kept throttling requests after retries',
  ES3UNAVAILABLE: 'S3 requests kept failing after retries',
  EUNREACHABLE: 'the S3 endpoint cannot be reached',
  ES3: 'another S3 error (its S3 code is in the message)',
  ENOSPC: 'no space left (or disk quota exceeded)',
  EACCES: 'permission denied',
  EROFS: 'a read-only file system',
  ENOENT: 'no such file or folder',
  EISDIR: 'a folder where a file was expected',
  ENOTDIR: 'a file where a folder was expected',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'an input/output error',
  EINTERNAL: 'a failure in a worker thread tdvc could not classify (a bug: please report it)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** Codes that are always bad usage (exit 2, README "Exit codes"), whichever command throws them. */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['EUSAGE', 'ECONFIG']);

export interface TdvcErrorOptions {
  path?: string;
  hint?: string;
  exitCode?: ExitCodeValue;
  data?: Record<string, unknown>;
  cause?: unknown;
}

export class TdvcError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;
  readonly path: string | undefined;
  readonly hint: string | undefined;
  readonly data: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: TdvcErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = options.exitCode ?? (USAGE_CODES.has(code) ? ExitCode.usage : ExitCode.error);
    this.path = options.path;
    this.hint = options.hint;
    this.data = options.data ?? {};
  }
}

export class NotInitializedError extends TdvcError {
  constructor(cwd: string) {
    super('ENOTINIT', `not a tdvc repository (or any parent up to /): ${cwd}`, {
      path: cwd,
      hint: "run 'tdvc init' at the root of your Git repository",
    });
  }
}

export class NotAGitRepositoryError extends TdvcError {
  constructor(dir: string) {
    super('ENOGIT', `not inside a Git repository: ${dir}`, {
      path: dir,
      hint: "run 'git init' first, or 'tdvc init --no-git' to use tdvc without Git",
    });
  }
}

export class PathOutsideRepositoryError extends TdvcError {
  constructor(path: string, root: string) {
    super('EOUTSIDE', `path is outside the repository: ${path}`, {
      path,
      exitCode: ExitCode.usage,
      hint: `tdvc only tracks paths under ${root}`,
    });
  }
}

export class InvalidPathError extends TdvcError {
  constructor(path: string, reason: string, hint?: string) {
    super('EBADPATH', `cannot use ${path}: ${reason}`, { path, exitCode: ExitCode.usage, ...(hint ? { hint } : {}) });
  }
}

export class MalformedFileError extends TdvcError {
  constructor(path: string, reason: string, line?: number) {
    super('EMALFORMED', `malformed ${path}${line === undefined ? '' : ` (line ${line})`}: ${reason}`, {
      path,
      data: line === undefined ? {} : { line },
      hint: 'restore it from Git (git checkout -- FILE) or re-create it with tdvc add',
    });
  }
}

export class CorruptObjectError extends TdvcError {
  constructor(oid: string, found: string, where: string) {
    super('ECORRUPT', `object ${oid} is corrupt: its content hashes to ${found} (${where})`, {
      path: where,
      exitCode: ExitCode.integrity,
      data: { expected: oid, found },
      hint: "run 'tdvc fsck' to quarantine it, then fetch it again or re-add the original file",
    });
  }
}

export class MissingObjectError extends TdvcError {
  constructor(oid: string, what: string) {
    super('EMISSING', `object ${oid} (${what}) is not in the cache`, {
      data: { oid },
      exitCode: ExitCode.integrity,
      hint: "run 'tdvc pull' to fetch it from a remote",
    });
  }
}

/** A folder version's file list is not in the cache: what it needs is unknown here until it is fetched. */
export class MissingManifestError extends TdvcError {
  constructor(oid: string, where: string, exitCode: ExitCodeValue = ExitCode.integrity) {
    super('EMISSING', `the file list (manifest ${oid.slice(0, 12)}…) of ${where} is not in the cache`, {
      path: where,
      exitCode,
      data: { oid },
      hint: "run 'tdvc pull' (or 'tdvc fetch') to get it from a remote",
    });
  }
}

/** Data a command needs is not in the cache, said in the command's own terms (which versions, which objects). */
export class MissingDataError extends TdvcError {
  constructor(message: string, options: Omit<TdvcErrorOptions, 'exitCode'> = {}) {
    super('EMISSING', message, { ...options, exitCode: ExitCode.integrity });
  }
}

/** A lock another live process holds. */
export class LockedError extends TdvcError {
  constructor(message: string, options: TdvcErrorOptions = {}) {
    super('ELOCKED', message, options);
  }
}

/** A path no pointer file tracks. */
export class NotTrackedError extends TdvcError {
  constructor(message: string, options: TdvcErrorOptions = {}) {
    super('ENOTTRACKED', message, options);
  }
}

/** A dataset that is a file where its pointer records a folder, or the other way round. */
export class TypeMismatchError extends TdvcError {
  constructor(message: string, options: TdvcErrorOptions = {}) {
    super('ETYPE', message, options);
  }
}

export class FileChangedError extends TdvcError {
  constructor(path: string) {
    super('ECHANGED', `file changed while it was being added: ${path}`, {
      path,
      hint: 'wait until whatever writes it has finished, then run tdvc add again',
    });
  }
}

export class WouldLoseDataError extends TdvcError {
  constructor(message: string, paths: string[], hint: string) {
    super('EWOULDLOSE', message, { exitCode: ExitCode.wouldLoseData, data: { paths }, hint });
  }
}

export class ConfigError extends TdvcError {
  /** `path`: the settings file the bad value was read from */
  constructor(message: string, hint?: string, path?: string) {
    super('ECONFIG', message, { exitCode: ExitCode.usage, ...(hint ? { hint } : {}), ...(path ? { path } : {}) });
  }
}

const fsCodes: Record<string, { code: ErrorCode; what: string; hint?: string }> = {
  ENOSPC: { code: 'ENOSPC', what: 'no space left on device', hint: 'free some space (tdvc gc can help) and run the command again' },
  EDQUOT: { code: 'ENOSPC', what: 'disk quota exceeded', hint: 'free some space and run the command again' },
  ELOOP: { code: 'ELOOP', what: 'too many levels of symbolic links (a symlink loop?)' },
  EACCES: { code: 'EACCES', what: 'permission denied' },
  EPERM: { code: 'EACCES', what: 'operation not permitted' },
  ENOENT: { code: 'ENOENT', what: 'no such file or directory' },
  EROFS: { code: 'EROFS', what: 'read-only file system' },
  EISDIR: { code: 'EISDIR', what: 'is a directory' },
  ENOTDIR: { code: 'ENOTDIR', what: 'not a directory' },
  EIO: { code: 'EIO', what: 'input/output error' },
};

/** Turns a Node.js system error into a TdvcError that names the path; returns other values unchanged. */
export function fromSystemError(err: unknown, path?: string): unknown {
  if (err instanceof TdvcError) return err;
  const e = err as NodeJS.ErrnoException;
  if (!e || typeof e !== 'object' || typeof e.code !== 'string') return err;
  const known = fsCodes[e.code];
  if (!known) return err;
  const where = path ?? e.path ?? '';
  return new TdvcError(known.code, `${where}: ${known.what}`, {
    path: where,
    cause: err,
    ...(known.hint ? { hint: known.hint } : {}),
  });
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}
